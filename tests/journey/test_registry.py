"""Registry tags, newest first: the demo's file registry and the OCI Distribution API client (against a
tiny real HTTP server speaking ``GET /v2/<name>/tags/list`` with ``Link`` pagination)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backends.registry import (
    FileRegistry,
    OciRegistry,
    RegistryError,
    RegistrySettings,
    check_tag,
    newest_first,
    open_registry,
)

PAGES = {
    "/v2/team-payments/orders-api/tags/list": (["v0.9.0", "latest", "v0.10.0"], "?n=3&last=v0.10.0"),
    "/v2/team-payments/orders-api/tags/list?n=3&last=v0.10.0": (["v1.0.0-rc.1", "v1.0.0", "v0.10.1"], None),
}


def test_tags_are_newest_first_by_semantic_version() -> None:
    tags = ["v0.9.0", "latest", "v0.10.0", "v1.0.0-rc.2", "v1.0.0", "v1.0.0-rc.10", "sha-abc", "0.11.0"]
    assert newest_first(tags) == [
        "v1.0.0",
        "v1.0.0-rc.10",
        "v1.0.0-rc.2",
        "0.11.0",
        "v0.10.0",
        "v0.9.0",
        "latest",
        "sha-abc",
    ]


def test_file_registry_push_and_tags(tmp_path: Path) -> None:
    registry = open_registry(RegistrySettings(host="registry.acme.example", url=str(tmp_path / "reg")))
    assert isinstance(registry, FileRegistry)
    with pytest.raises(RegistryError, match="no such repository"):
        registry.tags("registry.acme.example/team-payments/orders-api")
    for tag in ("v0.1.0", "v0.10.0", "v0.2.0"):
        registry.push("registry.acme.example/team-payments/orders-api", tag)
    # The host may be left out, and a full image reference names its repository.
    assert registry.tags("team-payments/orders-api") == ["v0.10.0", "v0.2.0", "v0.1.0"]
    assert registry.tags("registry.acme.example/team-payments/orders-api:v0.1.0")[0] == "v0.10.0"
    with pytest.raises(RegistryError, match="newest tags: v0.10.0, v0.2.0, v0.1.0"):
        check_tag(registry, "registry.acme.example/team-payments/orders-api", "v0.3.0")
    check_tag(registry, "registry.acme.example/team-payments/orders-api", "v0.2.0")
    with pytest.raises(RegistryError, match="not an image repository name"):
        registry.tags("Team/../x")


class _Distribution(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        page = PAGES.get(self.path)
        if page is None:
            body = json.dumps({"errors": [{"code": "NAME_UNKNOWN"}]}).encode()
            self.send_response(404)
        else:
            tags, following = page
            body = json.dumps({"name": "team-payments/orders-api", "tags": tags}).encode()
            self.send_response(200)
            if following:
                self.send_header("Link", f'</v2/team-payments/orders-api/tags/list{following}>; rel="next"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def distribution() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Distribution)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_oci_registry_lists_every_page_newest_first(distribution: str) -> None:
    registry = open_registry(RegistrySettings(host="registry.acme.example", url=distribution))
    assert isinstance(registry, OciRegistry)
    assert registry.tags("registry.acme.example/team-payments/orders-api") == [
        "v1.0.0",
        "v1.0.0-rc.1",
        "v0.10.1",
        "v0.10.0",
        "v0.9.0",
        "latest",
    ]
    with pytest.raises(RegistryError, match="team-payments/billing: no such repository"):
        registry.tags("registry.acme.example/team-payments/billing")
    with pytest.raises(RegistryError, match="is not in the registry"):
        check_tag(registry, "registry.acme.example/team-payments/orders-api", "v2.0.0")


def test_an_unreachable_registry_is_one_line(tmp_path: Path) -> None:
    registry = OciRegistry("http://127.0.0.1:9", host="registry.acme.example", timeout=2)
    with pytest.raises(RegistryError, match="cannot reach the registry http://127.0.0.1:9/"):
        registry.tags("team-payments/orders-api")


def test_service_versions_for_the_deploy_form(tmp_path: Path) -> None:
    from backends.catalog.model import Entity, SourcePosition
    from backends.registry import service_versions
    from backends.workspace import load_workspace

    (tmp_path / "idp-console.yaml").write_text(
        f"registry: {{host: registry.acme.example, url: {tmp_path / 'reg'}}}\n"
    )
    workspace = load_workspace(tmp_path)
    raw = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "spec": {}}
    image = {"idp-console.dev/image": "registry.acme.example/team-payments/orders-api"}
    service = Entity({**raw, "metadata": {"name": "orders-api", "annotations": image}}, SourcePosition("x"))
    plain = Entity({**raw, "metadata": {"name": "legacy"}}, SourcePosition("x"))
    assert service_versions(workspace, service) == []  # nothing pushed yet
    registry = open_registry(RegistrySettings(host="registry.acme.example", url=str(tmp_path / "reg")))
    for tag in ("v0.1.0", "v0.2.0"):
        registry.push("registry.acme.example/team-payments/orders-api", tag)
    assert service_versions(workspace, service) == ["v0.2.0", "v0.1.0"]
    assert service_versions(workspace, plain) == []
