"""A workspace whose only catalog source is a Backstage: docs, scaffolder and deploy work from it.

(The catalog itself: test_catalog_source.py.) Repositories live on the session's loopback git host,
which Backstage may read (see conftest.py), so entities are registered there as they are in
production: a ``url`` Location pointing at a repository's ``catalog-info.yaml``.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.catalog import load_catalog
from backends.catalog.backstage import BackstageSource, forget_mirrors, poll_once
from backends.kube.sim import SeedService, start_simulated_cluster
from backends.workspace import load_workspace
from console.cli import main
from tests.backstage.conftest import TOKEN, Backstage, GitHost
from tests.backstage.test_catalog_source import CustomProcessorBackstage, assert_same_as_linking_everything

pytestmark = pytest.mark.xdist_group("backstage")


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_BACKSTAGE", TOKEN)
    yield
    forget_mirrors()


def backstage_workspace(root: Path, url: str, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "idp-console.yaml").write_text(
        f"name: backstage-only\ncatalog:\n  sources:\n    - type: backstage\n      url: {url}\n{extra}"
    )
    return root


def component(name: str, annotations: str = "") -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
          annotations: {{{annotations}}}
        spec: {{type: service, lifecycle: experimental, owner: team-a}}
        """
    )


def location_of(backstage: Backstage, entity_ref: str) -> str | None:
    kind, _, rest = entity_ref.partition(":")
    namespace, _, name = rest.partition("/")
    answer = backstage.get(f"/api/catalog/locations/by-entity/{kind}/{namespace}/{name}")
    return str(answer.json()["id"]) if answer.status_code == 200 else None


def unregister(backstage: Backstage, entity_ref: str) -> None:
    """Delete the Location that registered ``entity_ref`` (its entities go with it)."""
    import httpx

    location = location_of(backstage, entity_ref)
    if location is not None:
        httpx.delete(
            f"{backstage.url}/api/catalog/locations/{location}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
    backstage.wait_for(
        lambda: backstage.entity(entity_ref) is None, f"{entity_ref} unregistered", timeout=120
    )


def test_a_template_on_backstage_registers_there_and_the_next_poll_shows_the_entity(
    backstage: Backstage, git_host: GitHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What the template's publish step would have pushed: a repository with its catalog-info.yaml.
    repository = git_host.publish(
        "acme/registered-svc", {"catalog-info.yaml": component("registered-svc")}, tmp_path / "work"
    )
    root = backstage_workspace(tmp_path / "ws", backstage.url, "scaffolder:\n  runOn: backstage\n")
    catalog = load_catalog(load_workspace(root))
    assert catalog.get("component:registered-svc") is None

    # The templates listed are Backstage's.
    assert main(["--workspace", str(root), "template", "list"]) == 0
    listed = capsys.readouterr().out
    assert "register-in-backstage" in listed and "hello-backstage" in listed

    catalog_info = f"{repository}/blob/main/catalog-info.yaml"
    try:
        code = main(
            ["--workspace", str(root), "scaffold", "register-in-backstage", "--set",
             f"catalogInfoUrl={catalog_info}", "--output", "json"]
        )  # fmt: skip
        out, err = capsys.readouterr()
        assert code == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        finished = events[-1]
        assert finished["status"] == "completed", finished
        assert finished["outputs"]["links"] == [
            {"title": "Open in catalog", "entityRef": "component:default/registered-svc"}
        ]
        assert any(f"Registering {catalog_info} in the catalog" in e.get("message", "") for e in events)

        # Registered in Backstage: the console's poll brings it into the open catalog.
        source = BackstageSource(backstage.url)

        def shown() -> bool:
            assert poll_once(catalog, [source]) == []
            return catalog.get("component:registered-svc") is not None

        # Backstage processes a new Location in its own time: generous on a loaded CI machine.
        backstage.wait_for(shown, "the registered entity in the polled catalog", timeout=120)
        registered = catalog.get("component:registered-svc")
        assert registered.annotations["backstage.io/managed-by-location"] == f"url:{catalog_info}"
        assert "component:default/registered-svc" in catalog.get("group:team-a").relations_of("ownerOf")
        assert_same_as_linking_everything(catalog)
    finally:
        unregister(backstage, "component:default/registered-svc")


def test_docs_of_an_entity_from_backstage_are_read_from_its_repository(
    backstage: Backstage, git_host: GitHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = git_host.publish(
        "acme/documented",
        {
            "catalog-info.yaml": component("documented", "backstage.io/techdocs-ref: 'dir:.'"),
            "mkdocs.yml": "site_name: Documented\nnav:\n  - Home: index.md\n",
            "docs/index.md": "# Documented\n\nRead from the service's own repository.\n",
        },
        tmp_path / "work",
    )
    target = f"{repository}/blob/main/catalog-info.yaml"
    assert backstage.post("/api/catalog/locations", {"type": "url", "target": target}).status_code == 201
    try:
        backstage.wait_for(
            lambda: backstage.entity("component:default/documented"),
            "the registered entity processed",
            timeout=120,
        )
        root = backstage_workspace(tmp_path / "ws", backstage.url)
        code = main(["--workspace", str(root), "docs", "documented", "--no-pager", "--raw"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "Read from the service's own repository." in out
    finally:
        unregister(backstage, "component:default/documented")


def test_docs_backstage_read_on_its_own_host_say_why_they_cannot_be_shown_and_link_there(
    backstage: Backstage, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A Backstage on another machine: the entity's file is a path there (the oracle runs here, so
    # its answer is served with that one path moved elsewhere).
    items = backstage.get("/api/catalog/entities/by-query", limit=500).json()["items"]
    [ledger] = [e for e in items if e["metadata"]["name"] == "ledger"]
    ledger["metadata"]["annotations"]["backstage.io/managed-by-location"] = "file:/srv/backstage/deploy.yaml"
    ledger["metadata"]["annotations"]["backstage.io/techdocs-ref"] = "dir:."
    elsewhere = CustomProcessorBackstage(items)
    try:
        root = backstage_workspace(tmp_path / "ws", elsewhere.url)
        code = main(["--workspace", str(root), "docs", "ledger", "--no-pager"])
        _, err = capsys.readouterr()
    finally:
        elsewhere.server.shutdown()
        elsewhere.server.server_close()
    assert code == 1
    assert "the entity's file /srv/backstage/deploy.yaml is not on this machine" in err
    # A copied docs link points at that Backstage's TechDocs page unless docs.base_url says otherwise.
    from backends.docs.browser import DocLocation, DocsBrowser

    browser = DocsBrowser()
    browser.navigate(DocLocation("component:default/ledger", "index.md"))
    base = load_workspace(root).typed.docs.base_url
    assert browser.link(None, base) == f"{elsewhere.url}/docs/default/component/ledger/"


def test_a_service_whose_entity_comes_from_backstage_deploys_to_the_cluster(
    backstage: Backstage, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = [SeedService("ledger", ("staging",), "registry.acme.example/ledger:v1.0.0", 2)]
    with start_simulated_cluster(None, time_scale=0.02, attach=False, seed_objects=seed) as sim:
        kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
        root = backstage_workspace(
            tmp_path / "ws",
            backstage.url,
            textwrap.dedent(
                f"""\
                identity: {{user: ada}}
                environments:
                  staging: {{kubeconfig: {kubeconfig}, context: simulated, namespace: staging}}
                deploy:
                  bake: 0.3s
                  progress_deadline: 20s
                  analysis: {{prometheus: "{sim.prometheus_url}", threshold: 0.01}}
                """
            ),
        )
        code = main(["--workspace", str(root), "deploy", "ledger", "--env", "staging", "--version", "v1.0.1"])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert "Deployment complete" in out
        assert (
            main(["--workspace", str(root), "status", "ledger", "--env", "staging", "--output", "json"]) == 0
        )
        status = json.loads(capsys.readouterr().out)
        assert status["stable"]["version"] == "v1.0.1" and status["stable"]["ready"] == 2
