"""The footer every console screen shows, with ``? Help`` first.

Textual's Footer lists the focused widget's and the screen's keys before the app's, so at 80 columns
the app's ``? Help`` fell off the right edge — the one key that explains all the others.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from widgets.guard import Guarded

if TYPE_CHECKING:
    from textual.screen import Screen

# Actions of app-level keys that must stay visible at any width, in this order.
FIRST_ACTIONS: tuple[str, ...] = ("help",)


class ConsoleFooter(Guarded, Footer):
    def __init__(self, *, hide: Callable[[], Collection[str]] | None = None) -> None:
        super().__init__()
        # Actions whose keys are left out (read-only mode hides what would change something).
        self._hide = hide
        self._recompose_queued = False
        self._shown: object = None  # what the keys were last built from

    def bindings_changed(self, screen: Screen) -> None:
        """One rebuild for a burst of binding changes: Textual queues one per change, and a mode's
        screen changes its bindings four or five times while it mounts and takes the focus — each
        rebuild styles every key again (a third of the status mode's first-paint CPU). The queued
        rebuild reads the bindings when it runs, so it shows the last of them."""
        # Textual's Footer.bindings_changed (8.2), with the queue kept to one.
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._recompose_queued:
            self._recompose_queued = True
            self.call_after_refresh(self.recompose)

    async def recompose(self) -> None:
        """Rebuild the keys — unless they would be the same: moving the focus between widgets with
        the same keys, or a mode's screen resuming, changes no key the footer shows."""
        self._recompose_queued = False
        if not self.is_attached or self._pruning:
            return  # as Textual's: a footer leaving the screen builds nothing
        shown = self._what_is_shown()
        if shown == self._shown:
            return
        self._shown = shown
        await super().recompose()

    def _what_is_shown(self) -> object:
        """Everything compose reads: the shown bindings (key, action, description, group, tooltip,
        enabled), the palette key, the hidden actions."""
        if not self._bindings_ready:
            return None
        active = [
            (b, enabled, tooltip) for _node, b, enabled, tooltip in self.screen.active_bindings.values()
        ]
        return (
            tuple(entry for entry in active if entry[0].show),
            self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE,
            self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING),
            frozenset(self._hide() if self._hide is not None else ()),
        )

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
