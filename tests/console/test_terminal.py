"""The TUI on a real pty, as sshd gives it: no terminal, SIGTERM, SIGHUP and a hung-up pty."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEAVE_ALT_SCREEN = b"\x1b[?1049l"


def _spawn(home: Path) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.chdir(ROOT)
        os.environ["IDP_CONSOLE_HOME"] = str(home)
        os.environ["TERM"] = "xterm-256color"
        os.execv(sys.executable, [sys.executable, "-m", "console.cli"])
    return pid, fd


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    buffer, end = b"", time.monotonic() + timeout
    while needle not in buffer and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed its side
            break
        if not chunk:
            break
        buffer += chunk
    return buffer


def _wait(pid: int, timeout: float) -> int | None:
    """The exit code, or None (and the child killed) if it is still running after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.fixture
def running_app(tmp_path: Path):
    pid, fd = _spawn(tmp_path / "home")
    painted = _read_until(fd, b"SIMULATED CLUSTER", timeout=60)
    assert b"SIMULATED CLUSTER" in painted, painted[-500:]
    yield pid, fd
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        os.close(fd)


def test_without_a_terminal_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "console.cli"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "IDP_CONSOLE_HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "idp-console: the TUI needs a terminal: connect with `ssh -t`, or use a subcommand "
        "(idp-console --help lists them)"
    ]


def test_sigterm_restores_the_terminal_and_exits(running_app: tuple[int, int]) -> None:
    pid, fd = running_app
    os.kill(pid, signal.SIGTERM)
    tail = _read_until(fd, LEAVE_ALT_SCREEN, timeout=10)
    assert _wait(pid, timeout=10) == 128 + signal.SIGTERM
    assert LEAVE_ALT_SCREEN in tail  # the user's shell is back on the normal screen


def test_sighup_ends_the_app(running_app: tuple[int, int]) -> None:
    pid, _fd = running_app
    os.kill(pid, signal.SIGHUP)
    assert _wait(pid, timeout=10) == 128 + signal.SIGHUP


def test_a_hung_up_terminal_ends_the_app_instead_of_spinning(running_app: tuple[int, int]) -> None:
    pid, fd = running_app
    os.close(fd)  # what sshd does when the client's connection drops
    assert _wait(pid, timeout=10) is not None  # gone, not orphaned reading EOF forever
