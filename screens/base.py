"""The frame every mode and detail screen shares: top bar with crumbs, body, footer."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from textual import events, on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from screens.context import MODES, SIMULATED_BANNER, ConsoleContext, context_of
from widgets.console_footer import ConsoleFooter
from widgets.guard import Guarded
from widgets.top_bar import TopBar

Method = TypeVar("Method", bound=Callable[..., Any])


def mutating(what: str) -> Callable[[Method], Method]:
    """Mark a screen method that changes something (a deploy, a scaffolder run, an unregistration).

    In read-only mode the app refuses it with a notification naming ``what`` — the decision is the
    app's one check, ``ConsoleContext.refuses_change`` — and the footer hides the keys of marked
    ``action_*`` methods. Mark the method every path goes through (key, button, : command)."""

    def mark(method: Method) -> Method:
        @functools.wraps(method)
        def guarded(self: ConsoleScreen, *args: Any, **kwargs: Any) -> Any:
            if self.ctx.refuses_change(what):
                return None
            return method(self, *args, **kwargs)

        guarded.mutating = what  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return mark


# Below this the layout cuts panels and footers in ways that look broken: say so instead.
MIN_SIZE: tuple[int, int] = (80, 24)


class ConsoleScreen(Guarded, Screen):
    """Base for all full screens. Subclasses set ``MODE`` and implement ``compose_body``."""

    MODE: ClassVar[str] = "catalog"
    HELP: ClassVar[str] = ""  # a paragraph for the ? overlay, in the user's words
    DEFAULT_CSS = """
    ConsoleScreen > #too-small {
        width: 1fr; height: auto; padding: 0 1; display: none;
        background: $error; color: $text; text-style: bold;
    }
    ConsoleScreen > #too-small.-shown { display: block; }
    """

    @property
    def ctx(self) -> ConsoleContext:
        return context_of(self.app)

    @property
    def mode_name(self) -> str:
        """The mode tab highlighted while this screen shows."""
        return self.MODE

    @property
    def crumb(self) -> str:
        """This screen's part of the crumbs line."""
        return self.MODE

    def compose(self) -> ComposeResult:
        workspace = self.ctx.workspace
        banner = SIMULATED_BANNER if workspace.is_demo else None
        yield Static("", id="too-small")
        yield TopBar(
            MODES,
            self.mode_name,
            workspace.name,
            self._crumbs(),
            banner,
            user=self.ctx.identity,
            readonly=self.ctx.readonly,
        )
        yield from self.compose_body()
        yield ConsoleFooter(hide=self._hidden_actions)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def _hidden_actions(self) -> frozenset[str]:
        """Keys the footer leaves out: in read-only mode, those of ``@mutating`` actions."""
        if not self.ctx.readonly:
            return frozenset()
        cls = type(self)
        return frozenset(
            name.removeprefix("action_")
            for name in dir(cls)
            if name.startswith("action_") and getattr(getattr(cls, name, None), "mutating", None)
        )

    def _crumbs(self) -> list[str]:
        stack = [s for s in self.app.screen_stack if isinstance(s, ConsoleScreen)]
        if self not in stack:
            stack.append(self)
        return [s.crumb for s in stack]

    def on_screen_resume(self) -> None:
        # Crumbs depend on the stack, which changes when a screen above is popped.
        if self.is_mounted:
            self.query_one(TopBar).set_crumbs(self._crumbs())
            self._check_size()

    def on_resize(self, _event: events.Resize) -> None:
        self._check_size()

    def _check_size(self) -> None:
        width, height = self.app.size
        notice = self.query_one("#too-small", Static)
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        if small:
            notice.update(f"terminal too small (needs {MIN_SIZE[0]}x{MIN_SIZE[1]}): {width}x{height}")
        notice.set_class(small, "-shown")

    @on(Worker.StateChanged)
    def _forward_worker_failure(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand failures to the app's one error handler.
        if event.state == WorkerState.ERROR:
            self.app.post_message(Worker.StateChanged(event.worker, event.state))
