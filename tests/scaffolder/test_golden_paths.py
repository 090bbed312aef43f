"""The shipped golden paths: lint clean, every language renders a complete service, python's tests pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from backends.catalog import load_catalog
from backends.scaffolder import Services, TaskRunner, TemplateLibrary, default_registry, lint
from backends.scaffolder.form import FormModel
from backends.scaffolder.template import golden_path_files, load_template_file
from backends.workspace import load_demo_workspace
from tests.scaffolder.helpers import finished, log_text, step_status

GOLDEN = Path(__file__).resolve().parents[2] / "golden_paths"


class RecordingApplier:
    def __init__(self) -> None:
        self.applied: list[tuple[str, list[dict[str, Any]]]] = []

    def apply(self, env: str, manifests: list[dict[str, Any]]) -> list[str]:
        self.applied.append((env, manifests))
        return [f"{m['kind']}/{m['metadata']['name']} created" for m in manifests]


def test_golden_paths_are_shipped_and_lint_clean() -> None:
    names = {load_template_file(f).name for f in golden_path_files()}
    assert {"microservice-golden-path", "docs-site"} <= names
    services = Services.from_workspace(load_demo_workspace())
    for file in golden_path_files():
        issues = lint(load_template_file(file), default_registry(), services)
        assert [str(i) for i in issues] == [], file
    assert (GOLDEN / "__init__.py").is_file()  # a package, so the files ship in the wheel


def test_microservice_parameters() -> None:
    template = load_template_file(GOLDEN / "microservice-golden-path")
    form = FormModel(template, catalog=load_catalog(load_demo_workspace()), user="jane.doe")
    fields = {f.name: f for f in form.fields()}
    assert fields["name"].schema["pattern"] == "^[a-z][a-z0-9-]*$"
    assert fields["owner"].ui_field == "OwnerPicker"
    assert fields["language"].enum == ("python", "go", "typescript", "java")
    assert fields["database"].enum == ("postgres", "mongodb", "none")
    owners = [o.value for o in form.options("owner", "payments")]
    assert owners[0] == "group:default/team-payments"
    form.set("name", "Bad_Name")
    assert form.errors()["name"].startswith("must match pattern")


def render(
    tmp_path: Path, language: str, database: str = "postgres", **services: Any
) -> tuple[list[Any], Path]:
    template = load_template_file(GOLDEN / "microservice-golden-path")
    parameters = {
        "name": f"svc-{language}",
        "owner": "group:default/team-payments",
        "system": "system:default/billing-platform",
        "language": language,
        "database": database,
        "port": 8080,
        "description": "A 'quoted' \"service\"",
    }
    base = Services(**services)
    if base.git.remote_base is None:
        from backends.git.publish import GitSettings

        base.git = GitSettings(remote_base=str(tmp_path / "git"))
    out = tmp_path / f"out-{language}"
    events = list(TaskRunner(services=base).run(template, parameters, keep_dir=out))
    return events, out


@pytest.mark.parametrize("language", ["python", "go", "typescript", "java"])
def test_every_language_renders_a_complete_service(tmp_path: Path, language: str) -> None:
    events, out = render(tmp_path, language)
    assert finished(events).status == "completed", log_text(events)
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if ".git/" not in p.as_posix()}
    for required in [
        "Dockerfile",
        ".github/workflows/ci.yaml",
        "deploy/base/kustomization.yaml",
        "deploy/base/deployment.yaml",
        "deploy/base/service.yaml",
        "deploy/base/database.yaml",
        "deploy/overlays/staging/kustomization.yaml",
        "deploy/overlays/production/kustomization.yaml",
        "catalog-info.yaml",
        "mkdocs.yml",
        "docs/index.md",
        "docs/runbook.md",
        "README.md",
    ]:
        assert required in files, required
    assert "${{ matrix.os }}" in (out / ".github/workflows/ci.yaml").read_text()  # protected from rendering
    rendered = "\n".join(
        p.read_text()
        for p in out.rglob("*")
        if p.is_file() and ".git/" not in p.as_posix() and ".github" not in p.as_posix()
    )
    assert "${{" not in rendered and "{%" not in rendered
    deployment, service = (
        yaml.safe_load((out / f"deploy/base/{n}.yaml").read_text()) for n in ("deployment", "service")
    )
    name = f"svc-{language}"
    assert deployment["metadata"]["labels"]["app"] == name
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": name, "track": "stable"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz" and container["livenessProbe"]
    assert container["resources"]["limits"] and container["resources"]["requests"]
    assert [e["name"] for e in container["env"]] == ["PORT", "DATABASE_URL"]
    # The image CI pushes (registry.local without a registry configured), at the first version.
    assert container["image"] == f"registry.local/team-payments/{name}:v0.1.0"
    assert service["spec"]["selector"] == {"app": name}
    entity = yaml.safe_load((out / "catalog-info.yaml").read_text())
    annotations = entity["metadata"]["annotations"]
    assert annotations["backstage.io/techdocs-ref"] == "dir:."
    assert annotations["backstage.io/kubernetes-id"] == name
    assert annotations["idp-console.dev/golden-path"] == "microservice-golden-path"
    assert annotations["idp-console.dev/image"] == f"registry.local/team-payments/{name}"
    assert entity["spec"]["owner"] == "group:default/team-payments"
    assert entity["spec"]["system"] == "system:default/billing-platform"
    assert entity["metadata"]["description"] == "A 'quoted' \"service\""
    assert yaml.safe_load((out / "mkdocs.yml").read_text())["nav"][1] == {"Runbook": "runbook.md"}


def test_python_variant_passes_its_own_tests(tmp_path: Path) -> None:
    events, out = render(tmp_path, "python", database="none")
    assert finished(events).status == "completed", log_text(events)
    result = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-v"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Ran 1 test" in result.stderr and "OK" in result.stderr


def test_full_golden_path_publishes_tags_and_registers(tmp_path: Path) -> None:
    from backends.registry import FileRegistry, RegistrySettings

    catalog = load_catalog(load_demo_workspace())
    registry = FileRegistry(tmp_path / "registry", host="registry.acme.example")
    events, _ = render(
        tmp_path,
        "python",
        catalog=catalog,
        register=catalog.register,
        environments=["staging", "production"],
        registry_settings=RegistrySettings(host="registry.acme.example", url=str(tmp_path / "registry")),
        registry=registry,
    )
    assert step_status(events) == {
        "image": "done",
        "fetch-service": "done",
        "fetch-platform": "done",
        "publish": "done",
        "database": "done",
        "ci": "done",
        "register": "done",
        "infra": "skipped",  # no workspace with an infra: section (tests/infra/test_golden_path_infra.py)
    }
    log = log_text(events)
    assert "Simulated CI run" in log
    assert registry.tags("registry.acme.example/team-payments/svc-python") == ["v0.1.0"]
    remote = tmp_path / "git/team-payments/svc-python.git"
    import git

    assert [t.name for t in git.Repo(remote).tags] == ["v0.1.0"]
    created = catalog.get("component:default/svc-python")
    assert created is not None and created.owner == "group:default/team-payments"
    links = finished(events).outputs["links"]
    assert links[0]["url"] == str(remote)
    assert links[1] == {
        "title": "Open in catalog",
        "icon": "catalog",
        "entityRef": "component:default/svc-python",
    }
    next_steps = finished(events).outputs["text"][0]["content"]
    assert "idp-console deploy svc-python --env staging --version v0.1.0" in next_steps
    assert "idp-console deploy svc-python --env production --version v0.1.0" in next_steps


def test_docs_site_golden_path(tmp_path: Path) -> None:
    from backends.git.publish import GitSettings

    template = load_template_file(GOLDEN / "docs-site")
    form = FormModel(
        template, answers={"name": "handbook", "title": "Handbook", "owner": "group:default/team-a"}
    )
    assert form.valid and form.parameters()["sections"] == ["getting-started"]
    form.set("sections", ["getting-started", "faq"])
    services = Services(git=GitSettings(remote_base=str(tmp_path / "git")))
    events = list(TaskRunner(services=services).run(template, form.parameters(), keep_dir=tmp_path / "out"))
    assert finished(events).status == "completed", log_text(events)
    nav = yaml.safe_load((tmp_path / "out/mkdocs.yml").read_text())["nav"]
    assert nav == [{"Home": "index.md"}, {"Getting started": "getting-started.md"}, {"Faq": "faq.md"}]
    assert (tmp_path / "out/docs/faq.md").read_text().startswith("# Faq")


def test_template_library_sources(tmp_path: Path) -> None:
    from backends.catalog.model import Entity, SourcePosition

    extra = tmp_path / "templates/mine"
    extra.mkdir(parents=True)
    (extra / "template.yaml").write_text(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: mine}\n"
        "spec: {type: service, steps: [{action: debug:log}]}\n"
    )
    (tmp_path / "templates/broken.yaml").write_text(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\n"
    )

    class Workspace:
        template_sources = [type("S", (), {"type": "dir", "path": str(tmp_path / "templates")})()]

    entity = Entity(
        raw={
            "apiVersion": "scaffolder.backstage.io/v1beta3",
            "kind": "Template",
            "metadata": {"name": "from-catalog"},
            "spec": {"type": "website", "steps": []},
        },
        position=SourcePosition(str(tmp_path / "catalog.yaml")),
    )
    catalog = type("C", (), {"entities": [entity]})()
    library = TemplateLibrary.discover(Workspace(), catalog)
    assert {"microservice-golden-path", "docs-site", "mine", "from-catalog"} <= set(library.templates)
    assert any("broken.yaml" in p for p in library.problems)
    assert library.find("template:default/mine").name == "mine"
    assert library.find(str(extra / "template.yaml")).name == "mine"
