"""A private PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temp dir, on a free loopback
port, with password (SCRAM) authentication for a test role; stopped and removed afterwards.

PostgreSQL refuses to run as root, so as root the cluster belongs to a system account
(``idpci``, created once with ``useradd --system``) and its commands run under that account.
Binaries are looked up on PATH, then under ``/usr/lib/postgresql/*/bin`` (Debian keeps them there).
Without them the tests skip, saying why — unless ``CI`` is set: CI installs the ``postgresql``
package (``.ci/run``), so a missing server there is a failure, never a silent skip.

Each pytest process (each xdist worker) starts its own server once; every test gets a fresh
history on it (:meth:`PostgresServer.new_history`: a role and schema of its own), so no test sees
another's rows.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

SYSTEM_ACCOUNT = "idpci"
TEST_ROLE = "idp_test"
TEST_PASSWORD = "not-the-real-one-7Qx"
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "superuser-9Fz"
SHARED_DATABASE = "histories"  # one schema per test in it (new_history)
_BINARIES = ("initdb", "pg_ctl", "postgres")
_counter = itertools.count(1)


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    on_path = [shutil.which(name) for name in _BINARIES]
    if all(on_path):
        return Path(os.path.realpath(on_path[0] or "")).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if all((directory / name).is_file() for name in _BINARIES):
            return directory
    return None


def require_bin_dir() -> Path:
    """The binaries' directory; skip (locally) or fail (in CI) without them."""
    directory = find_bin_dir()
    if directory is not None:
        return directory
    message = (
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or under "
        "/usr/lib/postgresql/*/bin"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run the PostgreSQL store tests (.ci/run installs postgresql)")
    pytest.skip(f"{message}: the PostgreSQL store tests are skipped (apt-get install postgresql)")


def _system_account() -> pwd.struct_passwd | None:
    """As root, the unprivileged account the server runs as (created if missing); else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_ACCOUNT)
    except KeyError:
        pass
    # Two xdist workers may both try: the loser's useradd fails and the account exists anyway.
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_ACCOUNT],
        capture_output=True,
        check=False,
    )
    return pwd.getpwnam(SYSTEM_ACCOUNT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int = 0
    account: pwd.struct_passwd | None = None
    databases: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    # -- processes --------------------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict = {}
        if self.account is not None:
            kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            check=False,
            **kwargs,
        )
        if check and result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}\n{log}")
        return result

    def init(self) -> None:
        password_file = self.root / "superuser-password"
        password_file.write_text(SUPERUSER_PASSWORD + "\n")
        self._chown(password_file)
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=scram-sha-256",
            f"--pwfile={password_file}", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        """Start on a free loopback port (a new one if another process took ours meanwhile)."""
        for _attempt in range(5):
            self.port = self.port or free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            result = self._run(
                "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
                "-o", options, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                return
            if "could not bind" not in self.log_file.read_text(errors="replace"):
                raise RuntimeError(f"pg_ctl start failed: {result.stderr}")
            self.port = 0
        raise RuntimeError("pg_ctl start: no free port after 5 tries")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", check=False)

    def _chown(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    # -- databases --------------------------------------------------------------------------------
    def admin(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, password=SUPERUSER_PASSWORD,
            dbname=database, autocommit=True, connect_timeout=10,
        )  # fmt: skip

    def create_role(self) -> None:
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {TEST_ROLE} LOGIN PASSWORD '{TEST_PASSWORD}'")
            conn.execute(f"CREATE DATABASE {SHARED_DATABASE}")

    def new_database(self) -> str:
        """A fresh, empty database owned by the test role; its name."""
        name = f"history_{os.getpid()}_{next(_counter)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {TEST_ROLE}")
        self.databases.append(name)
        return name

    def new_history(self) -> str:
        """The URL of a fresh, empty history: a role of its own, whose schema (named after it,
        first on its search path) receives the tables — milliseconds, where a database costs ~0.5 s
        on a loaded machine. Its password is :data:`TEST_PASSWORD`."""
        role = f"hist_{os.getpid()}_{next(_counter)}"
        with self.admin(SHARED_DATABASE) as conn:
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{TEST_PASSWORD}'")
            conn.execute(f"CREATE SCHEMA AUTHORIZATION {role}")
        return self.url(SHARED_DATABASE, role)

    def url(self, database: str, user: str = TEST_ROLE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"


@contextlib.contextmanager
def running_server() -> PostgresServer:  # type: ignore[misc]
    """A started server with the test role; stopped and removed on exit."""
    bin_dir = require_bin_dir()
    account = _system_account()
    root = Path(tempfile.mkdtemp(prefix="idp-pg-"))
    server = PostgresServer(bin_dir, root, account=account)
    try:
        if account is not None:
            os.chown(root, account.pw_uid, account.pw_gid)
        os.chmod(root, 0o700)
        server.init()
        server.start()
        server.create_role()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05) -> bool:  # noqa: ANN001
    """Poll ``predicate`` until true (a state, never a fixed sleep); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
