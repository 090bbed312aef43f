"""Quitting while a deploy you watch is running: it goes on in its runner, so say so and let the
user choose — detach and quit, abort it and quit, or stay. Nothing is decided by a reflex ctrl+q."""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.guard import Guarded

QuitChoice = Literal["detach", "abort"]


class QuitWhileDeploying(Guarded, ModalScreen[QuitChoice | None]):
    """Dismisses with "detach", "abort", or None to stay."""

    BINDINGS: ClassVar = [
        Binding("d", "choose('detach')", "Detach and quit", id="quit.detach"),
        Binding("a", "choose('abort')", "Abort it and quit", id="quit.abort"),
        Binding("escape", "stay", "Stay", id="quit.stay"),
    ]
    DEFAULT_CSS = """
    QuitWhileDeploying { align: center middle; }
    QuitWhileDeploying #dialog {
        width: 72; height: auto; padding: 1 2; border: thick $warning; background: $surface;
    }
    QuitWhileDeploying #quit-title { text-style: bold; margin-bottom: 1; }
    QuitWhileDeploying #quit-body { margin-bottom: 1; }
    QuitWhileDeploying #quit-keys { text-style: bold; }
    """

    def __init__(self, what: str, attach_hint: str, *, can_abort: bool = True) -> None:
        super().__init__()
        self.what = what
        self.attach_hint = attach_hint
        self.can_abort = can_abort

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"{self.what} is running"), id="quit-title")
            yield Static(
                Text(
                    "It continues in its runner when you quit: nothing stops or pauses it. "
                    f"Watch it again with w on the deploy board, or {self.attach_hint}."
                ),
                id="quit-body",
            )
            keys = "[d] detach and quit"
            keys += "   [a] abort it and quit" if self.can_abort else ""
            yield Static(Text(keys + "   [esc] stay"), id="quit-keys")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == ("abort",):
            return self.can_abort  # read-only: there is nothing to abort with
        return True

    def action_choose(self, choice: QuitChoice) -> None:
        self.dismiss(choice)

    def action_stay(self) -> None:
        self.dismiss(None)
