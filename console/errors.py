"""The TUI's one error path: whatever fails is logged with its traceback and shown; the session goes on.

Three ways in, one way out (``ErrorReportingApp._show_failure``: errors.log in the state dir and one
toast "X failed: reason (details in …)"):

- a worker that fails (``_worker_failed``; every worker runs with ``exit_on_error=False``);
- a handler, action, watcher or timer of ours that raises (``report_failure``, called by
  ``widgets.guard.Guarded``, which every App, Screen and Widget of ours mixes in);
- anything else Textual would end the app for (``_handle_exception``): the screen or widget it
  came from is closed or switched off and the rest goes on; only a failure of the app itself, or
  one while it shuts down, still ends it.

Tests: ``run_test`` raises the first unexpected failure when the test ends, as Textual does for a
crash, so a bug still fails its test although the app went on; a test that injects a failure sets
``errors_expected``.
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App
from textual.message_pump import MessagePump, active_message_pump
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from widgets.guard import Guarded

if TYPE_CHECKING:
    from textual.pilot import Pilot


def log_failure(what: str, error: BaseException) -> Path | None:
    """Append the failure with its traceback to ``errors.log`` in the state dir; its path, or None.

    The toast is gone after a few seconds; the traceback is what a maintainer needs afterwards.
    """
    from backends import paths

    try:
        log_file = paths.state_dir() / "errors.log"
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        trace = "".join(traceback.format_exception(error))
        with log_file.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {what} failed\n{trace}\n")
    except OSError:
        return None  # a full or read-only disk must not turn one failure into two
    return log_file


class ErrorReportingApp(Guarded, App[None]):
    """The App half of the error path; ``IdpConsoleApp`` builds on it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The first failure nobody expected: run_test raises it when the test ends. Only the first:
        # each error holds its traceback's frames, and a session may meet the same one many times.
        self.unexpected_error: Exception | None = None
        self.errors_expected = False

    def report_failure(self, what: str, error: Exception) -> None:
        """A handler, action, watcher or timer of ours raised (widgets.guard): tell, go on."""
        self._show_failure(what, error)
        if self.unexpected_error is None:
            self.unexpected_error = error

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # The one place a failed background job becomes visible: never a silent failure, never an
        # exit (every worker runs with exit_on_error=False). Screens and widgets forward their
        # workers' failures here, since Worker.StateChanged does not bubble.
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        self._show_failure(event.worker.name or "background task", error)

    def _show_failure(self, what: str, error: BaseException) -> None:
        log_file = log_failure(what, error)
        where = f" (details in {log_file})" if log_file is not None else ""
        self.log.error(f"{what} failed", error)
        self.notify(
            f"{what} failed: {str(error) or type(error).__name__}{where}",
            title="Error",
            severity="error",
            timeout=10,
            markup=False,
        )

    def _handle_exception(self, error: Exception) -> None:
        # Textual's last resort, for what the guard does not see (Textual's own code, a compose or
        # a render). Textual would end the app; the failing screen or widget has already stopped
        # (a compose left it empty, or its message loop ended), so take it away and go on.
        pump = active_message_pump.get(None)
        recover = self._recovery_for(pump) if pump is not None else None
        if recover is None:
            log_failure("idp-console", error)  # the traceback outlives the terminal's scrollback
            super()._handle_exception(error)
            return
        self.report_failure(type(pump).__name__, error)
        # Not now: Textual is still inside the failing pump's loop.
        self.call_later(recover)

    def _recovery_for(self, pump: MessagePump) -> Callable[[], object] | None:
        """How the app goes on without ``pump``; None when it cannot (the app itself failed)."""
        if pump is self or self._exit or not self.is_running:
            return None
        if isinstance(pump, Screen):
            return self._screen_recovery(pump)
        if isinstance(pump, Widget):

            def switch_off() -> None:
                # A disabled widget takes no focus: keys reach its screen again.
                pump.disabled = True

            return switch_off
        return None

    def _screen_recovery(self, screen: Screen[Any]) -> Callable[[], object] | None:
        stack = self.screen_stack
        if screen is self.screen and len(stack) > 1:
            return self.pop_screen
        mode = self.current_mode
        if screen is self.screen and stack == [screen] and mode != self.DEFAULT_MODE:
            # A mode's own screen: back to the first mode, and a fresh screen next time.
            factory = self.MODES.get(mode)

            async def leave_mode() -> None:
                await self.switch_mode(self.DEFAULT_MODE)
                await self.remove_mode(mode)
                if factory is not None:
                    self.add_mode(mode, factory)

            return leave_mode
        return None

    @asynccontextmanager
    async def run_test(self, *args: Any, **kwargs: Any) -> AsyncGenerator[Pilot[None], None]:
        """Textual's run_test, and then the first unexpected failure the app went on after."""
        try:
            async with super().run_test(*args, **kwargs) as pilot:
                yield pilot
        finally:
            if self.unexpected_error is not None and not self.errors_expected:
                raise self.unexpected_error
