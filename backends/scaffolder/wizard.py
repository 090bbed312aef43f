"""A template run as the scaffold wizard follows it, without a terminal.

The run view shows a status line, a live step list, a log, and at the end either the outputs (and
what to do next: deploy the new service) or the failure (and whether ``r`` retries). What each
event means for those — and when a retry or a deploy makes sense — is decided here; the screen
only draws what :class:`RunProgress` says. Durations are formatted by the caller (a UI concern).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from backends.scaffolder.events import StepLog, StepStarted, TaskFinished, TaskStarted

if TYPE_CHECKING:
    from backends.deploy.journey import DeployOffer
    from backends.scaffolder.events import TaskEvent
    from backends.scaffolder.runner import TemplateTask


class Stage(StrEnum):
    """The wizard's four stages, in the order ``esc`` walks back through them."""

    PICK = "pick"
    FORM = "form"
    REVIEW = "review"
    RUN = "run"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a finished run reads: a status line (ok or not) and the lines under it."""

    ok: bool
    status: str
    lines: tuple[str, ...] = ()


@dataclass
class RunProgress:
    """One run (or retry) of a template: its state, folded from the runner's events."""

    step_names: dict[str, str]
    dry_run: bool = False
    running: bool = True
    task: TemplateTask | None = None
    finished: TaskFinished | None = None
    registered: list[str] = field(default_factory=list)  # entity refs catalog:register added
    cancel_requested: bool = False

    def log_line(self, event: TaskEvent) -> str | None:
        """The log line an event deserves (the step list follows StepStarted/StepFinished)."""
        match event:
            case TaskStarted():
                where = "dry run, " if event.dry_run else ""
                return f"Task {event.task_id} ({where}workspace {event.workspace_path})"
            case StepStarted():
                return f"── {event.name} ({event.action})"
            case StepLog():
                prefix = f"[{event.step_id}] " if event.step_id else ""
                marker = {"warning": "! ", "error": "✖ "}.get(event.level, "")
                return f"{marker}{prefix}{event.message}"
        return None

    def finish(self, event: TaskFinished, took: str) -> Outcome:
        """The run ended: ``took`` is its duration as the UI writes it."""
        self.running = False
        self.finished = event
        dry = " (dry run)" if event.dry_run else ""
        if event.status == "completed":
            kept = (f"Rendered files kept in {event.workspace_path}",) if event.workspace_path else ()
            return Outcome(True, f"✔ Completed{dry} in {took}", kept)
        step = self.step_name(event.failed_step or "")
        where = f" at step {step!r}" if step else ""
        # A step interrupted by the user's cancel ends as "failed" in the backend: say what happened.
        outcome = "Cancelled" if self.cancel_requested else event.status.capitalize()
        lines = [f"Step {step} failed:" if step else "The run failed:", f"  {event.error}"]
        if event.workspace_path:
            lines.append(f"Files kept in {event.workspace_path}")
        retry = self.retry_step()
        if retry is not None:
            lines.append(f"Press r to retry from {self.step_name(retry)!r}.")
        return Outcome(False, f"✖ {outcome}{dry}{where} after {took}", tuple(lines))

    def step_name(self, step_id: str) -> str:
        return self.step_names.get(step_id, step_id)

    def retry_step(self) -> str | None:
        """The failed step to retry from, when the runner says repeating it is safe."""
        task = self.task
        if task is None or self.running or task.failed_step is None:
            return None
        return task.failed_step if task.can_retry_from(task.failed_step) else None

    def retrying(self) -> str | None:
        """Start a retry: the step it starts from, or None when there is nothing to retry."""
        step = self.retry_step()
        if step is not None:
            self.running, self.cancel_requested, self.finished = True, False, None
        return step

    def stopped(self, error: BaseException | None) -> Outcome:
        """The run's worker died: the run is over, whatever the runner would have said."""
        self.running = False
        return Outcome(False, "✖ The run stopped unexpectedly", (f"{type(error).__name__}: {error}",))

    def refused(self, problems: Sequence[str]) -> Outcome:
        """The pre-run check refused the template: nothing ran, nothing was written."""
        self.running = False
        lines = ("Nothing was written. Problems:", *(f"  • {p}" for p in problems))
        return Outcome(False, "✖ The template was refused before any step ran", lines)

    def deploy_offer(self, environments: Sequence[str], *, readonly: bool) -> DeployOffer | None:
        """After a real run that registered a component: deploy it to the first environment."""
        from backends.deploy.journey import DeployOffer, first_environment

        finished = self.finished
        if self.running or readonly or finished is None or finished.dry_run or finished.status != "completed":
            return None
        components = [ref for ref in self.registered if ref.lower().startswith("component:")]
        environment = first_environment(environments)
        if not components or environment is None:
            return None
        return DeployOffer(components[0].rpartition("/")[2], environment)


def output_links(outputs: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A finished run's ``spec.output`` links and text entries (anything malformed left out)."""
    links = [link for link in outputs.get("links") or [] if isinstance(link, dict)]
    texts = [text for text in outputs.get("text") or [] if isinstance(text, dict)]
    return links, texts
