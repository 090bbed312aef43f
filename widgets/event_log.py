"""A streaming log of a run: one line per event, time stamp first, coloured by level.

Plain strings in (the stamp is formatted by the caller, so tests can freeze the clock). Keeps
every line in ``lines`` too, which is what tests and copy-to-clipboard read.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from widgets.guard import Guarded

LEVEL_STYLES: dict[str, str] = {
    "info": "",
    "success": "green",
    "warning": "bold yellow",
    "error": "bold red",
}
LEVEL_MARKS: dict[str, str] = {"info": " ", "success": "✓", "warning": "!", "error": "✗"}


class EventLog(Guarded, RichLog):
    DEFAULT_CSS = """
    EventLog { height: 1fr; min-height: 4; padding: 0 1; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, wrap=False, markup=False, auto_scroll=True)
        self.lines_text: list[str] = []

    def add(self, stamp: str, text: str, level: str = "info") -> None:
        style = LEVEL_STYLES.get(level, "")
        line = Text(no_wrap=True)
        line.append(f"{stamp} ", style="dim")
        line.append(f"{LEVEL_MARKS.get(level, ' ')} ", style=style)
        line.append(text, style=style)
        self.lines_text.append(text)
        # shrink=False: a line keeps its width (scroll sideways) even while the log is hidden.
        self.write(line, shrink=False)

    def reset(self) -> None:
        self.lines_text.clear()
        self.clear()
