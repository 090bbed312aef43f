"""The scaffold mode: pick a template, fill its pages, review, run with a live step list.

Four stages in one screen (a ContentSwitcher), so ``esc`` can walk back through them without losing
answers: template list → form pages → review → run. The form's rules (visibility, defaults,
validation, masking) live in the backend's ``FormModel``; this screen only feeds it what was typed
and redraws what it says. The run happens in a thread worker that only posts the runner's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, ContentSwitcher, Static
from textual.worker import Worker, WorkerState

from backends.scaffolder.wizard import Outcome, RunProgress, Stage, output_links
from screens.base import ConsoleScreen, mutating
from widgets.filtered_table import FilteredTable, TableItem
from widgets.schema_form import SchemaForm
from widgets.step_list import format_duration
from widgets.task_view import OutputLinks, TaskView
from widgets.top_bar import TopBar
from widgets.virtual_table import Column

if TYPE_CHECKING:
    from backends.deploy.journey import DeployOffer
    from backends.scaffolder.actions import Services
    from backends.scaffolder.events import TaskEvent, TaskFinished
    from backends.scaffolder.form import FormModel, FormPage
    from backends.scaffolder.pickers import PickerOption
    from backends.scaffolder.runner import TemplateTask
    from backends.scaffolder.template import Template, TemplateLibrary

TEMPLATE_COLUMNS: tuple[Column, ...] = (
    Column("title", "TEMPLATE", 30),
    Column("type", "TYPE", 14),
    Column("tags", "TAGS", 24),
    Column("description", "DESCRIPTION", 40),
)


# -- messages from workers (posted from threads; handled on the app's loop) --------------------


@dataclass
class TemplatesFound(Message):
    library: TemplateLibrary


@dataclass
class TaskCreated(Message):
    task: TemplateTask


@dataclass
class TaskRefused(Message):
    """The template failed its pre-run check: nothing ran, nothing was written."""

    problems: list[str]


@dataclass
class TaskEventPosted(Message):
    event: TaskEvent


@dataclass
class EntitiesRegistered(Message):
    """``catalog:register`` added entities to the live catalog (from the action's thread)."""

    refs: list[str]


def template_item(template: Template) -> TableItem:
    """A template as a row of the picker: what is shown, searched and said about it."""
    search = " ".join(
        [template.name, template.display_title, template.type, template.description, *template.tags]
    ).lower()
    return TableItem(
        key=template.name,
        cells=(template.display_title, template.type, ", ".join(template.tags), template.description),
        search=search,
        about=f"{template.display_title} ({template.ref}) — {template.description}\n{origin(template)}",
    )


class ScaffoldScreen(ConsoleScreen):
    MODE = "scaffold"
    HELP = (
        "Golden paths: pick a template (/ filters, enter starts), fill its pages — tab and shift+tab "
        "move between fields, ctrl+n or the Next button goes on, esc goes back without losing answers. "
        "The review lists every answer (secrets masked); Run shows each step live with its log. After "
        "a failure, r retries from the failed step when that step is safe to repeat; after a run that "
        "registered a service, d deploys it to the first environment."
    )
    BINDINGS: ClassVar = [
        Binding("slash", "focus_filter", "Filter", id="scaffold.filter"),
        Binding("escape", "back", "Back", id="scaffold.back"),
        Binding("ctrl+b", "back", "Back", show=False, id="scaffold.previous_page"),
        Binding("ctrl+n", "next", "Next", id="scaffold.next"),
        Binding("ctrl+r", "run", "Run", id="scaffold.run"),
        Binding("d", "dry_run", "Dry run", id="scaffold.dry_run"),
        Binding("r", "retry", "Retry failed step", id="scaffold.retry"),
        Binding("ctrl+x", "cancel", "Cancel run", id="scaffold.cancel"),
        Binding("n", "new", "Templates", id="scaffold.new"),
        # The same key as the dry run (review page only): after a run, the new service's first deploy.
        Binding("d", "deploy_new", "Deploy it", id="scaffold.deploy"),
    ]
    # Which bindings make sense in which stage (check_action hides the rest from the footer).
    STAGE_ACTIONS: ClassVar[dict[str, set[Stage]]] = {
        "focus_filter": {Stage.PICK},
        "next": {Stage.FORM, Stage.REVIEW},
        "run": {Stage.REVIEW},
        "dry_run": {Stage.REVIEW},
        "retry": {Stage.RUN},
        "cancel": {Stage.RUN},
        "new": {Stage.RUN},
        "deploy_new": {Stage.RUN},
    }
    DEFAULT_CSS = """
    ScaffoldScreen #stages { height: 1fr; }
    ScaffoldScreen .nav { height: 1; padding: 0 1; background: $panel; }
    ScaffoldScreen .about { height: auto; padding: 0 1; color: $text-muted; }
    ScaffoldScreen #form-scroll, ScaffoldScreen #review-scroll { height: 1fr; }
    ScaffoldScreen .buttons { height: auto; padding: 0 1; }
    ScaffoldScreen .buttons Button { margin: 0 1 0 0; }
    ScaffoldScreen .status { height: auto; padding: 0 1; color: $warning; }
    ScaffoldScreen #review { padding: 0 1; }
    """

    # Which stage is shown decides which keys apply: the footer follows it on its own.
    stage: reactive[Stage] = reactive(Stage.PICK, bindings=True, init=False)

    def __init__(self) -> None:
        super().__init__()
        self.templates: list[Template] = []
        self.template: Template | None = None
        self.model: FormModel | None = None
        self.page_index = 0
        self._answers: dict[str, dict[str, Any]] = {}  # template name → answers, kept across visits
        self.progress: RunProgress | None = None  # the last run (or retry) started here
        # kube:apply goes through the deploy area's clusters (the simulated one in the demo);
        # opened on first use and shared by every run of this screen.
        self._kube_applier: Any = None
        self._pending_template: str | None = None
        self._reported: set[str] = set()

    # -- layout -------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with ContentSwitcher(initial="pick", id="stages"):
            yield FilteredTable(
                TEMPLATE_COLUMNS,
                placeholder="/ filter templates: words in title, tags, description",
                loading_text="Looking for templates…",
                empty_text="No template matches the filter.",
                id="pick",
            )
            with Vertical(id="form-pane"):
                yield Static("", id="form-nav", classes="nav")
                yield Static("", id="page-about", classes="about", markup=False)
                with VerticalScroll(id="form-scroll"):
                    yield SchemaForm(self._suggest, id="form")
                yield Static("", id="form-status", classes="status", markup=False)
                with Horizontal(classes="buttons"):
                    yield Button("◀ Back", id="form-back")
                    yield Button("Next ▶", id="form-next", variant="primary")
            with Vertical(id="review-pane"):
                yield Static("", id="review-nav", classes="nav")
                with VerticalScroll(id="review-scroll"):
                    yield Static("", id="review")
                yield Static("", id="review-status", classes="status", markup=False)
                with Horizontal(classes="buttons"):
                    yield Button("◀ Back", id="review-back")
                    yield Button("Dry run", id="dry-run")
                    yield Button("Run ▶", id="run", variant="success")
            yield TaskView(id="run-pane")

    def on_mount(self) -> None:
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        self.picker.table.focus()
        self.find_templates()

    @property
    def crumb(self) -> str:
        parts = [self.MODE]
        if self.template is not None and self.stage != "pick":
            parts.append(self.template.name)
            if self.stage == "form" and self.model is not None:
                pages = self.model.pages()
                if pages:
                    parts.append(pages[min(self.page_index, len(pages) - 1)].title)
            elif self.stage in ("review", "run"):
                parts.append(self.stage)
        return " › ".join(parts)

    @property
    def running(self) -> bool:
        return self.progress is not None and self.progress.running

    @property
    def finished(self) -> TaskFinished | None:
        return self.progress.finished if self.progress is not None else None

    @property
    def template_task(self) -> TemplateTask | None:
        return self.progress.task if self.progress is not None else None

    def _show_stage(self, stage: Stage) -> None:
        self.stage = stage
        self.query_one("#stages", ContentSwitcher).current = {
            "pick": "pick",
            "form": "form-pane",
            "review": "review-pane",
            "run": "run-pane",
        }[stage]
        self.query_one(TopBar).set_crumbs(self._crumbs())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        stages = self.STAGE_ACTIONS.get(action)
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
            return self.running and self.template_task is not None
        return True

    # -- template list ------------------------------------------------------------------------
    def _on_catalog(self, catalog: object) -> None:
        # Catalog Template entities join the list once the catalog is there (or changes).
        self.find_templates()
        if self.model is not None and self.template is not None and not self.running:
            # Pickers read the catalog the model was built with: rebuild it, answers kept.
            from backends.scaffolder.form import FormModel

            self.model = FormModel(
                self.template, catalog=catalog, user=self.ctx.workspace.identity, answers=self.model.answers
            )
            self._answers[self.template.name] = self.model.answers

    @work(thread=True, exclusive=True, group="scaffold-templates", name="find templates", exit_on_error=False)
    def find_templates(self) -> None:
        from backends.scaffolder.template import TemplateLibrary

        self.post_message(TemplatesFound(TemplateLibrary.discover(self.ctx.workspace, self.ctx.catalog)))

    @property
    def picker(self) -> FilteredTable:
        return self.query_one("#pick", FilteredTable)

    async def on_templates_found(self, message: TemplatesFound) -> None:
        self.templates = message.library.list()
        for problem in message.library.problems:
            if problem not in self._reported:  # the list is refreshed on every catalog change
                self._reported.add(problem)
                self.notify(problem, title="Template skipped", severity="warning", timeout=8)
        self.picker.set_items([template_item(t) for t in self.templates])
        if self._pending_template is not None:
            name, self._pending_template = self._pending_template, None
            await self.open_template(name)

    async def open_template(self, name: str) -> None:
        """Start the wizard of the template called ``name`` (e.g. from ``:scaffold NAME``).

        Before the template list has loaded, the request waits for it.
        """
        if not self.templates:
            self._pending_template = name
            return
        lowered = name.lower().removeprefix("template:").rsplit("/", 1)[-1]
        chosen = next((t for t in self.templates if t.name.lower() == lowered), None)
        if chosen is None:
            self.notify(f"No template named {name!r}", severity="warning", timeout=5)
            return
        if self.running:
            self.notify("A run is in progress; wait for it to finish.", timeout=4)
            return
        await self.start_wizard(chosen)

    @on(FilteredTable.Chosen, "#pick")
    async def _template_chosen(self, event: FilteredTable.Chosen) -> None:
        chosen = next((t for t in self.templates if t.name == event.key), None)
        if chosen is not None:
            await self.start_wizard(chosen)

    async def start_wizard(self, template: Template) -> None:
        """Open ``template``'s first page (answers from an earlier visit are kept)."""
        from backends.scaffolder.form import FormModel

        self.template = template
        self.model = FormModel(
            template,
            catalog=self.ctx.catalog,
            user=self.ctx.workspace.identity,
            answers=self._answers.setdefault(template.name, {}),
        )
        # The model copies the dict: keep the screen's copy as the model's own, so answers survive.
        self._answers[template.name] = self.model.answers
        self.page_index = 0
        if not self.model.pages():
            self._show_review()
            return
        await self._show_page()

    def action_focus_filter(self) -> None:
        self.picker.focus_filter()

    # -- form pages ---------------------------------------------------------------------------
    def _suggest(self, name: str, query: str) -> list[PickerOption]:
        return self.model.options(name, query) if self.model is not None else []

    def _pages(self) -> list[FormPage]:
        assert self.model is not None
        return self.model.pages()

    def _current_page(self) -> FormPage:
        pages = self._pages()
        self.page_index = max(0, min(self.page_index, len(pages) - 1))
        return pages[self.page_index]  # the form refuses a name the catalog has (backends)

    async def _show_page(self) -> None:
        page = self._current_page()
        self._show_stage(Stage.FORM)
        self._draw_nav()
        self.query_one("#page-about", Static).update(page.description)
        self.query_one("#form-status", Static).update("")
        await self.query_one("#form", SchemaForm).show_page(page.fields)
        self.query_one("#form-scroll", VerticalScroll).scroll_home(animate=False)

    def _draw_nav(self) -> None:
        pages = self._pages()
        text = Text()
        for index, page in enumerate(pages):
            style = "bold reverse" if index == self.page_index and self.stage == "form" else "dim"
            text.append(f" {index + 1} {page.title} ", style=style)
            text.append(" › ", style="dim")
        text.append(" Review ", style="bold reverse" if self.stage == "review" else "dim")
        if self.stage == "form":
            text.append(f"   page {self.page_index + 1} of {len(pages)}", style="italic")
        target = "#form-nav" if self.stage == "form" else "#review-nav"
        self.query_one(target, Static).update(text)

    @on(SchemaForm.FieldChanged)
    async def _field_changed(self, event: SchemaForm.FieldChanged) -> None:
        if self.model is None or self.stage != "form":
            return
        if event.typed:
            self.model.set_text(event.name, event.value)
        else:
            self.model.set(event.name, event.value)
        page = self._current_page()
        await self.query_one("#form", SchemaForm).update_fields(page.fields)
        self._draw_nav()  # a page's ``when`` may have changed with this answer
        if page.valid:
            self.query_one("#form-status", Static).update("")

    async def action_next(self) -> None:
        if self.stage == "review":
            self.action_run()
            return
        if self.stage != "form":
            return
        page = self._current_page()
        if not page.valid:
            count = len(page.errors)
            self.query_one("#form-status", Static).update(
                f"Fix {count} field{'s' if count != 1 else ''} on this page to go on."
            )
            self.query_one("#form", SchemaForm).reveal_errors()
            return
        if self.page_index + 1 < len(self._pages()):
            self.page_index += 1
            await self._show_page()
        else:
            self._show_review()

    async def action_back(self) -> None:
        match self.stage:
            case "pick":
                self.picker.back()
            case "form":
                if self.page_index > 0:
                    self.page_index -= 1
                    await self._show_page()
                else:
                    self._show_stage(Stage.PICK)
                    self.picker.table.focus()
            case "review":
                self.page_index = len(self._pages()) - 1
                if self.page_index < 0:
                    self._show_stage(Stage.PICK)
                else:
                    await self._show_page()
            case "run":
                if self.running:
                    self.notify("The run is still going; wait for it to finish.", timeout=4)
                else:
                    self._show_review()

    @on(Button.Pressed, "#form-next")
    async def _next_pressed(self) -> None:
        await self.action_next()

    @on(Button.Pressed, "#form-back, #review-back")
    async def _back_pressed(self) -> None:
        await self.action_back()

    # -- review -------------------------------------------------------------------------------
    def _show_review(self) -> None:
        assert self.model is not None and self.template is not None
        self._show_stage(Stage.REVIEW)
        self._draw_nav()
        table = Table(box=None, show_header=True, header_style="bold", expand=False, padding=(0, 2, 0, 0))
        table.add_column("PAGE", style="dim")
        table.add_column("FIELD")
        table.add_column("VALUE", overflow="fold")
        for item in self.model.review():
            table.add_row(item.page, item.title, item.display)
        self.query_one("#review", Static).update(table)
        problems = self.model.errors()
        missing = self.model.missing_required()
        status = self.query_one("#review-status", Static)
        if problems or missing:
            names = ", ".join(sorted({*problems, *(f.name for f in missing)}))
            status.update(f"Some answers are not valid yet ({names}): go back with esc to fix them.")
        else:
            status.update(f"Ready to run {self.template.display_title}. Enter runs it, d runs it dry.")
        self.query_one("#run", Button).focus()

    @on(Button.Pressed, "#run")
    @mutating("running a template (d runs it dry)")
    def action_run(self) -> None:
        self._start_run(dry_run=False)

    @on(Button.Pressed, "#dry-run")
    def action_dry_run(self) -> None:
        self._start_run(dry_run=True)

    # -- run ----------------------------------------------------------------------------------
    @property
    def task_view(self) -> TaskView:
        return self.query_one(TaskView)

    def _start_run(self, *, dry_run: bool) -> None:
        if self.stage != "review" or self.running or self.model is None or self.template is None:
            return
        if not self.model.valid or self.model.missing_required():
            self.notify("Some answers are not valid yet: esc goes back to fix them.", severity="warning")
            return
        self.progress = RunProgress({step.id: step.name for step in self.template.steps}, dry_run=dry_run)
        self._show_stage(Stage.RUN)
        mode = "Dry run of" if dry_run else "Running"
        self.task_view.begin(
            f"{mode} {self.template.display_title}…",
            [(s.id, s.name, s.action) for s in self.template.steps],
        )
        self.run_template(self.template, self.model.parameters(), self.model.secrets(), dry_run)

    @work(thread=True, exclusive=True, group="scaffold-run", name="scaffolder run", exit_on_error=False)
    def run_template(
        self, template: Template, parameters: dict[str, Any], secrets: dict[str, str], dry_run: bool
    ) -> None:
        from backends.scaffolder.backstage_runner import task_runner
        from backends.scaffolder.errors import PrecheckError

        runner = task_runner(self.ctx.workspace, self._services())  # local, or scaffolder.runOn: backstage
        try:
            task = runner.create_task(
                template, parameters, secrets, user=self.ctx.workspace.identity, dry_run=dry_run
            )
        except PrecheckError as error:
            self.post_message(TaskRefused(error.problems))
            return
        self.post_message(TaskCreated(task))
        for event in task.run():
            self.post_message(TaskEventPosted(event))

    @work(thread=True, exclusive=True, group="scaffold-run", name="scaffolder retry", exit_on_error=False)
    def retry_task(self, task: TemplateTask, step_id: str) -> None:
        for event in task.retry_from(step_id):
            self.post_message(TaskEventPosted(event))

    def _services(self) -> Services:
        """The runner's services: the live catalog (registration reported back to this screen),
        the Kubernetes applier when the deploy area offers one, and the secret store for git tokens."""
        from backends.scaffolder.actions import Services
        from backends.secrets import default_secret_store

        catalog = self.ctx.catalog
        services = Services.from_workspace(
            self.ctx.workspace,
            catalog=catalog,
            applier=self._applier(),
            secret_store=default_secret_store(),
        )
        register = services.register
        if register is not None:

            def register_and_report(path: str) -> list[Any]:
                entities = register(path)
                self.post_message(EntitiesRegistered([e.ref.canonical for e in entities]))
                return entities

            services.register = register_and_report
        return services

    @on(Worker.StateChanged)
    def _run_worker_ended(self, event: Worker.StateChanged) -> None:
        # The app already notifies about a crashed worker; here the run view must stop "running"
        # and say so, or esc would stay blocked behind a run that will never finish.
        if event.worker.group != "scaffold-run" or event.state != WorkerState.ERROR or not self.running:
            return
        assert self.progress is not None
        self._show_outcome(self.progress.stopped(event.worker.error))

    def _applier(self) -> Any:
        if self._kube_applier is None:
            from backends.scaffolder.kube import WorkspaceApplier

            self._kube_applier = WorkspaceApplier(self.ctx.workspace)
        return self._kube_applier

    def on_unmount(self) -> None:
        # Quitting mid-run: let the runner stop after its current step instead of running on.
        if self.running and self.template_task is not None:
            self.template_task.cancel()
        if self._kube_applier is not None:
            self._kube_applier.close()

    def on_task_created(self, message: TaskCreated) -> None:
        if self.progress is not None:
            self.progress.task = message.task
        self.refresh_bindings()

    def action_cancel(self) -> None:
        if self.running and self.progress is not None and self.progress.task is not None:
            # Thread-safe in the backend: the running step finishes, the rest are skipped.
            self.progress.cancel_requested = True
            self.progress.task.cancel()
            self.task_view.set_status("Cancelling after the current step…")

    def on_task_refused(self, message: TaskRefused) -> None:
        if self.progress is not None:
            self._show_outcome(self.progress.refused(message.problems))

    def _show_outcome(self, outcome: Outcome) -> None:
        self.refresh_bindings()
        self.task_view.set_status(outcome.status, "bold green" if outcome.ok else "bold red")
        if not outcome.ok:
            self.task_view.show_failure(list(outcome.lines))
        else:
            for line in outcome.lines:
                self.task_view.write(line)

    def on_entities_registered(self, message: EntitiesRegistered) -> None:
        if self.progress is not None:
            self.progress.registered.extend(message.refs)
        catalog = self.ctx.catalog
        if catalog is not None:
            # The catalog screen listens to this signal: the new entity shows without a restart.
            self.ctx.catalog_signal.publish(catalog)

    def on_task_event_posted(self, message: TaskEventPosted) -> None:
        from backends.scaffolder.events import StepFinished, StepStarted, TaskFinished

        event, progress, view = message.event, self.progress, self.task_view
        if progress is None:
            return
        if isinstance(event, StepStarted):
            view.steps.start(event.step_id)
        elif isinstance(event, StepFinished):
            view.steps.finish(event.step_id, event.status, event.duration)
        elif isinstance(event, TaskFinished):
            self._task_finished(progress, event)
        line = progress.log_line(event)
        if line is not None:
            view.write(line)

    def _task_finished(self, progress: RunProgress, event: TaskFinished) -> None:
        outcome = progress.finish(event, format_duration(event.duration))
        if outcome.ok:
            self.task_view.show_outputs(*output_links(event.outputs))
        self._show_outcome(outcome)
        offer = self.deploy_offer()
        if offer is not None:
            self.task_view.show_offer(f"Next: d deploys {offer.service} to {offer.environment}")

    @on(OutputLinks.LinkChosen)
    def _link_chosen(self, event: OutputLinks.LinkChosen) -> None:
        link = event.link
        if link.get("entityRef"):
            self.ctx.open_entity(str(link["entityRef"]))
        elif link.get("url"):
            # The app copies instead of opening a browser (which would open on an SSH server).
            self.app.open_url(str(link["url"]))

    def action_retry(self) -> None:
        progress = self.progress
        step_id = progress.retrying() if progress is not None else None
        if progress is None or step_id is None or progress.task is None:
            return
        self.refresh_bindings()
        view = self.task_view
        view.clear_results()
        view.steps.reset_from(step_id)
        view.write(f"── retrying from {progress.step_name(step_id)}")
        view.set_status("Retrying…")
        self.retry_task(progress.task, step_id)

    # -- what comes next: the new service's first deploy ----------------------------------------
    def deploy_offer(self) -> DeployOffer | None:
        """After a real run that registered a component: deploy it to the first environment."""
        if self.progress is None:
            return None
        environments = [str(name) for name in self.ctx.workspace.section("environments")]
        return self.progress.deploy_offer(environments, readonly=self.ctx.readonly)

    async def action_deploy_new(self) -> None:
        offer = self.deploy_offer()
        if offer is None:
            return
        from screens.deploy import DeployScreen

        await self.app.switch_mode("deploy")
        screen = self.app.screen
        if isinstance(screen, DeployScreen):
            screen.offer(offer)

    def action_new(self) -> None:
        if not self.running:
            self._show_stage(Stage.PICK)
            self.picker.table.focus()


def origin(template: Template) -> str:
    """Where a template comes from, in the user's words (golden paths ship with the console)."""
    from backends.scaffolder.template import GOLDEN_PATHS_DIR

    if template.source.startswith(str(GOLDEN_PATHS_DIR)):
        return "Golden path shipped with idp-console"
    return f"From {template.source}"
