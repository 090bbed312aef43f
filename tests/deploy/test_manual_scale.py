"""A manual ``kubectl scale`` during a deploy (issue 10, item 6) is noticed, respected — the plan
takes the new size instead of putting its own back — and logged as an event line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from backends.deploy.engine import DeployEngine
from backends.deploy.events import DeployEvent, DeployFinished, LogLine, Outcome, Stage, StageStarted
from backends.kube.cluster import Cluster

from .conftest import SERVICE, Harness, collect, make_context

NEW = "v2.3.1"


def _scale_by_hand(harness: Harness, replicas: int) -> None:
    """What an operator does from their own terminal: the real kubectl, else a patch of another client."""
    if shutil.which("kubectl"):
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(harness.kubeconfig), "--context", "simulated", "-n", "production",
             "scale", f"deployment/{SERVICE}", f"--replicas={replicas}"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    else:
        other = Cluster.from_kubeconfig(str(harness.kubeconfig), "simulated")
        other.patch("deployments", "production", SERVICE, {"spec": {"replicas": replicas}})


def test_kubectl_scale_during_a_canary_is_respected_and_logged(harness: Harness, tmp_path: Path) -> None:
    # the 25 % step bakes long enough for an operator to step in; promote ends the bake after that
    context, _ = make_context(
        harness.sim, tmp_path / "slow", deploy={"steps": [5, {"weight": 25, "bake": "60s"}, 50, 100]}
    )
    harness = Harness(harness.sim, harness.kubeconfig, context, DeployEngine(context), context.history)
    run = harness.engine.deploy(SERVICE, "production", NEW)
    noticed: list[str] = []

    def operator(event: DeployEvent) -> None:
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
            _scale_by_hand(harness, 8)  # 1 canary + 3 stable pods now: the stable goes to 8
        if isinstance(event, LogLine) and "scaled from" in event.message:
            noticed.append(event.message)
            run.promote()  # end the 25 % bake

    events = collect(run, operator)
    end = events[-1]
    assert isinstance(end, DeployFinished) and end.outcome is Outcome.SUCCEEDED, end
    assert noticed == [
        f"{SERVICE} was scaled from 3 to 8 pods by someone else during the deploy: respected — the "
        "service now runs 9 pods in total (was 4); the next steps and the promote use that size"
    ]
    # the next step split the new size, and the promote kept it
    starts = [e.detail for e in events if isinstance(e, StageStarted) and e.stage is Stage.CANARY]
    assert starts[2].startswith("50% requested, 5 of 10 pods") or starts[2].startswith("50% (5 of 10 pods)")
    stable = harness.deployment()
    assert stable is not None and stable["spec"]["replicas"] == 9
    recorded = [e for e in harness.history.events(run.deploy_id) if isinstance(e, LogLine)]
    assert [e.message for e in recorded if "scaled from" in e.message] == noticed  # in the history too
