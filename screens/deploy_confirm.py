"""Confirm before changing a cluster. Production asks for the service name typed out, as the CLI
does: a reflex ``enter`` must never deploy to production."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from widgets.guard import Guarded


class ConfirmDeploy(Guarded, ModalScreen[bool]):
    """Dismisses with True to go ahead, False to cancel."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="deploy.confirm.cancel"),
        Binding("enter", "confirm", "Confirm", show=False, id="deploy.confirm.ok"),
    ]
    DEFAULT_CSS = """
    ConfirmDeploy { align: center middle; }
    ConfirmDeploy #dialog {
        width: 72; height: auto; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    ConfirmDeploy #dialog.-production { border: thick $error; }
    ConfirmDeploy #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmDeploy #confirm-body { margin-bottom: 1; }
    ConfirmDeploy #confirm-input { margin-bottom: 1; }
    ConfirmDeploy #confirm-error { color: $error; height: auto; }
    ConfirmDeploy #confirm-buttons { height: auto; align-horizontal: right; }
    ConfirmDeploy #confirm-buttons Button { margin-left: 2; }
    """

    def __init__(
        self, title: str, body: str, *, type_to_confirm: str | None = None, ok_label: str = "Confirm"
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.type_to_confirm = type_to_confirm
        self.ok_label = ok_label

    def compose(self) -> ComposeResult:
        production = self.type_to_confirm is not None
        with Vertical(id="dialog", classes="-production" if production else ""):
            yield Static(Text(self.title_text), id="confirm-title")
            yield Static(Text(self.body), id="confirm-body")
            if production:
                yield Static(Text(f"Type the service name ({self.type_to_confirm}) to confirm:"))
                yield Input(placeholder=self.type_to_confirm or "", id="confirm-input")
            yield Static("", id="confirm-error")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.ok_label, id="ok", variant="error" if production else "primary")

    def on_mount(self) -> None:
        if self.type_to_confirm is not None:
            self.query_one("#confirm-input", Input).focus()
        else:
            self.query_one("#ok", Button).focus()

    @on(Input.Submitted, "#confirm-input")
    def _submitted(self) -> None:
        self.action_confirm()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.action_confirm()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)

    def action_confirm(self) -> None:
        if self.type_to_confirm is not None:
            typed = self.query_one("#confirm-input", Input).value.strip()
            if typed != self.type_to_confirm:
                error = "That is not the service name; nothing was changed." if typed else ""
                self.query_one("#confirm-error", Static).update(error)
                return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
