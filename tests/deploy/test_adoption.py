"""Orphaned deploys are adopted: a killed runner's deploy is rolled back (production's policy) by
``idp-console agent``, and two adopters never both act."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backends.deploy import canary as cn
from backends.deploy.attach import RunnerError, attach, start_runner
from backends.deploy.events import Stage, StageStarted
from backends.deploy.history import DeployHistory
from backends.deploy.runner import RunRequest
from backends.kube.cluster import Cluster

from .conftest import SERVICE
from .test_deploy_cli import _workspace
from .test_detached_runner import _wait_for_pid_exit

ROOT = Path(__file__).resolve().parents[2]


def _orphan(root: Path) -> str:
    """A production deploy whose runner is killed at the 25 % bake: its canary keeps traffic."""
    run = start_runner(RunRequest("deploy", SERVICE, "production", "v2.3.1", workspace=str(root)))
    with pytest.raises(RunnerError):
        for event in run.events():
            if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
                os.kill(run.pid or 0, signal.SIGKILL)
    assert _wait_for_pid_exit(run.pid or 0)
    return run.deploy_id


def _agent_once(root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--workspace", str(root), "agent", "--once"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(deploy_id: str) -> None:
    """Follow the adopting runner to its end (it may already be done)."""
    try:
        for _ in attach(deploy_id).events():
            pass
    except RunnerError:
        pass


def test_agent_rolls_back_an_orphaned_production_deploy(sim, tmp_path: Path) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    root = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    deploy_id = _orphan(root)
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is not None

    agent = _agent_once(root)
    out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, err
    assert f"adopted {deploy_id} ({SERVICE} in production): rolling back" in out
    _finish(deploy_id)

    history = DeployHistory()
    assert history.get(deploy_id).outcome == "aborted"
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None


def test_two_adopters_never_both_act(sim, tmp_path: Path) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    root = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    deploy_id = _orphan(root)

    agents = [_agent_once(root), _agent_once(root)]
    outputs = [agent.communicate(timeout=120) for agent in agents]
    assert all(agent.returncode == 0 for agent in agents), outputs
    _finish(deploy_id)

    history = DeployHistory()
    rollbacks = [
        e for e in history.events(deploy_id) if isinstance(e, StageStarted) and e.stage is Stage.ROLLBACK
    ]
    assert len(rollbacks) == 1  # one adopter rolled it back; the other was refused by the lease
    assert history.get(deploy_id).outcome == "aborted"
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"


def _with_policy(root: Path, policy: str) -> None:
    config = root / "idp-console.yaml"
    text = config.read_text()
    assert "    production: true\n" in text
    config.write_text(
        text.replace("    production: true\n", f"    production: true\n    on_orphan: {policy}\n")
    )


def _adopted_with_policy(sim, tmp_path: Path, policy: str) -> tuple[str, str, Cluster]:
    """An orphaned production deploy under ``policy`` after one agent round: (id, agent output, cluster)."""
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    root = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    _with_policy(root, policy)
    deploy_id = _orphan(root)
    agent = _agent_once(root)
    out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, err
    return deploy_id, out, Cluster.from_kubeconfig(str(kubeconfig), "simulated")


def test_on_orphan_pause_holds_it_for_a_person(sim, tmp_path: Path) -> None:
    deploy_id, out, cluster = _adopted_with_policy(sim, tmp_path, "pause")
    assert f"{deploy_id} ({SERVICE} in production) is interrupted and held for a person" in out
    assert DeployHistory().get(deploy_id).outcome is None  # still there to resume or abort
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is not None


def test_on_orphan_resume_finishes_the_deploy(sim, tmp_path: Path) -> None:
    deploy_id, out, cluster = _adopted_with_policy(sim, tmp_path, "resume")
    assert f"adopted {deploy_id} ({SERVICE} in production): resuming" in out
    run = attach(deploy_id)
    run.promote()  # the re-run 25 % step bakes for a minute: end it
    _finish(deploy_id)
    assert DeployHistory().get(deploy_id).outcome == "succeeded"
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.1"


def test_an_unknown_policy_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from console.cli import main

    root = tmp_path / "ws"
    root.mkdir()
    (root / "idp-console.yaml").write_text("environments:\n  production:\n    on_orphan: ignore\n")
    assert main(["--workspace", str(root), "agent", "--once"]) == 2
    err = capsys.readouterr().err
    assert (
        "idp-console.yaml:3: environments.production.on_orphan: expected one of rollback, resume, pause"
        in err
    )
