"""The footer every console screen shows, with ``? Help`` first.

Textual's Footer lists the focused widget's and the screen's keys before the app's, so at 80 columns
the app's ``? Help`` fell off the right edge — the one key that explains all the others.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Actions of app-level keys that must stay visible at any width, in this order.
FIRST_ACTIONS: tuple[str, ...] = ("help",)


class ConsoleFooter(Footer):
    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        first = [
            widget
            for action in FIRST_ACTIONS
            for widget in widgets
            if isinstance(widget, FooterKey) and widget.action == action
        ]
        yield from first
        yield from (widget for widget in widgets if widget not in first)
