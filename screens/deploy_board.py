"""The deploy mode's landing view: every service × environment, live from the cluster's watches.

:class:`BoardView` draws the board the desk's :class:`~backends.deploy.board.BoardModel` describes
(rows, unreachable environments, deploys interrupted earlier) and keeps it current: its thread
workers start the watches and look for deploys running in runners or left interrupted, and post
what they found; a burst of watch events coalesces into one redraw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from backends.deploy.board import LIVE_MARK
from screens.deploy_view import board_cell
from widgets.guard import Guarded
from widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from backends.deploy.desk import DeployDesk
    from backends.deploy.history import DeployRecord
    from backends.deploy.live import LiveBoard
    from backends.deploy.run import InterruptedDeploy

LIVE_RUNS_POLL = 2.0  # seconds between looks for deploys running in runners (a socket probe each)


@dataclass
class BoardStarted(Message):
    live: LiveBoard


class BoardChanged(Message):
    """A Deployment changed somewhere on the board; only the latest of a burst is handled."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BoardChanged)


@dataclass
class BoardFailed(Message):
    error: str


@dataclass
class InterruptedFound(Message):
    items: list[InterruptedDeploy]


@dataclass
class LiveRunsFound(Message):
    """Deploys running now in a runner (started here, by another console or by the CLI)."""

    runs: dict[tuple[str, str], DeployRecord]


class BoardView(Guarded, Vertical):
    """Title, unreachable environments, interrupted deploys, the board table and its hint."""

    DEFAULT_CSS = """
    BoardView .title { height: 1; padding: 0 1; text-style: bold; background: $panel; }
    BoardView .hint { height: auto; padding: 0 1; color: $text-muted; }
    BoardView #board-errors { height: auto; padding: 0 1; color: $error; text-style: bold; display: none; }
    BoardView #board-errors.-shown { display: block; }
    BoardView #interrupted { height: auto; padding: 0 1; border: heavy $warning; display: none; }
    BoardView #interrupted.-shown { display: block; }
    BoardView #board { height: 1fr; }
    """

    class Redrawn(Message):
        """The board's data changed (what runs where): a form listing it may redraw too."""

    # Whether r / x (resume, abort the interrupted deploy) apply.
    has_interrupted: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, environments: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.environments = environments
        self.desk: DeployDesk[Any] | None = None
        self._failing: dict[str | None, str] = {}  # worker group → the failure last told

    def compose(self) -> ComposeResult:
        columns = [Column("service", "SERVICE", 24)] + [Column(e, e.upper(), 30) for e in self.environments]
        yield Static("Services × environments — live from the cluster", classes="title")
        yield Static("", id="board-errors")
        yield Static("", id="interrupted")
        yield VirtualTable(columns, empty_text="Connecting to the cluster…", id="board")
        yield Static(
            "enter deploys the highlighted service · n deploys any · w watches · "
            f"{LIVE_MARK.strip()} running now: enter or w attaches",
            classes="hint",
        )

    def on_mount(self) -> None:
        # Runs started elsewhere (another console, the CLI) appear on the board within seconds.
        self.set_interval(LIVE_RUNS_POLL, self.poll_live_runs)

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#board", VirtualTable)

    @property
    def highlighted(self) -> str | None:
        """The service on the row under the cursor."""
        return self.desk.board.service_at(self.table.cursor_row) if self.desk is not None else None

    def move_to(self, service: str) -> None:
        if self.desk is not None and service in self.desk.board.row_services:
            self.table.move_cursor(self.desk.board.row_services.index(service))

    # -- the watches ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="deploy-board", name="deploy status board", exit_on_error=False)
    def start(self) -> None:
        desk = self.desk
        assert desk is not None
        try:
            live = desk.start_board(lambda _s, _e: self.post_message(BoardChanged()))
        except Exception as error:  # noqa: BLE001 — shown on the board, whatever it is
            self.post_message(BoardFailed(str(error) or type(error).__name__))
            return
        if live is None:
            return
        self.post_message(BoardStarted(live))
        if live.board is None:
            return
        try:
            found = desk.engine.find_interrupted()
        except Exception as error:  # noqa: BLE001
            self.post_message(BoardFailed(f"could not read interrupted deploys: {error}"))
            return
        self.post_message(InterruptedFound(found))

    def on_board_started(self, message: BoardStarted) -> None:
        live = message.live
        if self.desk is None or not self.desk.board_started(live):
            return
        errors = self.query_one("#board-errors", Static)
        if live.errors:
            errors.update(Text("\n".join(f"✖ {env}: {error}" for env, error in live.errors.items())))
            errors.add_class("-shown")
        self.table.empty_text = (
            "No deployable services in the catalog."
            if live.environments
            else "No environments configured: add an environments: section to idp-console.yaml."
        )
        self.redraw()

    def on_board_failed(self, message: BoardFailed) -> None:
        errors = self.query_one("#board-errors", Static)
        errors.update(Text(f"✖ {message.error}"))
        errors.add_class("-shown")
        self.table.empty_text = "The cluster could not be read."
        self.table.refresh()

    def on_board_changed(self, _message: BoardChanged) -> None:
        if self.desk is not None:
            self.desk.board_changed()
        self.redraw()

    def redraw(self) -> None:
        if self.desk is None:
            return
        self.table.set_rows(self.desk.board.rows(self.desk.environments, board_cell), keep_cursor=True)
        self.post_message(self.Redrawn())

    # -- interrupted deploys ------------------------------------------------------------------------
    def on_interrupted_found(self, message: InterruptedFound) -> None:
        if self.desk is not None:
            self.desk.board.interrupted = message.items
            self.show_interrupted()

    def show_interrupted(self) -> None:
        panel = self.query_one("#interrupted", Static)
        lines = self.desk.board.interrupted_panel() if self.desk is not None else []
        self.has_interrupted = bool(lines)
        if not lines:
            panel.remove_class("-shown")
            return
        text = Text("⚠ Deploys interrupted in an earlier run\n", style="bold yellow")
        for line in lines[:-1]:
            text.append(f"  {line}\n")
        text.append(f"  {lines[-1]}", style="dim")
        panel.update(text)
        panel.add_class("-shown")

    @work(
        thread=True,
        exclusive=True,
        group="deploy-interrupted",
        name="find interrupted deploys",
        exit_on_error=False,
    )
    def refresh_interrupted(self) -> None:
        """Look again (a finished deploy leaves nothing interrupted; a failed rollback may)."""
        if self.desk is not None and self.desk.board_live:
            self.post_message(InterruptedFound(self.desk.engine.find_interrupted()))

    # -- deploys running in runners -----------------------------------------------------------------
    def poll_live_runs(self) -> None:
        if self.desk is None or self.desk.closing or not self.screen.is_current:
            return
        self._find_live_runs()

    @work(
        thread=True,
        exclusive=True,
        group="deploy-live-runs",
        name="find running deploys",
        exit_on_error=False,
    )
    def _find_live_runs(self) -> None:
        if self.desk is not None:
            self.post_message(LiveRunsFound(self.desk.find_live_runs()))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand failures to the app's one error handler. The
        # look for running deploys repeats every LIVE_RUNS_POLL: a failure that keeps coming back
        # is told once (again only after a success or a different error), not every two seconds.
        group = event.worker.group
        if event.state == WorkerState.SUCCESS:
            self._failing.pop(group, None)
        if event.state != WorkerState.ERROR:
            return
        said = repr(event.worker.error)
        if self._failing.get(group) == said:
            return
        self._failing[group] = said
        self.app.post_message(Worker.StateChanged(event.worker, event.state))

    def on_live_runs_found(self, message: LiveRunsFound) -> None:
        if self.desk is not None and self.desk.board.set_live_runs(message.runs):
            self.redraw()
