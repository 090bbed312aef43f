"""The scaffold wizard's run stage: the live step list and log of a template run, and its end.

A ``TaskView`` that also runs: it starts the run (or a retry) in a thread worker, and draws the events
the worker posts. What they mean — status and failure lines, whether ``r`` retries, the deploy offer
— is decided by the wizard's ``RunProgress`` (``backends/scaffolder/wizard.py``); the screen keeps
the keys and asks this view to run, retry or cancel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.message import Message
from textual.worker import Worker, WorkerState

from backends.scaffolder.events import StepFinished, StepStarted, TaskFinished
from backends.scaffolder.wizard import RunCreated, RunRefused, RunUpdate, output_links, run_updates
from screens.context import context_of
from widgets.step_list import format_duration
from widgets.task_view import OutputLinks, TaskView

if TYPE_CHECKING:
    from backends.scaffolder.events import TaskEvent
    from backends.scaffolder.runner import TemplateTask
    from backends.scaffolder.template import Template
    from backends.scaffolder.wizard import Outcome, RunProgress, ScaffoldWizard

RUN_GROUP = "scaffold-run"


@dataclass
class RunUpdatePosted(Message):
    """The task was created or refused, or one of its events (from the run's thread)."""

    update: RunUpdate | TaskEvent


@dataclass
class EntitiesRegistered(Message):
    """``catalog:register`` added entities to the live catalog (from the action's thread)."""

    refs: list[str]


class RunView(TaskView):
    """The run stage of ``wizard`` (which holds the run's progress)."""

    def __init__(self, wizard: ScaffoldWizard, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.wizard = wizard

    def start(self, template: Template, parameters: dict[str, Any], secrets: dict[str, str]) -> None:
        """Run the template the wizard began a run of (``ScaffoldWizard.begin_run``)."""
        progress = self.wizard.progress
        assert progress is not None
        self.begin(self.wizard.run_title(), self.wizard.run_steps())
        self.run_template(template, parameters, secrets, progress.dry_run)

    @work(thread=True, exclusive=True, group=RUN_GROUP, name="scaffolder run", exit_on_error=False)
    def run_template(
        self, template: Template, parameters: dict[str, Any], secrets: dict[str, str], dry_run: bool
    ) -> None:
        ctx = context_of(self.app)
        services = self.wizard.services(ctx.catalog, self._registered)
        for update in run_updates(ctx.workspace, services, template, parameters, secrets, dry_run=dry_run):
            self.post_message(RunUpdatePosted(update))

    @work(thread=True, exclusive=True, group=RUN_GROUP, name="scaffolder retry", exit_on_error=False)
    def retry_task(self, task: TemplateTask, step_id: str) -> None:
        for event in task.retry_from(step_id):
            self.post_message(RunUpdatePosted(event))

    def _registered(self, refs: list[str]) -> None:
        self.post_message(EntitiesRegistered(refs))  # from the runner's thread

    def retry(self) -> None:
        """``r``: run again from the failed step, when the wizard says that is safe."""
        progress = self.wizard.progress
        step_id = progress.retrying() if progress is not None else None
        if progress is None or step_id is None or progress.task is None:
            return
        self.screen.refresh_bindings()
        self.clear_results()
        self.steps.reset_from(step_id)
        self.write(f"── retrying from {progress.step_name(step_id)}")
        self.set_status("Retrying…")
        self.retry_task(progress.task, step_id)

    def cancel(self) -> None:
        if self.wizard.cancel():
            self.set_status("Cancelling after the current step…")

    @on(Worker.StateChanged)
    def _worker_ended(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: the app's one error handler (toast, errors.log)
        # hears of a crashed run only from here. The run view itself must also stop "running" and
        # say so, or esc would stay blocked behind a run that will never finish.
        if event.state == WorkerState.ERROR:
            self.app.post_message(Worker.StateChanged(event.worker, event.state))
        progress = self.wizard.progress
        if event.worker.group != RUN_GROUP or event.state != WorkerState.ERROR or not self.wizard.running:
            return
        assert progress is not None
        self._show_outcome(progress.stopped(event.worker.error))

    def on_entities_registered(self, message: EntitiesRegistered) -> None:
        self.wizard.registered(message.refs)
        ctx = context_of(self.app)
        if ctx.catalog is not None:
            # The catalog screen listens to this signal: the new entity shows without a restart.
            ctx.catalog_signal.publish(ctx.catalog)

    def on_run_update_posted(self, message: RunUpdatePosted) -> None:
        update, progress = message.update, self.wizard.progress
        if progress is None:
            return
        match update:
            case RunCreated():
                progress.task = update.task
                self.screen.refresh_bindings()
                return
            case RunRefused():
                self._show_outcome(progress.refused(update.problems))
                return
            case StepStarted():
                self.steps.start(update.step_id)
            case StepFinished():
                self.steps.finish(update.step_id, update.status, update.duration)
            case TaskFinished():
                self._finished(progress, update)
        line = progress.log_line(update)
        if line is not None:
            self.write(line)

    def _finished(self, progress: RunProgress, event: TaskFinished) -> None:
        outcome = progress.finish(event, format_duration(event.duration))
        if outcome.ok:
            self.show_outputs(*output_links(event.outputs))
        self._show_outcome(outcome)
        offer = self.wizard.deploy_offer()
        if offer is not None:
            self.show_offer(f"Next: d deploys {offer.service} to {offer.environment}")

    def _show_outcome(self, outcome: Outcome) -> None:
        self.screen.refresh_bindings()
        self.set_status(outcome.status, "bold green" if outcome.ok else "bold red")
        if not outcome.ok:
            self.show_failure(list(outcome.lines))
        else:
            for line in outcome.lines:
                self.write(line)

    @on(OutputLinks.LinkChosen)
    def _link_chosen(self, event: OutputLinks.LinkChosen) -> None:
        link = event.link
        if link.get("entityRef"):
            context_of(self.app).open_entity(str(link["entityRef"]))
        elif link.get("url"):
            # The app copies instead of opening a browser (which would open on an SSH server).
            self.app.open_url(str(link["url"]))
