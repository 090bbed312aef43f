"""Deploy state derived from facts (issue 8, findings 1-3): resume continues after the last step whose
check passed, an interrupted rollback resumes as a rollback, and the rollback target is the last
version that finished healthy — never one that failed.

"Killing" a deploy is stopping the iteration of ``run.events()`` at a chosen event, which the engine
documents as equivalent to a killed process (one test also kills a real CLI process with SIGKILL).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from backends.deploy import canary as cn
from backends.deploy.engine import DeployEngine
from backends.deploy.events import (
    AnalysisResult,
    DeployEvent,
    DeployFinished,
    LogLine,
    Outcome,
    Stage,
    StageFinished,
    StageStarted,
    Verdict,
)
from backends.deploy.history import DeployHistory
from backends.deploy.run import DeployRun
from backends.kube.cluster import Cluster
from console.cli import main

from .conftest import OLD, SERVICE, Harness, collect, make_context
from .test_deploy_cli import _cli, _workspace

NEW = "v2.3.1"


def kill_at(run: DeployRun, when: Callable[[DeployEvent], bool]) -> list[DeployEvent]:
    """Run until ``when`` is true for an event, then stop iterating: the process 'dies' there."""
    seen: list[DeployEvent] = []
    events = run.events()
    for event in events:
        seen.append(event)
        if when(event):
            break
    else:
        raise AssertionError(f"the deploy ended before the kill point: {seen[-1]}")
    events.close()
    return seen


def started(stage: Stage, step: int | None = None) -> Callable[[DeployEvent], bool]:
    return lambda e: isinstance(e, StageStarted) and e.stage is stage and (step is None or e.step == step)


def finished(events: list[DeployEvent]) -> DeployFinished:
    last = events[-1]
    assert isinstance(last, DeployFinished), last
    return last


def stable_version(harness: Harness) -> str:
    stable = harness.deployment()
    assert stable is not None
    return cn.deployed_version(stable)


def fail_analysis_from(harness: Harness, step: int) -> Callable[[DeployEvent], None]:
    """An event hook that gives the canary a 50 % error rate once the analysis of ``step`` starts."""

    def hook(event: DeployEvent) -> None:
        if started(Stage.ANALYSIS, step)(event):
            harness.sim.set_error_rate(SERVICE, "canary", 0.5)

    return hook


# -- finding 3: a step is done when its check passed, not when its weight is routed -----------------


def test_resume_reruns_the_bake_and_analysis_that_was_in_flight(harness: Harness) -> None:
    run = harness.engine.deploy(SERVICE, "production", NEW)
    kill_at(run, started(Stage.ANALYSIS, 2))  # killed while baking at 50 %
    [point] = harness.engine.find_interrupted()
    assert point.last_step == 1  # 50 % was routed, but its check never passed
    harness.sim.set_error_rate(SERVICE, "canary", 0.5)

    events = collect(harness.engine.resume(run.deploy_id))
    end = finished(events)
    assert end.outcome is Outcome.ROLLED_BACK and end.version == OLD
    failed = [e for e in events if isinstance(e, AnalysisResult) and e.verdict is Verdict.FAILED]
    assert [(e.step, e.check) for e in failed] == [(2, "error-rate")]
    assert stable_version(harness) == OLD and harness.deployment(f"{SERVICE}-canary") is None
    assert harness.history.get(run.deploy_id).outcome is Outcome.ROLLED_BACK


def test_routed_but_unchecked_step_is_not_shown_or_counted_as_passed(harness: Harness) -> None:
    run = harness.engine.deploy(SERVICE, "production", NEW)
    kill_at(run, lambda e: isinstance(e, StageFinished) and e.stage is Stage.CANARY and e.step == 1)
    [point] = harness.engine.find_interrupted()
    assert point.last_step == 0
    events = collect(harness.engine.resume(run.deploy_id))
    assert finished(events).outcome is Outcome.SUCCEEDED
    # the resumed run starts again at 25 %: its traffic shift, bake and analysis
    assert [e.step for e in events if isinstance(e, StageStarted) and e.stage is Stage.CANARY][0] == 1
    passed = [e.step for e in events if isinstance(e, StageFinished) and e.stage is Stage.ANALYSIS and e.ok]
    assert passed == [1, 2, 3]


# -- finding 1: an interrupted rollback resumes as a rollback --------------------------------------


@pytest.mark.parametrize("how", ["resume", "abort"])
def test_interrupted_automatic_rollback_resumes_as_a_rollback(harness: Harness, how: str) -> None:
    run = harness.engine.deploy(SERVICE, "production", NEW)
    hook = fail_analysis_from(harness, 2)

    def rollback_started(event: DeployEvent) -> bool:
        hook(event)
        return started(Stage.ROLLBACK)(event)

    kill_at(run, rollback_started)
    [point] = harness.engine.find_interrupted()
    assert point.rollback_outcome == "rolled-back" and "50.00%" in point.rollback_reason
    harness.sim.set_error_rate(SERVICE, "canary", 0.002)  # even if it looks fine now: never promoted

    follow = harness.engine.resume(run.deploy_id) if how == "resume" else harness.engine.abort(run.deploy_id)
    events = collect(follow)
    end = finished(events)
    assert end.outcome is Outcome.ROLLED_BACK and end.version == OLD
    assert not [e for e in events if isinstance(e, StageStarted) and e.stage in (Stage.CANARY, Stage.PROMOTE)]
    notes = [e.message for e in events if isinstance(e, LogLine)]
    assert any(f"finishing the rollback of {run.deploy_id}" in m for m in notes)
    assert stable_version(harness) == OLD and harness.deployment()["spec"]["replicas"] == 4
    assert harness.deployment(f"{SERVICE}-canary") is None
    assert harness.history.get(run.deploy_id).outcome is Outcome.ROLLED_BACK
    assert harness.engine.find_interrupted() == []


def test_interrupted_user_abort_resumes_as_an_abort(harness: Harness) -> None:
    run = harness.engine.deploy(SERVICE, "production", NEW)

    def abort_then_die(event: DeployEvent) -> bool:
        if started(Stage.ANALYSIS, 1)(event):
            run.abort("operator said no")
        return started(Stage.ROLLBACK)(event)

    kill_at(run, abort_then_die)
    end = finished(collect(harness.engine.resume(run.deploy_id)))
    assert end.outcome is Outcome.ABORTED and end.reason == "operator said no"
    assert stable_version(harness) == OLD and harness.deployment(f"{SERVICE}-canary") is None


def test_killed_cli_during_rollback_then_resume_finishes_the_rollback(
    sim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real ``kill -9`` of ``idp-console deploy`` while it restores the stable Deployment."""
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    workspace = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    sim.set_error_rate(SERVICE, "canary", 0.5)  # the 5 % analysis fails
    args = ["--workspace", str(workspace), "deploy", SERVICE, "--env", "production", "--version", NEW]
    child = _cli(*args, "--yes", "--output", "json", "--foreground")
    assert child.stdout is not None
    deploy_id = ""
    for line in child.stdout:
        event = json.loads(line)
        deploy_id = event["deploy_id"]
        if event["event"] == "StageStarted" and event["stage"] == "analysis" and event["step"] == 0:
            # The restore's write to the stable Deployment will hang: the process dies during it.
            # (several, so a slow test machine still kills it before the rollback gets through)
            sim.faults.hang_next(3, method="PATCH", path=f"/deployments/{SERVICE}$", seconds=4.0)
        if event["event"] == "StageStarted" and event["stage"] == "rollback":
            break
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    sim.faults.clear()
    sim.set_error_rate(SERVICE, "canary", 0.002)

    code = main(
        ["--workspace", str(workspace), "deploy", SERVICE, "--env", "production", "--resume", "--yes"]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"finishing the rollback of {deploy_id}" in out
    assert out.splitlines()[-1].startswith("✗ Deployment failed: error rate 50.00% above threshold")
    assert out.splitlines()[-1].endswith(f"{SERVICE} is back on {OLD}.")
    assert "Deployment complete" not in out
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == OLD
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None
    assert DeployHistory().get(deploy_id).outcome == "rolled-back"


# -- finding 2: the rollback target is the last version that finished healthy ---------------------


def test_rollback_without_history_never_applies_the_failed_version(harness: Harness, tmp_path: Path) -> None:
    events = collect(harness.engine.deploy(SERVICE, "production", NEW), fail_analysis_from(harness, 0))
    assert finished(events).outcome is Outcome.ROLLED_BACK
    notes = cn.annotations(harness.deployment())
    assert notes.get(cn.A_PREVIOUS, "") != NEW
    # another host (or a fresh state dir): no local history, only what the Deployment says
    context, _ = make_context(harness.sim, tmp_path / "elsewhere")
    elsewhere = DeployEngine(context)
    assert elsewhere.status(SERVICE, "production").rollback_to is None
    refused = collect(elsewhere.rollback(SERVICE, "production"))
    assert finished(refused).outcome is Outcome.FAILED and "--to" in finished(refused).reason
    assert stable_version(harness) == OLD and harness.deployment()["status"]["readyReplicas"] == 4


def test_rollback_target_survives_a_failed_deploy_after_a_good_one(harness: Harness, tmp_path: Path) -> None:
    assert finished(collect(harness.engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    bad = "v2.3.2"
    events = collect(harness.engine.deploy(SERVICE, "production", bad), fail_analysis_from(harness, 1))
    assert finished(events).outcome is Outcome.ROLLED_BACK
    for engine in (harness.engine, DeployEngine(make_context(harness.sim, tmp_path / "elsewhere")[0])):
        assert engine.status(SERVICE, "production").rollback_to == OLD
    harness.sim.set_error_rate(SERVICE, "canary", 0.002)
    context, _ = make_context(harness.sim, tmp_path / "elsewhere2")
    end = finished(collect(DeployEngine(context).rollback(SERVICE, "production")))
    assert end.outcome is Outcome.SUCCEEDED and end.version == OLD and stable_version(harness) == OLD


def test_rollback_to_a_version_that_failed_here_needs_force(harness: Harness) -> None:
    events = collect(harness.engine.deploy(SERVICE, "production", NEW), fail_analysis_from(harness, 0))
    deploy_id = finished(events).deploy_id
    refused = collect(harness.engine.rollback(SERVICE, "production", NEW))
    reason = finished(refused).reason
    assert finished(refused).outcome is Outcome.FAILED
    assert f"{NEW} failed in production" in reason and deploy_id in reason and "--force" in reason
    assert stable_version(harness) == OLD
    forced = collect(harness.engine.rollback(SERVICE, "production", NEW, force=True))
    assert finished(forced).outcome is Outcome.SUCCEEDED and stable_version(harness) == NEW


def test_a_previous_version_annotation_left_by_a_rollback_is_not_believed(
    harness: Harness, tmp_path: Path
) -> None:
    """What idp-console wrote before this fix after an automatic rollback: previous = the failed version."""
    events = collect(harness.engine.deploy(SERVICE, "production", NEW), fail_analysis_from(harness, 0))
    assert finished(events).outcome is Outcome.ROLLED_BACK

    def old_style(deployment: dict) -> None:
        notes = deployment["metadata"]["annotations"]
        notes[cn.A_PREVIOUS] = NEW
        notes.pop(cn.PREFIX + "previous-version-of", None)  # not written before the fix

    harness.cluster.update("deployments", "production", SERVICE, old_style)
    context, _ = make_context(harness.sim, tmp_path / "elsewhere")
    refused = finished(collect(DeployEngine(context).rollback(SERVICE, "production")))
    assert refused.outcome is Outcome.FAILED and "name one with --to VERSION" in refused.reason
    assert stable_version(harness) == OLD


def test_cli_refuses_rollback_to_a_version_that_failed(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deploy", "payment-service", "--env", "staging", "--version", "v2.3.1-crashloop"])
    assert code == 1
    capsys.readouterr()
    code = main(["rollback", "payment-service", "--env", "staging", "--to", "v2.3.1-crashloop"])
    out, err = capsys.readouterr()
    assert code != 0
    assert "v2.3.1-crashloop failed in staging" in out + err and "--force" in out + err
    assert main(["status", "payment-service", "--env", "staging", "--output", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["stable"]["version"] == OLD and status["rollback_to"] is None


def test_watch_view_shows_a_step_passed_only_once_its_check_passed(harness: Harness) -> None:
    """Issue 9: interrupted during the 25 % analysis, the resumed run must not show 25 % as passed."""
    from screens.deploy_view import RunState

    run = harness.engine.deploy(SERVICE, "production", NEW)
    first = kill_at(run, lambda e: isinstance(e, StageFinished) and e.stage is Stage.CANARY and e.step == 1)
    state = RunState(SERVICE, "production")
    for event in first:
        state.apply(event)
    assert state.statuses[:2] == ["done", "running"]  # 25 % routed, its check not yet run

    state = RunState(SERVICE, "production")
    resumed = harness.engine.resume(run.deploy_id).events()
    for event in resumed:
        state.apply(event)
        if isinstance(event, StageStarted) and event.stage is Stage.CANARY:
            break
    resumed.close()
    assert state.statuses == ["done", "running", "pending", "pending"]
