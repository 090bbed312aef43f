"""The client side of detached runs: start a runner, attach to it, steer it.

:class:`RemoteRun` has the interface of :class:`~backends.deploy.run.DeployRun` that the CLI and the
screens use (``events()``, ``promote()``, ``pause()``, ``resume()``, ``abort()``, ``rollback()``,
``paused``, ``waiting_for_decision``, ``kind``, ``deploy_id``, ``outcome``), so they need not know
whether a run is local or detached. Leaving ``events()`` early *detaches*: the run goes on.

:class:`DetachedEngine` wraps a :class:`~backends.deploy.engine.DeployEngine`: its changing methods
start runners, everything else (status, interrupted deploys) is the wrapped engine's.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends.deploy.events import DeployEvent, DeployFinished, Outcome, Paused, Resumed, event_from_dict
from backends.deploy.prechecks import DeployRefused
from backends.deploy.runner import RunRequest, log_path, public_sockets, runs_dir

if TYPE_CHECKING:
    from backends.deploy.history import DeployRecord

START_TIMEOUT = 60.0  # seconds for a runner to load the workspace and announce itself
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class RunnerError(Exception):
    """A runner could not be started or reached."""


class RemoteRun:
    """A run in a runner process, seen through its socket."""

    def __init__(
        self,
        deploy_id: str,
        path: Path | None,
        kind: str = "deploy",
        pid: int | None = None,
        public_path: Path | None = None,
    ) -> None:
        self.deploy_id = deploy_id
        self.socket_path = path
        self.public_path = public_path  # where the socket moves once the run passed its pre-checks
        self.kind = kind
        self.pid = pid
        self.outcome: Outcome | None = None
        self._paused = False
        self._needs_decision = False
        self._connection: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._detached = False

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def waiting_for_decision(self) -> bool:
        return self._paused and self._needs_decision

    # -- events -----------------------------------------------------------------------------------
    def events(self) -> Generator[DeployEvent, None, None]:
        """Every event of the run from its start, then live ones until it finishes.

        Closing the iterator early detaches; the run carries on in its runner."""
        connection = self._connect()
        self._connection = connection
        try:
            with connection.makefile("r", encoding="utf-8") as lines:
                for line in _lines_until_reset(lines):
                    data = json.loads(line)
                    if data.get("end"):
                        return
                    event = event_from_dict(data)
                    self._note(event)
                    yield event
            if self.outcome is None and not self._detached:
                raise RunnerError(f"the runner of {self.deploy_id} stopped before the run finished")
        finally:
            self._connection = None
            with contextlib.suppress(OSError):
                connection.close()

    def detach(self) -> None:
        """Stop watching from any thread: ``events()`` ends quietly, even while the run is paused
        (no event would wake it); the run goes on in its runner."""
        self._detached = True
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _note(self, event: DeployEvent) -> None:
        if isinstance(event, Paused):
            self._paused, self._needs_decision = True, event.needs_decision
        elif isinstance(event, Resumed):
            self._paused = self._needs_decision = False
        elif isinstance(event, DeployFinished):
            self.outcome = event.outcome
            self._paused = self._needs_decision = False

    def _connect(self) -> socket.socket:
        error: OSError | None = None
        for path in (self.socket_path, self.public_path):
            if path is None:
                continue
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                connection.connect(str(path))
            except OSError as failed:
                connection.close()
                error = failed
                continue
            return connection
        reason = error.strerror if error is not None else "no socket"
        raise RunnerError(f"deploy {self.deploy_id} is not running ({reason})") from error

    # -- controls ---------------------------------------------------------------------------------
    def promote(self, *, full: bool = False) -> None:
        self._send({"op": "promote", "full": full})

    def pause(self, reason: str = "paused by user") -> None:
        self._send({"op": "pause", "reason": reason})

    def resume(self) -> None:
        self._send({"op": "resume"})

    def abort(self, reason: str = "aborted by user") -> None:
        self._send({"op": "abort", "reason": reason})

    def rollback(self, reason: str = "rollback requested by user") -> None:
        self._send({"op": "rollback", "reason": reason})

    def _send(self, command: dict[str, Any]) -> None:
        data = (json.dumps(command) + "\n").encode()
        with self._send_lock:
            connection = self._connection
            if connection is not None:
                with contextlib.suppress(OSError):
                    connection.sendall(data)
                    return
            # Not attached (or the stream broke): a connection just for this command.
            with contextlib.closing(self._connect()) as once:
                once.sendall(data)
                once.shutdown(socket.SHUT_WR)
                # Wait until the runner has read it: it closes its side when we have the backlog.
                once.settimeout(2.0)
                with contextlib.suppress(OSError):
                    once.recv(1)


def _lines_until_reset(lines: Iterator[str]) -> Iterator[str]:
    """The stream's lines; a killed runner resets the connection, which ends them like EOF."""
    try:
        yield from lines
    except ConnectionResetError:
        return


def start_runner(request: RunRequest, *, timeout: float = START_TIMEOUT) -> RemoteRun:
    """Start a detached runner for ``request`` and return the run it announced.

    Raises :class:`~backends.deploy.prechecks.DeployRefused` when the runner refused before the
    run began (unknown interrupted deploy …), :class:`RunnerError` when it could not start."""
    directory = runs_dir()
    fd, request_file = tempfile.mkstemp(prefix="request-", suffix=".json", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(request.to_json())
    log = open(log_path(), "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "backends.deploy.runner", request_file],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,  # no controlling terminal: a hang-up never reaches it
            close_fds=True,
            cwd=_PROJECT_ROOT,
            env=_runner_environment(),
        )
    finally:
        log.close()
    assert child.stdout is not None
    announcement = _read_announcement(child, timeout)
    # Reap the runner when it ends, so a long-lived TUI collects no zombies (if we end first, init does).
    threading.Thread(target=child.wait, name=f"reap-runner-{child.pid}", daemon=True).start()
    if "error" in announcement:
        raise DeployRefused(str(announcement["error"]))
    return RemoteRun(
        str(announcement["deploy_id"]),
        Path(announcement["socket"]),
        public_path=Path(announcement["public"]) if announcement.get("public") else None,
        kind="deploy" if request.kind in ("resume",) else request.kind,
        pid=int(announcement.get("pid") or child.pid),
    )


def _runner_environment() -> dict[str, str]:
    environment = dict(os.environ)
    # The runner imports this package: make sure it can, whatever the caller's working directory.
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PROJECT_ROOT), environment.get("PYTHONPATH", "")) if p
    )
    return environment


def _read_announcement(child: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            child.kill()
            raise RunnerError(f"the deploy runner did not start within {timeout:g} s (see {log_path()})")
        ready, _, _ = select.select([child.stdout], [], [], min(remaining, 0.5))
        if not ready:
            continue
        chunk = os.read(child.stdout.fileno(), 4096)
        if not chunk:
            child.wait(5)
            raise RunnerError(f"the deploy runner exited with {child.returncode} (see {log_path()})")
        buffer += chunk
    child.stdout.close()
    try:
        message = json.loads(buffer.split(b"\n", 1)[0])
    except json.JSONDecodeError as error:
        raise RunnerError(f"the deploy runner said something unexpected (see {log_path()})") from error
    if not isinstance(message, dict):
        raise RunnerError(f"the deploy runner said something unexpected (see {log_path()})")
    return message


def attach(deploy_id: str) -> RemoteRun:
    """The run of a live runner, by deploy id (raises :class:`RunnerError` if none runs)."""
    for path in public_sockets(deploy_id):
        if _answers(path):
            return RemoteRun(deploy_id, path)
    raise RunnerError(f"deploy {deploy_id} is not running here")


def running_deploys() -> list[str]:
    """Deploy ids whose runner is alive in this account's runs directory."""
    return sorted({path.name.split(".", 1)[0] for path in public_sockets() if _answers(path)})


def live_records(engine: DetachedEngine) -> list[DeployRecord]:
    """Unfinished deploys whose runner is alive: this account's on this host (by its socket), and
    anyone's anywhere (by the history store and the deploy's lease) — what the board marks ▶."""
    from backends.deploy.remote_watch import runs_elsewhere

    context = engine.context
    here = set(running_deploys())
    return [
        record
        for record in context.history.unfinished()
        if record.id in here or runs_elsewhere(context, record)
    ]


def attach_anywhere(engine: DetachedEngine, record: DeployRecord) -> RemoteRun:
    """``record``'s live run: through its socket when it is this account's here, else through the
    history store (raises :class:`RunnerError` when no runner runs it)."""
    if record.id in running_deploys():
        run = attach(record.id)
        run.kind = record.kind
        return run
    found = engine.elsewhere(record)
    if found is None:
        raise RunnerError(f"deploy {record.id} is not running")
    return found


def _answers(path: Path) -> bool:
    """Whether the runner that made ``path`` (``<deploy-id>.<pid>.sock``) is still alive.

    By its process id, not by connecting: every connection makes the runner replay its whole event
    backlog, and the deploy board asks this every two seconds. A killed runner's leftover socket file
    names a process that is gone."""
    from backends.deploy.prechecks import process_alive

    try:
        pid = int(path.name.split(".")[1])
    except (IndexError, ValueError):
        return False
    return process_alive(pid)


class DetachedEngine:
    """A :class:`~backends.deploy.engine.DeployEngine` whose changes run in detached runners."""

    def __init__(
        self,
        engine: Any,
        workspace: str | None,
        *,
        context: str | None = None,
        kubeconfig: str | None = None,
        deploy: dict[str, Any] | None = None,
        session: str | None = None,
    ) -> None:
        self._engine = engine
        # What the runner needs to load the same workspace, clusters and deploy settings as this process.
        self._where: dict[str, Any] = {
            "workspace": workspace,
            "context": context,
            "kubeconfig": kubeconfig,
            "deploy": deploy,
            # An identity session the starter opened for whom it acts for (serve-chatops): see
            # backends.deploy.runner._act_for. None: the runner's own identity, as the starter's.
            "session": session,
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def deploy(
        self,
        service: str,
        environment: str,
        version: str,
        *,
        commit_sha: str | None = None,
        commit_time: float | None = None,
        skip_image_check: bool = False,
    ) -> RemoteRun:
        return self._start(
            RunRequest(
                "deploy",
                service,
                environment,
                version,
                commit_sha=commit_sha,
                commit_time=commit_time,
                skip_image_check=skip_image_check,
            )
        )

    def rollback(
        self,
        service: str,
        environment: str,
        to: str | None = None,
        *,
        force: bool = False,
        skip_image_check: bool = False,
    ) -> RemoteRun:
        return self._start(
            RunRequest(
                "rollback", service, environment, to or "", force=force, skip_image_check=skip_image_check
            )
        )

    def scale(self, service: str, environment: str, replicas: int) -> RemoteRun:
        return self._start(RunRequest("scale", service, environment, replicas=replicas))

    def resume(self, deploy_id: str, *, skip_image_check: bool = False) -> RemoteRun:
        record = self._engine.context.history.get(deploy_id)
        service, environment = (record.service, record.environment) if record else ("", "")
        return self._start(
            RunRequest("resume", service, environment, deploy_id=deploy_id, skip_image_check=skip_image_check)
        )

    def abort(self, deploy_id: str) -> RemoteRun:
        record = self._engine.context.history.get(deploy_id)
        service, environment = (record.service, record.environment) if record else ("", "")
        return self._start(RunRequest("abort", service, environment, deploy_id=deploy_id))

    def _start(self, request: RunRequest) -> RemoteRun:
        from dataclasses import replace

        return start_runner(replace(request, **self._where))

    def running(self, service: str, environment: str) -> RemoteRun | None:
        """The live detached run of ``service`` in ``environment``: through its socket when its
        runner is this account's on this host, else through the history store (any account, any
        host), steered in the name of this session's user."""
        live = set(running_deploys())
        records = self._engine.context.history.unfinished(service, environment)
        for record in records:
            if record.id in live:
                run = attach(record.id)
                run.kind = record.kind
                return run
        for record in records:
            found = self.elsewhere(record)
            if found is not None:
                return found
        return None

    def elsewhere(self, record: DeployRecord) -> RemoteRun | None:
        """``record``'s run watched through the history store, if a runner runs it anywhere."""
        from backends.deploy.remote_watch import StoreRun, runs_elsewhere

        context = self._engine.context
        if not runs_elsewhere(context, record):
            return None

        def alive() -> bool:
            return runs_elsewhere(context, context.history.get(record.id) or record)

        return StoreRun(context.history, record.id, context.user, kind=record.kind, alive=alive)
