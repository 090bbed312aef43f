"""A fork server for ``serve-ssh --preload``: sessions share the pages of one preloaded Python.

Every TUI imports the same ~1,000 modules (Textual, the kubernetes client, the deploy backends):
started with ``exec`` each session holds its own copy — most of its memory. The zygote imports them
once, freezes them out of the garbage collector's reach (``gc.freeze``: a collection would write to
every object and unshare its page), and forks a session from itself on request: the child starts
with every module loaded and its pages shared copy-on-write with the zygote and its siblings.

Protocol over a ``SOCK_SEQPACKET`` socket pair (one message per datagram):

- server → zygote: JSON ``{"argv": [...], "env": {...}, "cwd": ...}`` with the pty's slave end as
  ``SCM_RIGHTS``; the zygote answers ``{"pid": N}`` (or ``{"error": "..."}``);
- zygote → server, whenever a session ends: ``{"exit": N, "code": C}`` (C < 0: killed by signal -C).

The child does what ``exec`` with ``start_new_session`` and a ``preexec_fn`` did: a session of its
own, the pty as its controlling terminal, the session's environment; then runs ``console.cli``.
The zygote itself is single-threaded and never runs an event loop, so forking it is safe.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import termios
from typing import Any

# What a session imports on its way to the deploy board: loaded once here, shared by every session.
PRELOAD = (
    "console.cli",
    "console.app",
    "textual.app",
    "textual.widgets",
    "rich.console",
    "screens.catalog",
    "screens.deploy",
    "backends.deploy.live",
    "screens.deploy_view",
    "screens.deploy_watch",
    "widgets.deploy_form",
    "backends.catalog",
    "backends.workspace",
    "backends.deploy.attach",
    "backends.deploy.engine",
    "backends.deploy.session",
    "backends.kube.cluster",
    "backends.kube.watch",
    "kubernetes.client",
    "rapidfuzz.process",
    "httpx",
    "httpcore",
    "console.terminal",
    "backends.identity",
    "screens.empty_mode",
    "textual.drivers.linux_driver",
    "textual._xterm_parser",
    "textual.scrollbar",
    "textual.layouts.factory",
    "textual.layouts.horizontal",
    "textual.layouts.stream",
    "concurrent.futures.thread",
    "email.policy",
    # The demo's simulated cluster is a background process of its own, but a console reaches it
    # through this module (and its HTTP stack): on a bastion running the demo, load it once too.
    "backends.kube.sim.cluster",
)
MAX_MESSAGE = 1 << 20


def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, int | None]:
    """One message and the descriptor that came with it (None, None at end of stream)."""
    fds = array.array("i")
    data, ancillary, _flags, _addr = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data:
        return None, None
    return json.loads(data), (fds[0] if fds else None)


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import what sessions need; the names that failed (a session then imports them itself)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that cannot load here is loaded (or fails) per session
            failed.append(name)
    return failed


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def _run_session(request: dict[str, Any], slave: int, control: socket.socket, wakeup: int) -> None:
    """In the forked child: become the session's process, run the TUI, never return."""
    code = 1
    try:
        for fd in (control.fileno(), wakeup):
            with contextlib.suppress(OSError):
                os.close(fd)
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        os.setsid()
        for target in (0, 1, 2):
            os.dup2(slave, target)
        if slave > 2:
            os.close(slave)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # resizes arrive as SIGWINCH
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        os.chdir(request.get("cwd") or "/")
        gc.unfreeze()  # the session's own objects are collected as usual
        argv = [str(part) for part in request["argv"]]
        sys.argv = ["idp-console", *argv]
        from console.cli import main

        code = main(argv)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - say what broke on the session's own terminal
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(control: socket.socket) -> None:
    """The zygote's loop: fork a session per request, report each session's end."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd says a child ended
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when we stop
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(read_end, selectors.EVENT_READ, "child")
    sessions: set[int] = set()
    while True:
        for key, _ in selector.select():
            if key.data == "child":
                with contextlib.suppress(BlockingIOError):
                    os.read(read_end, 4096)
                _reap(control, sessions)
                continue
            try:
                request, slave = receive(control)
            except (OSError, ValueError):
                request, slave = None, None
            if request is None:  # the server is gone: so are we (its sessions were ended by it)
                return
            if slave is None:
                control.send(json.dumps({"error": "no terminal came with the request"}).encode())
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _run_session(request, slave, control, read_end)
            os.close(slave)
            sessions.add(pid)
            control.send(json.dumps({"pid": pid}).encode())
        _reap(control, sessions)


def _reap(control: socket.socket, sessions: set[int]) -> None:
    while sessions:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sessions.discard(pid)
        with contextlib.suppress(OSError):
            control.send(json.dumps({"exit": pid, "code": _exit_code(status)}).encode())


def main(argv: list[str]) -> int:
    """``python -m console.sshzygote FD``: FD is the zygote's end of the server's socket pair."""
    control = socket.socket(fileno=int(argv[0]))
    failed = preload()
    if failed:
        print(f"idp-console serve-ssh: not preloaded: {', '.join(failed)}", file=sys.stderr, flush=True)
    gc.collect()
    gc.freeze()  # everything loaded so far stays out of the collector's (page-dirtying) reach
    control.send(json.dumps({"ready": True}).encode())
    serve(control)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
