"""A real Backstage backend (the oracle install) for the ``type: backstage`` source and runner tests.

The backend is installed by ``../shared/oracles/backstage-backend/setup.sh DIR`` (``.ci/run`` does it
in CI and exports ``IDP_CONSOLE_BACKSTAGE_ORACLE=DIR``). One backend per test session, started on a
free loopback port with the catalog files below; every test of this folder runs in one xdist worker
(``xdist_group``) so the session starts it once. Without node >= 20 or the install the tests skip
saying why — except in CI, where they fail unless ``.ci/run`` said why it could not provide them
(``IDP_CONSOLE_BACKSTAGE_SKIP``: Debian's nodejs is older than 20, or the install failed).

Beside it runs a loopback git host (``GitHost``): bare repositories cloned over HTTP and their files
read as ``/<owner>/<repo>/blob/<ref>/<path>``, as from GitHub. Backstage may read from it: its
``backend.reading.allow`` names that host through Backstage's own ``APP_CONFIG_*`` environment
variables (``start.sh`` writes no such list, and without one Backstage reads no URL at all — which is
why the scaffolder's ``catalog:register`` could not land there before).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

TOKEN = "backstage-oracle-token"
REPO = Path(__file__).resolve().parents[2]
FILES = Path(__file__).parent / "files"
START_TIMEOUT = 180.0  # a cold node start on a loaded 2-core CI machine; normally ~10 s


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run these tests in one xdist worker")


@dataclass(frozen=True)
class Backstage:
    url: str
    catalog_dir: Path  # the files it serves (tests may change mutable.yaml)

    def get(self, path: str, **params: object) -> httpx.Response:
        return httpx.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )

    def post(self, path: str, body: object) -> httpx.Response:
        return httpx.post(
            self.url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )

    def entity(self, ref: str) -> dict[str, object] | None:
        items = self.post("/api/catalog/entities/by-refs", {"entityRefs": [ref]}).json()["items"]
        return items[0] if items else None

    def wait_for(self, predicate: object, what: str, timeout: float = 60.0) -> None:
        """Poll the API until ``predicate()`` holds (never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            time.sleep(0.2)
        raise AssertionError(f"Backstage never reached: {what}")


def _oracle_dir() -> Path | None:
    configured = os.environ.get("IDP_CONSOLE_BACKSTAGE_ORACLE")
    candidates = [Path(configured)] if configured else sorted(REPO.parent.glob("oracles*/backend*"))
    for candidate in candidates:
        if (candidate / "start.sh").is_file() and (candidate / "node_modules").is_dir():
            return candidate
    return None


def _node_problem() -> str | None:
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        return f"node --version said {version!r}"
    return None if major >= 20 else f"node {version} is older than 20"


def _unavailable(reason: str) -> None:
    # .ci/run says why it could not provide the backend (no node >= 20 from Debian, install failed).
    ci_reason = os.environ.get("IDP_CONSOLE_BACKSTAGE_SKIP")
    if ci_reason:
        pytest.skip(f"no Backstage backend to test against: {ci_reason}")
    if os.environ.get("CI"):
        pytest.fail(f"the Backstage backend tests must run in CI: {reason}")
    pytest.skip(f"no Backstage backend to test against: {reason}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def catalog_files(directory: Path) -> list[Path]:
    """The session's catalog: copies of tests/backstage/files (tests change some of them)."""
    shutil.copytree(FILES, directory, dirs_exist_ok=True)
    return sorted(directory.glob("*.yaml")) + sorted(directory.glob("*/template.yaml"))


class GitHost:
    """Bare repositories under ``root/<owner>/<repo>`` on loopback HTTP: git clones them (the dumb
    protocol), and ``/<owner>/<repo>/blob/<ref>/<path>`` answers that file at that ref, as GitHub does."""

    def __init__(self, root: Path) -> None:
        self.root = root
        host = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(host.root), **kwargs)  # type: ignore[arg-type]

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                if len(parts) >= 5 and parts[2] == "blob":
                    owner, repo, _, ref, *path = parts
                    shown = subprocess.run(
                        [
                            "git",
                            "--git-dir",
                            str(host.root / owner / repo),
                            "show",
                            f"{ref}:{'/'.join(path)}",
                        ],
                        capture_output=True,
                        check=False,
                    )
                    self.send_response(200 if shown.returncode == 0 else 404)
                    self.send_header("Content-Length", str(len(shown.stdout)))
                    self.end_headers()
                    self.wfile.write(shown.stdout)
                    return
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, repo: str, files: dict[str, str], work: Path) -> str:
        """Commit ``files`` as ``repo`` (``owner/name``) on branch main; returns the clone URL."""
        work.mkdir(parents=True)
        for name, text in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
        subprocess.run([*git, "init", "-q"], cwd=work, check=True)
        subprocess.run([*git, "add", "-A"], cwd=work, check=True)
        subprocess.run([*git, "commit", "-qm", "publish"], cwd=work, check=True)
        bare = self.root / repo
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        subprocess.run(["git", "--git-dir", str(bare), "update-server-info"], check=True)
        return f"{self.url}/{repo}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def git_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHost]:
    host = GitHost(tmp_path_factory.mktemp("git-host"))
    yield host
    host.stop()


@pytest.fixture(scope="session")
def backstage(tmp_path_factory: pytest.TempPathFactory, git_host: GitHost) -> Iterator[Backstage]:
    problem = _node_problem()
    if problem is not None:
        _unavailable(problem)
    oracle = _oracle_dir()
    if oracle is None:
        _unavailable(
            "set IDP_CONSOLE_BACKSTAGE_ORACLE to a directory made by "
            "shared/oracles/backstage-backend/setup.sh (.ci/run does it)"
        )
    assert oracle is not None
    directory = tmp_path_factory.mktemp("backstage-catalog")
    files = catalog_files(directory)
    port = _free_port()
    log = open(directory / "backstage.log", "wb")  # noqa: SIM115 - closed when the server stops
    # Backstage's config from the environment: it may read URLs of the git host (and only those).
    allow = json.dumps([{"host": f"127.0.0.1:{git_host.port}"}])
    process = subprocess.Popen(
        ["bash", str(oracle / "start.sh"), str(port), *map(str, files)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "APP_CONFIG_backend_reading_allow": allow},
    )
    server = Backstage(f"http://127.0.0.1:{port}", directory)
    try:
        _wait_until_filled(server, process, directory / "backstage.log")
        yield server
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        log.close()


# Every entity of tests/backstage/files, once Backstage has processed them all.
EXPECTED_REFS = {
    "group:default/team-a",
    "group:default/team-b",
    "user:default/ada",
    "system:default/shop",
    "component:default/cart",
    "component:default/checkout",
    "api:default/cart-api",
    "resource:default/cart-db",
    "component:default/mutable",
    "component:default/tui-widget",
    "template:default/hello-backstage",
    "template:default/register-in-backstage",
    "component:default/ledger",
    "component:default/breakable",
}


def _wait_until_filled(server: Backstage, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the backend answers and every expected entity is in its catalog (API polls)."""
    deadline = time.monotonic() + START_TIMEOUT
    refs: set[str] = set()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"Backstage exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            response = server.get("/api/catalog/entities/by-query", limit=500, fields="kind,metadata.name")
            if response.status_code == 200:
                refs = {
                    f"{e['kind']}:default/{e['metadata']['name']}".lower() for e in response.json()["items"]
                }
                if refs >= EXPECTED_REFS:
                    _wait_until_settled(server, deadline)
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(
        f"Backstage did not fill its catalog in {START_TIMEOUT:.0f} s (missing: "
        f"{sorted(EXPECTED_REFS - refs)}):\n{_errors_in(log)}"
    )


def _errors_in(log: Path) -> str:
    """The backend log's warnings and errors (its request lines would bury them)."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if "rootHttpRouter" not in line]
    return "\n".join(lines[-40:])


def _wait_until_settled(server: Backstage, deadline: float) -> None:
    """Wait until two listings in a row show the same etags: Backstage has stitched every relation."""
    before = None
    while time.monotonic() < deadline:
        items = server.get(
            "/api/catalog/entities/by-query", limit=500, fields="metadata.uid,metadata.etag"
        ).json()
        now = {e["metadata"]["uid"]: e["metadata"]["etag"] for e in items["items"]}
        if now == before:
            return
        before = now
        time.sleep(0.5)
