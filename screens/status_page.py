"""A service's status page: per environment its pods, recent Kubernetes Events, a container's log
(``l`` follows it), the entity's links as terminal hyperlinks, the deploy timeline, and the last
hour's request rate, error rate and p95 latency as sparklines.

The screen only composes and routes: a page backend (`backends.status.page.LiveServicePage`, or
any object with the same methods) answers in thread workers, and live changes — a pod, an Event,
a log line — arrive as messages. ``e`` switches environment; ``r`` asks Prometheus again.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Log, Static

from screens.base import ConsoleScreen
from widgets.sparkline_text import sparkline
from widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from screens.status import StatusScreen

POD_COLUMNS = (
    Column("name", "POD", 34),
    Column("track", "TRACK", 7),
    Column("version", "VERSION", 10),
    Column("phase", "PHASE", 18),
    Column("ready", "READY", 6),
    Column("restarts", "RESTARTS", 9),
    Column("age", "AGE", 6),
    Column("node", "NODE", 12),
)
EVENT_COLUMNS = (
    Column("age", "AGE", 5),
    Column("type", "TYPE", 8),
    Column("reason", "REASON", 17),
    Column("object", "OBJECT", 28),
    Column("message", "MESSAGE", 30),
)
LOG_LINES = 200  # what the log panel keeps


class PageClock:
    """Ages on the page (tests freeze it)."""

    def now(self) -> float:
        return time.time()

    def age(self, seconds: float) -> str:
        from backends.status.model import ago

        return ago(0.0, seconds)

    def stamp(self, at: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


@dataclass
class _Live(Message):
    """Cells, pods and Events of one environment, read from the watch caches."""

    environment: str
    cells: dict[str, Any]  # every environment's cell, for the tabs
    pods: list[Any]
    events: list[Any]
    timeline: list[Any]


@dataclass
class _Traffic(Message):
    environment: str
    series: list[Any] = field(default_factory=list)
    error: str = ""


@dataclass
class _LogLines(Message):
    generation: int
    lines: list[str]


@dataclass
class _LogEnded(Message):
    generation: int
    reason: str


class _PageChanged(Message):
    """Something on the page changed (one message per burst)."""


def format_value(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "no data"
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    if unit == "s":
        return f"{value * 1000:.0f} ms"
    return f"{value:.1f} {unit}"


class ServiceStatusScreen(ConsoleScreen):
    MODE = "status"
    HELP = (
        "One service: per environment (e switches) its pods, recent Kubernetes Events, the log of the "
        "highlighted pod (l follows it live, l again stops), its links (click them: terminal "
        "hyperlinks), the deploy timeline and the last hour from Prometheus (r asks again). esc: back."
    )
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="status_page.back"),
        Binding("e", "next_environment", "Environment", id="status_page.next_environment"),
        Binding("l", "follow_log", "Follow log", id="status_page.follow_log"),
        Binding("r", "reload_traffic", "Reload metrics", id="status_page.reload_traffic"),
        Binding("m", "metrics", "Scorecard", id="status_page.metrics"),
    ]
    DEFAULT_CSS = """
    ServiceStatusScreen #page-title { height: auto; padding: 0 1; }
    ServiceStatusScreen #env-tabs { height: 1; padding: 0 1; background: $panel; }
    ServiceStatusScreen #outage { height: auto; padding: 0 1; color: $error; display: none; }
    ServiceStatusScreen #outage.-shown { display: block; }
    ServiceStatusScreen #pods { height: 7; }
    ServiceStatusScreen #middle { height: 1fr; min-height: 8; }
    ServiceStatusScreen #events-box { width: 3fr; }
    ServiceStatusScreen #side { width: 2fr; min-width: 36; border-left: solid $primary; padding: 0 1; }
    ServiceStatusScreen .section-title { height: 1; padding: 0 1; text-style: bold; color: $accent; }
    ServiceStatusScreen #log { height: 9; border-top: solid $primary; }
    """

    clock: ClassVar[PageClock] = PageClock()

    def __init__(self, page: Any, *, status: StatusScreen | None = None) -> None:
        super().__init__()
        self.page = page
        self.status = status
        self.environments: list[str] = list(page.environments())
        self.environment = self.environments[0] if self.environments else ""
        self._pods: list[Any] = []
        self._follower: Any = None
        self._following = False
        self._log_generation = 0
        self._log_pod = ""
        self._pending = False
        self._pending_lock = threading.Lock()
        self._traffic: dict[str, _Traffic] = {}
        self._cells: dict[str, Any] = {}

    @property
    def crumb(self) -> str:
        return str(self.page.service)

    # -- layout -------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield Static(self._title(), id="page-title")
        yield Static("", id="env-tabs")
        yield Static("", id="outage")
        yield VirtualTable(POD_COLUMNS, empty_text="Reading pods…", id="pods")
        with Horizontal(id="middle"):
            with Vertical(id="events-box"):
                yield Static("Recent Kubernetes Events", classes="section-title")
                yield VirtualTable(EVENT_COLUMNS, empty_text="No recent events.", id="events")
            with Vertical(id="side"):
                yield Static("Last hour (Prometheus)", classes="section-title")
                yield Static("Asking Prometheus…", id="traffic")
                yield Static("Deploys", classes="section-title")
                yield Static("", id="timeline")
        yield Static("Log", id="log-title", classes="section-title")
        yield Log(max_lines=LOG_LINES, id="log")

    def _title(self) -> Text:
        entity = self.page.entity
        text = Text()
        text.append(entity.title or entity.name, style="bold")
        if entity.owner:
            text.append(f"   owner {entity.owner}", style="dim")
        links = self.page.links()
        if links:
            text.append("\n")
            for index, link in enumerate(links):
                if index:
                    text.append("  ·  ", style="dim")
                # A terminal hyperlink (OSC 8): clicked in the user's terminal, also over SSH.
                text.append(f"↗ {link.title}", style=Style(link=link.url, underline=True))
        return text

    def on_mount(self) -> None:
        self.page.on_change = self._changed
        if self.status is not None:
            self.status.listeners.append(self._cell_changed)
        self.query_one("#pods", VirtualTable).focus()
        self._show_environment()

    def on_unmount(self) -> None:
        if self.status is not None and self._cell_changed in self.status.listeners:
            self.status.listeners.remove(self._cell_changed)
        self._stop_log()
        self.page.stop()

    # -- live data ----------------------------------------------------------------------------
    def _cell_changed(self, service: str, _environment: str) -> None:
        if service == self.page.service:
            self._changed()

    def _changed(self) -> None:
        """On a watch thread: one `_PageChanged` per burst."""
        with self._pending_lock:
            if self._pending:
                return
            self._pending = True
        self.post_message(_PageChanged())

    @on(_PageChanged)
    def _page_changed(self) -> None:
        with self._pending_lock:
            self._pending = False
        self._read_live(self.environment)

    @work(thread=True, exclusive=True, group="status-page", name="service status", exit_on_error=False)
    def _read_live(self, environment: str) -> None:
        page = self.page
        self.post_message(
            _Live(
                environment,
                {env: page.cell(env) for env in self.environments},
                page.pods(environment),
                page.events(environment),
                page.timeline(environment),
            )
        )

    @work(thread=True, group="status-traffic", name="service metrics", exit_on_error=False)
    def _read_traffic(self, environment: str) -> None:
        try:
            self.post_message(_Traffic(environment, series=list(self.page.traffic(environment))))
        except ValueError as error:
            self.post_message(_Traffic(environment, error=str(error)))

    @on(_Live)
    def _live(self, message: _Live) -> None:
        self._cells.update(message.cells)
        self._render_tabs()
        if message.environment != self.environment:
            return
        from backends.status.view import event_rows, pod_rows

        clock = self.clock
        self._pods = message.pods
        pods_table = self.query_one("#pods", VirtualTable)
        pods_table.empty_text = "No pods in this environment."
        pods_table.set_rows(pod_rows(message.pods, clock.age), keep_cursor=True)
        events = event_rows(message.events, clock.now(), clock.age)
        self.query_one("#events", VirtualTable).set_rows(events, keep_cursor=True)
        self.query_one("#timeline", Static).update(self._timeline_text(message.timeline))
        if not self._log_pod and message.pods:
            self._open_log(message.pods[0], follow=False)

    def _timeline_text(self, records: list[Any]) -> Text:
        from backends.status.view import timeline_lines

        if not records:
            return Text("No deploy recorded here yet.", style="dim")
        return Text("\n".join(timeline_lines(records, self.clock.stamp)))

    @on(_Traffic)
    def _traffic_ready(self, message: _Traffic) -> None:
        self._traffic[message.environment] = message
        if message.environment == self.environment:
            self._render_traffic(message)

    def _render_traffic(self, message: _Traffic) -> None:
        box = self.query_one("#traffic", Static)
        if message.error:
            box.update(Text(f"no metrics: {message.error}", style="dim"))
            return
        # Label, line and latest value on one row: the line takes what the panel has left.
        width = max(10, min(60, (box.content_size.width or 46) - 22))
        text = Text()
        for series in message.series:
            text.append(f"{series.title:<9}")
            text.append(sparkline(series.values, width), style="bold")
            text.append(f" {format_value(series.last, series.unit)}\n")
        text.rstrip()
        box.update(text)

    def _render_tabs(self) -> None:
        from backends.status.view import page_outage, tab_label

        text = Text()
        for env in self.environments:
            text.append(
                tab_label(env, self._cells.get(env)), style="reverse bold" if env == self.environment else ""
            )
            text.append(" ")
        if len(self.environments) > 1:
            text.append("  e: next environment", style="dim")
        self.query_one("#env-tabs", Static).update(text)
        # Under the tabs: why this environment's cluster does not answer, and since when.
        clock, cell = self.clock, self._cells.get(self.environment)
        line = page_outage(self.environment, cell, lambda at: clock.age(clock.now() - at))
        self.query_one("#outage", Static).update(Text(line))
        self.query_one("#outage", Static).set_class(bool(line), "-shown")

    def _show_environment(self) -> None:
        self._render_tabs()
        self._stop_log()
        self._log_pod = ""
        self.query_one("#log", Log).clear()
        self.query_one("#log-title", Static).update("Log")
        self.query_one("#pods", VirtualTable).set_rows([])
        self.query_one("#events", VirtualTable).set_rows([])
        if not self.environment:
            return
        self._read_live(self.environment)
        if self.environment in self._traffic:
            self._render_traffic(self._traffic[self.environment])
        else:
            self.query_one("#traffic", Static).update("Asking Prometheus…")
            self._read_traffic(self.environment)

    # -- log ----------------------------------------------------------------------------------
    def _open_log(self, pod: Any, *, follow: bool) -> None:
        self._stop_log()
        self._log_generation += 1
        generation = self._log_generation
        self._log_pod = pod.name
        self._following = follow
        self.query_one("#log", Log).clear()
        state = "following (l stops)" if follow else "tail (l follows)"
        self.query_one("#log-title", Static).update(f"Log of {pod.name} — {state}")
        container = pod.containers[0] if getattr(pod, "containers", ()) else None
        self._follower = self.page.follow_log(
            self.environment,
            pod.name,
            container,
            lambda line: self.post_message(_LogLines(generation, [line])),
            lambda reason: self.post_message(_LogEnded(generation, reason)),
            follow=follow,
        )

    def _stop_log(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.stop()
        self._following = False

    @on(_LogLines)
    def _log_lines(self, message: _LogLines) -> None:
        if message.generation == self._log_generation:
            self.query_one("#log", Log).write_lines(message.lines)

    @on(_LogEnded)
    def _log_ended(self, message: _LogEnded) -> None:
        if message.generation == self._log_generation and self._following:
            self._following = False
            self.query_one("#log-title", Static).update(f"Log of {self._log_pod} — ended: {message.reason}")

    # -- actions ------------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_next_environment(self) -> None:
        if len(self.environments) > 1:
            index = self.environments.index(self.environment)
            self.environment = self.environments[(index + 1) % len(self.environments)]
            self._show_environment()

    def action_follow_log(self) -> None:
        table = self.query_one("#pods", VirtualTable)
        if not self._pods:
            self.notify("No pod to read the log of.", timeout=3)
            return
        pod = self._pods[min(table.cursor_row, len(self._pods) - 1)]
        if self._following and pod.name == self._log_pod:
            self._stop_log()
            self.query_one("#log-title", Static).update(f"Log of {pod.name} — stopped (l follows)")
            return
        self._open_log(pod, follow=True)

    def action_reload_traffic(self) -> None:
        self._traffic.pop(self.environment, None)
        self.query_one("#traffic", Static).update("Asking Prometheus…")
        self._read_traffic(self.environment)

    def action_metrics(self) -> None:
        opener: Any = getattr(self.app, "open_metrics", None)
        if opener is None:
            self.notify("The scorecard is not available in this version yet.", timeout=4)
            return
        opener(f"component:{self.page.service}")

    @property
    def following(self) -> bool:
        return self._following

    @property
    def log_lines(self) -> int:
        return self.query_one("#log", Log).line_count
