"""Find in page: a one-line input with the match count beside it (``3/12  n/N`` or ``no match``).

Shown with the ``-open`` class; the page being searched is the caller's (it hears ``Input.Changed``
and ``Input.Submitted`` from ``#find`` and reports counts back with ``show_count``).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Static

from widgets.guard import Guarded


class FindBar(Guarded, Horizontal):
    def compose(self) -> ComposeResult:
        yield Input(placeholder="find in page", id="find")
        yield Static("", id="find-status")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    @property
    def query_text(self) -> str:
        return self.query_one("#find", Input).value

    def open(self) -> None:
        self.add_class("-open")
        self.query_one("#find", Input).focus()

    def close(self) -> None:
        self.remove_class("-open")

    def show_count(self, query: str, current: int, total: int) -> None:
        status = self.query_one("#find-status", Static)
        if not query:
            status.update("")
        elif total:
            status.update(f"{current}/{total}  n/N")
        else:
            status.update(Text("no match", style="bold red"))
