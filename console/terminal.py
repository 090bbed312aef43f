"""The TUI's contract with the terminal it draws on — usually a pty that sshd made on a bastion.

Three promises a shared bastion depends on:

- no terminal, no TUI: ``ssh bastion idp-console`` without ``-t`` (or stdin from ``/dev/null``) gets
  one line and exit 2 instead of an app reading EOF in a loop at 100 % of a core;
- SIGTERM, SIGHUP or a hung-up pty end the app within about a second, with the terminal put back
  (alternate screen left, mouse reporting and raw mode off) when there still is a terminal;
- never an orphan: if the orderly shutdown stalls (a worker blocked on a dead cluster, a write to a
  terminal that is gone), the process ends anyway after a short grace period.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO

NEEDS_TERMINAL = (
    "the TUI needs a terminal: connect with `ssh -t`, or use a subcommand (idp-console --help lists them)"
)

# What Textual's driver writes on an orderly stop, for when the orderly stop cannot happen: leave the
# alternate screen, show the cursor, and turn off mouse reporting, bracketed paste and focus events.
RESTORE_SEQUENCE = (
    "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[?1004l\x1b[<u\x1b[?1049l\x1b[?25h"
)

GRACE_SECONDS = 1.0  # orderly shutdown budget before the process is ended regardless
HANGUP_POLL_MS = 500  # how often the watcher looks for a hung-up terminal


def terminal_problem(stdin: TextIO | None = None, stdout: TextIO | None = None) -> str | None:
    """Why the TUI cannot run here (stdin or stdout is not a terminal), or None."""
    for stream in (stdin or sys.stdin, stdout or sys.stdout):
        try:
            if stream is None or not os.isatty(stream.fileno()):
                return NEEDS_TERMINAL
        except (AttributeError, OSError, ValueError):
            return NEEDS_TERMINAL
    return None


class TerminalGuard:
    """Ends the app when its terminal goes away or it is told to stop.

    ``request_exit`` is called from a helper thread (never from the signal handler itself, which
    runs on the event loop's thread) and must ask the app to exit; if the process is still here
    :data:`GRACE_SECONDS` later, the terminal is restored by hand and the process exits.
    """

    def __init__(
        self,
        request_exit: Callable[[], None],
        *,
        terminal_fd: int | None = None,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self._request_exit = request_exit
        self._fd = terminal_fd if terminal_fd is not None else _stdin_fd()
        self._grace = grace
        self._stopping = threading.Event()
        self._done = threading.Event()
        self.signal_number: int | None = None
        self._previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
        self._saved_mode: list | None = None

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number (0 if none)."""
        return 128 + self.signal_number if self.signal_number else 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[TerminalGuard]:
        if self._fd is not None:
            with contextlib.suppress(termios.error, OSError):
                self._saved_mode = termios.tcgetattr(self._fd)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        watcher = threading.Thread(target=self._watch_hangup, name="terminal-hangup", daemon=True)
        watcher.start()
        try:
            yield self
        finally:
            # After a signal the grace timer keeps running until the process is gone: threads still
            # alive after the app (a worker blocked on a dead API) must not keep it here.
            if not self._stopping.is_set():
                self._done.set()
            for signum, previous in self._previous.items():
                if previous is None:  # a handler installed outside Python cannot be put back
                    continue
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(signum, previous)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stop(signum)

    def stop(self, signum: int) -> None:
        """Begin the shutdown once (later signals only repeat the request)."""
        if self._stopping.is_set():
            return
        self.signal_number = signum
        self._stopping.set()
        threading.Thread(target=self._shut_down, name="terminal-shutdown", daemon=True).start()

    def _shut_down(self) -> None:
        # The request may block (it waits for the event loop), so it gets its own thread and the
        # grace period starts now, whatever the loop is doing.
        threading.Thread(target=self._ask_to_exit, name="terminal-exit-request", daemon=True).start()
        if self._done.wait(self._grace):
            return
        # The orderly exit stalled: put the terminal back ourselves, then leave.
        with contextlib.suppress(OSError):
            os.write(1, RESTORE_SEQUENCE.encode())
        if self._fd is not None and self._saved_mode is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self._fd, termios.TCSANOW, self._saved_mode)
        os._exit(self.exit_code or 1)

    def _ask_to_exit(self) -> None:
        with contextlib.suppress(Exception):
            self._request_exit()

    def _watch_hangup(self) -> None:
        """A pty whose other end closed reports POLLHUP; treat it like SIGHUP (sshd may never send one)."""
        if self._fd is None:
            return
        poller = select.poll()
        poller.register(self._fd, select.POLLHUP | select.POLLERR | select.POLLNVAL)
        while not self._done.is_set() and not self._stopping.is_set():
            try:
                events = poller.poll(HANGUP_POLL_MS)
            except OSError:
                return
            if any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _fd, mask in events):
                self.stop(signal.SIGHUP)
                return


def _stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return None
