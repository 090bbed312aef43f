"""Detached runners: a deploy in its own process, watched and steered by any number of clients,
carrying on when the client that started it goes away."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from backends.deploy import canary as cn
from backends.deploy.attach import RemoteRun, RunnerError, attach, running_deploys, start_runner
from backends.deploy.events import DeployFinished, DeployStarted, Outcome, Paused, Stage, StageStarted
from backends.deploy.history import DeployHistory
from backends.deploy.runner import RunRequest
from backends.kube.cluster import Cluster

from .conftest import SERVICE
from .test_deploy_cli import _workspace


@pytest.fixture
def workspace(sim, tmp_path: Path) -> tuple[Path, Cluster]:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    root = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    return root, Cluster.from_kubeconfig(str(kubeconfig), "simulated")


def _deploy(root: Path, version: str = "v2.3.1") -> RemoteRun:
    return start_runner(RunRequest("deploy", SERVICE, "production", version, workspace=str(root)))


def _wait_for_pid_exit(pid: int, timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_the_deploy_goes_on_when_the_client_that_started_it_leaves(workspace) -> None:
    root, cluster = workspace
    run = _deploy(root)
    assert run.deploy_id not in running_deploys()  # findable only once past its pre-checks
    for event in run.events():
        if isinstance(event, DeployStarted):
            assert run.deploy_id in running_deploys()
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
            break  # the client leaves (terminal closed) during the 25 % bake
    # another session attaches and sees the whole story, from the start, to its end
    watcher = attach(run.deploy_id)
    watcher.promote()  # end the one-minute bake at 25 %
    seen = list(watcher.events())
    assert isinstance(seen[-1], DeployFinished) and seen[-1].outcome is Outcome.SUCCEEDED
    assert any(isinstance(e, StageStarted) and e.stage is Stage.PRECHECKS for e in seen)
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.1"
    record = DeployHistory().get(run.deploy_id)
    assert record is not None and record.outcome == "succeeded"
    assert _wait_for_pid_exit(run.pid or 0)  # the runner is gone once the run is over
    assert run.deploy_id not in running_deploys()


def test_any_client_steers_the_run(workspace) -> None:
    root, cluster = workspace
    run = _deploy(root)
    outcome = None
    for event in run.events():
        if isinstance(event, DeployStarted):
            other = attach(run.deploy_id)
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
            other.pause("held for a look")
        if isinstance(event, Paused):
            assert event.reason == "held for a look" and run.paused
            other.abort("not today")
        if isinstance(event, DeployFinished):
            outcome = event.outcome
    assert outcome is Outcome.ABORTED
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None


def test_a_killed_runner_leaves_an_interrupted_deploy_to_resume(workspace) -> None:
    root, cluster = workspace
    run = _deploy(root)
    with pytest.raises(RunnerError, match="stopped before the run finished"):
        for event in run.events():
            if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
                os.kill(run.pid or 0, signal.SIGKILL)
    assert _wait_for_pid_exit(run.pid or 0)
    record = DeployHistory().get(run.deploy_id)
    assert record is not None and record.outcome is None  # interrupted, not finished
    resumed = start_runner(
        RunRequest("resume", SERVICE, "production", deploy_id=run.deploy_id, workspace=str(root))
    )
    assert resumed.deploy_id == run.deploy_id
    resumed.promote()
    *_, last = resumed.events()
    assert isinstance(last, DeployFinished) and last.outcome is Outcome.SUCCEEDED
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.1"


def test_a_refused_start_is_one_line(workspace) -> None:
    root, _ = workspace
    with pytest.raises(Exception, match="no interrupted deploy"):
        start_runner(RunRequest("resume", SERVICE, "production", deploy_id="nope", workspace=str(root)))
