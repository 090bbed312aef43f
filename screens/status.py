"""Status mode: one row per service, a column per environment — what runs, how healthy, who deployed.

Live from the status controller's watches: a change reaches the screen as a coalesced message and
only the rows it concerns are replaced (no clear-and-refill, no polling of the cluster). By default
the services owned by the user's groups; ``a`` toggles all; ``/`` filters with the catalog's facets.
Enter opens a service's status page. An environment whose cluster does not answer is named at the
top and its cells say so; the others are shown as usual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.types import NoActiveAppError
from textual.widgets import Input, Static

from screens.base import ConsoleScreen
from widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from backends.catalog import Catalog
    from backends.catalog.model import Entity
    from backends.deploy.session import DeploySession
    from backends.status import StatusController

FILTER_HINT = "/ filter — owner:team-a lifecycle:production tag:python system:x  free text"
Listener = Callable[[str, str], object]


class StatusClock:
    """How long ago something happened, as the list shows it (tests freeze it)."""

    def now(self) -> float:
        return time.time()

    def ago(self, at: float) -> str:
        from backends.status.model import ago

        return ago(at, self.now())


@dataclass
class _Started(Message):
    controller: StatusController
    generation: int  # which start this is: a catalog change starts another


@dataclass
class _Prepared(Message):
    services: list[Entity]
    mine: set[str]  # names of the services the user's groups own
    generation: int


@dataclass
class _Failed(Message):
    error: str


class _CellsChanged(Message):
    """Some cells changed (which ones: the screen's pending set); one message per burst."""


class StatusScreen(ConsoleScreen):
    MODE = "status"
    HELP = (
        "What runs where: one row per service, a column per environment with the health mark "
        "(✔ healthy, ! deploying or degraded, ✖ down, ? unreachable, – not deployed), the running "
        "version (+ canary), ready/desired pods, restarts in the last hour (↻) and the last deploy "
        "(when, who, outcome). Live from the cluster's watches. By default the services your groups "
        "own; a shows all. / filters with the catalog's facets (owner: lifecycle: tag: system: …). "
        "Enter opens the service's status page; m opens the scorecard."
    )
    BINDINGS: ClassVar = [
        Binding("slash", "focus_filter", "Filter", id="status.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="status.clear_filter"),
        Binding("a", "toggle_all", "All / mine", id="status.toggle_all"),
        Binding("m", "metrics", "Scorecard", id="status.metrics"),
    ]
    DEFAULT_CSS = """
    StatusScreen #filter { height: 1; border: none; padding: 0 1; background: $boost; }
    StatusScreen #filter:focus { background: $surface-lighten-1; }
    StatusScreen #summary { height: 1; padding: 0 1; color: $text-muted; }
    StatusScreen #unreachable { height: auto; padding: 0 1; color: $error; text-style: bold; display: none; }
    StatusScreen #unreachable.-shown { display: block; }
    StatusScreen #status { height: 1fr; }
    """

    # The list has the keys from the start: focusing the filter first (Textual's default) and
    # moving on in on_mount rebuilt the footer twice more while the mode opens.
    AUTO_FOCUS = "#status"

    # Tests speed the simulated cluster up and freeze the clock; the app never changes these.
    SESSION_TIME_SCALE: ClassVar[float | None] = None
    clock: ClassVar[StatusClock] = StatusClock()

    def __init__(self) -> None:
        super().__init__()
        self.session: DeploySession | None = None
        self.controller: StatusController | None = None
        self.services: list[Entity] = []
        self.show_all = False
        self._mine: set[str] = set()  # names of the services the user's groups own
        self._visible: list[Entity] = []
        self._rows: list[tuple[str, ...]] = []
        self._index: dict[str, int] = {}
        self._pending: set[tuple[str, str]] = set()
        self._pending_lock = threading.Lock()
        self._watched: list[str] = []  # the services the controller (being) started covers
        self._generation = 0  # catalogs seen (each prepares the rows again)
        self._catalog: Catalog | None = None  # the last catalog prepared for
        self._started_generation = 0  # the catalog the running controller was started for
        self._session_lock = threading.Lock()
        self._closing = False
        self._error = ""
        # Other screens (a service's page) that want to hear about cell changes, on a watch thread.
        self.listeners: list[Listener] = []
        self._environments: list[str] | None = None
        self._connect_early()

    def _connect_early(self) -> None:
        """Start listing the clusters now, not once mounted: Textual styles and mounts a new mode's
        screen for a fifth of a second (more on a loaded machine), and the clusters' answers to the
        watches' lists arrive meanwhile. (No app here only for a screen built outside one.)"""
        try:
            catalog = self.ctx.catalog
        except NoActiveAppError:
            return
        if catalog is not None:
            self._on_catalog(catalog)

    # -- layout -------------------------------------------------------------------------------
    def environment_names(self) -> list[str]:
        """The columns, in the workspace's order (read once: every row asks for them)."""
        if self._environments is None:
            self._environments = [str(name) for name in self.ctx.workspace.section("environments")]
        return self._environments

    def compose_body(self) -> ComposeResult:
        columns = [Column("service", "SERVICE", 24)]
        columns += [Column(env, env.upper(), 46) for env in self.environment_names()]
        yield Input(placeholder=FILTER_HINT, id="filter")
        yield Static("Loading catalog…", id="summary")
        yield Static("", id="unreachable")
        yield VirtualTable(columns, empty_text="Loading catalog…", id="status")

    def on_mount(self) -> None:
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        # A deploy's outcome is written to the history after its last cluster change: re-read the
        # history (a local read, not the cluster) while a deploy is in progress.
        self.set_interval(2.0, self._refresh_history)
        # "2m ago" and restarts in the last hour move on without any cluster event: recompute the
        # rows from the watch caches (no request) and replace those whose text changed.
        self.set_interval(30.0, self._refresh_rows)
        catalog = self.ctx.catalog
        if catalog is not None and catalog is not self._catalog:  # not already prepared for
            self._on_catalog(catalog)

    def on_unmount(self) -> None:
        with self._session_lock:
            self._closing = True
            session = self.session
        if self.controller is not None:
            self.controller.stop()
        if session is not None:
            session.close()

    # -- catalog and controller -----------------------------------------------------------------
    def _on_catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._generation += 1
        self._prepare(catalog, self._generation)

    @work(thread=True, group="status", name="status view", exit_on_error=False)
    def _prepare(self, catalog: Catalog, generation: int) -> None:
        """Off the UI thread: the services, mine among them, the deploy session and — when the
        services differ from those watched — a controller for them. (The first import of the
        Kubernetes client alone takes a second: the screen is painted and says "connecting…".)"""
        from backends.deploy.session import open_deploy
        from backends.status.view import scoped_services

        services, mine = scoped_services(catalog, self.ctx.identity)
        self.post_message(_Prepared(services, mine, generation))
        names = [e.name for e in services]
        with self._session_lock:
            if names == self._watched or self._closing:
                return
            self._watched = names
            if self.session is None:
                workspace = self.ctx.workspace
                self.session = open_deploy(
                    workspace, catalog=_CatalogView(self), time_scale=self.SESSION_TIME_SCALE
                )
            session = self.session
        self._start_controller(session, services, generation)

    def _start_controller(self, session: DeploySession, services: list[Entity], generation: int) -> None:
        from backends.demo.history_seed import ensure_demo_history_quietly
        from backends.status.controller import start_status

        history, workspace, now = session.context.history, self.ctx.workspace, self.clock.now()
        try:
            controller = start_status(
                session.context,
                services,
                on_change=self._cell_changed,
                before_history=lambda: ensure_demo_history_quietly(workspace, history, now),
            )
        except Exception as error:  # noqa: BLE001 - shown on the screen, whatever it is
            self.post_message(_Failed(str(error) or type(error).__name__))
            return
        if self._closing:
            controller.stop()
            return
        self.post_message(_Started(controller, generation))

    @on(_Prepared)
    def _prepared(self, message: _Prepared) -> None:
        if message.generation != self._generation:
            return
        self.services, self._mine = message.services, message.mine
        self._apply_filter(keep_cursor=True)

    @on(_Started)
    def _controller_started(self, message: _Started) -> None:
        if message.generation < self._started_generation or self._closing:
            message.controller.stop()  # a later start (the catalog changed again) superseded it
            return
        self._started_generation = message.generation
        if self.controller is not None:
            self.controller.stop()  # the catalog changed: the new one covers its services
        self.controller = message.controller
        self._apply_filter(keep_cursor=True)
        self._render_outages()

    def _render_outages(self) -> None:
        """Name the environments whose cluster does not answer (at start, or since it went away)."""
        from backends.status.model import outage_lines

        if self.controller is None:
            return
        lines = outage_lines(self.controller.outages(), self.clock.ago)
        notice = self.query_one("#unreachable", Static)
        notice.update(Text("\n".join(lines)))
        notice.set_class(bool(lines), "-shown")

    @on(_Failed)
    def _controller_failed(self, message: _Failed) -> None:
        self._error = message.error
        notice = self.query_one("#unreachable", Static)
        notice.update(Text(f"⚠ the status view could not start: {message.error}"))
        notice.add_class("-shown")

    def _cell_changed(self, service: str, environment: str) -> None:
        """On a watch thread: remember the cell and post one message per burst."""
        with self._pending_lock:
            first = not self._pending
            self._pending.add((service, environment))
        if first:
            self.post_message(_CellsChanged())
        for listener in list(self.listeners):
            listener(service, environment)

    @on(_CellsChanged)
    def _cells_changed(self) -> None:
        with self._pending_lock:
            changed, self._pending = self._pending, set()
        if self.controller is None:
            # The starting controller's first list: every row says "connecting" until it is
            # handed over, and then every row is computed once (_controller_started).
            return
        self._render_outages()  # a cluster that went away or came back changes every cell of it
        table = self.query_one("#status", VirtualTable)
        for service in {service for service, _env in changed}:
            index = self._index.get(service)
            if index is not None and index < len(self._rows):
                table.replace_row(index, self._row(self._visible[index]))

    def _refresh_rows(self) -> None:
        if self.controller is None or not self.is_current:
            return
        self._render_outages()
        table = self.query_one("#status", VirtualTable)
        for index, entity in enumerate(self._visible):
            row = self._row(entity)
            if index < len(self._rows) and row != self._rows[index]:
                table.replace_row(index, row)

    def _refresh_history(self) -> None:
        if self.controller is not None and self.controller.deploys_in_progress() and not self._closing:
            self._reread_history()

    @work(thread=True, exclusive=True, group="status-history", name="status history", exit_on_error=False)
    def _reread_history(self) -> None:
        if self.controller is not None:
            self.controller.refresh_history()  # changed cells arrive through _cell_changed

    # -- rows ---------------------------------------------------------------------------------
    def _row(self, entity: Entity) -> tuple[str, ...]:
        from backends.status.view import service_row

        return service_row(self.controller, entity.name, self.environment_names(), self.clock.ago)

    def _apply_filter(self, *, keep_cursor: bool = False) -> None:
        from backends.status.view import visible_services

        mine = None if self.show_all else self._mine
        self._visible, empty = visible_services(self.services, mine, self.query_one("#filter", Input).value)
        self._rows = [self._row(e) for e in self._visible]
        self._index = {e.name: i for i, e in enumerate(self._visible)}
        table = self.query_one("#status", VirtualTable)
        table.empty_text = empty or table.empty_text
        table.set_rows(self._rows, keep_cursor=keep_cursor)
        self._refresh_summary()

    def _refresh_summary(self) -> None:
        from backends.status.view import list_summary

        summary = list_summary(
            shown=len(self._visible),
            total=len(self.services) if self.show_all else len(self._mine),
            show_all=self.show_all,
            identity=self.ctx.identity,
            live=self.controller is not None,
            history_error=self.controller.history_error if self.controller is not None else "",
        )
        self.query_one("#summary", Static).update(summary)

    # -- events -------------------------------------------------------------------------------
    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._apply_filter()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one("#status", VirtualTable).focus()

    @on(VirtualTable.Selected, "#status")
    def _service_selected(self, event: VirtualTable.Selected) -> None:
        if self.controller is None or self.session is None:
            self.notify("The status view is still connecting…", timeout=3)
            return
        from backends.status.page import LiveServicePage
        from screens.status_page import ServiceStatusScreen

        entity = self._visible[event.index]
        page = LiveServicePage.for_service(self.controller, entity, self.session.context)
        self.app.push_screen(ServiceStatusScreen(page, status=self))

    # -- actions ------------------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        if filter_input.has_focus:
            self.query_one("#status", VirtualTable).focus()
        elif filter_input.value:
            filter_input.value = ""

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self._apply_filter()

    def set_filter(self, text: str) -> None:
        self.query_one("#filter", Input).value = text

    def selected_service(self) -> str | None:
        table = self.query_one("#status", VirtualTable)
        if self._visible and table.cursor_row < len(self._visible):
            return self._visible[table.cursor_row].name
        return None

    def action_metrics(self) -> None:
        """The scorecard hook: ``app.open_metrics(scope)`` with the highlighted service as scope
        (``component:<name>``), or the org when there is none. Wired by the scorecard's screen."""
        service = self.selected_service()
        opener: Any = getattr(self.app, "open_metrics", None)
        if opener is None:
            self.notify("The scorecard is not available in this version yet.", timeout=4)
            return
        opener(f"component:{service}" if service else None)

    @property
    def is_live(self) -> bool:
        """The controller runs and the rows come from it."""
        return self.controller is not None


class _CatalogView:
    """The catalog as the deploy session asks for it: the app's, once loaded."""

    def __init__(self, screen: StatusScreen) -> None:
        self.screen = screen

    def get(self, ref: str, default_kind: str | None = "Component") -> Entity | None:
        catalog = self.screen.ctx.catalog
        return catalog.get(ref, default_kind=default_kind) if catalog is not None else None
