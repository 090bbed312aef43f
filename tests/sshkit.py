"""Real SSH pieces for tests and bench/ssh.py: keys, the built-in server, and a client on a pty.

Everything started here is ended by its ``close()`` / ``stop()`` (CI looks for leftover ``sshd -f``
and ``idp-console serve`` processes), and the helpers are context managers so a failing assert
cannot leak one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SSHD = "/usr/sbin/sshd"
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-B]|\x1b[=>78]")


def keygen(path: Path, comment: str) -> Path:
    """An unencrypted ed25519 key pair at ``path`` (+ ``.pub``); returns the private key's path."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path


def plain(data: bytes) -> str:
    """Terminal output without escape sequences, for looking for words a user would see."""
    return _ANSI.sub(b"", data).decode("utf-8", "replace")


def _set_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def _own_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyClient:
    """A command (usually ``ssh -tt``) on its own pty, as in a terminal window; output is kept."""

    def __init__(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, size: tuple[int, int] = (120, 40)
    ) -> None:
        master, slave = os.openpty()
        _set_size(slave, *size)
        self.process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            preexec_fn=_own_terminal,  # SIGWINCH reaches it when the window is resized
        )
        os.close(slave)
        self.fd = master
        self.output = bytearray()
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, output length after)
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            with self._changed:
                if chunk:
                    self.output += chunk
                    self.arrivals.append((time.monotonic(), len(self.output)))
                else:
                    self.closed = True
                self._changed.notify_all()
            if not chunk:
                return

    closed = False

    def mark(self) -> int:
        with self._changed:
            return len(self.output)

    def text(self, since: int = 0) -> str:
        with self._changed:
            return plain(bytes(self.output[since:]))

    def expect(self, words: str, timeout: float, since: int = 0) -> bool:
        """Whether ``words`` appear on the screen (output after ``since``) within ``timeout``."""
        end = time.monotonic() + timeout
        with self._changed:
            while words not in plain(bytes(self.output[since:])):
                remaining = end - time.monotonic()
                if remaining <= 0 or self.closed:
                    return words in plain(bytes(self.output[since:]))
                self._changed.wait(min(remaining, 0.2))
            return True

    def answer_time(self, keys: bytes, timeout: float = 10.0) -> float | None:
        """Seconds from writing ``keys`` to the first output after them (None: no answer)."""
        with self._changed:
            before = len(self.output)
        started = time.monotonic()
        self.send(keys)
        with self._changed:
            while len(self.output) == before:
                remaining = started + timeout - time.monotonic()
                if remaining <= 0 or self.closed:
                    return None
                self._changed.wait(remaining)
            arrived = next(t for t, length in self.arrivals if length > before)
        return arrived - started

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def resize(self, columns: int, rows: int) -> None:
        _set_size(self.fd, columns, rows)  # the kernel sends SIGWINCH to the client

    def wait(self, timeout: float) -> int | None:
        """The exit code (None if still running after ``timeout``), with all its output read."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        # What it printed last may still sit in the pty: let the reader reach the end first.
        self._reader.join(timeout=5)
        return code

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=2)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def ssh_argv(port: int, key: Path, login: str = "someone", *extra: str) -> list[str]:
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-tt",
        "-p",
        str(port),
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        *extra,
        f"{login}@127.0.0.1",
    ]


@contextlib.contextmanager
def ssh_client(
    port: int, key: Path, login: str = "someone", *extra: str, colorterm: str | None = None, **kwargs: object
) -> Iterator[PtyClient]:
    """``ssh -tt`` from a terminal whose TERM is xterm-256color (and COLORTERM as given)."""
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("COLORTERM", None)
    if colorterm:
        env["COLORTERM"] = colorterm
    client = PtyClient(ssh_argv(port, key, login, *extra), env=env, **kwargs)  # type: ignore[arg-type]
    try:
        yield client
    finally:
        client.close()


class ServeSsh:
    """``idp-console serve-ssh`` as a process on a free loopback port."""

    def __init__(
        self, workdir: Path, *args: str, home: Path | None = None, workspace: Path | None = None
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.host_key = workdir / "host_key"
        if not self.host_key.exists():
            keygen(self.host_key, "host")
        self.log = workdir / "serve-ssh.stderr"
        env = dict(os.environ)
        if home is not None:
            env["IDP_CONSOLE_HOME"] = str(home)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "console.cli", *(["--workspace", str(workspace)] if workspace else [])]
                + ["serve-ssh", "--listen", "127.0.0.1:0"]
                + ["--host-key", str(self.host_key), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env=env,
            )
        self.port = self._wait_for_port(timeout=60)

    def _wait_for_port(self, timeout: float) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log.read_text())
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"serve-ssh did not start: {self.log.read_text()}")

    def apps(self) -> list[int]:
        """Pids of the app processes the server is running now (with ``--preload``, its zygote's)."""
        found = []
        for pid in children(self.process.pid):
            found += children(pid) if is_zygote(pid) else [pid]
        return found

    def zygote(self) -> int | None:
        return next((pid for pid in children(self.process.pid) if is_zygote(pid)), None)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServeSsh:
        return self

    def __exit__(self, *exc: object) -> None:
        apps = self.apps()
        self.stop()
        for pid in apps:  # the server ends them; this only guards against a server bug
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def is_zygote(pid: int) -> bool:
    """Whether ``pid`` is serve-ssh's preloaded fork server."""
    try:
        return b"console.sshzygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def environ_of(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as handle:
        pairs = [item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item]
    return {key.decode(): value.decode("utf-8", "replace") for key, value in pairs}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (libraries, the page cache) split among their users."""
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def uss_kib(pid: int) -> int:
    """Unique set size: the pages only this process holds (what ending it would give back)."""
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children …), as /proc knows them now."""
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop()):
            found.append(child)
            queue.append(child)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def tui_command(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """A shell command (for ``ForceCommand``) running the idp-console TUI with its own state dir."""
    variables = {"IDP_CONSOLE_HOME": str(home), "IDP_CONSOLE_SIMULATION": "in-process", **(env or {})}
    assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in variables.items())
    app = " ".join(shlex.quote(part) for part in (sys.executable, "-m", "console.cli", *args))
    return f"cd {shlex.quote(str(ROOT))} && exec env {assignments} {app}"


class OpenSshServer:
    """The distribution's sshd on a free loopback port whose only command is ``command``
    (``ForceCommand``), with its own config, host key and authorized_keys in ``workdir``; the
    client key it accepts is ``client_key``. Stopping it ends every session process it forked."""

    def __init__(self, workdir: Path, command: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        host_key = keygen(workdir / "ssh_host_ed25519_key", "host")
        self.client_key = keygen(workdir / "client_key", "engineer")
        (workdir / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        self.port = free_port()
        self.log_path = workdir / "sshd.log"
        config = workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
                    "StrictModes no",  # the temp dir is not the user's home
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "PermitRootLogin prohibit-password",
                    "AcceptEnv COLORTERM",
                    f"ForceCommand {command}",
                    "",
                ]
            )
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        if not wait_until(lambda: _accepts(self.port) or self.process.poll() is not None, 20):
            self.stop()
            raise RuntimeError(f"sshd did not listen: {self.log_path.read_text()}")
        if self.process.poll() is not None:
            raise RuntimeError(f"sshd exited: {self.log_path.read_text()}")

    def sessions(self) -> list[int]:
        """Every process serving a connection now: sshd's per-connection ones and what they run."""
        return descendants(self.process.pid)

    def stop(self) -> None:
        forked = self.sessions()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in forked:  # per-connection sshd processes left behind by a failed test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> OpenSshServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
