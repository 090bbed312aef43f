"""The ``?`` overlay: the keys of the screen underneath and the ``:`` commands.

It receives plain data (the app gathers the active bindings and the command list), so it can
describe any screen, including ones added later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.guard import Guarded


class HelpScreen(Guarded, ModalScreen[None]):
    BINDINGS: ClassVar = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen .help-title { text-style: bold; color: $accent; margin-top: 1; }
    """

    def __init__(
        self,
        title: str,
        about: str,
        keys: Sequence[tuple[str, str]],
        commands: Sequence[tuple[str, str]],
    ) -> None:
        super().__init__()
        self._title, self._about = title, about
        self._keys, self._commands = list(keys), list(commands)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(f"Help — {self._title}", style="bold"))
            if self._about:
                yield Static(self._about)
            yield Static("Keys", classes="help-title")
            yield Static(self._table(self._keys))
            yield Static("Commands (type : then a command; esc cancels)", classes="help-title")
            yield Static(self._table(self._commands))
            yield Static(Text("esc closes this help", style="dim"))

    @staticmethod
    def _table(rows: Sequence[tuple[str, str]]) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, description in rows:
            table.add_row(Text(key), Text(description))  # plain text: ids contain [brackets]
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
