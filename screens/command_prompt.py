"""The ``:`` prompt: a one-line input at the bottom; enter returns the text, esc cancels."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input


class _CommandSuggester(Suggester):
    def __init__(self, complete: Callable[[str], str | None]) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self._complete = complete

    async def get_suggestion(self, value: str) -> str | None:
        return self._complete(value)


class CommandPrompt(ModalScreen[str | None]):
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]
    DEFAULT_CSS = """
    CommandPrompt { align: left bottom; background: $background 0%; }
    CommandPrompt Input { dock: bottom; height: 1; border: none; padding: 0 1; background: $panel; }
    """

    def __init__(self, complete: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self._complete = complete

    def compose(self) -> ComposeResult:
        suggester = _CommandSuggester(self._complete) if self._complete else None
        yield Input(placeholder=":command  (:help lists them)", suggester=suggester, id="command")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
