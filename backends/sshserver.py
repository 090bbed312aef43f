"""The built-in SSH door (``idp-console serve-ssh``): each connection gets its own TUI process.

For hosts where the platform team cannot change sshd. Public-key authentication only; the key that
authenticated names the catalog user (see :mod:`backends.sshkeys`), never the login name the client
typed, and the child learns it through a session recorded by :func:`backends.identity.open_session`
(so nothing the client sends can change it).

Three traps measured with asyncssh (ARCHITECTURE.md) shape the child's start: never COLUMNS/LINES in
its environment (Textual would ignore resizes), the pty is its controlling terminal (or resizes
never arrive as SIGWINCH), and it is ended when the client goes away (SIGHUP, then SIGKILL).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import asyncssh

from backends import identity, paths
from backends.sshkeys import KeyTable

KILL_GRACE_SECONDS = 3.0  # SIGHUP lets the app restore state; after this it gets SIGKILL
READ_CHUNK = 65536
AUDIT_LOG_NAME = "serve-ssh.log"
# Variables a client may send (like sshd's usual ``AcceptEnv LANG LC_* COLORTERM``); anything else,
# e.g. IDP_CONSOLE_SESSION or LD_PRELOAD, is dropped.
ACCEPTED_CLIENT_ENV = ("COLORTERM", "LANG")
# Terminals known to draw 24-bit colour whose users seldom export COLORTERM through ssh.
TRUECOLOR_TERMS = ("xterm-kitty", "alacritty", "wezterm", "foot", "xterm-ghostty", "contour", "rio")


class ServeError(Exception):
    """The server cannot start (bad address, host key, no keys); the message says what to fix."""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str
    port: int
    host_key: Path
    keys: KeyTable
    workspace: str | None = None
    max_sessions: int = 64
    max_per_user: int = 4
    child_command: Sequence[str] = ()  # default: this Python running the TUI
    # Fork each session from one preloaded process (console/sshzygote.py): sessions share the
    # pages of every module they import instead of each holding its own copy.
    preload: bool = False


@dataclass(slots=True)
class SessionLimits:
    """Live sessions per catalog user; checked when a session starts (the event loop's thread only)."""

    max_sessions: int
    max_per_user: int
    per_user: Counter[str] = field(default_factory=Counter)

    def refusal(self, user: str) -> str | None:
        """Why one more session for ``user`` is refused, or None (then it is counted)."""
        if sum(self.per_user.values()) >= self.max_sessions:
            return f"the server is full ({self.max_sessions} sessions); try again later"
        if self.per_user[user] >= self.max_per_user:
            return (
                f"{user} already has {self.per_user[user]} sessions (limit {self.max_per_user}); "
                "close one and retry"
            )
        self.per_user[user] += 1
        return None

    def release(self, user: str) -> None:
        self.per_user[user] -= 1
        if self.per_user[user] <= 0:
            del self.per_user[user]


class AuditLog:
    """One line per session or refusal, to stderr and ``serve-ssh.log`` in the state dir (0600)."""

    def __init__(self, path: Path, stream: TextIO | None = None) -> None:
        self.path = path
        self._stream = stream if stream is not None else sys.stderr

    def write(self, event: str, **fields: object) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [f"{key}={_quoted(value)}" for key, value in fields.items() if value is not None]
        line = f"{stamp} serve-ssh {event} {' '.join(parts)}"
        print(line, file=self._stream, flush=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, paths.PRIVATE_FILE)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def _quoted(value: object) -> str:
    text = str(value)
    return f'"{text}"' if not text or any(c in text for c in ' "=') else text


def truecolor_wanted(term: str, client_env: Mapping[str, str]) -> bool:
    """Whether the child should be told the terminal draws 24-bit colour (sshd never forwards it)."""
    if client_env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return True
    term = term.lower()
    return "truecolor" in term or "24bit" in term or term.endswith("-direct") or term in TRUECOLOR_TERMS


def child_environment(
    base: Mapping[str, str],
    *,
    term: str,
    client_env: Mapping[str, str],
    session_token: str,
    connection: str,
) -> dict[str, str]:
    """The TUI's environment: the server's own, minus what would mislead the child, plus the session."""
    env = {
        key: value
        for key, value in base.items()
        # COLUMNS/LINES would pin Textual's size (resizes ignored); the rest belongs to the server.
        if key
        not in ("COLUMNS", "LINES", "COLORTERM", identity.SESSION_VARIABLE, identity.DEMO_USER_VARIABLE)
        and not key.startswith("SSH_")
    }
    for key, value in client_env.items():
        if (key in ACCEPTED_CLIENT_ENV or key.startswith("LC_")) and value.isprintable() and len(value) < 256:
            env[key] = value
    env["TERM"] = term or "xterm-256color"
    if truecolor_wanted(env["TERM"], client_env):
        env["COLORTERM"] = "truecolor"
    env[identity.SESSION_VARIABLE] = session_token
    env["SSH_CONNECTION"] = connection  # the app can tell it is remote (OSC 52, never open_url)
    return env


def tui_arguments(workspace: str | None) -> list[str]:
    return ["--workspace", workspace] if workspace else []


def tui_command(workspace: str | None) -> list[str]:
    return [sys.executable, "-m", "console.cli", *tui_arguments(workspace)]


class AppProcess(Protocol):
    """A session's app: a process the server started, or one its zygote forked."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    async def wait(self) -> int: ...


class ZygoteChild:
    """A session forked by the zygote: not our child, so its end comes as a message."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended = asyncio.Event()

    def ended(self, code: int) -> None:
        self.returncode = code
        self._ended.set()

    async def wait(self) -> int:
        await self._ended.wait()
        assert self.returncode is not None
        return self.returncode


class ZygoteError(Exception):
    """The fork server is gone or refused; sessions are then started the plain way."""


class Zygote:
    """The ``--preload`` fork server (``python -m console.sshzygote``), driven from the event loop."""

    READY_TIMEOUT = 120.0  # seconds to import everything, on a loaded machine

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command or [sys.executable, "-m", "console.sshzygote"])
        self.process: asyncio.subprocess.Process | None = None
        self._socket: socket.socket | None = None
        self._pending: deque[asyncio.Future[dict[str, Any]]] = deque()
        self._children: dict[int, ZygoteChild] = {}

    @property
    def alive(self) -> bool:
        return self._socket is not None and self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # the server's terminal signals are not its business
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            ready = await asyncio.wait_for(loop.sock_recv(ours, 65536), self.READY_TIMEOUT)
        except (TimeoutError, OSError) as error:
            ours.close()
            raise ZygoteError(f"the preloaded process did not start: {error}") from error
        if not ready:
            ours.close()
            raise ZygoteError("the preloaded process exited while loading")
        self._socket = ours
        loop.add_reader(ours, self._on_message)

    async def spawn(self, arguments: Sequence[str], env: Mapping[str, str], terminal: int) -> ZygoteChild:
        """Fork a session running ``console.cli ARGUMENTS`` on the pty slave ``terminal``."""
        if not self.alive or self._socket is None:
            raise ZygoteError("the preloaded process is not running")
        request = json.dumps({"argv": list(arguments), "env": dict(env), "cwd": os.getcwd()}).encode()
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append(answer)
        try:
            fds = array.array("i", [terminal])
            self._socket.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        except OSError as error:
            self._pending.remove(answer)
            raise ZygoteError(f"the preloaded process does not listen: {error}") from error
        reply = await answer
        if "pid" not in reply:
            raise ZygoteError(str(reply.get("error") or "the preloaded process refused"))
        child = ZygoteChild(int(reply["pid"]))
        self._children[child.pid] = child
        return child

    def _on_message(self) -> None:
        assert self._socket is not None
        try:
            data = self._socket.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._gone()
            return
        message = json.loads(data)
        if "exit" in message:
            child = self._children.pop(int(message["exit"]), None)
            if child is not None:
                child.ended(int(message["code"]))
        elif self._pending:
            answer = self._pending.popleft()
            if not answer.done():
                answer.set_result(message)

    def _gone(self) -> None:
        """The zygote died: its sessions lost their reaper (init has them); new ones are execed."""
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket)
            self._socket.close()
            self._socket = None
        while self._pending:
            answer = self._pending.popleft()
            if not answer.done():
                answer.set_result({"error": "the preloaded process exited"})
        for child in self._children.values():
            child.ended(-signal.SIGKILL)
        self._children.clear()

    async def stop(self) -> None:
        self._gone()
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.process.wait(), 10)
            if self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()


def _set_winsize(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(rows, 1), max(columns, 1), 0, 0))


def _become_terminal_owner() -> None:
    """In the child, after setsid(): make its stdin (the pty) the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class _AppSession(asyncssh.SSHServerSession):
    """One SSH channel: a TUI process on its own pty, bytes shuttled both ways."""

    def __init__(self, server: _Connection) -> None:
        self._server = server
        self._chan: asyncssh.SSHServerChannel | None = None
        self._term = ""
        self._size = (80, 24)
        self._master: int | None = None
        self._process: AppProcess | None = None
        self._reading = False
        self._client_gone = False
        self._started = time.monotonic()
        self.task: asyncio.Future[None] | None = None
        self._input = bytearray()
        self._input_waits = False

    # -- asyncssh callbacks ----------------------------------------------------------------------
    def connection_made(self, chan: asyncssh.SSHServerChannel) -> None:
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], modes: object) -> bool:
        self._term = term_type
        self._size = (term_size[0] or 80, term_size[1] or 24)
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return True  # answered in session_started: this door only opens the TUI

    def session_started(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    def data_received(self, data: bytes, datatype: int | None) -> None:
        self._input += data
        self._write_input()

    def _write_input(self) -> None:
        """Keys and pastes to the app; a paste larger than the pty's buffer waits for the app to read."""
        assert self._chan is not None
        if self._master is None:
            return
        try:
            while self._input:
                del self._input[: os.write(self._master, self._input)]
        except BlockingIOError:
            pass
        except OSError:  # the app is gone; what it did not read is dropped
            self._input.clear()
        waiting = bool(self._input)
        if waiting != self._input_waits:
            loop = asyncio.get_running_loop()
            if waiting:
                loop.add_writer(self._master, self._write_input)
                self._chan.pause_reading()  # the client stops sending until the app catches up
            else:
                loop.remove_writer(self._master)
                self._chan.resume_reading()
            self._input_waits = waiting

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if self._master is not None and width and height:
            # The kernel sends SIGWINCH to the pty's foreground process group: the app repaints.
            _set_winsize(self._master, width, height)

    def eof_received(self) -> bool:
        return True  # a terminal has no end of input; the client hangs up by closing the channel

    def pause_writing(self) -> None:
        self._stop_reading()

    def resume_writing(self) -> None:
        self._start_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._client_gone = True
        if self._process is not None and self._process.returncode is None:
            asyncio.ensure_future(end_process(self._process))

    # -- the session ------------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._chan is not None
        chan, server = self._chan, self._server
        user = server.user or "?"
        command = chan.get_command()
        if command or not self._term:
            why = f"`{command}` is not available here" if command else "no terminal"
            self._refuse(f"{why}: this server opens the TUI only; connect with `ssh -t`", "no pty or command")
            return
        refusal = server.limits.refusal(user)
        if refusal:
            self._refuse(refusal, refusal)
            return
        try:
            token = identity.open_session(user)
        except (OSError, paths.PathsError) as error:
            server.limits.release(user)
            self._refuse(f"cannot record the session ({error})", "session store unusable")
            return
        exit_code: int | None = None
        try:
            exit_code = await self._serve(token)
        finally:
            identity.close_session(token)
            server.limits.release(user)
            server.audit.write(
                "session",
                user=user,
                login=server.login,
                **{"from": server.peer},
                key=server.fingerprint,
                duration=f"{time.monotonic() - self._started:.1f}s",
                exit=exit_code,
                ended="client" if self._client_gone else "app",
            )

    def _refuse(self, message: str, reason: str) -> None:
        assert self._chan is not None
        self._server.audit.write(
            "refused", user=self._server.user, **{"from": self._server.peer}, reason=reason
        )
        self._chan.write_stderr(f"idp-console: {message}\r\n".encode())
        self._chan.exit(1)

    async def _serve(self, token: str) -> int | None:
        assert self._chan is not None
        chan, server = self._chan, self._server
        master, slave = os.openpty()
        _set_winsize(slave, *self._size)
        env = child_environment(
            os.environ,
            term=self._term,
            client_env=chan.get_environment(),
            session_token=token,
            connection=server.connection_line,
        )
        try:
            self._process = await self._start_app(env, slave)
        except OSError as error:
            os.close(master)
            os.close(slave)
            chan.write_stderr(f"idp-console: cannot start the TUI: {error}\r\n".encode())
            chan.exit(1)
            return None
        os.close(slave)  # only the child holds it now: its exit hangs the pty up
        os.set_blocking(master, False)
        self._master = master
        if self._client_gone:  # the client left while the app was being started
            asyncio.ensure_future(end_process(self._process))
        self._start_reading()
        self._write_input()  # keys typed before the app existed
        code = await self._process.wait()
        self._drain()
        self._stop_reading()
        if self._input_waits:
            asyncio.get_running_loop().remove_writer(master)
        self._master = None
        os.close(master)
        if not self._client_gone:
            chan.exit(code if code >= 0 else 128 - code)
        return code if code >= 0 else 128 - code

    async def _start_app(self, env: dict[str, str], slave: int) -> AppProcess:
        """Fork the app from the preloaded zygote when there is one, else start it afresh."""
        options, zygote = self._server.options, self._server.zygote
        if zygote is not None and zygote.alive and not options.child_command:
            with contextlib.suppress(ZygoteError):
                return await zygote.spawn(tui_arguments(options.workspace), env, slave)
        return await asyncio.create_subprocess_exec(
            *(options.child_command or tui_command(options.workspace)),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_become_terminal_owner,
        )

    def _start_reading(self) -> None:
        if self._master is not None and not self._reading:
            asyncio.get_running_loop().add_reader(self._master, self._forward)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._master is not None and self._reading:
            asyncio.get_running_loop().remove_reader(self._master)
        self._reading = False

    def _forward(self) -> bool:
        """Copy what the app wrote to the client; False when nothing more is there for now."""
        assert self._master is not None and self._chan is not None
        try:
            data = os.read(self._master, READ_CHUNK)
        except BlockingIOError:
            return False
        except OSError:  # EIO: the child closed the pty (it is exiting)
            data = b""
        if not data:
            self._stop_reading()
            return False
        if not self._client_gone:
            self._chan.write(data)
        return True

    def _drain(self) -> None:
        """What the app wrote just before it exited (e.g. leaving the alternate screen)."""
        while self._master is not None and self._forward():
            pass


async def end_process(process: AppProcess, grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGHUP to the app's process group (as a hung-up terminal would), SIGKILL if it lingers."""
    for signum, wait in ((signal.SIGHUP, grace), (signal.SIGKILL, grace)):
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), wait)


class _Connection(asyncssh.SSHServer):
    """One client connection: authenticates a key, then opens app sessions for its user."""

    def __init__(
        self, options: ServeOptions, limits: SessionLimits, audit: AuditLog, zygote: Zygote | None = None
    ) -> None:
        self.options = options
        self.limits = limits
        self.audit = audit
        self.zygote = zygote
        self.user: str | None = None
        self.authenticated = False
        self.login = ""
        self.peer = "?"
        self.connection_line = ""
        self.fingerprint = ""
        self.sessions: list[_AppSession] = []
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername") or ("?", 0)
        local = conn.get_extra_info("sockname") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        self.connection_line = f"{peer[0]} {peer[1]} {local[0]} {local[1]}"

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.authenticated:
            reason = "no authorized key" if self.login else "did not authenticate"
            self.audit.write("refused", login=self.login or None, **{"from": self.peer}, reason=reason)

    def begin_auth(self, username: str) -> bool:
        self.login = username
        return True  # authentication is always required

    def auth_completed(self) -> None:
        self.authenticated = True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        user = self.options.keys.user_for(key)
        if user is None:
            return False
        # asyncssh calls this for the query and again, just before checking the signature, for the
        # key that signs; authentication only succeeds after the latter, so the last key seen wins.
        self.user = user
        self.fingerprint = key.get_fingerprint()
        return True

    def session_requested(self) -> _AppSession:
        session = _AppSession(self)
        self.sessions.append(session)
        return session


async def serve(
    options: ServeOptions,
    *,
    audit: AuditLog | None = None,
    on_listening: Callable[[str, int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (or forever); every running app is ended before returning."""
    try:
        host_key = asyncssh.read_private_key(str(options.host_key))
    except (OSError, asyncssh.KeyImportError) as error:
        hint = (
            ""
            if options.host_key.exists()
            else f"; create one: ssh-keygen -t ed25519 -N '' -f {options.host_key}"
        )
        raise ServeError(f"{options.host_key}: not a usable host key ({error}){hint}") from error
    audit = audit or AuditLog(paths.state_dir() / AUDIT_LOG_NAME)
    limits = SessionLimits(options.max_sessions, options.max_per_user)
    connections: list[_Connection] = []
    zygote: Zygote | None = None
    if options.preload:
        zygote = Zygote()
        try:
            await zygote.start()
        except (ZygoteError, OSError) as error:
            audit.write("preload", error=str(error), fallback="one process per session")
            zygote = None

    def factory() -> _Connection:
        connection = _Connection(options, limits, audit, zygote)
        connections.append(connection)
        return connection

    try:
        acceptor = await asyncssh.create_server(
            factory,
            options.host,
            options.port,
            server_host_keys=[host_key],
            encoding=None,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_scp=False,
            keepalive_interval=30,  # a client that vanished without a FIN is noticed, its app ended
            keepalive_count_max=3,
        )
    except OSError as error:
        if zygote is not None:
            await zygote.stop()
        raise ServeError(f"cannot listen on {options.host}:{options.port}: {error.strerror}") from error
    port = acceptor.sockets[0].getsockname()[1]
    if on_listening:
        on_listening(options.host, port)
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        acceptor.close()
        running = [
            session._process
            for connection in connections
            for session in connection.sessions
            if session._process is not None and session._process.returncode is None
        ]
        await asyncio.gather(*(end_process(process) for process in running))
        # Each session writes its audit line as its app ends; then the clients are told goodbye.
        tasks = [s.task for c in connections for s in c.sessions if s.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        for connection in connections:
            if connection.conn is not None:
                connection.conn.close()
        if zygote is not None:
            await zygote.stop()
