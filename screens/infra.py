"""The Infra tab of a service's entity screen (and ``:infra SERVICE``): its ServiceResources, what
runs of them, the drift between the two, the monthly cost and the policy verdicts of the file.

``e`` edits the resources in a form, ``E`` in ``$EDITOR``; both lead to the plan and the change
request (screens/infra_edit.py). What is shown is decided in backends/infra/view.py; the pane only
loads it in a worker and draws it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from screens.context import context_of
from widgets.guard import Guarded

if TYPE_CHECKING:
    from backends.catalog.model import Entity
    from backends.infra.apply import InfraSession
    from backends.infra.edit import ResourcesForm
    from backends.infra.plan import Plan
    from backends.infra.view import InfraView

OUTCOME_MARKS = {"pass": ("✔ pass", "green"), "warn": ("! warn", "yellow"), "deny": ("✖ deny", "bold red")}
CHANGE_MARKS = {"create": "+", "change": "~", "delete": "-"}


def has_infra(app: App[Any], entity: Entity) -> bool:
    """Whether ``entity`` gets an Infra tab: a component, in a workspace with an infra repository."""
    return entity.kind.lower() == "component" and context_of(app).workspace.typed.infra is not None


def open_infra(app: App[Any], service: str) -> None:
    """``:infra SERVICE``: the service's entity screen at its Infra tab."""
    from screens.base import ConsoleScreen
    from screens.entity import EntityScreen

    catalog = getattr(app, "catalog", None)
    if not service:
        app.notify("usage: :infra SERVICE", severity="warning")
        return
    entity = catalog.get(service) if catalog is not None else None
    if entity is None or not has_infra(app, entity):
        why = "not in the catalog" if entity is None else "no infrastructure (not a component, or no infra:)"
        app.notify(f"{service}: {why}", severity="warning", timeout=5, markup=False)
        return
    mode = app.screen.mode_name if isinstance(app.screen, ConsoleScreen) else "catalog"
    app.push_screen(EntityScreen(entity, mode=mode, tab="infra"))


# -- drawing ------------------------------------------------------------------------------------
def _money(value: float) -> str:
    return f"{value:,.2f}"


def verdict_lines(verdicts: list[Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    for verdict in verdicts:
        mark, style = OUTCOME_MARKS.get(verdict.outcome, (verdict.outcome, ""))
        what = Text(verdict.policy, style="bold")
        if verdict.outcome != "pass":
            what.append(f": {verdict.message}")
            what.append(f"  [{verdict.where}]", style="dim")
        table.add_row(Text(mark, style=style), what)
    if not verdicts:
        table.add_row(Text("(no policies)", style="dim"), "")
    return table


def _title(text: str) -> Text:
    return Text(text, style="bold underline")


def view_renderable(view: InfraView) -> RenderableType:
    """The tab's contents for a loaded :class:`InfraView`."""
    head = Text()
    head.append(view.file, style="bold")
    head.append(f" at {view.ref}" + (f" ({view.commit[:8]})" if view.commit else ""), style="dim")
    if view.resources is not None:
        head.append(f"   owner {view.resources.owner} · {_money(view.cost)} /month")
    parts: list[RenderableType] = [head]
    for error in view.errors:
        parts.append(Text(f"✖ {error}", style="bold red"))
    if view.live_error:
        parts.append(Text(f"? cluster unreachable: {view.live_error}", style="yellow"))
    if view.states:
        parts += [Text(""), _title("Resources")]
        table = Table.grid(padding=(0, 2))
        for style in ("bold", "", ""):
            table.add_column(style=style)
        for state in view.states:
            fields = " · ".join(f"{key} {value}" for key, value in state.fields) or "(not in the file)"
            mark = "✔ " if state.ready else "… " if state.ready is False else "  "
            table.add_row(
                state.resource, fields, Text(mark + state.live, style="green" if state.ready else "")
            )
        parts.append(table)
    if view.resources is not None and not view.live_error:
        parts += [Text(""), _title("Drift (applied ≠ file)")]
        if view.drift:
            table = Table(
                "field", "file", "live", box=None, padding=(0, 2), pad_edge=False, header_style="bold"
            )
            for drift in view.drift:
                table.add_row(drift.path, drift.file, Text(drift.live, style="yellow"))
            parts.append(table)
        else:
            parts.append(Text("none: the cluster runs what the file says", style="green"))
        if view.pending:
            changes = ", ".join(
                f"{CHANGE_MARKS[c.action]} {c.action} {c.kind}/{c.name}" for c in view.pending
            )
            parts.append(Text(f"infra apply of {view.ref} would: {changes}", style="dim"))
    if view.resources is not None and view.errors:
        parts += [
            Text(""),
            _title("Policies"),
            Text("not evaluated: the repository's files are invalid", style="dim"),
        ]
    elif view.resources is not None:
        parts += [Text(""), _title("Policies"), verdict_lines(view.verdicts)]
    parts += [Text(""), Text("e edit · E edit in $EDITOR · r reload", style="dim")]
    return Group(*parts)


def plan_renderable(plan: Plan) -> RenderableType:
    """A plan as the CLI prints it: objects, cost before → after per service and team, verdicts."""
    parts: list[RenderableType] = []
    for error in plan.errors:
        parts.append(Text(f"✖ {error}", style="bold red"))
    parts.append(_title("Changes"))
    for service in plan.services:
        delta = service.cost_after - service.cost_before
        line = Text(f"{service.service} ({service.owner or 'removed'}): ", style="bold")
        line.append(f"{_money(service.cost_before)} → {_money(service.cost_after)} /month ")
        line.append(f"({'+' if delta >= 0 else ''}{_money(delta)})", style="yellow" if delta > 0 else "green")
        parts.append(line)
        for change in service.changes:
            parts.append(Text(f"  {CHANGE_MARKS[change.action]} {change.action} {change.kind}/{change.name}"))
        if not service.changes:
            parts.append(Text("  no object changes", style="dim"))
    if plan.teams:
        parts += [Text(""), _title("Teams")]
        for team, (before, after) in plan.teams.items():
            parts.append(Text(f"{team}: {_money(before)} → {_money(after)} /month"))
    parts += [Text(""), _title("Policies"), verdict_lines(plan.verdicts)]
    if plan.denied:
        parts.append(
            Text(
                f"✖ denied by {len(plan.denied)} policy verdict(s): apply would refuse this", style="bold red"
            )
        )
    return Group(*parts)


# -- the pane -----------------------------------------------------------------------------------
@dataclass
class InfraLoaded(Message):
    view: InfraView


class InfraPane(Guarded, VerticalScroll, can_focus=True):
    """The Infra tab's contents; loads on first show (``load``) and on ``r``."""

    BINDINGS: ClassVar = [
        Binding("e", "edit", "Edit", id="infra.edit"),
        Binding("E", "edit_yaml", "Edit YAML", id="infra.edit_yaml"),
        Binding("r", "reload", "Reload", id="infra.reload"),
    ]
    DEFAULT_CSS = "InfraPane { padding: 0 1; height: 1fr; }"

    def __init__(self, entity: Entity, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entity = entity
        self.session: InfraSession | None = None
        self.view: InfraView | None = None
        self.form: ResourcesForm | None = None  # the answers of the last edit, kept until requested
        self.yaml_draft: str | None = None  # the last $EDITOR text that did not validate
        self._deploy: Any = None
        self._started = False

    def compose(self) -> Any:
        yield Static(Text("Loading infrastructure…", style="dim"), id="infra-body")

    def load(self) -> None:
        """Load once (the tab was shown); ``r`` loads again."""
        if not self._started:
            self._started = True
            self._load()

    def action_reload(self) -> None:
        self._started = True
        self._load()

    def session_now(self) -> InfraSession:
        """The infra session (opened on first use, in a worker: it may start the simulated cluster)."""
        if self.session is None:
            from backends.deploy.session import open_deploy
            from backends.infra.apply import InfraSession

            workspace = context_of(self.app).workspace
            self._deploy = open_deploy(workspace)
            self.session = InfraSession(workspace, self._deploy)
        return self.session

    @work(thread=True, exclusive=True, group="infra-view", name="infra view", exit_on_error=False)
    def _load(self) -> None:
        from backends.infra.view import load_view

        self.post_message(InfraLoaded(load_view(self.session_now(), self.entity.name)))

    def on_infra_loaded(self, message: InfraLoaded) -> None:
        message.stop()
        self.view = message.view
        self.query_one("#infra-body", Static).update(view_renderable(message.view))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand failures to the app's one error handler.
        if event.state == WorkerState.ERROR:
            self.query_one("#infra-body", Static).update(Text("Could not load: see the error.", style="red"))
            self.app.post_message(Worker.StateChanged(event.worker, event.state))

    def on_unmount(self) -> None:
        if self._deploy is not None:
            self._deploy.close()

    # -- editing ---------------------------------------------------------------------------------
    def action_edit(self) -> None:
        from backends.infra.edit import ResourcesForm
        from screens.infra_edit import InfraEditScreen

        if self.session is None or self.view is None:
            self.notify("Still loading the infrastructure…", timeout=3)
            return
        if self.form is None:
            owner = str(self.entity.spec.get("owner") or "")
            self.form = ResourcesForm(self.entity.name, owner, self.session.settings, self.view.resources)
        self.app.push_screen(InfraEditScreen(self, self.form))

    def action_edit_yaml(self) -> None:
        if self.session is None or self.view is None:
            self.notify("Still loading the infrastructure…", timeout=3)
            return
        start = self.yaml_draft or (self.form.text() if self.form else None) or self.view.text
        if start is None:
            from backends.infra.edit import ResourcesForm

            owner = str(self.entity.spec.get("owner") or "")
            start = ResourcesForm(self.entity.name, owner, self.session.settings).text()
        text = self._run_editor(start)
        if text is None:
            return
        self.checked_yaml(text)

    def checked_yaml(self, text: str) -> None:
        """Validate an edited file: its plan when it is valid; else the error with its line, and
        the text is kept for the next ``E``."""
        from backends.infra.edit import check
        from backends.infra.resources import InfraInputError
        from screens.infra_edit import InfraPlanScreen

        assert self.session is not None
        try:
            check(self.session, self.entity.name, text)
        except InfraInputError as error:
            self.yaml_draft = text
            self.notify(f"{error}\n(E opens your text again)", severity="error", timeout=12, markup=False)
            return
        self.yaml_draft = text
        self.app.push_screen(InfraPlanScreen(self, text))

    def _run_editor(self, text: str) -> str | None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.TemporaryDirectory(prefix="idp-infra-") as work:
            path = Path(work) / "resources.yaml"
            path.write_text(text, encoding="utf-8")
            command = [*shlex.split(editor), str(path)]
            try:
                try:
                    with self.app.suspend():
                        result = subprocess.run(command, check=False)
                except SuspendNotSupported:
                    # No terminal to hand over (headless): the editor runs without one.
                    result = subprocess.run(command, check=False, capture_output=True)
            except OSError as error:
                self.notify(f"{editor}: cannot start: {error.strerror or error}", severity="error")
                return None
            if result.returncode != 0:
                self.notify(f"{editor} exited with {result.returncode}: nothing changed", severity="warning")
                return None
            return path.read_text(encoding="utf-8")

    def requested(self) -> None:
        """A change request was opened: the drafts are in it now; show the ref again."""
        self.form = None
        self.yaml_draft = None
        self.action_reload()
