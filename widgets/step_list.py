"""The steps of a run with their status and duration: pending, running, done, skipped, failed.

Plain data in (step id, name, action), status updates in; a running step's clock ticks while it runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from widgets.guard import Guarded

ICONS: dict[str, str] = {"pending": "○", "running": "◐", "done": "✔", "skipped": "⤼", "failed": "✖"}


@dataclass(slots=True)
class StepRow:
    id: str
    name: str
    action: str
    status: str = "pending"
    duration: float | None = None
    started: float | None = None  # monotonic clock while running


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


class StepList(Guarded, Static):
    """One line per step: icon, name, action, status and duration."""

    DEFAULT_CSS = """
    StepList { height: auto; width: auto; padding: 0 1; }
    """
    STYLES: ClassVar[dict[str, str]] = {
        "pending": "dim",
        "running": "bold",
        "done": "green",
        "skipped": "yellow",
        "failed": "bold red",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.rows: list[StepRow] = []
        self._ticker: Timer | None = None

    def set_steps(self, steps: list[tuple[str, str, str]]) -> None:
        """Start over with these (id, name, action) steps, all pending."""
        self.rows = [StepRow(step_id, name, action) for step_id, name, action in steps]
        self._redraw()

    def reset_from(self, step_id: str) -> None:
        """Mark ``step_id`` and every later step pending again (a retry)."""
        reset = False
        for row in self.rows:
            reset = reset or row.id == step_id
            if reset:
                row.status, row.duration, row.started = "pending", None, None
        self._redraw()

    def start(self, step_id: str) -> None:
        row = self._row(step_id)
        if row is not None:
            row.status, row.started, row.duration = "running", time.monotonic(), None
            if self._ticker is None:
                self._ticker = self.set_interval(0.25, self._redraw)
        self._redraw()

    def finish(self, step_id: str, status: str, duration: float) -> None:
        row = self._row(step_id)
        if row is not None:
            row.status, row.duration, row.started = status, duration, None
        if self._ticker is not None and not any(r.status == "running" for r in self.rows):
            self._ticker.stop()
            self._ticker = None
        self._redraw()

    def status_of(self, step_id: str) -> str | None:
        row = self._row(step_id)
        return row.status if row else None

    def _row(self, step_id: str) -> StepRow | None:
        return next((r for r in self.rows if r.id == step_id), None)

    def _redraw(self) -> None:
        text = Text()
        width = max((len(r.name) for r in self.rows), default=0)
        for index, row in enumerate(self.rows):
            if index:
                text.append("\n")
            style = self.STYLES.get(row.status, "")
            text.append(f"{ICONS.get(row.status, '?')} ", style=style)
            text.append(row.name.ljust(width), style=style)
            text.append(f"  {row.status:<8}", style=style)
            if row.duration is not None:
                clock = format_duration(row.duration)
            elif row.started is not None:
                clock = format_duration(time.monotonic() - row.started) + "…"
            else:
                clock = ""
            text.append(f" {clock:>8}  ", style="dim")
            text.append(row.action, style="dim italic")
        self.update(text)
