"""An engineer deploys to production from the TUI over SSH and the connection dies mid-canary.

Both doors — the distribution's sshd with ``ForceCommand`` and ``idp-console serve-ssh`` — are driven
by the real ``ssh`` client on a pty, keys typed as a person types them, into a production canary
held at step 2/4 (25 %, a one-minute bake). Then the client is killed with SIGKILL (a laptop lid, a
dropped VPN): the session's processes end, the detached runner alone carries on, and the deploy ends
with an outcome in the history — succeeded, or rolled back by its analysis — after which the runner
ends too. ctrl+q during the deploy says it continues and offers detach or abort.

The 25 % bake is ended by a promote from another session (the test, the same account) once the
client is gone: waiting out the bake would prove nothing more and cost a minute.
"""

from __future__ import annotations

import getpass
import os
import re
import signal
from pathlib import Path

import pytest

from backends.deploy import canary as cn
from backends.deploy.attach import attach
from backends.deploy.events import Stage, StageStarted
from backends.deploy.history import DeployHistory, DeployRecord
from backends.kube.cluster import Cluster
from tests.deploy.conftest import SERVICE
from tests.deploy.test_deploy_cli import _workspace
from tests.sshkit import (
    SSHD,
    OpenSshServer,
    PtyClient,
    ServeSsh,
    alive,
    descendants,
    keygen,
    ssh_client,
    tui_command,
    wait_until,
)

APP_START = 90  # seconds: a cold TUI start on a loaded 2-core CI machine
STEP = 60  # seconds for anything the app or the runner does in one step, under load
NEW = "v2.3.1"
needs_sshd = pytest.mark.skipif(
    not os.path.exists(SSHD), reason="needs OpenSSH's server (apt-get install openssh-server)"
)


def _squashed(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _sees(client: PtyClient, words: str, since: int, timeout: float = STEP, *, times: int = 1) -> None:
    """Wait until ``words`` are on the screen (drawn ``times`` after ``since``); fail with what is there."""
    found = wait_until(lambda: _squashed(client.text(since)).count(words) >= times, timeout, interval=0.1)
    assert found, f"{words!r} never appeared; the screen said: {_squashed(client.text(since))[-1500:]}"


def _deploy_to_step_two(client: PtyClient, history: DeployHistory) -> DeployRecord:
    """Type a production deploy of SERVICE to NEW and wait until it is at step 2/4 (25 %, baking)."""
    _sees(client, "3 entities", 0, APP_START)  # the catalog has loaded: the app takes keys
    mark = client.mark()
    client.send(b":")
    _sees(client, ":command (:help lists them)", mark)  # the prompt, not the footer's ": :command"
    mark = client.mark()
    client.send(f"deploy {SERVICE}\r".encode())
    _sees(client, "production: typed confirmation", mark)
    mark = client.mark()
    client.send(b"\r")  # production, the highlighted environment: on to the version
    # Typed before the version field has the focus, the version would go to the list: wait for the
    # field to be drawn focused — only a focused field blinks its cursor, redrawing its placeholder
    # again and again (once could still be the tail of the form's first paint).
    _sees(client, "e.g. v2.3.1 — enter to confirm", mark, times=3)
    mark = client.mark()
    client.send(f"{NEW}\r".encode())
    _sees(client, f"Type the service name ({SERVICE}) to confirm", mark)
    mark = client.mark()
    client.send(f"{SERVICE}\r".encode())
    _sees(client, "step 2/4: 25%", mark)
    (record,) = wait_until_value(lambda: history.unfinished(SERVICE, "production"))
    assert wait_until(lambda: _baking_at_25(history, record.id), STEP), history.events(record.id)
    return record


def wait_until_value(produce, timeout: float = STEP):  # noqa: ANN001, ANN201
    box: list = []
    assert wait_until(lambda: bool(box.append(produce()) or box[-1]), timeout), "nothing came"
    return box[-1]


def _baking_at_25(history: DeployHistory, deploy_id: str) -> bool:
    return any(
        isinstance(e, StageStarted) and e.stage is Stage.ANALYSIS and e.step == 1
        for e in history.events(deploy_id)
    )


def _kill_client_mid_deploy(
    client: PtyClient, session: list[int], record: DeployRecord, history: DeployHistory
) -> None:
    """SIGKILL the ssh client; every process of its session ends except the deploy's runner."""
    runner = record.pid
    assert runner in session and alive(runner), (runner, session)
    client.process.send_signal(signal.SIGKILL)
    others = [pid for pid in session if pid != runner]
    assert wait_until(lambda: not any(alive(pid) for pid in others), STEP), [
        pid for pid in others if alive(pid)
    ]
    # The deploy did not stop with its terminal: the runner still bakes 25 %, nothing recorded as over.
    assert alive(runner)
    current = history.get(record.id)
    assert current is not None and current.outcome is None


def _ends(record: DeployRecord, history: DeployHistory) -> DeployRecord:
    """The runner ends once the deploy has an outcome in the history."""
    assert wait_until(lambda: not alive(record.pid), STEP), "the runner outlived its deploy"
    finished = history.get(record.id)
    assert finished is not None and finished.outcome is not None
    return finished


def _workspace_for(sim, tmp_path: Path) -> tuple[Path, Cluster]:  # noqa: ANN001
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    root = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    return root, Cluster.from_kubeconfig(str(kubeconfig), "simulated")


@needs_sshd
def test_behind_sshd_the_deploy_outlives_a_killed_client_and_succeeds(
    sim, tmp_path: Path, isolated_home: Path
) -> None:
    root, cluster = _workspace_for(sim, tmp_path)
    history = DeployHistory()
    command = tui_command(isolated_home, "--workspace", str(root))
    with (
        OpenSshServer(tmp_path / "sshd", command) as sshd,
        ssh_client(sshd.port, sshd.client_key, getpass.getuser()) as client,
    ):
        record = _deploy_to_step_two(client, history)

        # ctrl+q mid-deploy: the app says the deploy goes on and offers detach or abort.
        mark = client.mark()
        client.send(b"\x11")
        _sees(client, "It continues in its runner when you quit: nothing stops or pauses", mark)
        _sees(client, "[d] detach and quit [a] abort it and quit [esc] stay", mark)
        mark = client.mark()
        client.send(b"\x1b")  # stay: the watch view is drawn again, the deploy still at 25 %
        _sees(client, "step 2/4: 25%", mark)

        _kill_client_mid_deploy(client, sshd.sessions(), record, history)

    attach(record.id).promote()  # another session ends the 25 % bake
    finished = _ends(record, history)
    assert finished.outcome == "succeeded" and finished.version == NEW
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == NEW
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None


def _serve_ssh(tmp_path: Path, root: Path, home: Path, *extra: str) -> tuple[ServeSsh, Path]:
    key = keygen(tmp_path / "jane", "jane@laptop")
    keys = tmp_path / "authorized_keys"
    keys.write_text(f'environment="IDP_USER=jane.doe" {key.with_suffix(".pub").read_text()}')
    server = ServeSsh(tmp_path / "serve", "--authorized-keys", str(keys), *extra, home=home, workspace=root)
    return server, key


@pytest.mark.parametrize("preload", [False, True], ids=["exec", "preload"])
def test_through_serve_ssh_a_killed_client_leaves_the_analysis_to_roll_back(
    sim, tmp_path: Path, isolated_home: Path, preload: bool
) -> None:
    root, cluster = _workspace_for(sim, tmp_path)
    history = DeployHistory()
    server, key = _serve_ssh(tmp_path, root, isolated_home, *(["--preload"] if preload else []))
    with server, ssh_client(server.port, key, "jane") as client:
        record = _deploy_to_step_two(client, history)
        # The session's processes: its app and what the app started (the zygote serves the next one).
        session = [pid for pid in descendants(server.process.pid) if pid != server.zygote()]
        _kill_client_mid_deploy(client, session, record, history)
        assert wait_until(lambda: server.apps() == [], STEP), server.apps()  # ended and reaped

    # The canary turns bad while nobody watches: its analysis rolls the deploy back by itself.
    sim.set_error_rate(SERVICE, "canary", 0.5)
    attach(record.id).promote()  # end the bake now; the check that follows fails
    finished = _ends(record, history)
    assert finished.outcome == "rolled-back" and finished.version == "v2.3.0"
    assert "error rate" in finished.reason
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None


def test_through_serve_ssh_ctrl_q_detaches_and_the_deploy_goes_on(
    sim, tmp_path: Path, isolated_home: Path
) -> None:
    root, cluster = _workspace_for(sim, tmp_path)
    history = DeployHistory()
    server, key = _serve_ssh(tmp_path, root, isolated_home)
    with server, ssh_client(server.port, key, "jane") as client:
        record = _deploy_to_step_two(client, history)
        mark = client.mark()
        client.send(b"\x11")
        _sees(client, "It continues in its runner when you quit: nothing stops or pauses", mark)
        client.send(b"d")  # detach and quit
        assert client.wait(STEP) == 0, client.text(mark)[-800:]
        assert wait_until(lambda: server.apps() == [], STEP)
        assert alive(record.pid) and history.get(record.id).outcome is None

    # Watched again from elsewhere: the whole story so far, and it can still be stopped.
    watcher = attach(record.id)
    watcher.abort("stopped from another session")
    seen = list(watcher.events())
    assert any(isinstance(e, StageStarted) and e.stage is Stage.PRECHECKS for e in seen)
    finished = _ends(record, history)
    assert finished.outcome == "aborted"
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"
