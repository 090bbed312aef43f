"""Issue 13: one interpreter of the deploy event stream — the CLI's printer and the TUI's watch view
fold the same events with the same reducer, so they never disagree about a run."""

from __future__ import annotations

import io

from backends.deploy import events as ev
from backends.deploy.reducer import Phase, RunKind, RunModel, StepStatus
from console.commands.deploy import TextPrinter
from screens.deploy_view import RunState

SERVICE = "payment-service"


def rollback_stream() -> list[ev.DeployEvent]:
    return [
        ev.DeployStarted(
            "r1", SERVICE, "production", "v2.3.1", "v2.3.0", "jane", "production", (), (), "rollback"
        ),
        ev.StageStarted("r1", ev.Stage.ROLLBACK, detail="to the last good version"),
        ev.StageFinished("r1", ev.Stage.ROLLBACK, True, detail="4/4 pods ready"),
        ev.DeployFinished("r1", ev.Outcome.SUCCEEDED, version="v2.3.0"),
    ]


def canary_stream() -> list[ev.DeployEvent]:
    return [
        ev.DeployStarted(
            "d1", SERVICE, "staging", "v2.3.0", "v2.3.1", "jane", "staging", (5, 100), (1.0, 1.0)
        ),
        ev.StageStarted("d1", ev.Stage.CANARY, step=0, detail="5%: 1 canary / 4 stable pods"),
        ev.StageFinished("d1", ev.Stage.CANARY, True, step=0),
        ev.StageStarted("d1", ev.Stage.ANALYSIS, step=0),
        ev.AnalysisResult("d1", 0, "error-rate", ev.Verdict.FAILED, "error rate 7% above 1%", 0.07, 0.01),
        ev.StageFinished("d1", ev.Stage.ANALYSIS, False, step=0, detail="error rate 7% above 1%"),
        ev.StageStarted("d1", ev.Stage.ROLLBACK, detail="analysis failed at 5%"),
        ev.DeployFinished("d1", ev.Outcome.ROLLED_BACK, "analysis failed at 5%", "v2.3.0"),
    ]


def fold(stream: list[ev.DeployEvent]) -> tuple[TextPrinter, RunState, str]:
    out = io.StringIO()
    printer = TextPrinter(SERVICE, out)
    state = RunState(SERVICE, "")
    for event in stream:
        printer(event)
        state.apply(event)
    return printer, state, out.getvalue()


def test_the_printer_and_the_watch_view_fold_a_rollback_alike() -> None:
    printer, state, text = fold(rollback_stream())
    assert isinstance(printer.model, RunModel) and isinstance(state, RunModel)
    for model in (printer.model, state):
        assert model.kind is RunKind.ROLLBACK and model.phase is Phase.SUCCEEDED
        assert model.environment == "production" and model.final_status is StepStatus.DONE
    assert "✓ Rolled back payment-service: v2.3.1 → v2.3.0 (4/4 pods ready)" in text
    assert "✓ Rollback complete." in text
    assert state.headline() == "rollback payment-service · production · v2.3.1 → v2.3.0 · ✔ Succeeded"


def test_a_failed_canary_reads_the_same_in_both() -> None:
    printer, state, text = fold(canary_stream())
    for model in (printer.model, state):
        assert model.phase is Phase.ROLLED_BACK and model.outcome == "rolled-back"
        assert model.statuses == [StepStatus.FAILED, StepStatus.SKIPPED]
        assert model.checks[0][0].verdict == "failed"
    assert "✗ Canary: error rate 7% above 1%" in text
    assert "✗ Deployment failed: analysis failed at 5%. payment-service is back on v2.3.0." in text
    assert [v.status for v in state.step_views()] == ["failed", "skipped", "skipped"]


def test_run_kinds_from_records_and_events() -> None:
    from backends.deploy.reducer import run_kind

    assert run_kind("abort") is RunKind.ABORT
    assert run_kind(RunKind.SCALE) is RunKind.SCALE
    assert run_kind("something-new") is RunKind.DEPLOY  # an unknown kind reads as a deploy
    assert RunModel(SERVICE, "staging", kind="rollback").final_label == "rollback"  # type: ignore[arg-type]
