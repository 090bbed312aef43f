"""The demo's simulated cluster as one shared background process per state file (issue 8, finding 9):
racing starters get one server, a stalled owner is waited for and never replaced, and a deploy CLI
killed with -9 leaves the cluster running with every write it was answered for on disk.

Every process a test starts is stopped by the ``servers`` fixture (by pid, found by its state file)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backends.deploy import canary as cn
from backends.kube.sim import start_simulated_cluster
from backends.kube.sim.cluster import Endpoint, SimulatedCluster
from backends.kube.sim.journal import recover
from backends.kube.sim.resources import BY_KEY

from .conftest import FAST, wait_for

REPO = Path(__file__).resolve().parents[2]


def _processes_serving(state: Path) -> list[int]:
    """Pids of the simulation servers (``python -m backends.kube.sim``) for ``state``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"backends.kube.sim" in argv and str(state).encode() in argv:
            with contextlib.suppress(OSError):
                if (entry / "stat").read_text().split(") ")[1].split()[0] != "Z":  # not a zombie
                    found.append(int(entry.name))
    return found


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Path]:
    """A state file; afterwards every server started for it is gone."""
    state = tmp_path / "state" / "simulated-cluster.json"
    yield state
    for pid in _processes_serving(state):
        _stop(pid)
    wait_for(lambda: not _processes_serving(state), timeout=10)


def _start_in_subprocess(state: Path) -> subprocess.Popen[str]:
    script = (
        "import json, sys; from pathlib import Path\n"
        "from backends.kube.sim import start_simulated_cluster\n"
        "from backends.kube.sim.cluster import Endpoint\n"
        f"sim = start_simulated_cluster(Path(sys.argv[1]), time_scale={FAST}, detached=True, idle_exit=60)\n"
        "print(json.dumps({'api_url': sim.api_url, 'pid': Endpoint.read(Path(sys.argv[1])).pid}))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script, str(state)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )


def test_two_processes_racing_to_start_the_demo_cluster_get_one_server(servers: Path) -> None:
    starters = [_start_in_subprocess(servers) for _ in range(2)]
    answers = []
    for starter in starters:
        out, _ = starter.communicate(timeout=60)
        assert starter.returncode == 0
        answers.append(json.loads(out))
    assert answers[0] == answers[1]
    server = answers[0]["pid"]
    assert server not in (starters[0].pid, starters[1].pid)  # a process of its own
    # A starter that lost the race may have spawned a server that found the file owned and left.
    wait_for(lambda: _processes_serving(servers) == [server], timeout=15)
    assert httpx.get(f"{answers[0]['api_url']}/version").status_code == 200


def test_a_stalled_owner_is_waited_for_never_replaced(servers: Path) -> None:
    with start_simulated_cluster(servers, time_scale=FAST, detached=True, idle_exit=60) as first:
        owner = Endpoint.read(servers)
        assert owner is not None
    os.kill(owner.pid, signal.SIGSTOP)  # the owner stalls: it answers nothing, and holds its lock
    attached: list[SimulatedCluster] = []
    try:
        second = threading.Thread(
            target=lambda: attached.append(
                start_simulated_cluster(servers, time_scale=FAST, detached=True, idle_exit=60)
            ),
            daemon=True,
        )
        second.start()
        second.join(4.0)
        assert not attached, "a second starter did not wait for the stalled owner"
        assert _processes_serving(servers) == [owner.pid]
    finally:
        os.kill(owner.pid, signal.SIGCONT)
    second.join(30)
    assert attached and attached[0].api_url == first.api_url
    assert Endpoint.read(servers) == owner
    assert _processes_serving(servers) == [owner.pid]


def test_kill_9_of_a_deploy_cli_keeps_the_cluster_and_every_acknowledged_write(
    servers: Path, isolated_home: Path
) -> None:
    """The demo path: the CLI attaches to (and here first starts) the shared simulation."""
    state = isolated_home / "state" / "simulated-cluster.json"
    env = dict(os.environ, IDP_CONSOLE_SIM_IDLE_EXIT="60")
    env.pop("IDP_CONSOLE_SIMULATION")  # the real demo path, not the test suite's in-process one
    command = [
        sys.executable, "-c", "import sys; from console.cli import main; sys.exit(main(sys.argv[1:]))",
        "deploy", "payment-service", "--env", "staging", "--version", "v2.3.1", "--output", "json",
    ]  # fmt: skip
    cli = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert cli.stdout is not None
        for line in cli.stdout:
            event = json.loads(line)
            # Reported only after the canary's step annotation was written and answered.
            if event["event"] == "StageFinished" and event["stage"] == "canary" and event["step"] == 0:
                break
        else:
            pytest.fail("the deploy ended before its first canary step")
        cli.send_signal(signal.SIGKILL)
        cli.wait(10)

        endpoint = Endpoint.read(state)
        assert endpoint is not None and endpoint.pid != cli.pid
        answer = httpx.get(
            f"{endpoint.api_url}/apis/apps/v1/namespaces/staging/deployments/payment-service-canary"
        )
        assert answer.status_code == 200  # the cluster outlived the CLI
        assert cn.annotations(answer.json())[cn.A_STEP] == "0"

        # Even the server dying at once loses nothing it acknowledged: it was on disk first.
        os.kill(endpoint.pid, signal.SIGKILL)
        wait_for(lambda: not _processes_serving(state), timeout=10)
        with start_simulated_cluster(state, time_scale=FAST) as again:
            assert again.store is not None
            canary = again.store.get(BY_KEY["apps/v1/deployments"], "staging", "payment-service-canary")
            assert canary is not None and cn.annotations(canary)[cn.A_STEP] == "0"
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
        for pid in _processes_serving(state):
            _stop(pid)
        wait_for(lambda: not _processes_serving(state), timeout=10)


def test_every_acknowledged_write_is_on_disk_before_the_answer(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases"

    def saved_leases() -> dict[str, dict]:
        # What a restart after a kill -9 would load: the state file and its journal, as on disk now.
        recovered = recover(state)
        assert recovered is not None
        objects = recovered["objects"]
        return {
            o["object"]["metadata"]["name"]: o["object"] for o in objects if o["resource"].endswith("leases")
        }

    with start_simulated_cluster(state, time_scale=FAST) as sim, httpx.Client(base_url=sim.api_url) as api:
        for n in range(3):  # read straight after each answer: no waiting for a later save
            body = {"metadata": {"name": f"lock-{n}"}, "spec": {"holderIdentity": "me"}}
            assert api.post(leases, json=body).status_code == 201
            assert f"lock-{n}" in saved_leases()
        patch = {"spec": {"holderIdentity": "you"}}
        headers = {"Content-Type": "application/merge-patch+json"}
        assert api.patch(f"{leases}/lock-0", json=patch, headers=headers).status_code == 200
        assert saved_leases()["lock-0"]["spec"]["holderIdentity"] == "you"
        assert api.delete(f"{leases}/lock-1").status_code == 200
        assert "lock-1" not in saved_leases()
