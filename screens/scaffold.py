"""The scaffold mode: pick a template, fill its pages, review, run with a live step list.

Four stages in one screen (a ContentSwitcher), so ``esc`` can walk back through them without losing
answers: template list → form pages → review → run. Where each key leads, what a run's events mean
and when a retry or a deploy makes sense are decided by ``backends.scaffolder.wizard``
(``ScaffoldWizard``, ``RunProgress``); the form's rules (visibility, defaults, validation, masking)
by the backend's ``FormModel``. This screen feeds them what was typed and draws what they say. The
run happens in a thread worker that only posts the runner's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, ContentSwitcher, Static

from backends.scaffolder.wizard import Move, RunProgress, ScaffoldWizard, Stage, template_origin
from screens.base import ConsoleScreen, mutating
from screens.scaffold_run import RunView
from widgets.filtered_table import FilteredTable, TableItem
from widgets.schema_form import SchemaForm
from widgets.top_bar import TopBar
from widgets.virtual_table import Column
from widgets.wizard_pages import PageTabs, ReviewTable

if TYPE_CHECKING:
    from backends.deploy.journey import DeployOffer
    from backends.scaffolder.events import TaskFinished
    from backends.scaffolder.form import FormModel, FormPage
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


def template_item(template: Template) -> TableItem:
    """A template as a row of the picker: what is shown, searched and said about it."""
    search = " ".join(
        [template.name, template.display_title, template.type, template.description, *template.tags]
    ).lower()
    return TableItem(
        key=template.name,
        cells=(template.display_title, template.type, ", ".join(template.tags), template.description),
        search=search,
        about=f"{template.display_title} ({template.ref}) — {template.description}\n"
        + template_origin(template),
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
    PANES: ClassVar[dict[Stage, str]] = {
        Stage.PICK: "pick",
        Stage.FORM: "form-pane",
        Stage.REVIEW: "review-pane",
        Stage.RUN: "run-pane",
    }

    # Which stage is shown decides which keys apply: the footer follows it on its own.
    stage: reactive[Stage] = reactive(Stage.PICK, bindings=True, init=False)

    @cached_property
    def wizard(self) -> ScaffoldWizard:
        """The wizard's state and rules (made on first use: the app's context is needed)."""
        return ScaffoldWizard(self.ctx.workspace, readonly=self.ctx.readonly)

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
                yield PageTabs("", id="form-nav", classes="nav")
                yield Static("", id="page-about", classes="about", markup=False)
                with VerticalScroll(id="form-scroll"):
                    yield SchemaForm(self.wizard.suggest, id="form")
                yield Static("", id="form-status", classes="status", markup=False)
                with Horizontal(classes="buttons"):
                    yield Button("◀ Back", id="form-back")
                    yield Button("Next ▶", id="form-next", variant="primary")
            with Vertical(id="review-pane"):
                yield PageTabs("", id="review-nav", classes="nav")
                with VerticalScroll(id="review-scroll"):
                    yield ReviewTable("", id="review")
                yield Static("", id="review-status", classes="status", markup=False)
                with Horizontal(classes="buttons"):
                    yield Button("◀ Back", id="review-back")
                    yield Button("Dry run", id="dry-run")
                    yield Button("Run ▶", id="run", variant="success")
            yield RunView(self.wizard, id="run-pane")

    def on_mount(self) -> None:
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        self.picker.table.focus()
        self.find_templates()

    # What other parts read (the :create-service command, tests, the first-deploy bench).
    @property
    def templates(self) -> list[Template]:
        return self.wizard.templates

    @property
    def template(self) -> Template | None:
        return self.wizard.template

    @property
    def model(self) -> FormModel | None:
        return self.wizard.model

    @property
    def page_index(self) -> int:
        return self.wizard.page_index

    @property
    def running(self) -> bool:
        return self.wizard.running

    @property
    def finished(self) -> TaskFinished | None:
        return self.wizard.finished

    @property
    def crumb(self) -> str:
        return self.wizard.crumb(self.MODE)

    @property
    def picker(self) -> FilteredTable:
        return self.query_one("#pick", FilteredTable)

    @property
    def task_view(self) -> RunView:
        return self.query_one(RunView)

    def _show_stage(self, stage: Stage) -> None:
        self.wizard.stage = self.stage = stage
        self.query_one("#stages", ContentSwitcher).current = self.PANES[stage]
        self.query_one(TopBar).set_crumbs(self._crumbs())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.wizard.allows(action)

    def deploy_offer(self) -> DeployOffer | None:
        """After a real run that registered a component: deploy it to the first environment."""
        return self.wizard.deploy_offer()

    # -- template list ------------------------------------------------------------------------
    def _on_catalog(self, catalog: object) -> None:
        # Catalog Template entities join the list once the catalog is there (or changes).
        self.find_templates()
        self.wizard.catalog_changed(catalog)

    @work(thread=True, exclusive=True, group="scaffold-templates", name="find templates", exit_on_error=False)
    def find_templates(self) -> None:
        from backends.scaffolder.template import TemplateLibrary

        self.post_message(TemplatesFound(TemplateLibrary.discover(self.ctx.workspace, self.ctx.catalog)))

    async def on_templates_found(self, message: TemplatesFound) -> None:
        problems, pending = self.wizard.templates_found(message.library)
        for problem in problems:
            self.notify(problem, title="Template skipped", severity="warning", timeout=8)
        self.picker.set_items([template_item(t) for t in self.templates])
        if pending is not None:
            await self.open_template(pending)

    async def open_template(self, name: str) -> None:
        """Start the wizard of the template called ``name`` (e.g. from ``:scaffold NAME``).

        Before the template list has loaded, the request waits for it.
        """
        if self.wizard.wait_for(name):
            return
        chosen = self.wizard.find(name)
        if chosen is None:
            self.notify(f"No template named {name!r}", severity="warning", timeout=5)
        elif self.running:
            self.notify("A run is in progress; wait for it to finish.", timeout=4)
        else:
            await self.start_wizard(chosen)

    @on(FilteredTable.Chosen, "#pick")
    async def _template_chosen(self, event: FilteredTable.Chosen) -> None:
        chosen = next((t for t in self.templates if t.name == event.key), None)
        if chosen is not None:
            await self.start_wizard(chosen)

    async def start_wizard(self, template: Template) -> None:
        """Open ``template``'s first page (answers from an earlier visit are kept)."""
        await self._go(self.wizard.open(template, self.ctx.catalog))

    def action_focus_filter(self) -> None:
        self.picker.focus_filter()

    # -- moving between stages ----------------------------------------------------------------
    async def _go(self, move: Move) -> None:
        """Show where ``next`` or ``back`` led (the wizard decided)."""
        match move:
            case Move.PAGE:
                await self._show_page()
            case Move.REVIEW:
                self._show_review()
            case Move.PICK:
                self._show_stage(Stage.PICK)
                self.picker.table.focus()
            case Move.PICKER_BACK:
                self.picker.back()
            case Move.RUN:
                self.action_run()
            case Move.INVALID:
                self.query_one("#form-status", Static).update(self.wizard.invalid_note())
                self.query_one("#form", SchemaForm).reveal_errors()
            case Move.BUSY:
                self.notify("The run is still going; wait for it to finish.", timeout=4)

    async def action_next(self) -> None:
        await self._go(self.wizard.next())

    async def action_back(self) -> None:
        await self._go(self.wizard.back())

    @on(Button.Pressed, "#form-next")
    async def _next_pressed(self) -> None:
        await self.action_next()

    @on(Button.Pressed, "#form-back, #review-back")
    async def _back_pressed(self) -> None:
        await self.action_back()

    # -- form pages ---------------------------------------------------------------------------
    def _pages(self) -> list[FormPage]:
        return self.wizard.pages()

    async def _show_page(self) -> None:
        page = self.wizard.page()
        self._show_stage(Stage.FORM)
        self._draw_nav()
        self.query_one("#page-about", Static).update(page.description)
        self.query_one("#form-status", Static).update("")
        await self.query_one("#form", SchemaForm).show_page(page.fields)
        self.query_one("#form-scroll", VerticalScroll).scroll_home(animate=False)

    def _draw_nav(self) -> None:
        titles = [page.title for page in self.wizard.pages()]
        if self.stage == Stage.FORM:
            self.query_one("#form-nav", PageTabs).show(titles, self.wizard.page_index)
        else:
            self.query_one("#review-nav", PageTabs).show(titles, None)

    @on(SchemaForm.FieldChanged)
    async def _field_changed(self, event: SchemaForm.FieldChanged) -> None:
        page = self.wizard.answer(event.name, event.value, typed=event.typed)
        if page is None:
            return
        await self.query_one("#form", SchemaForm).update_fields(page.fields)
        self._draw_nav()  # a page's ``when`` may have changed with this answer
        if page.valid:
            self.query_one("#form-status", Static).update("")

    # -- review -------------------------------------------------------------------------------
    def _show_review(self) -> None:
        model = self.wizard.model
        assert model is not None
        self._show_stage(Stage.REVIEW)
        self._draw_nav()
        self.query_one("#review", ReviewTable).show_rows((i.page, i.title, i.display) for i in model.review())
        self.query_one("#review-status", Static).update(self.wizard.review_status())
        self.query_one("#run", Button).focus()

    @on(Button.Pressed, "#run")
    @mutating("running a template (d runs it dry)")
    def action_run(self) -> None:
        self._start_run(dry_run=False)

    @on(Button.Pressed, "#dry-run")
    def action_dry_run(self) -> None:
        self._start_run(dry_run=True)

    # -- run (the run view runs it and draws its events) ---------------------------------------
    def _start_run(self, *, dry_run: bool) -> None:
        started = self.wizard.begin_run(dry_run=dry_run)
        if isinstance(started, str):
            self.notify(started, severity="warning")
        if not isinstance(started, RunProgress):
            return
        model, template = self.wizard.model, self.wizard.template
        assert model is not None and template is not None
        self._show_stage(Stage.RUN)
        self.task_view.start(template, model.parameters(), model.secrets())

    def action_retry(self) -> None:
        self.task_view.retry()

    def action_cancel(self) -> None:
        self.task_view.cancel()

    def on_unmount(self) -> None:
        # Quitting mid-run: let the runner stop after its current step instead of running on.
        self.wizard.close()

    # -- what comes next: the new service's first deploy ----------------------------------------
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
