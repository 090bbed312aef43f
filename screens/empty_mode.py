"""Modes whose capability has not landed yet show what they will do, not a blank screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from screens.base import ConsoleScreen


class EmptyModeScreen(ConsoleScreen):
    ABOUT = ""

    DEFAULT_CSS = """
    EmptyModeScreen #empty { padding: 2 4; color: $text-muted; }
    """

    def compose_body(self) -> ComposeResult:
        text = Text(self.MODE.capitalize(), style="bold")
        text.append("\n\n" + self.ABOUT + "\n\nNot available in this version yet.", style="")
        yield Static(text, id="empty")
