"""The ``:`` prompt: a one-line input at the bottom; enter returns the text, esc cancels.

Above the input, the commands matching the first word are listed with their usage, so a user who
does not know the commands yet sees them while typing (tab accepts the inline completion).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from widgets.guard import Guarded

# (usage, help) of the commands a prefix may complete to.
Hints = Callable[[str], list[tuple[str, str]]]


class _CommandSuggester(Suggester):
    def __init__(self, complete: Callable[[str], str | None]) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self._complete = complete

    async def get_suggestion(self, value: str) -> str | None:
        return self._complete(value)


class CommandPrompt(Guarded, ModalScreen[str | None]):
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]
    DEFAULT_CSS = """
    CommandPrompt { align: left bottom; background: $background 0%; }
    CommandPrompt #prompt { dock: bottom; height: auto; }
    CommandPrompt #completions {
        height: auto; max-height: 12; padding: 0 1; background: $panel; color: $text-muted; display: none;
    }
    CommandPrompt #completions.-shown { display: block; }
    /* Input:focus draws a tall border; on a one-row input that border is all you would see. */
    CommandPrompt Input, CommandPrompt Input:focus {
        height: 1; border: none; padding: 0 1; background: $boost;
    }
    """

    def __init__(
        self, complete: Callable[[str], str | None] | None = None, hints: Hints | None = None
    ) -> None:
        super().__init__()
        self._complete = complete
        self._hints = hints

    def compose(self) -> ComposeResult:
        suggester = _CommandSuggester(self._complete) if self._complete else None
        with Vertical(id="prompt"):
            yield Static("", id="completions")
            yield Input(placeholder=":command  (:help lists them)", suggester=suggester, id="command")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._show_hints("")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._show_hints(event.value)

    def _show_hints(self, value: str) -> None:
        hints = self._hints(value) if self._hints else []
        widget = self.query_one("#completions", Static)
        text = Text()
        for usage, help_text in hints:
            if text:
                text.append("\n")
            text.append(f"{usage:<24}", style="bold")
            text.append(f" {help_text}")
        widget.update(text)
        widget.set_class(bool(hints), "-shown")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
