"""Two real OS accounts on one host, one PostgreSQL history: jane.doe's account deploys (its runner
runs as that account, its socket private to it), and sam.lee's account — another uid, so the
kernel keeps it off that socket — aborts the deploy through the store as a member of the owning
team; both accounts' commands see the same story.

Needs root to create the accounts (``useradd --system``) and run commands as them; skipped, saying
so, when not root outside CI (CI runs as root: there a missing account is a failure).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.deploy import canary as cn
from backends.deploy.history import open_history
from backends.kube.cluster import Cluster
from backends.workspace import load_workspace
from tests.bastion.hosts import host_workspace
from tests.deploy.conftest import SERVICE
from tests.sshkit import ROOT, wait_until

ACCOUNTS = {"idpbast-a": "jane.doe", "idpbast-b": "sam.lee"}
STEP = 60
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("CI"),
    reason="needs root to create two test accounts and run idp-console as each",
)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[object]:
    from tests.pg import running_server

    with running_server() as server:
        yield server


def _account(name: str) -> pwd.struct_passwd:
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        check=False,  # it may exist already (another run, another xdist worker)
    )
    return pwd.getpwnam(name)


def _python_for(account: pwd.struct_passwd) -> tuple[str, str]:
    """An interpreter the account may run with this project's packages: this one, or (when it lives
    in a home other accounts cannot enter, e.g. /root/.pyenv) the system's of the same version with
    the project's site-packages on PYTHONPATH. Returns (executable, PYTHONPATH)."""
    site = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for executable, path in ((sys.executable, ""), (f"/usr/bin/{version}", site)):
        try:
            probe = subprocess.run(
                [executable, "-c", "import console.cli, psycopg"],
                user=account.pw_uid,
                group=account.pw_gid,
                extra_groups=[],
                env={"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), path) if p), "HOME": "/"},
                cwd="/",
                capture_output=True,
                check=False,
            )
        except OSError:
            continue  # it may not even execute it
        if probe.returncode == 0:
            return executable, path
    pytest.skip(f"no Python that {account.pw_name} may run has this project's packages")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every account can enter (pytest's tmp dirs are private to root)."""
    base = Path(tempfile.mkdtemp(prefix="idp-two-accounts-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _as(
    account: pwd.struct_passwd, python: tuple[str, str], home: Path, url_password: str, *args: str
) -> subprocess.Popen[str]:
    executable, site = python
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "IDP_CONSOLE_HOME": str(home),
        "IDP_CONSOLE_SECRET_HISTORY": url_password,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), site) if p),
    }
    return subprocess.Popen(
        [executable, "-m", "console.cli", *args],
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _uid_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith("Uid:"))
    return int(line.split()[1])


def test_another_account_of_the_owning_team_aborts_through_a_shared_postgresql_history(
    sim, pg_server, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.pg import TEST_PASSWORD

    jane, sam = (_account(name) for name in ACCOUNTS)
    python = _python_for(jane)
    kubeconfig = sim.kubeconfig(shared_dir / "kubeconfig")
    kubeconfig.chmod(0o644)
    accounts = ", ".join(f"{login}: {user}" for login, user in ACCOUNTS.items())
    workspace = host_workspace(
        shared_dir / "ws",
        history=pg_server.new_history(),
        kubeconfig=kubeconfig,
        prometheus=sim.prometheus_url,
        identity=f"{{accounts: {{{accounts}}}}}",  # who you are comes from the account
    )
    for path in [workspace, *workspace.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    homes = {}
    for account in (jane, sam):
        homes[account.pw_name] = home = shared_dir / account.pw_name
        home.mkdir(mode=0o700)
        os.chown(home, account.pw_uid, account.pw_gid)

    deploy = _as(
        jane, python, homes["idpbast-a"], TEST_PASSWORD,
        "--workspace", str(workspace), "deploy", SERVICE, "--env", "production",
        "--version", "v2.3.1", "--yes", "--output", "json",
    )  # fmt: skip
    try:
        assert deploy.stdout is not None
        seen = []
        for line in deploy.stdout:
            seen.append(json.loads(line))
            if seen[-1].get("stage") == "analysis" and seen[-1].get("step") == 1:
                break  # baking 25 % for a minute
        else:
            pytest.fail(f"the deploy never reached 25 %: {deploy.stderr.read() if deploy.stderr else ''}")

        monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", TEST_PASSWORD)
        history = open_history(load_workspace(workspace))
        (record,) = history.unfinished(SERVICE, "production")
        assert record.user == "jane.doe"
        assert _uid_of(record.pid) == jane.pw_uid  # the runner is jane's account's process

        abort = _as(
            sam, python, homes["idpbast-b"], TEST_PASSWORD,
            "--workspace", str(workspace), "deploy", SERVICE, "--env", "production", "--abort", "--yes",
        )  # fmt: skip
        out, err = abort.communicate(timeout=STEP * 2)
        assert abort.returncode == 1, err  # aborted: a negative result, as for a local abort
        assert "aborted" in out

        rest, err = deploy.communicate(timeout=STEP * 2)
        assert deploy.returncode == 1, err  # jane's command saw its deploy aborted
        seen += [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    finally:
        with contextlib.suppress(ProcessLookupError):
            deploy.kill()
        deploy.wait()

    assert any(e["event"] == "LogLine" and e["message"].startswith("sam.lee aborted it") for e in seen)
    assert seen[-1]["event"] == "DeployFinished" and seen[-1]["outcome"] == "aborted"
    assert seen[-1]["reason"] == "aborted by sam.lee"
    assert wait_until(lambda: history.get(record.id).outcome == "aborted", STEP)
    assert [c.requested_by for c in history.controls_after(record.id, 0)] == ["sam.lee"]
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"
    history.close()
