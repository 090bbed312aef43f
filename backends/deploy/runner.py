"""Deploys owned by the platform, not by a terminal: the detached runner process.

Every deploy, rollback, scale, resume or abort started from the CLI or the TUI runs in a process of
its own (``python -m backends.deploy.runner REQUEST.json``), in a new session with no terminal, so
closing the terminal, losing the SSH connection, ctrl+q or SIGTERM of the TUI never stops it.

The runner serves its run on a UNIX socket in the runs directory (see :func:`socket_path`):

- every client that connects first receives every event so far, then the live ones, one JSON object
  a line (:func:`~backends.deploy.events.event_to_dict`) — the CLI that started it, a TUI in another
  SSH session, ``deploy --attach``;
- a client steers it with JSON lines back: ``{"op": "promote", "full": false}``, ``{"op": "pause"}``,
  ``{"op": "resume"}``, ``{"op": "abort"}``, ``{"op": "rollback"}``;
- the kernel says who is on the other end (``SO_PEERCRED``): only the same account or root may steer
  (anyone who can reach the socket may watch; the directory's mode decides who can).

Other accounts and hosts watch and steer through the history store instead: the runner polls its
control requests (:class:`~backends.deploy.remote_watch.ControlPoller`) and applies those of the
deploy's owner or owning team, saying in the log who did what or who was refused.

The history gets every event as before (the run writes it), so a runner that is killed leaves the
same interrupted deploy that a killed CLI left, to resume or abort.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import socket
import struct
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from backends import paths
from backends.deploy.events import DeployEvent, DeployStarted, event_to_dict

if TYPE_CHECKING:
    from backends.deploy.remote_watch import ControlPoller

RUNS_DIR = "runs"
# The last line of a run that ended normally (a refused run ends without a DeployFinished); a stream
# that stops without it means the runner died.
END_OF_RUN = '{"end": true}\n'
STARTER_GRACE = 30.0  # seconds a finished run waits for the client that started it to connect
DRAIN_SECONDS = 5.0  # at most this long to hand each client the rest of its queue at the end
REQUEST_KINDS = ("deploy", "rollback", "scale", "resume", "abort")
# sun_path holds 108 bytes on Linux; deep state dirs (pytest's tmp dirs) get a short stand-in.
_MAX_SOCKET_PATH = 100


class Steerable(Protocol):
    """What the runner needs of a run: its event stream and the five controls."""

    deploy_id: str

    def events(self) -> Any: ...
    def promote(self, *, full: bool = False) -> None: ...
    def pause(self, reason: str = ...) -> None: ...
    def resume(self) -> None: ...
    def abort(self, reason: str = ...) -> None: ...
    def rollback(self, reason: str = ...) -> None: ...


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run: the same arguments the CLI takes, plus the workspace to load."""

    kind: str  # deploy | rollback | scale | resume | abort
    service: str
    environment: str
    version: str = ""
    replicas: int | None = None
    commit_sha: str | None = None
    commit_time: float | None = None
    deploy_id: str = ""  # resume / abort: the interrupted deploy
    force: bool = False  # rollback: to a version that failed in this environment
    skip_image_check: bool = False  # deploy, rollback, resume: --skip-image-check (an emergency; recorded)
    workspace: str | None = None  # None: the same resolution as the CLI (env var, XDG, demo)
    context: str | None = None  # --context / --kubeconfig given to the command that started it
    kubeconfig: str | None = None
    # The starter's deploy: section (the TUI's, as loaded when it started): the run uses the bakes,
    # steps and analysis the user saw when they confirmed it, even if the file changed since.
    deploy: dict[str, Any] | None = None
    # An identity session (backends.identity) its starter opened for the person it acts for:
    # serve-chatops, for the catalog User a Slack account maps to. See :func:`_act_for`.
    session: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunRequest:
        data = json.loads(text)
        if data.get("kind") not in REQUEST_KINDS:
            raise ValueError(f"unknown run kind {data.get('kind')!r}")
        return cls(**data)


# -- where runners live ---------------------------------------------------------------------------
def runs_dir() -> Path:
    """``<state>/runs``, private to the account (0700)."""
    path = paths.state_dir() / RUNS_DIR
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def sockets_dir() -> Path:
    """Where runner sockets live: the runs dir, or a short stand-in when its path is too deep."""
    directory = runs_dir()
    if len(os.fsencode(directory)) + 48 <= _MAX_SOCKET_PATH:  # room for "<deploy-id>.<pid>.sock"
        return directory
    digest = hashlib.sha256(os.fsencode(directory)).hexdigest()[:16]
    short = Path(tempfile.gettempdir()) / f"idp-console-{os.getuid()}-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short


def socket_path(deploy_id: str, pid: int | None = None, *, pending: bool = False) -> Path:
    """The socket of one runner of ``deploy_id``. Several runners may exist for one deploy for a
    moment (two adopters): each has its own, and only the one that passed its pre-checks (holding the
    lease) makes it *public* — the name :func:`public_sockets` finds; before that it is hidden."""
    stem = f"{deploy_id}.{pid or os.getpid()}"
    return sockets_dir() / (f"{stem}.pending" if pending else f"{stem}.sock")


def public_sockets(deploy_id: str | None = None) -> list[Path]:
    """The sockets of runners past their pre-checks (of ``deploy_id``, or all)."""
    return sorted(sockets_dir().glob(f"{deploy_id or '*'}.*.sock"))


def log_path() -> Path:
    """Where runners write what they could not say over the socket (a crash's traceback)."""
    return runs_dir() / "runner.log"


# -- the server -----------------------------------------------------------------------------------
def peer_uid(connection: socket.socket) -> int:
    """The uid of the process at the other end of a UNIX socket, as the kernel knows it."""
    creds = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


class RunServer:
    """Serves one run's events to any number of clients and applies the controls they send."""

    def __init__(self, path: Path, run: Steerable, *, may_steer: Callable[[int], bool] | None = None) -> None:
        self.path = path
        self.run = run
        self._may_steer = may_steer or (lambda uid: uid in (0, os.getuid()))
        self._lock = threading.Lock()
        self._backlog: list[str] = []
        self._clients: list[queue.SimpleQueue[str | None]] = []
        self._closed = False
        self._senders: list[threading.Thread] = []
        self.first_client = threading.Event()  # set when the first client (the starter) connects
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        os.chmod(path, 0o600)
        self._listener.listen(16)
        threading.Thread(target=self._accept, name="runner-accept", daemon=True).start()

    def rename(self, path: Path) -> None:
        """Move the socket to ``path`` (clients connected or connecting by the old name are kept)."""
        os.rename(self.path, path)
        self.path = path

    def publish(self, event: DeployEvent) -> None:
        self.publish_line(json.dumps(event_to_dict(event), default=str, ensure_ascii=False) + "\n")

    def publish_line(self, line: str) -> None:
        with self._lock:
            self._backlog.append(line)
            for client in self._clients:
                client.put(line)

    def close(self) -> None:
        """No more events: each client gets the rest of its queue, then end of stream."""
        with self._lock:
            self._closed = True
            for client in self._clients:
                client.put(None)
        with contextlib.suppress(OSError):
            self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        # The senders are daemon threads: the process must not end before they said the last word.
        with self._lock:
            senders = list(self._senders)
        for sender in senders:
            sender.join(DRAIN_SECONDS)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            outbox: queue.SimpleQueue[str | None] = queue.SimpleQueue()
            with self._lock:
                for line in self._backlog:
                    outbox.put(line)
                if self._closed:
                    outbox.put(None)
                else:
                    self._clients.append(outbox)
            sender = threading.Thread(target=self._send, args=(connection, outbox), daemon=True)
            with self._lock:
                self._senders.append(sender)
            sender.start()
            self.first_client.set()  # only now: close() must find this client's sender to drain
            threading.Thread(target=self._receive, args=(connection,), daemon=True).start()

    def _send(self, connection: socket.socket, outbox: queue.SimpleQueue[str | None]) -> None:
        try:
            while (line := outbox.get()) is not None:
                connection.sendall(line.encode())
        except OSError:
            pass  # the client went away: the run goes on without it
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._clients.remove(outbox)
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_WR)

    def _receive(self, connection: socket.socket) -> None:
        try:
            uid = peer_uid(connection)
            with connection.makefile("r", encoding="utf-8") as lines:
                for line in lines:
                    self._apply(line, uid)
        except (OSError, ValueError):
            pass

    def _apply(self, line: str, uid: int) -> None:
        try:
            command = json.loads(line)
        except json.JSONDecodeError:
            return
        if not isinstance(command, dict) or not self._may_steer(uid):
            return
        op, reason = command.get("op"), str(command.get("reason") or "")
        if op == "promote":
            self.run.promote(full=bool(command.get("full")))
        elif op == "pause":
            self.run.pause(reason or "paused by user")
        elif op == "resume":
            self.run.resume()
        elif op == "abort":
            self.run.abort(reason or "aborted by user")
        elif op == "rollback":
            self.run.rollback(reason or "rollback requested by user")


def serve(
    run: Steerable, announce: Callable[[dict[str, Any]], None], *, controls: ControlPoller | None = None
) -> None:
    """Run ``run`` to its end, serving it on its socket; ``announce`` gets the socket's address first.
    ``controls`` (other accounts and hosts, through the history store) are applied from the start."""
    hidden, public = socket_path(run.deploy_id, pending=True), socket_path(run.deploy_id)
    server = RunServer(hidden, run)
    announce({"deploy_id": run.deploy_id, "socket": str(hidden), "public": str(public), "pid": os.getpid()})
    try:
        for event in run.events():
            if isinstance(event, DeployStarted):  # past the pre-checks, holding the lease: findable
                server.rename(public)
                if controls is not None:
                    controls.start(also=server.publish)
            server.publish(event)
        server.publish_line(END_OF_RUN)
    finally:
        if controls is not None:
            controls.stop()
        # A run refused at once may end before its starter has connected: it must still get the
        # whole story, so the socket stays until someone came (or long enough that nobody will).
        server.first_client.wait(STARTER_GRACE)
        server.close()


# -- the runner process ---------------------------------------------------------------------------
def _make_run(engine: Any, request: RunRequest) -> Steerable:
    if request.kind == "deploy":
        run = engine.deploy(
            request.service,
            request.environment,
            request.version,
            commit_sha=request.commit_sha,
            commit_time=request.commit_time,
            skip_image_check=request.skip_image_check,
        )
    elif request.kind == "rollback":
        run = engine.rollback(
            request.service,
            request.environment,
            request.version or None,
            force=request.force,
            skip_image_check=request.skip_image_check,
        )
    elif request.kind == "scale":
        run = engine.scale(request.service, request.environment, int(request.replicas or 0))
    elif request.kind == "resume":
        run = engine.resume(request.deploy_id, skip_image_check=request.skip_image_check)
    else:
        run = engine.abort(request.deploy_id)
    return run


def _act_for(session: str | None) -> None:
    """Run in the name of the identity session the request names, if any.

    The request carries a session token, never a user name: the name is read from the session's
    file, which :func:`backends.identity.session_user` honours only in this account's private
    (0700) sessions directory and only when this account wrote it. So the identity passes only
    from a process of the same OS account that opened the session — on a bastion, the service
    account serve-chatops and serve-ssh run as, after they authenticated the person (Slack's
    signature and the user mapping; an SSH key). Another account's runner finds no such session in its
    own directory and runs as that account: the OS-account rule, as for every runner."""
    from backends.identity import SESSION_VARIABLE

    if session:
        os.environ[SESSION_VARIABLE] = session


def main(argv: list[str]) -> int:
    """``python -m backends.deploy.runner REQUEST.json``: the first line on stdout is the announcement
    (``{"deploy_id", "socket", "pid"}`` or ``{"error"}``), then stdout is closed."""
    from backends.deploy.prechecks import DeployRefused
    from backends.deploy.remote_watch import ControlPoller
    from backends.deploy.session import open_deploy
    from backends.kube.cluster import ClusterError
    from backends.kube.environments import with_cluster_override
    from backends.workspace import WorkspaceError, load_workspace

    def announce(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
        # Nobody reads stdout after the announcement; a closed pipe must not hurt the run.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)

    try:
        request = RunRequest.from_json(Path(argv[0]).read_text(encoding="utf-8"))
        with contextlib.suppress(OSError):
            Path(argv[0]).unlink()
        _act_for(request.session)
        workspace = load_workspace(request.workspace)
        if request.context or request.kubeconfig:
            environments = with_cluster_override(
                workspace.section("environments"),
                request.environment,
                context=request.context,
                kubeconfig=request.kubeconfig,
            )
            workspace.raw = {**workspace.raw, "environments": environments}
        if request.deploy is not None:
            workspace.raw = {**workspace.raw, "deploy": request.deploy}
    except (OSError, ValueError, TypeError, IndexError, WorkspaceError) as error:
        announce({"error": f"cannot start the deploy runner: {error}"})
        return 2
    with open_deploy(workspace) as session:
        try:
            run = _make_run(session.engine, request)
        except (DeployRefused, ClusterError) as error:
            announce({"error": str(error)})
            return 2
        serve(run, announce, controls=ControlPoller(session.context.history, session, run))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
