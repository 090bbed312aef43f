"""One interpreter of a run's event stream: fold engine events into what a person needs to know.

The TUI's watch view and the CLI's text printer both read a :class:`RunModel` fed here, so "which
step is current", "is it paused, and does it need a decision", "how did it end" are decided once.
Each face only formats: the screen draws the model and logs the :class:`LogEntry` each event
deserves; the printer writes its own terser lines from the same model. No terminal, no Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backends.deploy.events import DeployEvent


class RunKind(StrEnum):
    """What a run does; a resumed deploy is a deploy, an abort restores the stable."""

    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    SCALE = "scale"
    ABORT = "abort"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class Phase(StrEnum):
    """The run as a whole, in the words the headline uses."""

    STARTING = "Starting"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    ROLLING_BACK = "Rolling back"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "Rolled back"
    ABORTED = "Aborted"
    FAILED = "Failed"
    INTERRUPTED = "Interrupted"


PHASE_ICONS: dict[str, str] = {
    Phase.STARTING: "○",
    Phase.PROGRESSING: "◐",
    Phase.PAUSED: "‖",
    Phase.ROLLING_BACK: "↩",
    Phase.SUCCEEDED: "✔",
    Phase.ROLLED_BACK: "↩",
    Phase.ABORTED: "✖",
    Phase.FAILED: "✖",
    Phase.INTERRUPTED: "⚠",
}
OUTCOME_PHASES: dict[str, Phase] = {
    "succeeded": Phase.SUCCEEDED,
    "rolled-back": Phase.ROLLED_BACK,
    "aborted": Phase.ABORTED,
    "failed": Phase.FAILED,
    "interrupted": Phase.INTERRUPTED,
}
CHECK_LABELS: dict[str, str] = {
    "progress-deadline": "deadline",
    "restarts": "restarts",
    "pods-ready": "pods ready",
    "error-rate": "error rate",
}
FINAL_STAGES: dict[str, str] = {
    "deploy": "promote",
    "rollback": "rollback",
    "scale": "scale",
    "abort": "restore",
}


@dataclass(frozen=True, slots=True)
class LogEntry:
    at: float
    text: str
    level: str = "info"  # info | success | warning | error


@dataclass(frozen=True, slots=True)
class CheckResult:
    label: str  # short: "pods ready", "error rate 0.20%"
    verdict: str  # passed | failed | inconclusive
    detail: str  # the full sentence


def run_kind(value: object) -> RunKind:
    """A run kind from an event or a history record (an unknown one reads as a deploy)."""
    try:
        return RunKind(str(value))
    except ValueError:
        return RunKind.DEPLOY


def _promoted(status: StepStatus) -> StepStatus:
    """A step's status once the deploy is promoted past it."""
    return {
        StepStatus.RUNNING: StepStatus.DONE,
        StepStatus.PAUSED: StepStatus.DONE,
        StepStatus.PENDING: StepStatus.SKIPPED,
    }.get(status, status)


@dataclass
class RunModel:
    """Everything known about one run, folded from its events by :meth:`apply`."""

    service: str
    environment: str
    to_version: str = ""
    kind: RunKind = RunKind.DEPLOY
    deploy_id: str = ""
    from_version: str = ""
    user: str = ""
    weights: tuple[int, ...] = ()
    bakes: tuple[float, ...] = ()
    statuses: list[StepStatus] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[list[CheckResult]] = field(default_factory=list)
    final_status: StepStatus = StepStatus.PENDING  # the promote (deploy) or the only stage
    current_step: int | None = None
    weight: float = 0.0
    actual_weight: float | None = None  # None while no canary pods serve
    phase: Phase = Phase.STARTING
    pause_reason: str = ""
    needs_decision: bool = False
    outcome: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        self.kind = run_kind(self.kind)

    @property
    def finished(self) -> bool:
        return bool(self.outcome)

    @property
    def paused(self) -> bool:
        return self.phase is Phase.PAUSED

    @property
    def succeeded(self) -> bool:
        return self.outcome == "succeeded"

    def apply(self, event: DeployEvent) -> LogEntry | None:
        """Fold one event in; the log line it deserves, if any."""
        from backends.deploy import events as ev

        at = event.at
        if isinstance(event, ev.DeployStarted):
            self._started(event)
            what = f"{event.kind} {event.service} {event.from_version} → {event.to_version}"
            return LogEntry(at, f"{what} in {event.environment} by {event.user}")
        if isinstance(event, ev.StageStarted):
            return self._stage_started(event)
        if isinstance(event, ev.StageFinished):
            return self._stage_finished(event)
        if isinstance(event, ev.RolloutProgress):
            self.weight = float(event.weight)
            self.actual_weight = event.actual_weight
            return None
        if isinstance(event, ev.AnalysisResult):
            check = CheckResult(_check_label(event.check, event.value), str(event.verdict), event.detail)
            if 0 <= event.step < len(self.checks):
                self.checks[event.step].append(check)
            level = {"passed": "info", "failed": "error", "inconclusive": "warning"}[str(event.verdict)]
            return LogEntry(at, f"analysis {event.check}: {event.detail}", level)
        if isinstance(event, ev.Paused):
            self.phase, self.pause_reason, self.needs_decision = (
                Phase.PAUSED,
                event.reason,
                event.needs_decision,
            )
            self._set_current(StepStatus.PAUSED)
            ask = " — promote (p) or abort (a)" if event.needs_decision else " — space resumes"
            return LogEntry(at, f"paused: {event.reason}{ask}", "warning")
        if isinstance(event, ev.Resumed):
            self.phase, self.pause_reason, self.needs_decision = Phase.PROGRESSING, "", False
            self._set_current(StepStatus.RUNNING)
            return LogEntry(at, f"resumed ({event.by or 'resume'})")
        if isinstance(event, ev.LogLine):
            return LogEntry(at, event.message, event.level)
        if isinstance(event, ev.DeployFinished):
            return self._finished(event)
        return None

    def _started(self, event: Any) -> None:
        self.deploy_id, self.kind, self.user = event.deploy_id, run_kind(event.kind), event.user
        self.environment = event.environment or self.environment
        self.from_version, self.to_version = event.from_version, event.to_version
        self.weights, self.bakes = tuple(event.steps), tuple(event.bakes)
        self.statuses = [StepStatus.PENDING] * len(self.weights)
        self.notes = [f"bake {_seconds(b)}" if b else "" for b in self.bakes] or [""] * len(self.weights)
        self.checks = [[] for _ in self.weights]
        self.phase = Phase.PROGRESSING

    def _set_current(self, status: StepStatus) -> None:
        if self.current_step is not None and self.current_step < len(self.statuses):
            self.statuses[self.current_step] = status
        elif self.final_status in (StepStatus.RUNNING, StepStatus.PAUSED):
            self.final_status = status

    @property
    def _rollback_is_the_job(self) -> bool:
        """A rollback run, or the abort of an interrupted deploy: restoring is the work, not a failure."""
        return self.kind in (RunKind.ROLLBACK, RunKind.ABORT)

    def _stage_started(self, event: Any) -> LogEntry:
        stage, at, detail = str(event.stage), event.at, event.detail
        if stage == "canary" and event.step is not None and event.step < len(self.statuses):
            self.current_step = event.step
            # A resumed deploy starts after the steps its first run completed.
            self.statuses[: event.step] = [
                StepStatus.DONE if s is StepStatus.PENDING else s for s in self.statuses[: event.step]
            ]
            self.statuses[event.step] = StepStatus.RUNNING
            self.notes[event.step] = detail.partition(": ")[2] or detail
            return LogEntry(at, f"step {event.step + 1}/{len(self.weights)}: {detail}")
        if stage == "analysis" and event.step is not None and event.step < len(self.statuses):
            self.statuses[event.step] = StepStatus.RUNNING
            return LogEntry(at, f"analysis at {self.weights[event.step]}%: {detail}")
        if stage == "promote":
            # Promoting ends the steps: the one in progress is done, those never reached (P promotes
            # fully) are skipped — no step keeps spinning beside "✔ Succeeded".
            self.statuses = [_promoted(s) for s in self.statuses]
        if stage in ("promote", "scale") or (stage == "rollback" and self._rollback_is_the_job):
            self.current_step = None
            self.final_status = StepStatus.RUNNING
        if stage == "rollback":
            self.phase = Phase.ROLLING_BACK
            if not self._rollback_is_the_job:
                self._set_current(StepStatus.FAILED)
                self.current_step = None
            return LogEntry(at, f"rolling back: {detail}", "warning")
        text = {
            "prechecks": "running pre-deployment checks…",
            "update": f"updating Kubernetes deployment: {detail}",
            "promote": f"promoting: {detail}",
            "scale": f"scaling: {detail}",
        }.get(stage, f"{stage}: {detail}")
        return LogEntry(at, text)

    def _stage_finished(self, event: Any) -> LogEntry:
        stage, ok = str(event.stage), bool(event.ok)
        status = StepStatus.DONE if ok else StepStatus.FAILED
        step = event.step
        in_steps = step is not None and step < len(self.statuses)
        if stage == "canary" and in_steps:
            # Routed is not passed: the step stays running until its check (the analysis stage,
            # which every step has) passes.
            self.statuses[step] = StepStatus.RUNNING if ok else status
        elif stage == "analysis" and in_steps:
            self.statuses[step] = status
        elif stage in ("promote", "scale") or (stage == "rollback" and self._rollback_is_the_job):
            self.final_status = status
        label = {"prechecks": "pre-deployment checks", "update": "update"}.get(stage, stage)
        if in_steps:
            label = f"{label} {self.weights[step]}%"
        return LogEntry(
            event.at, f"{label}: {event.detail}" if event.detail else label, "success" if ok else "error"
        )

    def _finished(self, event: Any) -> LogEntry:
        self.outcome, self.reason = str(event.outcome), event.reason
        self.phase = OUTCOME_PHASES.get(self.outcome, Phase.FAILED)
        self.needs_decision, self.pause_reason = False, ""
        if self.outcome != "succeeded":
            self.statuses = [StepStatus.SKIPPED if s is StepStatus.PENDING else s for s in self.statuses]
            if self.final_status is StepStatus.PENDING:
                self.final_status = StepStatus.SKIPPED
        if self.outcome == "succeeded":
            self.statuses = [_promoted(s) for s in self.statuses]
            self.weight = 100.0 if self.kind is RunKind.DEPLOY else self.weight
            self.actual_weight = None  # the canary is gone: the stable runs the new version
            text = f"{self.kind} complete: {self.service} runs {event.version}"
            if self.kind is RunKind.DEPLOY:
                text += f"; rollback available for {event.rollback_hours}h"
            return LogEntry(event.at, text, "success")
        self.weight, self.actual_weight = 0.0, None
        back = f"; {self.service} is on {event.version}" if event.version else ""
        return LogEntry(event.at, f"{self.phase.lower()}: {event.reason}{back}", "error")

    @property
    def final_label(self) -> str:
        """The last row of the step list: promote (deploy), rollback, scale or restore (abort)."""
        return FINAL_STAGES.get(self.kind, str(self.kind))

    @property
    def highlighted_step(self) -> int | None:
        """The step the ▶ points at: the current canary step, or the final stage while it runs."""
        if self.current_step is not None:
            return self.current_step
        if self.final_status in (StepStatus.RUNNING, StepStatus.PAUSED):
            return len(self.weights)
        return None

    def headline(self) -> str:
        icon = PHASE_ICONS.get(self.phase, "?")
        versions = f"{self.from_version or '?'} → {self.to_version or '?'}"
        return f"{self.kind} {self.service} · {self.environment} · {versions} · {icon} {self.phase}"


def _check_label(check: str, value: float | None) -> str:
    label = CHECK_LABELS.get(check, check)
    if check == "error-rate" and value is not None:
        label += f" {value:.2%}"
    return label


def _seconds(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 60 else f"{seconds / 60:g} min"
