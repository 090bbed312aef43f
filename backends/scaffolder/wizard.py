"""The scaffold wizard without a terminal: which template, which page, what ``esc`` and ``ctrl+n`` do,
and a template run as the wizard follows it.

:class:`ScaffoldWizard` is the wizard's state machine — the template list, the form pages (answers
kept per template across visits), the review, and which keys make sense in which stage. It runs a
template through :func:`run_updates`, a blocking iterator a worker thread drains.

The run view shows a status line, a live step list, a log, and at the end either the outputs (and
what to do next: deploy the new service) or the failure (and whether ``r`` retries). What each
event means for those — and when a retry or a deploy makes sense — is decided by
:class:`RunProgress`; the screen only draws what it says. Durations are formatted by the caller (a
UI concern).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from backends.scaffolder.events import StepLog, StepStarted, TaskFinished, TaskStarted

if TYPE_CHECKING:
    from backends.deploy.journey import DeployOffer
    from backends.scaffolder.actions import Services
    from backends.scaffolder.events import TaskEvent
    from backends.scaffolder.form import FormModel, FormPage
    from backends.scaffolder.pickers import PickerOption
    from backends.scaffolder.runner import TemplateTask
    from backends.scaffolder.template import Template, TemplateLibrary


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


def template_origin(template: Template) -> str:
    """Where a template comes from, in the user's words (golden paths ship with the console)."""
    from backends.scaffolder.template import GOLDEN_PATHS_DIR

    if template.source.startswith(str(GOLDEN_PATHS_DIR)):
        return "Golden path shipped with idp-console"
    return f"From {template.source}"


# -- running a template (blocking: a worker thread drains this) -----------------------------------


@dataclass(frozen=True, slots=True)
class RunCreated:
    """The runner accepted the template: ``task`` can be cancelled and retried from a step."""

    task: TemplateTask


@dataclass(frozen=True, slots=True)
class RunRefused:
    """The template failed its pre-run check: nothing ran, nothing was written."""

    problems: list[str]


RunUpdate = RunCreated | RunRefused  # or a TaskEvent from the runner


def run_updates(
    workspace: Any,
    services: Services,
    template: Template,
    parameters: dict[str, Any],
    secrets: dict[str, str],
    *,
    dry_run: bool,
) -> Iterator[RunUpdate | TaskEvent]:
    """Create the task on the runner the workspace names (local, or ``scaffolder.runOn: backstage``)
    and run it: RunCreated (or RunRefused), then every event of the run."""
    from backends.scaffolder.backstage_runner import task_runner
    from backends.scaffolder.errors import PrecheckError

    runner = task_runner(workspace, services)
    try:
        task = runner.create_task(template, parameters, secrets, user=workspace.identity, dry_run=dry_run)
    except PrecheckError as error:
        yield RunRefused(error.problems)
        return
    yield RunCreated(task)
    yield from task.run()


# -- the wizard ----------------------------------------------------------------------------------


class Move(StrEnum):
    """What ``ctrl+n`` (next) or ``esc`` (back) leads to; the screen shows it."""

    STAY = "stay"  # nothing to do in this stage
    INVALID = "invalid"  # the page has errors: say so (``invalid_note``) and reveal them
    PAGE = "page"  # show the form page ``page_index``
    REVIEW = "review"
    PICK = "pick"  # back to the template list
    PICKER_BACK = "picker back"  # on the list: the list's own esc (clears its filter)
    RUN = "run"  # next on the review: run the template
    BUSY = "busy"  # a run is going: leaving its view waits until it ends


# Which keys make sense in which stage (the footer hides the rest); see ScaffoldWizard.allows.
STAGE_ACTIONS: dict[str, frozenset[Stage]] = {
    "focus_filter": frozenset({Stage.PICK}),
    "next": frozenset({Stage.FORM, Stage.REVIEW}),
    "run": frozenset({Stage.REVIEW}),
    "dry_run": frozenset({Stage.REVIEW}),
    "retry": frozenset({Stage.RUN}),
    "cancel": frozenset({Stage.RUN}),
    "new": frozenset({Stage.RUN}),
    "deploy_new": frozenset({Stage.RUN}),
}


class ScaffoldWizard:
    """One scaffold wizard's state (see module docstring); not thread-safe: the UI thread owns it.

    ``workspace`` gives the identity (pickers, the run's user), environments (the deploy offer) and
    the runner; ``catalog`` feeds the pickers and is where a run registers what it created.
    """

    def __init__(self, workspace: Any, *, readonly: bool = False) -> None:
        self.workspace = workspace
        self.readonly = readonly
        self.stage = Stage.PICK
        self.templates: list[Template] = []
        self.template: Template | None = None
        self.model: FormModel | None = None
        self.page_index = 0
        self.progress: RunProgress | None = None  # the last run (or retry) started here
        self._answers: dict[str, dict[str, Any]] = {}  # template name → answers, kept across visits
        self._pending: str | None = None  # a template asked for before the list had loaded
        self._reported: set[str] = set()  # template problems already told (the list refreshes)
        # kube:apply goes through the deploy area's clusters (the simulated one in the demo);
        # opened on first use and shared by every run of this wizard.
        self._applier: Any = None

    # -- state ------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.progress is not None and self.progress.running

    @property
    def finished(self) -> TaskFinished | None:
        return self.progress.finished if self.progress is not None else None

    @property
    def task(self) -> TemplateTask | None:
        return self.progress.task if self.progress is not None else None

    def crumb(self, mode: str) -> str:
        """Where the user is: ``scaffold › template › page title`` (or review / run)."""
        parts = [mode]
        if self.template is not None and self.stage != Stage.PICK:
            parts.append(self.template.name)
            if self.stage == Stage.FORM and self.model is not None:
                pages = self.model.pages()
                if pages:
                    parts.append(pages[min(self.page_index, len(pages) - 1)].title)
            elif self.stage in (Stage.REVIEW, Stage.RUN):
                parts.append(self.stage.value)
        return " › ".join(parts)

    def allows(self, action: str) -> bool:
        """Whether the key bound to ``action`` applies now (actions not listed always do)."""
        stages = STAGE_ACTIONS.get(action)
        if stages is None:
            return True
        if self.stage not in stages:
            return False
        if action == "retry":
            return self.progress is not None and self.progress.retry_step() is not None
        if action == "new":
            return not self.running
        if action == "deploy_new":
            return self.deploy_offer() is not None
        if action == "cancel":
            return self.running and self.task is not None
        return True

    # -- templates --------------------------------------------------------------------------------
    def templates_found(self, library: TemplateLibrary) -> tuple[list[str], str | None]:
        """Take a fresh template list: the problems not told yet, and a template asked for meanwhile."""
        self.templates = library.list()
        new = [problem for problem in library.problems if problem not in self._reported]
        self._reported.update(new)
        pending, self._pending = self._pending, None
        return new, pending

    def find(self, name: str) -> Template | None:
        """The template ``name`` names: its name or ``template:ns/name`` ref, any case."""
        lowered = name.lower().removeprefix("template:").rsplit("/", 1)[-1]
        return next((t for t in self.templates if t.name.lower() == lowered), None)

    def wait_for(self, name: str) -> bool:
        """Before the list has loaded, remember ``name`` to open once it has (True: remembered)."""
        if self.templates:
            return False
        self._pending = name
        return True

    def open(self, template: Template, catalog: Any) -> Move:
        """Start ``template``'s wizard (answers from an earlier visit kept): its first page, or the
        review when it asks nothing."""
        from backends.scaffolder.form import FormModel

        self.template = template
        answers = self._answers.setdefault(template.name, {})
        self.model = FormModel(template, catalog=catalog, user=self.workspace.identity, answers=answers)
        # The model copies the dict: keep its copy as the one remembered, so answers survive.
        self._answers[template.name] = self.model.answers
        self.page_index = 0
        return Move.PAGE if self.model.pages() else Move.REVIEW

    def catalog_changed(self, catalog: Any) -> None:
        """Pickers read the catalog the model was built with: rebuild it, answers kept."""
        if self.model is None or self.template is None or self.running:
            return
        from backends.scaffolder.form import FormModel

        self.model = FormModel(
            self.template, catalog=catalog, user=self.workspace.identity, answers=self.model.answers
        )
        self._answers[self.template.name] = self.model.answers

    # -- form pages -------------------------------------------------------------------------------
    def suggest(self, name: str, query: str) -> list[PickerOption]:
        """A picker field's suggestions for what was typed."""
        return self.model.options(name, query) if self.model is not None else []

    def pages(self) -> list[FormPage]:
        return self.model.pages() if self.model is not None else []

    def page(self) -> FormPage:
        """The page shown (its index kept in range: a ``when`` may have hidden pages since)."""
        pages = self.pages()
        self.page_index = max(0, min(self.page_index, len(pages) - 1))
        return pages[self.page_index]

    def answer(self, name: str, value: Any, *, typed: bool) -> FormPage | None:
        """Take an answer (``typed``: text as typed, parsed by the model); the page to redraw."""
        if self.model is None or self.stage != Stage.FORM:
            return None
        if typed:
            self.model.set_text(name, value)
        else:
            self.model.set(name, value)
        return self.page()

    def invalid_note(self) -> str:
        count = len(self.page().errors)
        return f"Fix {count} field{'s' if count != 1 else ''} on this page to go on."

    def next(self) -> Move:
        """``ctrl+n``: the next page when this one is valid, then the review, then the run."""
        if self.stage == Stage.REVIEW:
            return Move.RUN
        if self.stage != Stage.FORM:
            return Move.STAY
        if not self.page().valid:
            return Move.INVALID
        if self.page_index + 1 < len(self.pages()):
            self.page_index += 1
            return Move.PAGE
        return Move.REVIEW

    def back(self) -> Move:
        """``esc``: one step back, answers kept; never away from a run still going."""
        match self.stage:
            case Stage.PICK:
                return Move.PICKER_BACK
            case Stage.FORM:
                if self.page_index > 0:
                    self.page_index -= 1
                    return Move.PAGE
                return Move.PICK
            case Stage.REVIEW:
                self.page_index = len(self.pages()) - 1
                return Move.PICK if self.page_index < 0 else Move.PAGE
            case Stage.RUN:
                return Move.BUSY if self.running else Move.REVIEW
        return Move.STAY

    # -- review -----------------------------------------------------------------------------------
    def review_status(self) -> str:
        """The line under the review: ready to run, or which answers still need fixing."""
        assert self.model is not None and self.template is not None
        problems = self.model.errors()
        missing = self.model.missing_required()
        if problems or missing:
            names = ", ".join(sorted({*problems, *(f.name for f in missing)}))
            return f"Some answers are not valid yet ({names}): go back with esc to fix them."
        return f"Ready to run {self.template.display_title}. Enter runs it, d runs it dry."

    # -- run --------------------------------------------------------------------------------------
    def begin_run(self, *, dry_run: bool) -> RunProgress | str | None:
        """Start a run from the review: its progress, why not (to say), or None (not the time)."""
        if self.stage != Stage.REVIEW or self.running or self.model is None or self.template is None:
            return None
        if not self.model.valid or self.model.missing_required():
            return "Some answers are not valid yet: esc goes back to fix them."
        self.progress = RunProgress({step.id: step.name for step in self.template.steps}, dry_run=dry_run)
        return self.progress

    def run_title(self) -> str:
        assert self.template is not None
        mode = "Dry run of" if self.progress is not None and self.progress.dry_run else "Running"
        return f"{mode} {self.template.display_title}…"

    def run_steps(self) -> list[tuple[str, str, str]]:
        """The template's steps as (id, name, action), for the step list."""
        assert self.template is not None
        return [(step.id, step.name, step.action) for step in self.template.steps]

    def services(self, catalog: Any, on_registered: Callable[[list[str]], None]) -> Services:
        """The runner's services: the live catalog (``on_registered`` hears each registration's
        entity refs, from the runner's thread), the Kubernetes applier, the secret store for tokens."""
        from backends.scaffolder.actions import Services
        from backends.secrets import default_secret_store

        services = Services.from_workspace(
            self.workspace, catalog=catalog, applier=self._kube_applier(), secret_store=default_secret_store()
        )
        register = services.register
        if register is not None:

            def register_and_report(path: str) -> list[Any]:
                entities = register(path)
                on_registered([entity.ref.canonical for entity in entities])
                return entities

            services.register = register_and_report
        return services

    def _kube_applier(self) -> Any:
        if self._applier is None:
            from backends.scaffolder.kube import WorkspaceApplier

            self._applier = WorkspaceApplier(self.workspace)
        return self._applier

    def registered(self, refs: list[str]) -> None:
        if self.progress is not None:
            self.progress.registered.extend(refs)

    def cancel(self) -> bool:
        """Ask the running task to stop after its current step (thread-safe in the runner)."""
        progress = self.progress
        if not self.running or progress is None or progress.task is None:
            return False
        progress.cancel_requested = True
        progress.task.cancel()
        return True

    def close(self) -> None:
        """Leaving: a running task stops after its current step; the applier's clients close."""
        if self.running and self.task is not None:
            self.task.cancel()
        if self._applier is not None:
            self._applier.close()

    def deploy_offer(self) -> DeployOffer | None:
        """After a real run that registered a component: deploy it to the first environment."""
        if self.progress is None:
            return None
        environments = [str(name) for name in self.workspace.section("environments")]
        return self.progress.deploy_offer(environments, readonly=self.readonly)
