"""The footer every console screen shows, with ``? Help`` first.

Textual's Footer lists the focused widget's and the screen's keys before the app's, so at 80 columns
the app's ``? Help`` fell off the right edge — the one key that explains all the others.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from widgets.guard import Guarded

# Actions of app-level keys that must stay visible at any width, in this order.
FIRST_ACTIONS: tuple[str, ...] = ("help",)


class ConsoleFooter(Guarded, Footer):
    def __init__(self, *, hide: Callable[[], Collection[str]] | None = None) -> None:
        super().__init__()
        # Actions whose keys are left out (read-only mode hides what would change something).
        self._hide = hide

    def compose(self) -> ComposeResult:
        hidden = self._hide() if self._hide is not None else ()
        widgets = [
            widget
            for widget in super().compose()
            if not (isinstance(widget, FooterKey) and widget.action in hidden)
        ]
        first = [
            widget
            for action in FIRST_ACTIONS
            for widget in widgets
            if isinstance(widget, FooterKey) and widget.action == action
        ]
        yield from first
        yield from (widget for widget in widgets if widget not in first)
