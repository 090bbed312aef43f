"""Our rollout verdict against the real ``kubectl rollout status`` on the same objects."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from backends.kube.cluster import Cluster
from backends.kube.rollout import RolloutPhase, rollout_status
from backends.kube.sim import PodFault, SeedService, start_simulated_cluster

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def _kubectl(kubeconfig: Path, name: str) -> tuple[str, int]:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--context", "simulated", "rollout", "status",
         f"deployment/{name}", "-n", "default", "--watch=false"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return (result.stdout + result.stderr).strip(), result.returncode


def _settle(cluster: Cluster, name: str, phase: RolloutPhase, timeout: float = 15) -> dict:
    """Wait until our verdict reaches ``phase`` and stays there (the controller has stopped moving)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first = rollout_status(cluster.get("deployments", "default", name))
        time.sleep(0.3)
        deployment = cluster.get("deployments", "default", name)
        if first.phase is phase and rollout_status(deployment) == first:
            return deployment
    raise AssertionError(f"{name} never settled in {phase}")


def test_verdicts_agree_with_kubectl(tmp_path: Path) -> None:
    seed = [SeedService("web", ("default",), "registry.acme.example/web:v1", 3)]
    with start_simulated_cluster(None, time_scale=0.05, attach=False, seed_objects=seed) as sim:
        kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
        cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")

        done = _settle(cluster, "web", RolloutPhase.COMPLETE)
        assert _kubectl(kubeconfig, "web") == (rollout_status(done).message, 0)

        # new pods that never become ready: the rollout stops part-way
        sim.controller.set_fault("v2", PodFault(ready_after=1e9))
        image = "registry.acme.example/web:v2"
        cluster.update(
            "deployments",
            "default",
            "web",
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image=image),
        )
        stuck = _settle(cluster, "web", RolloutPhase.UPDATING)
        ours = rollout_status(stuck).message
        assert "new replicas have been updated" in ours
        assert _kubectl(kubeconfig, "web") == (ours, 0)

        # …until the progress deadline passes: kubectl fails, and so do we
        cluster.update("deployments", "default", "web", lambda d: d["spec"].update(progressDeadlineSeconds=5))
        expired = _settle(cluster, "web", RolloutPhase.DEADLINE_EXCEEDED)
        text, code = _kubectl(kubeconfig, "web")
        assert code != 0 and rollout_status(expired).message in text
