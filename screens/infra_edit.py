"""Editing a service's infrastructure: the form (``e`` on the Infra tab), then the plan of the edit
and "open change request".

The form is the schema form widget fed by :class:`backends.infra.edit.ResourcesForm`, which keeps
every answer: a check that fails marks the field and leaves the rest as typed, and ``esc`` back to
the tab keeps them for the next ``e``. ``ctrl+s`` checks and plans; on the plan, ``o`` opens the
change request (a branch and ``refs/pull/N/head`` on the infra repository, nothing merged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, Input, Select, Static
from textual.worker import Worker, WorkerState

from screens.base import ConsoleScreen, mutating
from screens.infra import plan_renderable
from widgets.schema_form import SchemaForm

if TYPE_CHECKING:
    from backends.infra.edit import ResourcesForm
    from backends.infra.merge import MergeResult
    from backends.infra.plan import Plan
    from backends.infra.request import ChangeRequest
    from screens.infra import InfraPane


class InfraEditScreen(ConsoleScreen):
    HELP = (
        "The service's resources. Space turns a resource on or off; tab moves between fields, "
        "enter on a choice opens it. ctrl+s checks the file and shows its plan; esc goes back "
        "(your answers stay for the next e)."
    )
    BINDINGS: ClassVar = [
        Binding("ctrl+s", "plan", "Plan", priority=True, id="infra_edit.plan"),
        Binding("escape", "back", "Back", id="infra_edit.back"),
    ]
    DEFAULT_CSS = """
    InfraEditScreen #infra-form-head { padding: 0 1; }
    InfraEditScreen #infra-form-problem { padding: 0 1; color: $error; height: auto; }
    InfraEditScreen #infra-form-scroll { height: 1fr; }
    InfraEditScreen FieldBox { margin: 0; }
    InfraEditScreen #field-database, InfraEditScreen #field-cache { margin-top: 1; }
    """

    def __init__(self, pane: InfraPane, model: ResourcesForm) -> None:
        super().__init__()
        self.pane = pane
        self.model = model
        self._mode = pane.screen.mode_name if isinstance(pane.screen, ConsoleScreen) else "catalog"

    @property
    def mode_name(self) -> str:
        return self._mode

    @property
    def crumb(self) -> str:
        return "edit infra"

    def compose_body(self) -> ComposeResult:
        head = Text(f"{self.model.service}: resources.yaml", style="bold")
        head.append("   ctrl+s plan · esc back", style="dim")
        yield Static(head, id="infra-form-head")
        yield Static("", id="infra-form-problem")
        scroll = VerticalScroll(id="infra-form-scroll")
        scroll.can_focus = False  # tab goes from field to field, not through the frame
        with scroll:
            yield SchemaForm(lambda _name, _query: [], id="infra-form")

    async def on_mount(self) -> None:
        await self.query_one(SchemaForm).show_page(self.model.fields())
        self._compact()

    def _compact(self) -> None:
        # One line per control: the whole file's fields fit a terminal at once.
        for control in self.query("SchemaForm Input, SchemaForm Select, SchemaForm Checkbox"):
            if isinstance(control, Input | Select | Checkbox):
                control.compact = True

    @on(SchemaForm.FieldChanged)
    async def _changed(self, event: SchemaForm.FieldChanged) -> None:
        self.model.set(event.name, event.value)
        self.query_one("#infra-form-problem", Static).update("")
        await self.query_one(SchemaForm).update_fields(self.model.fields())
        self._compact()

    async def action_plan(self) -> None:
        session = self.pane.session
        assert session is not None
        text = self.model.check(session.target.production)
        form = self.query_one(SchemaForm)
        if text is None:
            await form.update_fields(self.model.fields())
            form.reveal_errors()
            problem = self.model.problem[1] if self.model.problem else "fix the marked fields"
            self.query_one("#infra-form-problem", Static).update(Text(f"✖ {problem}"))
            return
        self.app.push_screen(InfraPlanScreen(self.pane, text))

    def action_back(self) -> None:
        self.app.pop_screen()


@dataclass
class _Planned(Message):
    plan: Plan


@dataclass
class _Requested(Message):
    request: ChangeRequest


@dataclass
class _Merged(Message):
    merged: MergeResult


class InfraPlanScreen(ConsoleScreen):
    HELP = (
        "What your edit would change: objects, the monthly cost before → after per service and team, "
        "every policy verdict (✖ deny: apply would refuse it). o opens the change request; "
        "once it is approved, m merges it on a plain git server (refused when a policy denies); "
        "esc goes back to the edit."
    )
    BINDINGS: ClassVar = [
        Binding("o", "open_request", "Open change request", id="infra_plan.open_request"),
        Binding("m", "merge", "Merge it", id="infra_plan.merge"),
        Binding("escape", "back", "Back", id="infra_plan.back"),
    ]
    DEFAULT_CSS = """
    InfraPlanScreen #infra-plan { padding: 0 1; height: 1fr; }
    InfraPlanScreen #infra-request { padding: 0 1; height: auto; }
    """

    def __init__(self, pane: InfraPane, text: str) -> None:
        super().__init__()
        self.pane = pane
        self.text = text
        self.plan: Plan | None = None
        self.request: ChangeRequest | None = None
        self.merged: MergeResult | None = None
        self._opening = False
        self._mode = pane.screen.mode_name if isinstance(pane.screen, ConsoleScreen) else "catalog"

    @property
    def mode_name(self) -> str:
        return self._mode

    @property
    def crumb(self) -> str:
        return "plan"

    def compose_body(self) -> ComposeResult:
        yield Static(Text(f"Planning {self.pane.entity.name}'s edit…", style="dim"), id="infra-request")
        with VerticalScroll(id="infra-plan"):
            yield Static("", id="infra-plan-body")

    def on_mount(self) -> None:
        self._plan()

    @work(thread=True, exclusive=True, name="infra plan", exit_on_error=False)
    def _plan(self) -> None:
        from backends.infra.edit import preview_plan

        session = self.pane.session
        assert session is not None
        self.post_message(_Planned(preview_plan(session, self.pane.entity.name, self.text)))

    @on(_Planned)
    def _planned(self, message: _Planned) -> None:
        self.plan = message.plan
        self.query_one("#infra-plan-body", Static).update(plan_renderable(message.plan))
        self._say(Text("o open change request · esc back to the edit", style="bold"))
        self.refresh_bindings()

    def _say(self, text: Text) -> None:
        self.query_one("#infra-request", Static).update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_request":
            return self.plan is not None and not self.plan.errors and self.request is None
        if action == "merge":
            return self.request is not None and self.merged is None
        return True

    @mutating("opening a change request")
    def action_open_request(self) -> None:
        if self._opening or self.plan is None or self.request is not None:
            return
        self._opening = True
        self._say(Text("Opening the change request…", style="dim"))
        self._open()

    @work(thread=True, exclusive=True, name="open change request", exit_on_error=False)
    def _open(self) -> None:
        session = self.pane.session
        assert session is not None
        try:
            request = session.request(self.pane.entity.name, self.text)
        finally:
            self._opening = False
        self.post_message(_Requested(request))

    @on(_Requested)
    def _requested(self, message: _Requested) -> None:
        request = self.request = message.request
        text = Text(f"✔ Change request #{request.number} opened", style="bold green")
        text.append(f": branch {request.branch} ({request.ref}, commit {request.commit[:8]})")
        text.append(
            "\n  the plan is its description; merging is the review's · esc back to the service", style="dim"
        )
        self._say(text)
        self.refresh_bindings()
        self.pane.requested()

    @mutating("merging a change request")
    def action_merge(self) -> None:
        if self.request is None or self.merged is not None:
            return
        self._say(Text(f"Merging change request #{self.request.number}…", style="dim"))
        self._merge(self.request.number)

    @work(thread=True, exclusive=True, name="merge change request", exit_on_error=False)
    def _merge(self, number: int) -> None:
        session = self.pane.session
        assert session is not None
        self.post_message(_Merged(session.merge(number)))

    @on(_Merged)
    def _done_merging(self, message: _Merged) -> None:
        merged = self.merged = message.merged
        how = "fast-forward" if merged.fast_forward else "merge commit"
        text = Text(f"✔ Change request #{merged.number} merged into {merged.base}", style="bold green")
        text.append(f" ({how}, commit {merged.commit[:8]})")
        text.append(
            "\n  infra apply (CI, or infra reconcile) applies it · esc back to the service", style="dim"
        )
        self._say(text)
        self.refresh_bindings()
        self.pane.requested()

    def action_back(self) -> None:
        if self.request is None:
            self.app.pop_screen()
            return
        # Requested: the edit is in the change request; back to the service's Infra tab.
        while isinstance(self.app.screen, InfraPlanScreen | InfraEditScreen):
            self.app.pop_screen()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The failure itself reaches the app's error path (ConsoleScreen); the line says what now.
        if event.state != WorkerState.ERROR:
            return
        if event.worker.name == "open change request":
            self._say(Text("✖ The change request was not opened (see the error); o tries again", style="red"))
        elif event.worker.name == "merge change request":
            self._say(Text("✖ Not merged (see the error); the change request stays open", style="red"))
