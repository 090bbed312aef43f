"""``infra request`` with ``infra.forge``: the branch is pushed to the infra repository, then the
pull request (GitHub) or merge request (GitLab) is opened over real HTTP on loopback against a small
server that implements just those endpoints as the forges document them and records each request."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.infra.conftest import Infra

PAYMENT = "infrastructure/payment-service/resources.yaml"
CACHE = "  cache:    {type: redis, size: small, eviction: lru}\n"
TOKEN = "tok-3f9a-not-for-logs"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeForge:
    """GitHub's ``/repos/{o}/{r}/pulls`` and GitLab's ``/api/v4/projects/{id}/merge_requests``."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    open: list[dict[str, Any]] = field(default_factory=list)  # {"branch", "number"}
    project: str = "acme/infrastructure"

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        self.seen.append(Seen(method, raw_path, headers, body))
        path, query = urlsplit(raw_path).path, parse_qs(urlsplit(raw_path).query)
        if path.startswith("/api/v4/"):
            return self._gitlab(method, path, query, headers, body)
        return self._github(method, path, query, headers, body)

    def _github(
        self, method: str, path: str, query: Any, headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        token = headers.get("authorization", "")
        if token not in (f"Bearer {TOKEN}", "Bearer read-only"):
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        if path != f"/repos/{self.project}/pulls":
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        owner = self.project.split("/")[0]
        if method == "GET":
            head = query["head"][0]
            return 200, [
                {
                    "number": p["number"],
                    "html_url": f"https://github.example/{self.project}/pull/{p['number']}",
                }
                for p in self.open
                if f"{owner}:{p['branch']}" == head
            ]
        if token == "Bearer read-only":
            return 403, {"message": "Resource not accessible by personal access token"}
        missing = [key for key in ("title", "head", "base") if not body.get(key)]
        if missing:
            return 422, {
                "message": "Validation Failed",
                "errors": [{"field": missing[0], "code": "missing_field"}],
            }
        if any(p["branch"] == body["head"] for p in self.open):
            return 422, {
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "code": "custom",
                            "message": f"A pull request already exists for {owner}:{body['head']}."}],
            }  # fmt: skip
        number = 17 + len(self.open)
        self.open.append({"branch": body["head"], "number": number})
        return 201, {"number": number, "html_url": f"https://github.example/{self.project}/pull/{number}"}

    def _gitlab(
        self, method: str, path: str, query: Any, headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if headers.get("private-token") != TOKEN:
            return 401, {"message": "401 Unauthorized"}
        encoded = self.project.replace("/", "%2F")
        if path != f"/api/v4/projects/{encoded}/merge_requests":
            return 404, {"message": "404 Project Not Found"}
        web = f"https://gitlab.example/{self.project}/-/merge_requests"
        if method == "GET":
            branch = query["source_branch"][0]
            return 200, [
                {"iid": p["number"], "web_url": f"{web}/{p['number']}"}
                for p in self.open
                if p["branch"] == branch
            ]
        existing = [p for p in self.open if p["branch"] == body["source_branch"]]
        if existing:
            return 409, {
                "message": [
                    "Another open merge request already exists for this source branch: "
                    f"!{existing[0]['number']}"
                ]
            }
        number = 4 + len(self.open)
        self.open.append({"branch": body["source_branch"], "number": number})
        return 201, {"iid": number, "web_url": f"{web}/{number}"}


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    fake = FakeForge()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = fake.handle(self.command, self.path, headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _configure(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, forge: dict[str, Any], token: str | None
) -> None:
    config_file = infra.workspace / "idp-console.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["infra"]["forge"] = forge
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")  # no desktop keyring
    for name in ("GITHUB", "GITLAB"):
        if token is None:
            monkeypatch.delenv(f"IDP_CONSOLE_SECRET_{name}", raising=False)
        else:
            monkeypatch.setenv(f"IDP_CONSOLE_SECRET_{name}", token)


def _request(infra: Infra, tmp_path: Path) -> tuple[int, str, str]:
    (tmp_path / "new.yaml").write_text((infra.work / PAYMENT).read_text() + CACHE)
    return infra.cli("infra", "request", "payment-service", "--file", str(tmp_path / "new.yaml"))


def _refs(infra: Infra) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(infra.repo), "for-each-ref", "--format=%(refname)"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def test_github_pull_request_with_the_plan_as_its_body(
    infra: Infra, forge: FakeForge, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _configure(
        infra, monkeypatch, {"type": "github", "url": forge.url, "project": "acme/infrastructure"}, TOKEN
    )
    code, out, err = _request(infra, tmp_path)
    assert code == 0, err
    assert (
        "opened change request #17: https://github.example/acme/infrastructure/pull/17 "
        "(branch infra/payment-service-1)" in out
    )
    assert "payment-service (team-payments): 0.00 → 113.00 /month (+113.00)" in out
    [sent] = forge.seen
    assert (sent.method, sent.path) == ("POST", "/repos/acme/infrastructure/pulls")
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.headers["content-type"] == "application/json"
    assert (sent.body["title"], sent.body["head"], sent.body["base"]) == (
        "infra: payment-service resources", "infra/payment-service-1", "main",
    )  # fmt: skip
    assert "payment-service: 0.00 → 113.00 /month" in sent.body["body"]
    assert "pass: cache-size-approval" in sent.body["body"]
    refs = _refs(infra)
    assert "refs/heads/infra/payment-service-1" in refs and "refs/pull/" not in refs  # the forge owns those
    code, out, _ = infra.cli("infra", "plan", "payment-service", "--ref", "infra/payment-service-1")
    assert code == 0 and "+ create statefulsets/payment-service-cache" in out
    assert TOKEN not in out + err
    code, out, err = _request(infra, tmp_path)  # a second request: the next branch, the forge's number
    assert code == 0 and "#18" in out and "(branch infra/payment-service-2)" in out


def test_gitlab_merge_request_with_the_plan_as_its_description(
    infra: Infra, forge: FakeForge, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    forge.project = "platform/infra/infrastructure"
    settings = {"type": "gitlab", "url": f"{forge.url}/api/v4", "project": "platform/infra/infrastructure"}
    _configure(infra, monkeypatch, settings, TOKEN)
    code, out, err = _request(infra, tmp_path)
    assert code == 0, err
    assert (
        "opened change request #4: https://gitlab.example/platform/infra/infrastructure/-/merge_requests/4 "
        "(branch infra/payment-service-1)" in out
    )
    [sent] = forge.seen
    assert (sent.method, sent.path) == (
        "POST",
        "/api/v4/projects/platform%2Finfra%2Finfrastructure/merge_requests",
    )
    assert sent.headers["private-token"] == TOKEN and "authorization" not in sent.headers
    assert (sent.body["source_branch"], sent.body["target_branch"], sent.body["title"]) == (
        "infra/payment-service-1", "main", "infra: payment-service resources",
    )  # fmt: skip
    assert "payment-service: 0.00 → 113.00 /month" in sent.body["description"]


@pytest.mark.parametrize(
    ("forge_type", "token", "project", "already", "said"),
    [
        ("github", "wrong", "acme/infrastructure", False,
         "GitHub answered 401: the token in secret 'github' was refused (Bad credentials); "
         "store a valid one in the keyring or IDP_CONSOLE_SECRET_GITHUB"),
        ("github", "read-only", "acme/infrastructure", False,
         "GitHub answered 403: the token may not open a pull request in acme/infrastructure "
         "(Resource not accessible by personal access token)"),
        ("github", TOKEN, "acme/nope", False,
         "GitHub answered 404: no project acme/nope at http://127.0.0.1"),
        ("github", TOKEN, "acme/infrastructure", True,
         "a pull request for infra/payment-service-1 already exists in acme/infrastructure: "
         "#17 https://github.example/acme/infrastructure/pull/17"),
        ("gitlab", "wrong", "acme/infrastructure", False,
         "GitLab answered 401: the token in secret 'gitlab' was refused"),
        ("gitlab", TOKEN, "acme/infrastructure", True,
         "a merge request for infra/payment-service-1 already exists in acme/infrastructure: "
         "#4 https://gitlab.example/acme/infrastructure/-/merge_requests/4"),
    ],
)  # fmt: skip
def test_forge_refusals_are_one_line_without_the_token(
    infra: Infra, forge: FakeForge, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    forge_type: str, token: str, project: str, already: bool, said: str,
) -> None:  # fmt: skip
    if already:
        forge.open.append(
            {"branch": "infra/payment-service-1", "number": 17 if forge_type == "github" else 4}
        )
    url = forge.url + ("/api/v4" if forge_type == "gitlab" else "")
    _configure(infra, monkeypatch, {"type": forge_type, "url": url, "project": project}, token)
    code, out, err = _request(infra, tmp_path)
    assert code == 2
    assert "branch infra/payment-service-1 is pushed, but no " in err and said in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert token not in out + err


def test_no_token_no_push(
    infra: Infra, forge: FakeForge, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _configure(
        infra, monkeypatch, {"type": "github", "url": forge.url, "project": "acme/infrastructure"}, None
    )
    code, _, err = _request(infra, tmp_path)
    assert code == 2
    assert (
        "infra.forge: no GitHub token: export IDP_CONSOLE_SECRET_GITHUB or store 'github' in the keyring"
        in err
    )
    assert "infra/" not in _refs(infra) and not forge.seen


@pytest.mark.parametrize(
    ("forge_settings", "said"),
    [
        ({"type": "bitbucket", "project": "a/b"}, "infra.forge.type: expected one of github, gitlab"),
        ({"type": "github", "project": "justname"}, "infra.forge.project: expected owner/name"),
        ({"type": "github", "project": "a/b", "token": "x"}, "infra.forge.token: unknown key 'token'"),
    ],
)
def test_a_bad_forge_section_is_one_line(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, forge_settings: dict[str, Any], said: str
) -> None:
    _configure(infra, monkeypatch, forge_settings, TOKEN)
    code, _, err = infra.cli("infra", "plan")
    assert code != 0 and said in err
