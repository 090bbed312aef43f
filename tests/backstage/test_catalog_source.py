"""A ``type: backstage`` catalog source against a real Backstage backend (see conftest.py)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from backends.catalog import CatalogChanged, SourceLoaded, load_catalog
from backends.catalog.backstage import BackstageSource, forget_mirrors, poll_once
from backends.catalog.catalog import Catalog, _Builder, _RelationCache, catalog_from_files
from backends.catalog.query import SearchIndex
from backends.workspace import load_workspace
from console.cli import main
from tests.backstage.conftest import TOKEN, Backstage

HEADERS = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.xdist_group("backstage")


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_BACKSTAGE", TOKEN)
    yield
    forget_mirrors()


def workspace_for(tmp_path: Path, url: str) -> Path:
    (tmp_path / "idp-console.yaml").write_text(
        f"name: backstage\ncatalog:\n  sources:\n    - type: backstage\n      url: {url}\n"
    )
    return tmp_path


def summary(catalog: object) -> dict[str, tuple[str, str, frozenset[tuple[str, str]]]]:
    """What a user compares: ref -> (kind, owner, relations); Backstage's own generated Locations aside."""
    return {
        ref: (e.kind, e.owner, frozenset((r.type, r.target) for r in e.relations))
        for ref, e in catalog.by_ref.items()  # type: ignore[attr-defined]
        if not ref.startswith("location:default/generated-")
    }


def test_the_same_files_read_locally_and_through_backstage_give_the_same_catalog(
    backstage: Backstage, tmp_path: Path
) -> None:
    files = sorted(backstage.catalog_dir.glob("*.yaml")) + sorted(
        backstage.catalog_dir.glob("*/template.yaml")
    )
    local = catalog_from_files(files, root=backstage.catalog_dir)
    through_backstage = load_catalog(load_workspace(workspace_for(tmp_path, backstage.url)))

    assert summary(through_backstage) == summary(local)
    # Backstage's relations are used as it reports them: both directions are there.
    team_a = through_backstage.get("group:team-a")
    assert team_a is not None and "component:default/cart" in team_a.relations_of("ownerOf")
    assert through_backstage.get("component:cart").description == "Keeps what a customer is about to buy."


def test_an_entity_changed_in_backstage_reaches_the_loaded_catalog_alone(
    backstage: Backstage, tmp_path: Path
) -> None:
    workspace = load_workspace(workspace_for(tmp_path, backstage.url))
    catalog = load_catalog(workspace)
    assert catalog.get("component:mutable").description == "before"
    changes: list[CatalogChanged] = []
    catalog.subscribe(changes.append)
    source = BackstageSource(backstage.url)
    quiet_poll(catalog, source, changes)  # nothing changed in Backstage: nothing published

    mutable = backstage.catalog_dir / "mutable.yaml"
    mutable.write_text(mutable.read_text().replace("description: before", "description: after"))
    assert (
        backstage.post("/api/catalog/refresh", {"entityRef": "component:default/mutable"}).status_code < 300
    )
    backstage.wait_for(
        lambda: (
            (backstage.entity("component:default/mutable") or {})["metadata"].get("description") == "after"
        ),
        "the edited entity processed",
    )

    assert poll_once(catalog, [source]) == []
    assert catalog.get("component:mutable").description == "after"
    # The filter index follows (it is patched for the changed entity, not rebuilt).
    assert [e.name for e in catalog.filter("kind:component owner:team-b after")] == ["mutable"]
    assert "mutable" not in [e.name for e in catalog.filter("before")]
    assert {"checkout", "mutable"} <= {e.name for e in catalog.filter("owner:team-b")}
    patched, rebuilt = catalog.snapshot().index, SearchIndex(catalog.entities)
    assert (patched.keys, patched.postings) == (rebuilt.keys, rebuilt.postings)
    # Only the changed entity was read again and replaced; the rest are the objects loaded before.
    assert [e.ref.canonical for e in changes[0].added] == ["component:default/mutable"]
    assert [e.ref.canonical for e in changes[0].removed] == ["component:default/mutable"]
    assert "component:default/mutable" in catalog.get("group:team-b").relations_of("ownerOf")
    assert_same_as_linking_everything(catalog)


def assert_same_as_linking_everything(catalog: Catalog) -> None:
    """A poll relinks only what its change touches: the result is what linking every entity gives."""
    snapshot = catalog.snapshot()
    full = _Builder.from_snapshot(snapshot).link(_RelationCache())
    assert {ref: [(r.type, r.target) for r in e.relations] for ref, e in snapshot.by_ref.items()} == {
        ref: [(r.type, r.target) for r in e.relations] for ref, e in full.by_ref.items()
    }
    assert sorted(map(str, snapshot.problems)) == sorted(map(str, full.problems))


def quiet_poll(catalog: object, source: BackstageSource, changes: list[CatalogChanged]) -> None:
    """Poll until one poll publishes nothing (another test's change may still be in flight)."""
    backstage_wait = Backstage(source.url, Path())

    def quiet() -> bool:
        changes.clear()
        assert poll_once(catalog, [source]) == []
        return not changes

    backstage_wait.wait_for(quiet, "a poll that finds nothing new")


class Proxy:
    """A loopback TCP forwarder: stopping it makes the Backstage behind it unreachable."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        # shutdown first: close alone leaves a thread blocked in accept() listening (Linux).
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.connections:
            sock.close()


def test_the_offline_copy_is_shown_with_its_age_when_backstage_is_unreachable(
    backstage: Backstage, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = Proxy(int(backstage.url.rsplit(":", 1)[1]))
    url = f"http://127.0.0.1:{proxy.port}"
    root = workspace_for(tmp_path, url)
    online = load_catalog(load_workspace(root))
    proxy.stop()
    forget_mirrors()  # as a new process would: only the offline cache in the state dir is left

    events: list[object] = []
    offline = load_catalog(load_workspace(root), on_event=events.append)

    assert summary(offline) == summary(online)
    loaded = next(e for e in events if isinstance(e, SourceLoaded))
    assert loaded.warning is not None
    assert f"Backstage at {url} is unreachable" in loaded.warning
    assert "showing the offline copy from 0 s ago" in loaded.warning

    assert main(["catalog", "list", "--workspace", str(root)]) == 0
    out, err = capsys.readouterr()
    assert "cart" in out and "checkout" in out
    assert "showing the offline copy from" in err


def test_an_unreachable_backstage_without_an_offline_copy_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    events: list[object] = []
    catalog = load_catalog(
        load_workspace(workspace_for(tmp_path, f"http://127.0.0.1:{port}")), on_event=events.append
    )
    assert catalog.entities == []
    [error] = catalog.errors()
    assert f"Backstage at http://127.0.0.1:{port} is unreachable" in error.message
    assert "\n" not in error.message


def test_a_refused_token_says_so(
    backstage: Backstage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_BACKSTAGE", "wrong-token")
    catalog = load_catalog(load_workspace(workspace_for(tmp_path, backstage.url)))
    [error] = catalog.errors()
    assert "refused the token (401)" in error.message
    assert "wrong-token" not in error.message


def test_an_entity_deleted_in_backstage_leaves_the_loaded_catalog(
    backstage: Backstage, tmp_path: Path
) -> None:
    catalog = load_catalog(load_workspace(workspace_for(tmp_path, backstage.url)))
    entity = backstage.entity("component:default/mutable")
    assert entity is not None and catalog.get("component:mutable") is not None
    uid = entity["metadata"]["uid"]  # type: ignore[index]
    location = entity["metadata"]["annotations"]["backstage.io/managed-by-origin-location"]  # type: ignore[index]
    deleted = httpx.delete(f"{backstage.url}/api/catalog/entities/by-uid/{uid}", headers=HEADERS)
    assert deleted.status_code < 300
    try:
        # Wait for the state: a poll after the deletion publishes the removal.
        def gone() -> bool:
            assert poll_once(catalog, [BackstageSource(backstage.url)]) == []
            return catalog.get("component:mutable") is None

        backstage.wait_for(gone, "the deletion seen by a poll")
        assert "mutable" not in [e.name for e in catalog.filter("owner:team-b")]
        assert_same_as_linking_everything(catalog)
    finally:
        # Put it back for the other tests: Backstage reads its file again when its Location is refreshed.
        query = backstage.get("/api/catalog/entities/by-query", filter="kind=location", limit=100)
        [root] = [e for e in query.json()["items"] if f"file:{e['spec'].get('target')}" == location]
        backstage.post("/api/catalog/refresh", {"entityRef": f"location:default/{root['metadata']['name']}"})
        backstage.wait_for(
            lambda: backstage.entity("component:default/mutable") is not None, "the entity back"
        )


def test_the_processing_errors_backstage_records_are_problems_with_its_message(
    backstage: Backstage, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problems_file = backstage.catalog_dir / "problems.yaml"
    good = problems_file.read_text()
    [location] = [
        e
        for e in backstage.get("/api/catalog/entities/by-query", filter="kind=location", limit=100).json()[
            "items"
        ]
        if e["spec"].get("target") == str(problems_file)
    ]
    location_ref = f"location:default/{location['metadata']['name']}"

    def errors_on_location() -> list[dict[str, object]]:
        entity = backstage.entity(location_ref) or {}
        return list((entity.get("status") or {}).get("items") or [])  # type: ignore[union-attr]

    # Someone breaks the file: Backstage keeps what it read before and records the error on the
    # Location that reads the file (its status.items).
    problems_file.write_text(good + "  bad: [unclosed\n")
    backstage.post("/api/catalog/refresh", {"entityRef": location_ref})
    try:
        backstage.wait_for(errors_on_location, "the processing error recorded")
        [item] = errors_on_location()
        said = str(item["error"]["message"])  # type: ignore[index]
        assert "YAMLParseError" in said and "\n" in said

        root = workspace_for(tmp_path, backstage.url)
        catalog = load_catalog(load_workspace(root))
        [problem] = [p for p in catalog.problems if p.ref == location_ref]
        first_line = said.splitlines()[0]
        assert problem.severity.value == "error"
        assert problem.message.startswith(first_line) and "\n" not in problem.message
        assert (problem.position.file, problem.position.line) == (str(problems_file), 11)
        assert catalog.get("component:breakable") is not None  # what Backstage read before stays

        assert main(["catalog", "list", "--workspace", str(root)]) == 0
        out, err = capsys.readouterr()
        assert "breakable" in out
        assert f"{problems_file}:11: error [{location_ref}]: {first_line}" in err
    finally:
        problems_file.write_text(good)
        backstage.post("/api/catalog/refresh", {"entityRef": location_ref})
        backstage.wait_for(lambda: not errors_on_location(), "the file repaired")


class CustomProcessorBackstage:
    """Backstage's answer for the session's catalog, plus the relations a custom processor adds.

    The oracle runs only Backstage's built-in processors, which emit the 14 relation types
    idp-console knows; an organisation's own processor may emit any other. This loopback server
    serves the oracle's real entities with one such pair added, as Backstage would report it.
    """

    def __init__(self, items: list[dict[str, object]]) -> None:
        body = json.dumps({"items": items, "totalItems": len(items), "pageInfo": {}}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_relation_types_idp_console_does_not_know_are_kept_as_backstage_reports_them(
    backstage: Backstage, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = backstage.get("/api/catalog/entities/by-query", limit=500).json()["items"]
    by_ref = {f"{e['kind']}:default/{e['metadata']['name']}".lower(): e for e in items}
    by_ref["component:default/cart"]["relations"].append(
        {"type": "runsOn", "targetRef": "resource:default/cart-db"}
    )
    by_ref["resource:default/cart-db"]["relations"].append(
        {"type": "hosts", "targetRef": "component:default/cart"}
    )
    stand_in = CustomProcessorBackstage(items)
    try:
        root = workspace_for(tmp_path, stand_in.url)
        assert (
            main(["catalog", "list", "--workspace", str(root), "-o", "json", "-f", "kind:component cart"])
            == 0
        )
        out, err = capsys.readouterr()
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()
    [cart] = [e for e in json.loads(out) if e["metadata"]["name"] == "cart"]
    relations = {(r["type"], r["targetRef"]) for r in cart["relations"]}
    assert ("runsOn", "resource:default/cart-db") in relations
    assert ("ownedBy", "group:default/team-a") in relations  # the known ones as before
    assert "does not exist" not in err

    catalog = load_catalog(load_workspace(root))
    assert catalog.get("resource:cart-db").relations_of("hosts") == ["component:default/cart"]
    # The entity screen lists them under their own heading, after the types it orders.
    from screens.entity import relation_options

    labels = [
        str(o.prompt) for o in relation_options(catalog.get("component:cart"), set(catalog.by_ref)) if o
    ]
    assert "runsOn (1)" in labels and labels.index("runsOn (1)") > labels.index("ownedBy (1)")
