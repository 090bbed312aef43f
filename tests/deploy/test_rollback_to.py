"""``rollback --to VERSION`` (issue 10, item 6): only a version that ran healthy in that environment
within the window is a way back (``--force`` for anything else, recorded in the history), and a
rollback counts as done only once the version is verified healthy — or the service rolls forward
again to the version it ran before."""

from __future__ import annotations

import pytest

from backends.deploy import canary as cn
from backends.deploy.events import (
    AnalysisResult,
    DeployFinished,
    LogLine,
    Outcome,
    Paused,
    Stage,
    StageFinished,
    Verdict,
)
from console.cli import main

from .conftest import OLD, SERVICE, Harness, collect
from .test_deploy_cli import _workspace

NEW = "v2.3.1"
NEVER = "v2.2.9"


def _end(events: list) -> DeployFinished:
    assert isinstance(events[-1], DeployFinished), events[-1]
    return events[-1]


def _stable_version(harness: Harness) -> str:
    stable = harness.deployment()
    assert stable is not None
    return cn.deployed_version(stable)


def test_a_version_that_never_ran_here_is_refused_and_force_is_recorded(harness: Harness) -> None:
    refused = _end(collect(harness.engine.rollback(SERVICE, "production", NEVER)))
    assert refused.outcome is Outcome.FAILED
    assert f"{NEVER} has not run healthy in production within 72 h" in refused.reason
    assert "--force" in refused.reason and _stable_version(harness) == OLD

    run = harness.engine.rollback(SERVICE, "production", NEVER, force=True)
    forced = _end(collect(run))
    assert forced.outcome is Outcome.SUCCEEDED and _stable_version(harness) == NEVER
    recorded = [e for e in harness.history.events(run.deploy_id) if isinstance(e, LogLine)]
    assert any(
        f"rollback to {NEVER} forced by jane.doe (--force): {NEVER} has not run healthy" in e.message
        for e in recorded
    ), recorded


def test_a_rollback_is_done_only_once_the_version_is_verified_healthy(harness: Harness) -> None:
    assert _end(collect(harness.engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    events = collect(harness.engine.rollback(SERVICE, "production", OLD))  # OLD ran healthy before NEW
    assert _end(events).outcome is Outcome.SUCCEEDED and _stable_version(harness) == OLD
    checks = {e.check: e.verdict for e in events if isinstance(e, AnalysisResult)}
    assert checks == {
        "progress-deadline": Verdict.PASSED,
        "restarts": Verdict.PASSED,
        "pods-ready": Verdict.PASSED,
        "error-rate": Verdict.PASSED,
    }
    done = [e for e in events if isinstance(e, StageFinished) and e.stage is Stage.ROLLBACK]
    assert done[-1].detail == f"{SERVICE} runs {OLD} on 4 pods, verified healthy"


def test_a_target_that_fails_its_check_rolls_forward_to_the_version_that_ran(harness: Harness) -> None:
    assert _end(collect(harness.engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    harness.sim.set_error_rate(SERVICE, "stable", 0.3)  # whatever the stable runs now fails
    events = collect(harness.engine.rollback(SERVICE, "production", OLD))
    end = _end(events)
    assert end.outcome is Outcome.FAILED and end.version == NEW
    assert f"{OLD} failed its health check" in end.reason and f"rolled forward to {NEW}" in end.reason
    assert _stable_version(harness) == NEW and harness.deployment()["spec"]["replicas"] == 4  # type: ignore[index]
    # OLD is now known to fail here: it is no way back any more
    harness.sim.set_error_rate(SERVICE, "stable", 0.002)
    refused = _end(collect(harness.engine.rollback(SERVICE, "production", OLD)))
    assert refused.outcome is Outcome.FAILED and f"{OLD} failed in production" in refused.reason


def test_cli_refuses_an_unknown_target_with_one_line(
    sim, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = _workspace(tmp_path / "ws", sim.kubeconfig(tmp_path / "kubeconfig"), sim.prometheus_url)
    base = ["--workspace", str(workspace)]
    code = main([*base, "rollback", SERVICE, "--env", "production", "--to", NEVER, "--yes", "--foreground"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert f"{NEVER} has not run healthy in production within 72 h" in out + err
    assert "Traceback" not in out + err


def test_a_rollback_whose_check_has_no_data_waits_for_a_person_and_promote_accepts_it(
    harness: Harness,
) -> None:
    assert _end(collect(harness.engine.deploy(SERVICE, "production", NEW))).outcome is Outcome.SUCCEEDED
    harness.sim.set_error_rate(SERVICE, "stable", None)  # no error-rate data for what the rollback runs
    run = harness.engine.rollback(SERVICE, "production", OLD)
    questions: list[Paused] = []

    def answer(event: object) -> None:
        if isinstance(event, Paused):
            questions.append(event)
            assert run.waiting_for_decision
            run.promote()  # a person accepts the unverified version

    events = collect(run, answer)
    # one question, never a silent pass
    assert len(questions) == 1 and questions[0].needs_decision
    assert questions[0].reason.startswith(f"verifying {OLD}: ")
    assert _end(events).outcome is Outcome.SUCCEEDED and _stable_version(harness) == OLD
    checks = {e.check: e.verdict for e in events if isinstance(e, AnalysisResult)}
    assert checks["error-rate"] is Verdict.INCONCLUSIVE
