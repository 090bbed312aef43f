"""The scorecard (``m`` from the status mode, ``:metrics``): DORA, adoption, quality, satisfaction.

One row per figure: value, DORA band and whether the target is met (words, not colour alone), the
universe ("3 of 57 production deploys failed") and the weekly trend as a sparkline. ``o`` / ``t`` /
``v`` switch the scope to the organisation, the next team, the next service; ``w`` cycles the window
7 → 30 → 90 days; enter lists the deploys behind the figure under the cursor. Figures are computed
by ``backends.metrics`` in a thread worker (the store may be a PostgreSQL server away).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from screens.base import ConsoleScreen
from widgets.guard import Guarded

if TYPE_CHECKING:
    from backends.metrics import DeployRow, Figure, Scorecard

WINDOWS = (7, 30, 90)
TARGET_MARK = {True: "✔ met", False: "✖ missed", None: "· no data"}


@dataclass
class ScorecardReady(Message):
    card: Scorecard


@dataclass
class ScorecardFailed(Message):
    reason: str


def parse_scope(scope: str) -> tuple[str, str]:
    """``""``/``org`` → the organisation; ``team:NAME`` or ``group:NAME``; ``service:NAME`` or
    ``component:NAME`` (refs with a namespace too); a bare name is a service."""
    kind, sep, name = scope.partition(":")
    if not scope or scope == "org":
        return "org", ""
    name = name.rsplit("/", 1)[-1]
    if sep and kind in ("team", "group"):
        return "team", name
    if sep and kind in ("service", "component"):
        return "service", name
    return "service", scope


class MetricsScreen(ConsoleScreen):
    """The scorecard for a scope (``org``, ``team:NAME`` or ``service:NAME``) and a window."""

    MODE = "status"
    HELP = (
        "The platform's scorecard. o: whole organisation, t: next team, v: next service, w: window "
        "7/30/90 days, enter: the deploys behind a figure, f: give feedback (0–10), esc: back. Bands "
        "follow DORA's 2023 clusters; the targets are the platform's."
    )
    BINDINGS: ClassVar = [
        Binding("o", "scope_org", "Org", id="metrics.org"),
        Binding("t", "scope_team", "Team", id="metrics.team"),
        Binding("v", "scope_service", "Service", id="metrics.service"),
        Binding("w", "window", "Window", id="metrics.window"),
        Binding("enter", "drill", "Deploys", id="metrics.drill"),
        Binding("f", "feedback", "Feedback", id="metrics.feedback"),
        Binding("escape", "back", "Back", id="metrics.back"),
    ]
    DEFAULT_CSS = """
    MetricsScreen #metrics-title { height: 1; padding: 0 1; text-style: bold; }
    MetricsScreen #metrics-note { height: auto; padding: 0 1; color: $text-muted; }
    MetricsScreen #metrics-table { height: 1fr; }
    """

    def __init__(self, scope: str = "", *, window: int = 30, now: float | None = None) -> None:
        super().__init__()
        self.scope_kind, self.scope_name = parse_scope(scope)
        self.window = window
        self.now = now  # None: the wall clock at each computation (tests pass a fixed one)
        self.card: Scorecard | None = None
        self._history: Any = None

    @property
    def crumb(self) -> str:
        return "scorecard"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="metrics-title")
        yield Static("Computing the scorecard…", id="metrics-note")
        table: DataTable[Any] = DataTable(id="metrics-table", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Figure", "Value", "Band", "Trend", "Target")
        self._update_title()
        if self.ctx.catalog is None:
            self.ctx.catalog_signal.subscribe(self, lambda _catalog: self.refresh_card())
        else:
            self.refresh_card()

    # -- computing --------------------------------------------------------------------------------
    def refresh_card(self) -> None:
        self._update_title()
        self.query_one("#metrics-note", Static).update("Computing the scorecard…")
        self._compute(self.scope_kind, self.scope_name, self.window)

    @work(thread=True, exclusive=True, group="scorecard", exit_on_error=False)
    def _compute(self, kind: str, name: str, window: int) -> None:
        from backends.demo.history_seed import ensure_demo_history
        from backends.metrics import MetricsError, compute_scorecard, production_environments, resolve_scope

        workspace, catalog = self.ctx.workspace, self.ctx.catalog
        if catalog is None:
            return
        now = self.now if self.now is not None else time.time()
        try:
            history = self._store()
            ensure_demo_history(workspace, history, now)
            scope = resolve_scope(
                catalog, team=name if kind == "team" else None, service=name if kind == "service" else None
            )
            card = compute_scorecard(
                history, catalog, scope, window_days=window, now=now,
                production=production_environments(workspace), workspace_root=workspace.root,
            )  # fmt: skip
        except MetricsError as error:
            self.post_message(ScorecardFailed(str(error)))
            return
        except Exception as error:  # noqa: BLE001 - a store that does not answer is said, not raised
            self.post_message(ScorecardFailed(str(error)))
            return
        self.post_message(ScorecardReady(card))

    def on_unmount(self) -> None:
        # A PostgreSQL history holds pooled connections to a server the whole bastion shares.
        if self._history is not None:
            self._history.close()
            self._history = None

    def _store(self) -> Any:
        if self._history is None:
            from backends.metrics import open_store

            self._history = open_store(self.ctx.workspace)
        return self._history

    @on(ScorecardReady)
    def _show(self, message: ScorecardReady) -> None:
        from backends.metrics import sparkline

        self.card = card = message.card
        self.scope_kind, self.scope_name = card.scope.kind, card.scope.name
        self._update_title()
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for figure in card.figures:
            trend = sparkline(figure.trend)
            figure_cell = Text(f"{figure.group} · ", style="dim")
            figure_cell.append(figure.title, style="bold")
            figure_cell.append(f"\n{figure.universe}")
            table.add_row(
                figure_cell,
                Text(figure.display, justify="right"),
                Text(figure.band or ""),
                Text(f"{trend} /{figure.trend_unit}" if trend else ""),
                Text(f"{TARGET_MARK[figure.target_met]} · {figure.target}"),
                height=2,
                key=figure.key,
            )
        table.move_cursor(row=min(row, len(card.figures) - 1))
        note = "enter: the deploys behind a figure"
        if card.demo:
            note = "demo history: generated records, not real deploys · " + note
        self.query_one("#metrics-note", Static).update(Text(note))

    @on(ScorecardFailed)
    def _failed(self, message: ScorecardFailed) -> None:
        self.query_one("#metrics-note", Static).update(Text(f"No scorecard: {message.reason}"))

    def _update_title(self) -> None:
        scope = "organisation" if self.scope_kind == "org" else f"{self.scope_kind} {self.scope_name}"
        self.query_one("#metrics-title", Static).update(
            Text(f"Scorecard · {scope} · last {self.window} days")
        )

    # -- keys -------------------------------------------------------------------------------------
    def action_scope_org(self) -> None:
        self.scope_kind, self.scope_name = "org", ""
        self.refresh_card()

    def action_scope_team(self) -> None:
        self._next_scope("team", self._teams())

    def action_scope_service(self) -> None:
        self._next_scope("service", self._services())

    def _next_scope(self, kind: str, names: list[str]) -> None:
        if not names:
            self.notify(f"no {kind} in the catalog", severity="warning")
            return
        if self.scope_kind == kind and self.scope_name in names:
            name = names[(names.index(self.scope_name) + 1) % len(names)]
        else:
            name = names[0]
        self.scope_kind, self.scope_name = kind, name
        self.refresh_card()

    def _teams(self) -> list[str]:
        """Teams, mine first."""
        catalog = self.ctx.catalog
        if catalog is None:
            return []
        teams = sorted(e.name for e in catalog.entities if e.kind.lower() == "group" and e.type == "team")
        me = catalog.get(self.ctx.identity, default_kind="user")
        mine = [ref.rsplit("/", 1)[-1] for ref in (me.relations_of("memberOf") if me else [])]
        return [t for t in teams if t in mine] + [t for t in teams if t not in mine]

    def _services(self) -> list[str]:
        catalog = self.ctx.catalog
        if catalog is None:
            return []
        return sorted(
            e.name for e in catalog.entities if e.kind.lower() == "component" and e.type == "service"
        )

    def action_window(self) -> None:
        index = WINDOWS.index(self.window) if self.window in WINDOWS else -1
        self.window = WINDOWS[(index + 1) % len(WINDOWS)]
        self.refresh_card()

    def action_drill(self) -> None:
        figure = self.current_figure()
        if figure is not None:
            self.app.push_screen(DrilldownScreen(figure, self._store()))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_drill()

    def current_figure(self) -> Figure | None:
        if self.card is None or not self.card.figures:
            return None
        row = self.query_one(DataTable).cursor_row
        return self.card.figures[row] if 0 <= row < len(self.card.figures) else None

    def action_feedback(self) -> None:
        open_feedback(self.app, self.ctx.workspace)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()


@dataclass
class DrilldownReady(Message):
    rows: list[DeployRow]


class DrilldownScreen(ConsoleScreen):
    """The deploys behind one figure (or, for catalog figures, the entities it counted)."""

    MODE = "status"
    BINDINGS: ClassVar = [Binding("escape", "back", "Back", id="metrics.drill.back")]
    DEFAULT_CSS = """
    DrilldownScreen #drill-title { height: 1; padding: 0 1; text-style: bold; }
    DrilldownScreen #drill-universe { height: auto; padding: 0 1; }
    DrilldownScreen #drill-details { height: auto; max-height: 8; padding: 0 1; color: $text-muted; }
    DrilldownScreen #drill-table { height: 1fr; }
    """

    def __init__(self, figure: Figure, history: Any) -> None:
        super().__init__()
        self.figure = figure
        self.history = history

    @property
    def crumb(self) -> str:
        return self.figure.key.replace("_", "-")

    def compose_body(self) -> ComposeResult:
        figure = self.figure
        yield Static(Text(f"{figure.title}: {figure.display}"), id="drill-title")
        yield Static(Text(figure.universe), id="drill-universe")
        yield Static(Text("\n".join(figure.details[:50])), id="drill-details")
        table: DataTable[Any] = DataTable(id="drill-table", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Deploy", "Finished (UTC)", "Service", "Env", "Kind", "Version", "Outcome", "By")
        if self.figure.ids:
            self._load(list(self.figure.ids))
        elif not self.figure.details:
            self.query_one("#drill-details", Static).update("No deploys behind this figure in the window.")

    @work(thread=True, exclusive=True, group="drilldown", exit_on_error=False)
    def _load(self, ids: list[str]) -> None:
        from backends.metrics import drilldown

        self.post_message(DrilldownReady(drilldown(self.history, ids)))

    @on(DrilldownReady)
    def _show(self, message: DrilldownReady) -> None:
        table = self.query_one(DataTable)
        for row in message.rows:
            finished = row.finished_at if row.finished_at is not None else row.started_at
            when = dt.datetime.fromtimestamp(finished, dt.UTC).strftime("%Y-%m-%d %H:%M")
            table.add_row(
                row.id, when, row.service, row.environment, row.kind,
                f"{row.from_version} → {row.to_version}", row.outcome or "running", row.user,
                key=row.id,
            )  # fmt: skip

    def action_back(self) -> None:
        self.app.pop_screen()


# -- feedback ---------------------------------------------------------------------------------------


class FeedbackPrompt(Guarded, ModalScreen[tuple[int, str] | None]):
    """How likely are you to recommend the platform (0–10)? Dismisses with (score, comment)."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="feedback.cancel")]
    DEFAULT_CSS = """
    FeedbackPrompt { align: center middle; }
    FeedbackPrompt #feedback-dialog {
        width: 64; height: auto; padding: 1 2; border: thick $primary; background: $surface;
    }
    FeedbackPrompt #feedback-title { text-style: bold; margin-bottom: 1; }
    FeedbackPrompt Input { margin-bottom: 1; }
    FeedbackPrompt #feedback-error { color: $error; height: auto; }
    FeedbackPrompt #feedback-buttons { height: auto; align-horizontal: right; }
    FeedbackPrompt #feedback-buttons Button { margin-left: 2; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="feedback-dialog"):
            yield Static("How likely are you to recommend idp-console to a colleague?", id="feedback-title")
            yield Input(placeholder="0 (not at all) … 10 (certainly)", id="feedback-score", max_length=2)
            yield Input(placeholder="What would make it better? (optional)", id="feedback-comment")
            yield Static("", id="feedback-error")
            with Horizontal(id="feedback-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Send", id="send", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#feedback-score", Input).focus()

    @on(Input.Submitted, "#feedback-score")
    def _next_field(self) -> None:
        if self._score() is not None:
            self.query_one("#feedback-comment", Input).focus()

    @on(Input.Submitted, "#feedback-comment")
    @on(Button.Pressed, "#send")
    def _send(self) -> None:
        score = self._score()
        if score is not None:
            self.dismiss((score, self.query_one("#feedback-comment", Input).value.strip()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _score(self) -> int | None:
        text = self.query_one("#feedback-score", Input).value.strip()
        if text.isdigit() and 0 <= int(text) <= 10:
            self.query_one("#feedback-error", Static).update("")
            return int(text)
        self.query_one("#feedback-error", Static).update(
            Text(
                f"A whole number from 0 to 10, please (not {text!r})"
                if text
                else "A score from 0 to 10, please"
            )
        )
        self.query_one("#feedback-score", Input).focus()
        return None


def open_feedback(app: Any, workspace: Any) -> None:
    """Ask for a score and record it under the console's identity (``:feedback``)."""
    user = getattr(app, "identity", "")

    def recorded(answer: tuple[int, str] | None) -> None:
        if answer is not None:
            _record_feedback(app, workspace, user, *answer)

    app.push_screen(FeedbackPrompt(), recorded)


def _record_feedback(app: Any, workspace: Any, user: str, score: int, comment: str) -> None:
    def record() -> None:
        from backends.metrics import open_store, record_feedback

        try:
            store = open_store(workspace)
            try:
                record_feedback(store, user, score, comment)
            finally:
                store.close()
        except Exception as error:  # noqa: BLE001 - the store's own message, on screen
            app.call_from_thread(
                app.notify, f"Feedback not recorded: {error}", severity="error", markup=False
            )
            return
        app.call_from_thread(app.notify, f"Thank you, {user}: {score}/10 recorded.", timeout=4, markup=False)

    app.run_worker(record, thread=True, group="feedback", exit_on_error=False)
