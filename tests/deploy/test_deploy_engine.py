"""The deploy engine against the simulated cluster over real HTTP: canary, analysis, rollback,
controls, leases, and the faults of the issue (API errors, timeouts, conflicts, dropped watches)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from backends.deploy import canary as cn
from backends.deploy.engine import DeployEngine
from backends.deploy.events import (
    AnalysisResult,
    DeployFinished,
    DeployStarted,
    LogLine,
    Outcome,
    Paused,
    Resumed,
    RolloutProgress,
    Stage,
    StageFinished,
    StageStarted,
    Verdict,
)
from backends.kube.sim import PodFault

from .conftest import OLD, SERVICE, Harness, collect, make_context

NEW = "v2.3.1"


def finished(events: list) -> DeployFinished:
    last = events[-1]
    assert isinstance(last, DeployFinished), last
    return last


def assert_back_on_old(harness: Harness) -> None:
    stable = harness.deployment()
    assert stable is not None
    assert cn.deployed_version(stable) == OLD
    assert stable["spec"]["replicas"] == 4
    assert harness.deployment(f"{SERVICE}-canary") is None


def test_canary_deploy_promotes(harness: Harness) -> None:
    events = collect(harness.engine.deploy(SERVICE, "production", NEW, commit_sha="abc123"))
    end = finished(events)
    assert end.outcome is Outcome.SUCCEEDED and end.version == NEW
    canary_steps = [e.step for e in events if isinstance(e, StageFinished) and e.stage is Stage.CANARY]
    assert canary_steps == [0, 1, 2, 3]
    stages = [e.stage for e in events if isinstance(e, StageFinished)]
    assert stages[:3] == [Stage.PRECHECKS, Stage.UPDATE, Stage.CANARY] and stages[-1] is Stage.PROMOTE
    # the canary never went below its share and the stable never dipped before the canary was ready
    at_five = [e for e in events if isinstance(e, RolloutProgress) and e.step == 0]
    assert max(e.canary_ready for e in at_five) == 1 and min(e.stable_desired for e in at_five) == 4
    stable = harness.deployment()
    assert cn.deployed_version(stable) == NEW and stable["spec"]["replicas"] == 4
    notes = cn.annotations(stable)
    assert notes[cn.A_VERSION] == NEW and notes[cn.A_PREVIOUS] == OLD and notes[cn.A_COMMIT] == "abc123"
    assert notes[cn.A_DEPLOYED_BY] == "jane.doe" and notes[cn.A_OUTCOME] == "succeeded"
    assert harness.deployment(f"{SERVICE}-canary") is None
    record = harness.history.get(end.deploy_id)
    assert record.outcome is Outcome.SUCCEEDED and (record.from_version, record.to_version) == (OLD, NEW)
    assert record.commit_sha == "abc123"
    assert len(harness.history.events(end.deploy_id)) == len(events)
    assert harness.cluster.find("leases", "production", f"idp-console-deploy-{SERVICE}") is None
    # the Service's selector spans both tracks; each Deployment's own selector adds track
    assert harness.cluster.get("services", "production", SERVICE)["spec"]["selector"] == {"app": SERVICE}


def test_error_rate_failure_at_25_percent_rolls_back(harness: Harness) -> None:
    def fail_at_second_step(event) -> None:
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
            harness.sim.set_error_rate(SERVICE, "canary", 0.07)

    events = collect(harness.engine.deploy(SERVICE, "production", NEW), fail_at_second_step)
    end = finished(events)
    assert end.outcome is Outcome.ROLLED_BACK and end.version == OLD
    assert "error rate 7.00% above threshold 1.00% at 25%" in end.reason
    failed = [e for e in events if isinstance(e, AnalysisResult) and e.verdict is Verdict.FAILED]
    assert [(e.step, e.check, e.value) for e in failed] == [(1, "error-rate", 0.07)]
    rollback = [e for e in events if isinstance(e, StageFinished) and e.stage is Stage.ROLLBACK]
    assert rollback and rollback[0].ok
    assert_back_on_old(harness)
    notes = cn.annotations(harness.deployment())
    assert notes[cn.A_OUTCOME] == "rolled-back" and notes[cn.A_VERSION] == OLD
    assert harness.history.get(end.deploy_id).outcome is Outcome.ROLLED_BACK


def test_crash_looping_canary_rolls_back(harness: Harness) -> None:
    harness.sim.controller.set_fault(f"{SERVICE}-canary", PodFault(crash_loop=True))
    events = collect(harness.engine.deploy(SERVICE, "production", NEW))
    end = finished(events)
    assert end.outcome is Outcome.ROLLED_BACK
    assert "CrashLoopBackOff" in end.reason or "restarted" in end.reason
    assert not [e for e in events if isinstance(e, StageFinished) and e.stage is Stage.CANARY and e.step == 1]
    assert_back_on_old(harness)


def test_image_pull_failure_rolls_back(harness: Harness) -> None:
    events = collect(harness.engine.deploy(SERVICE, "production", "v2.3.1-pullerror"))
    end = finished(events)
    assert end.outcome is Outcome.ROLLED_BACK
    assert "ErrImagePull" in end.reason or "ImagePullBackOff" in end.reason
    assert_back_on_old(harness)


def test_api_errors_and_timeouts_mid_rollout_are_retried(sim, tmp_path: Path) -> None:
    context, _ = make_context(sim, tmp_path, request_timeout=(2.0, 1.0))
    engine = DeployEngine(context)
    armed = []

    def break_the_api(event) -> None:
        if isinstance(event, StageFinished) and event.stage is Stage.CANARY and event.step == 0 and not armed:
            armed.append(True)
            sim.faults.fail_next(2, method="PATCH", path="/deployments/", status=500)
            sim.faults.fail_next(1, method="GET", path="/deployments/", status=503)
            sim.faults.hang_next(1, method="PATCH", path="/deployments/", seconds=3.0)

    events = collect(engine.deploy(SERVICE, "production", NEW), break_the_api)
    assert finished(events).outcome is Outcome.SUCCEEDED
    kinds = [hit.kind for hit in sim.faults.hits]
    assert kinds.count("error") == 3 and kinds.count("hang") == 1
    cluster = context.cluster_for(context.environment("production"))
    assert cluster.stats["retries"] >= 4
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == NEW


def test_dropped_watches_are_resumed_without_missing_state(harness: Harness) -> None:
    drops = []

    def drop(event) -> None:
        if isinstance(event, RolloutProgress) and len(drops) < 6:
            drops.append(harness.sim.faults.drop_watches(abrupt=len(drops) % 2 == 0))

    run = harness.engine.deploy(SERVICE, "production", NEW)
    events = collect(run, drop)
    assert sum(drops) >= 6  # streams really were cut, repeatedly
    assert finished(events).outcome is Outcome.SUCCEEDED
    assert run.deployments.stats.resumes >= 1
    # the final progress event agrees with the cluster: nothing was missed
    last = [e for e in events if isinstance(e, RolloutProgress)][-1]
    assert (last.stable_ready, last.canary_desired) == (4, 0)


def test_conflict_on_patch_is_re_read_and_re_applied(harness: Harness) -> None:
    cluster = harness.cluster
    # 1. the server says 409 once
    harness.sim.faults.fail_next(1, method="PATCH", path=f"/deployments/{SERVICE}$", status=409)
    cluster.update(
        "deployments", "production", SERVICE, lambda d: d["metadata"].setdefault("labels", {}).update(a="1")
    )
    # 2. a real lost update: someone writes between our read and our write
    calls = []

    def mutate(deployment) -> None:
        calls.append(deployment["metadata"]["resourceVersion"])
        if len(calls) == 1:
            cluster.patch("deployments", "production", SERVICE, {"metadata": {"labels": {"other": "writer"}}})
        deployment["metadata"]["labels"]["mine"] = "yes"

    result = cluster.update("deployments", "production", SERVICE, mutate)
    labels = result["metadata"]["labels"]
    assert labels["mine"] == "yes" and labels["other"] == "writer" and labels["a"] == "1"
    # the simulated controller may also write status in between (one more conflict, one more
    # read); what matters is that every attempt re-read a fresh object
    assert len(calls) >= 2 and len(set(calls)) == len(calls)
    assert cluster.stats["conflicts"] >= 2


def test_second_deploy_is_refused_naming_the_lease_holder(harness: Harness, tmp_path: Path) -> None:
    context, _ = make_context(harness.sim, tmp_path / "other", deploy={"bake": "3s"})
    first = DeployEngine(context).deploy(SERVICE, "production", NEW)
    in_canary = threading.Event()
    first_events: list = []

    def run_first() -> None:
        for event in first.events():
            first_events.append(event)
            if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS:
                in_canary.set()

    thread = threading.Thread(target=run_first)
    thread.start()
    assert in_canary.wait(30)
    second = collect(harness.engine.deploy(SERVICE, "production", "v2.3.2"))
    refused = [e for e in second if isinstance(e, StageFinished) and e.stage is Stage.PRECHECKS]
    assert refused and not refused[0].ok
    assert "held by jane.doe" in refused[0].detail and first.deploy_id in refused[0].detail
    assert finished(second).outcome is Outcome.FAILED
    first.abort("test over")
    thread.join(30)
    assert finished(first_events).outcome is Outcome.ABORTED
    assert_back_on_old(harness)
    # the lease is free again: a new deploy goes through the pre-checks
    harness.sim.controller.set_fault(f"{SERVICE}-canary", PodFault(image_pull_error=True))
    third = collect(harness.engine.deploy(SERVICE, "production", "v2.3.3"))
    assert [e for e in third if isinstance(e, StageFinished) and e.stage is Stage.PRECHECKS][0].ok


def test_no_data_pauses_and_asks_then_promote(harness: Harness) -> None:
    harness.sim.set_error_rate(SERVICE, "canary", None)
    run = harness.engine.deploy(SERVICE, "production", NEW)
    pauses = []

    def answer(event) -> None:
        if isinstance(event, Paused):
            assert event.needs_decision and "inconclusive" in event.reason
            assert run.waiting_for_decision
            pauses.append(event)
            run.resume()  # resume alone does not answer an inconclusive analysis…
            assert run.waiting_for_decision
            run.promote()  # …promote does

    events = collect(run, answer)
    assert finished(events).outcome is Outcome.SUCCEEDED
    assert len(pauses) == 3  # one question per analysed step, never a silent pass
    inconclusive = [e for e in events if isinstance(e, AnalysisResult) and e.verdict is Verdict.INCONCLUSIVE]
    assert len(inconclusive) == 3 and all(e.check == "error-rate" for e in inconclusive)


def test_no_data_then_abort_rolls_back(harness: Harness) -> None:
    harness.sim.set_error_rate(SERVICE, "canary", None)
    run = harness.engine.deploy(SERVICE, "production", NEW)
    events = collect(run, lambda e: run.abort("nobody trusts it") if isinstance(e, Paused) else None)
    end = finished(events)
    assert end.outcome is Outcome.ABORTED and end.reason == "nobody trusts it"
    assert_back_on_old(harness)


def test_controls_from_another_thread(harness: Harness, tmp_path: Path) -> None:
    context, _ = make_context(harness.sim, tmp_path / "slow", deploy={"bake": "2s"})
    run = DeployEngine(context).deploy(SERVICE, "production", NEW)
    events: list = []
    thread = threading.Thread(target=lambda: collect(run, events.append))
    thread.start()
    deadline = time.monotonic() + 30
    while not any(isinstance(e, StageStarted) and e.stage is Stage.ANALYSIS for e in list(events)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    run.pause()
    while not any(isinstance(e, Paused) for e in list(events)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert run.paused and not run.waiting_for_decision
    run.resume()
    while not any(isinstance(e, Resumed) for e in list(events)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    run.promote()  # ends the current bake early
    run.rollback()
    thread.join(30)
    end = finished(events)
    assert end.outcome is Outcome.ROLLED_BACK and end.reason == "rollback requested by user"
    assert_back_on_old(harness)


def test_promote_full_skips_remaining_steps(harness: Harness) -> None:
    run = harness.engine.deploy(SERVICE, "production", NEW)

    def promote_early(event) -> None:
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS:
            run.promote(full=True)

    events = collect(run, promote_early)
    assert finished(events).outcome is Outcome.SUCCEEDED
    assert [e.step for e in events if isinstance(e, StageFinished) and e.stage is Stage.CANARY] == [0]
    assert cn.deployed_version(harness.deployment()) == NEW


def test_rollback_command_uses_history_and_scale(harness: Harness) -> None:
    assert finished(collect(harness.engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    events = collect(harness.engine.rollback(SERVICE, "production"))
    started = [e for e in events if isinstance(e, DeployStarted)][0]
    assert (started.kind, started.from_version, started.to_version) == ("rollback", NEW, OLD)
    assert finished(events).outcome is Outcome.SUCCEEDED
    assert cn.deployed_version(harness.deployment()) == OLD
    scaled = collect(harness.engine.scale(SERVICE, "production", 6))
    assert finished(scaled).outcome is Outcome.SUCCEEDED
    stable = harness.deployment()
    assert stable["spec"]["replicas"] == 6 and stable["status"]["readyReplicas"] == 6
    status = harness.engine.status(SERVICE, "production")
    assert status.stable.version == OLD and status.stable.ready == 6 and len(status.pods) == 6
    assert status.rollback_to == NEW and status.last_deploy.kind == "scale"


def test_prechecks_refuse(harness: Harness) -> None:
    def refusal(run) -> str:
        events = collect(run)
        assert finished(events).outcome is Outcome.FAILED
        return [e for e in events if isinstance(e, StageFinished)][0].detail

    assert "no such service" in refusal(harness.engine.deploy("nope", "production", NEW))
    assert "already runs v2.3.0" in refusal(harness.engine.deploy(SERVICE, "production", OLD))
    assert "unknown environment" in refusal(harness.engine.deploy(SERVICE, "qa", NEW))
    harness.context.user = "omar"
    assert "not a member of team-payments" in refusal(harness.engine.deploy(SERVICE, "production", NEW))
    assert cn.deployed_version(harness.deployment()) == OLD


def test_unreachable_kubeconfig_is_an_error_not_a_fallback(harness: Harness, tmp_path: Path) -> None:
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(harness.kubeconfig.read_text().replace(harness.sim.api_url, "http://127.0.0.1:9"))
    harness.context.environments_section["production"]["kubeconfig"] = str(dead)
    events = collect(harness.engine.deploy(SERVICE, "production", NEW))
    detail = [e for e in events if isinstance(e, StageFinished)][0].detail
    assert "cannot reach the cluster" in detail and "never falls back" in detail
    missing = tmp_path / "missing"
    harness.context.environments_section["production"]["kubeconfig"] = str(missing)
    events = collect(harness.engine.deploy(SERVICE, "production", NEW))
    assert "does not exist" in [e for e in events if isinstance(e, StageFinished)][0].detail


@pytest.mark.parametrize("how", ["resume", "abort"])
def test_abandoned_run_is_found_and_resumed_or_aborted(harness: Harness, how: str) -> None:
    run = harness.engine.deploy(SERVICE, "production", NEW)
    events = run.events()
    for event in events:
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
            break
    events.close()  # the consumer vanished mid-canary, as a killed CLI does
    interrupted = harness.engine.find_interrupted()
    assert [i.record.id for i in interrupted] == [run.deploy_id]
    point = interrupted[0]
    assert point.last_step == 0 and point.canary_present and point.stable_replicas == 4
    follow = harness.engine.resume(run.deploy_id) if how == "resume" else harness.engine.abort(run.deploy_id)
    end = finished(collect(follow))
    if how == "resume":
        assert end.outcome is Outcome.SUCCEEDED and cn.deployed_version(harness.deployment()) == NEW
        assert harness.deployment(f"{SERVICE}-canary") is None
    else:
        assert end.outcome is Outcome.ABORTED
        assert_back_on_old(harness)
    assert harness.engine.find_interrupted() == []
    assert harness.history.get(run.deploy_id).outcome is end.outcome


def test_layout_warnings_when_the_service_would_not_split_traffic(harness: Harness) -> None:
    cluster = harness.cluster
    only_stable = {"spec": {"selector": {"app": SERVICE, "track": "stable"}}}
    cluster.patch("services", "production", SERVICE, only_stable)
    run = harness.engine.deploy(SERVICE, "production", NEW)
    events = []
    for event in run.events():
        events.append(event)
        if isinstance(event, StageFinished) and event.stage is Stage.UPDATE:
            run.abort("seen enough")
    warnings = [e.message for e in events if isinstance(e, LogLine) and e.level == "warning"]
    assert warnings == [f"Service {SERVICE} selects track=stable only: the canary gets no traffic from it"]
    assert finished(events).outcome is Outcome.ABORTED


def test_refused_resume_leaves_the_deploy_interrupted(harness: Harness) -> None:
    run = harness.engine.deploy(SERVICE, "production", NEW)
    events = run.events()
    for event in events:
        if isinstance(event, StageFinished) and event.stage is Stage.CANARY:
            break
    events.close()
    # someone else's live deploy holds the lease now
    lease = f"idp-console-deploy-{SERVICE}"
    other = '{"deploy": "someone-else", "user": "omar"}'
    harness.cluster.update("leases", "production", lease, lambda o: o["spec"].update(holderIdentity=other))
    refused = collect(harness.engine.resume(run.deploy_id))
    assert finished(refused).outcome is Outcome.INTERRUPTED and "held by omar" in finished(refused).reason
    assert [i.record.id for i in harness.engine.find_interrupted()] == [run.deploy_id]
    harness.cluster.delete("leases", "production", lease)
    assert finished(collect(harness.engine.abort(run.deploy_id))).outcome is Outcome.ABORTED
    assert_back_on_old(harness)
