"""A ``rollback`` or ``scale`` killed mid-way is an interrupted change like a deploy (issue 8): listed
with what it was doing, resumed (the change applied again and verified) or aborted (what was there
before it put back) — from the engine and from the CLI, by name or by entity ref.

"Killing" is stopping the iteration of ``run.events()`` at a chosen event, which the engine documents
as equivalent to a killed process.
"""

from __future__ import annotations

import pytest

from backends.deploy import canary as cn
from backends.deploy.engine import DeployEngine
from backends.deploy.events import DeployFinished, Outcome, Stage, StageFinished
from backends.deploy.history import DeployHistory
from console.cli import main

from .conftest import OLD, SERVICE, Harness, collect, make_context
from .test_deploy_cli import _workspace
from .test_resume_facts import kill_at, started

BACK = "v2.2.9"


def stable(harness: Harness) -> dict:
    found = harness.deployment()
    assert found is not None
    return found


def rollback_finished(event: object) -> bool:
    return isinstance(event, StageFinished) and event.stage is Stage.ROLLBACK


def test_interrupted_rollback_is_listed_and_resumed_to_its_target(harness: Harness) -> None:
    run = harness.engine.rollback(SERVICE, "production", BACK, force=True)  # BACK never ran here
    kill_at(run, started(Stage.ROLLBACK))
    [point] = harness.engine.find_interrupted(f"component:default/{SERVICE}", "production")
    assert point.record.kind == "rollback" and point.record.to_version == BACK
    assert point.record.from_version == OLD and point.rollback_outcome == ""

    events = collect(harness.engine.resume(run.deploy_id))
    end = events[-1]
    assert isinstance(end, DeployFinished) and end.outcome is Outcome.SUCCEEDED and end.version == BACK
    assert cn.deployed_version(stable(harness)) == BACK and stable(harness)["spec"]["replicas"] == 4
    assert harness.history.get(run.deploy_id).outcome is Outcome.SUCCEEDED
    assert harness.engine.find_interrupted() == []


def test_interrupted_rollback_aborted_restores_the_version_before_it(harness: Harness) -> None:
    run = harness.engine.rollback(SERVICE, "production", BACK, force=True)  # BACK never ran here
    kill_at(run, rollback_finished)  # the stable already runs BACK; the outcome was never recorded
    assert cn.deployed_version(stable(harness)) == BACK

    events = collect(harness.engine.abort(run.deploy_id))
    end = events[-1]
    assert isinstance(end, DeployFinished) and end.outcome is Outcome.ABORTED and end.version == OLD
    assert cn.deployed_version(stable(harness)) == OLD
    assert harness.engine.find_interrupted() == []


def test_interrupted_scale_is_resumed_or_aborted_to_the_right_size(harness: Harness) -> None:
    run = harness.engine.scale(SERVICE, "production", 6)
    kill_at(run, started(Stage.SCALE))
    [point] = harness.engine.find_interrupted(SERVICE, "production")
    assert (point.record.kind, point.stable_replicas, point.replicas) == ("scale", 4, 6)
    end = collect(harness.engine.resume(run.deploy_id))[-1]
    assert isinstance(end, DeployFinished) and end.outcome is Outcome.SUCCEEDED
    assert stable(harness)["spec"]["replicas"] == 6

    run = harness.engine.scale(SERVICE, "production", 2)
    kill_at(run, lambda e: isinstance(e, StageFinished) and e.stage is Stage.SCALE)
    assert stable(harness)["spec"]["replicas"] == 2
    end = collect(harness.engine.abort(run.deploy_id))[-1]
    assert isinstance(end, DeployFinished) and end.outcome is Outcome.ABORTED
    assert stable(harness)["spec"]["replicas"] == 6 and cn.deployed_version(stable(harness)) == OLD


def test_cli_shows_an_interrupted_rollback_and_resumes_it_by_entity_ref(
    sim, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    context, kubeconfig = make_context(sim, tmp_path)
    context.history = DeployHistory()  # the CLI's own history (state dir)
    run = DeployEngine(context).rollback(SERVICE, "production", BACK, force=True)  # BACK never ran here
    kill_at(run, started(Stage.ROLLBACK))
    workspace = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    base = ["--workspace", str(workspace)]

    assert main([*base, "status", SERVICE, "--env", "production"]) == 0
    out = capsys.readouterr().out
    assert f"⚠ interrupted rollback {run.deploy_id} ({OLD} → {BACK})" in out
    assert f"`idp-console deploy {SERVICE} --env production --resume` rolls out {BACK} again" in out
    assert f"`idp-console deploy {SERVICE} --env production --abort` puts back {OLD}" in out

    ref = f"Component:default/{SERVICE}"
    code = main([*base, "deploy", ref, "--env", "production", "--resume", "--yes", "--foreground"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert DeployHistory().get(run.deploy_id).outcome == "succeeded"
    assert cn.deployed_version(context.cluster_for(context.environment("production")).get(
        "deployments", "production", SERVICE)) == BACK  # fmt: skip


def test_an_orphaned_rollback_is_finished_not_undone_by_the_rollback_policy(harness: Harness) -> None:
    """Undoing a killed rollback would put back the version someone was leaving."""
    from backends.deploy.adopt import adopt_orphans

    run = harness.engine.rollback(SERVICE, "production", BACK, force=True)  # BACK never ran here
    kill_at(run, started(Stage.ROLLBACK))
    [adoption] = adopt_orphans(harness.engine, lambda _env: "rollback")
    assert adoption.describe() == f"adopted {run.deploy_id} ({SERVICE} in production): rolling back"
    end = collect(adoption.run)[-1]
    assert isinstance(end, DeployFinished) and end.outcome is Outcome.SUCCEEDED
    assert cn.deployed_version(stable(harness)) == BACK
