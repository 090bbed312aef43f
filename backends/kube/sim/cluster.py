"""`SimulatedCluster`: API emulator + controller + fake Prometheus on loopback, persisted to a file.

One process owns the running simulation for a state file; others attach to it. The owner holds an
exclusive ``flock`` on ``<state_file>.owner`` for its whole life (the state file itself is replaced
on every save, so it cannot carry the lock), and writes ``<state_file>.endpoint.json`` (pid + URLs).
A later `start_simulated_cluster` for the same file that cannot take that lock *attaches* (no
servers of its own) once the endpoint answers — and while the owner does not answer (stopped,
swapped out, busy) it waits for it, and never starts a second simulation on the same file. Start-up
is serialised with a second lock, ``<state_file>.lock``. When the owner stops, the simulation stops
with it: an attached process then gets connection errors, and its next `start_simulated_cluster`
starts a new owner from the saved state.

``detached=True`` avoids that: the simulation then always runs in a background process of its
own (started on demand, ``<state_file>.log``), every caller attaches, and the server exits
after a while without clients — the choice for a TUI and a CLI that come and go in any order, and
the only way a ``kill -9`` of a deploy can never take the cluster (and its last writes) with it.

Every write the API accepts is on disk before the API answers: appended to the state file's
journal and fsynced (see `journal`), folded into the state file itself now and then; the
controller's own writes are journaled shortly after, in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from backends.atomic import write_text_atomic
from backends.http import tls_context

from .journal import Journal, recover, segment_paths, write_snapshot
from .seed import SeedService, seed

# What runs the simulation (kmock's emulator, aiohttp, the controller, the fake Prometheus) is
# imported only by the process that owns it: a console attached to the shared demo simulation,
# which runs in its own process, talks to it over HTTP and loads none of that (~18 MiB).
if TYPE_CHECKING:
    import kmock

    from .controller import SimulatedController
    from .emulator import SimulatedApiServer
    from .faults import ApiFaults
    from .kubelet import PodTimings
    from .loop import LoopThread
    from .prometheus import FakePrometheus
    from .store import ObjectStore, StoredEvent
    from .workloads import TrackTraffic

log = logging.getLogger(__name__)

DEFAULT_TIME_SCALE = 0.1
_SAVE_DEBOUNCE = 0.2  # real seconds: many quick controller writes become one journal write
# How far resourceVersions jump at a restart: more than the writes a kill -9 can catch unjournaled.
_RESTART_GAP = 1_000_000
# The journal is folded into the state file once it outgrows the last snapshot (so replaying it
# at start never costs more than loading the snapshot), and never for less than this.
COMPACT_MIN_BYTES = 1 << 20
OWNER_WAIT = 30.0  # how long a starter waits for an owner that holds the lock but does not answer


class SimulationUnavailable(RuntimeError):
    """The state file has an owner that does not answer (or a server that never came up)."""


@dataclass(frozen=True)
class Endpoint:
    """Where a running simulation for a state file listens (``<state_file>.endpoint.json``)."""

    pid: int
    api_url: str
    prometheus_url: str

    @staticmethod
    def path_for(state_file: Path) -> Path:
        """``<state_file>.endpoint.json``."""
        return state_file.with_name(state_file.name + ".endpoint.json")

    @classmethod
    def read(cls, state_file: Path) -> Endpoint | None:
        """The endpoint recorded for ``state_file``, or None (none, or unreadable)."""
        try:
            data = json.loads(cls.path_for(state_file).read_text())
            return cls(int(data["pid"]), str(data["api_url"]), str(data["prometheus_url"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, state_file: Path) -> None:
        """Record this endpoint for ``state_file`` (atomically: readers never see half a file)."""
        payload = {"pid": self.pid, "api_url": self.api_url, "prometheus_url": self.prometheus_url}
        write_text_atomic(self.path_for(state_file), json.dumps(payload, indent=2) + "\n")

    def is_live(self) -> bool:
        """The owner process exists and its API server answers."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        try:
            return httpx.get(f"{self.api_url}/version", timeout=2.0, verify=tls_context()).status_code == 200
        except httpx.HTTPError:
            return False


class SimulatedCluster:
    """A running (or attached-to) simulated cluster. Use as a context manager or call `stop`.

    Attributes: ``api_url`` (base URL for the kubernetes client), ``prometheus_url``,
    ``attached`` (True when another process owns the servers); and, only for the owner,
    ``store``, ``faults`` (API fault injection), ``controller`` (pod faults, time scale),
    ``prometheus`` (error rates). `set_error_rate` works for owner and attached alike.
    """

    def __init__(
        self,
        *,
        api_url: str,
        prometheus_url: str,
        state_file: Path | None,
        attached: bool,
        store: ObjectStore | None = None,
        api_server: SimulatedApiServer | None = None,
        controller: SimulatedController | None = None,
        prometheus: FakePrometheus | None = None,
        loop: LoopThread | None = None,
        kmock_server: kmock.Server | None = None,
    ) -> None:
        self.api_url = api_url
        self.prometheus_url = prometheus_url
        self.state_file = state_file
        self.attached = attached
        self.store = store
        self.api_server = api_server
        self.controller = controller
        self.prometheus = prometheus
        self._loop = loop
        self._kmock_server = kmock_server
        self._stopped = False
        self._saver: asyncio.Task[None] | None = None
        self._dirty: asyncio.Event | None = None
        self._owner_fd: int | None = None  # the flock on <state_file>.owner, held while we serve
        self._save_lock = threading.Lock()  # one compaction at a time
        self._flush_lock: asyncio.Lock | None = None
        self.journal: Journal | None = None  # owner with a state file: where changes are appended
        self.compact_min_bytes = COMPACT_MIN_BYTES
        self._snapshot_bytes = 0  # the size of the state file the last compaction wrote
        self.compactions = 0  # how many times the journal was folded into the state file

    # ------------------------------------------------------------------ conveniences

    @property
    def faults(self) -> ApiFaults:
        """API fault injection (owner only)."""
        if self.api_server is None:
            raise RuntimeError("fault injection is only available in the process that owns the simulation")
        return self.api_server.faults

    def kubeconfig(self, path: Path, *, context: str = "simulated", namespace: str | None = None) -> Path:
        """Write a kubeconfig whose ``context`` points at this cluster; returns ``path``.

        The official client loads it like any real kubeconfig
        (``config.new_client_from_config(str(path), context="simulated")``).
        """
        ctx: dict[str, Any] = {"cluster": context, "user": f"{context}-user"}
        if namespace:
            ctx["namespace"] = namespace
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.api_url}}],
            "users": [{"name": f"{context}-user", "user": {"token": "simulated"}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        write_text_atomic(path, yaml.safe_dump(document, sort_keys=False))
        return path

    def set_error_rate(
        self,
        service: str,
        track: str,
        value: float | None,
        *,
        namespace: str | None = None,
        keep_existing: bool = False,
    ) -> None:
        """Set the fake Prometheus' error rate (None = no data), locally or over HTTP when attached.

        ``keep_existing``: only if none is set yet (a default that never overrides a choice).
        """
        if self.prometheus is not None:
            if keep_existing and self.prometheus.explicit_rate(service, track, namespace) is not None:
                return
            self.prometheus.set_error_rate(service, track, value, namespace=namespace)
            return
        body = {
            "service": service,
            "track": track,
            "value": value,
            "namespace": namespace,
            "keepExisting": keep_existing,
        }
        httpx.post(
            f"{self.prometheus_url}/sim/error-rate", json=body, timeout=5.0, verify=tls_context()
        ).raise_for_status()

    def seed(self, services: Iterable[SeedService]) -> list[str]:
        """Create the missing Namespaces, Deployments and Services of ``services`` (see `seed.seed`)."""
        if self.store is not None:
            from .seed import seed_store

            return seed_store(self.store, services)
        return seed(self.api_url, services)

    def save(self) -> None:
        """Fold everything into the state file now (the owner also journals every change on its
        own: an API write before its answer, the controller's shortly after)."""
        if self.store is None or self.state_file is None or self.journal is None:
            return
        with self._save_lock:
            self.journal.sync()
            segment, state = self._capture()
            self._snapshot_bytes = write_snapshot(self.state_file, state)
            # Only now: until the new snapshot is on disk, these segments hold the only copy.
            self.journal.drop_through(segment)
            self.compactions += 1

    def _capture(self) -> tuple[int, dict[str, Any]]:
        """The state at one instant and the last journal segment it covers (a new one starts)."""
        assert self.store is not None and self.journal is not None
        store, prometheus = self.store, self.prometheus

        def capture() -> dict[str, Any]:
            state = store.snapshot()  # references, not copies: stored objects are never mutated
            state["errorRates"] = prometheus.snapshot() if prometheus is not None else []
            return state

        with store.paused_writes():  # no commit (and so no journal record) slips in between
            seq, segment, state = self.journal.rotate(capture)
        state["journalSeq"] = seq
        return segment, state

    def _needs_compaction(self) -> bool:
        journal = self.journal
        return journal is not None and journal.bytes_since_rotate >= max(
            self.compact_min_bytes, self._snapshot_bytes
        )

    async def _flush(self) -> None:
        """Return once every change made so far is on disk (the API calls this before answering a
        write). Writers waiting together share one fsync."""
        assert self._flush_lock is not None and self.journal is not None
        journal = self.journal
        wanted = journal.last_seq
        if journal.durable_seq >= wanted:
            return
        async with self._flush_lock:
            if journal.durable_seq >= wanted:
                return  # a sync that started after our change has finished meanwhile
            await asyncio.to_thread(journal.sync)

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Stop servers and controller (owner) after a final save; detach otherwise. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self.attached or self._loop is None:
            return
        try:
            self._loop.call(self._shutdown())
        finally:
            self._loop.stop()
            try:
                self.save()
                if self.journal is not None:
                    self.journal.close()
                if self.state_file is not None:
                    endpoint = Endpoint.read(self.state_file)
                    if (
                        endpoint is not None
                        and endpoint.pid == os.getpid()
                        and endpoint.api_url == self.api_url
                    ):
                        Endpoint.path_for(self.state_file).unlink(missing_ok=True)
            finally:
                # Last: until the file is saved, nobody else may start from it.
                if self._owner_fd is not None:
                    os.close(self._owner_fd)
                    self._owner_fd = None

    async def _shutdown(self) -> None:
        if self.controller is not None:
            self.controller.stop()
        if self._saver is not None:
            self._saver.cancel()
        if self.store is not None:
            self.store.close_watches()
        if self.prometheus is not None:
            await self.prometheus.stop()
        if self._kmock_server is not None:
            await self._kmock_server.__aexit__(None, None, None)
        if self.api_server is not None:
            await self.api_server.__aexit__(None, None, None)

    def __enter__(self) -> SimulatedCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ persistence

    def _on_change(self, event: StoredEvent | None = None) -> None:
        """Journal a committed change (runs under the store's lock: the journal's order is the
        resourceVersion order) or, without an event, the fake Prometheus' error rates."""
        journal = self.journal
        if journal is None:
            return
        if event is not None:
            journal.append(functools.partial(_change_record, event))
        elif self.prometheus is not None:
            prometheus = self.prometheus
            journal.append(lambda: {"errorRates": prometheus.snapshot()})
        loop, dirty = self._loop, self._dirty
        if loop is not None and dirty is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile; stop() saves anyway
                loop.loop.call_soon_threadsafe(dirty.set)

    async def _save_loop(self) -> None:
        assert self._dirty is not None and self.journal is not None
        while True:
            await self._dirty.wait()
            await asyncio.sleep(_SAVE_DEBOUNCE)
            self._dirty.clear()
            try:
                await asyncio.to_thread(self.journal.sync)
                if self._needs_compaction():
                    await asyncio.to_thread(self.save)
            except OSError:
                log.exception("could not save the simulated cluster to %s", self.state_file)


def _change_record(event: StoredEvent) -> dict[str, Any]:
    """A journal record for a committed change: the whole new object, or the key of a deleted one."""
    meta = event.object["metadata"]
    if event.type == "DELETED":
        return {
            "delete": event.resource.key,
            "namespace": meta.get("namespace"),
            "name": meta["name"],
            "rv": event.resource_version,
        }
    return {"put": event.resource.key, "object": event.object}


@contextlib.contextmanager
def _startup_lock(state_file: Path | None) -> Iterator[None]:
    if state_file is None:
        yield
        return
    state_file.parent.mkdir(parents=True, exist_ok=True)
    # 0600 like everything in the state dir: nobody else's business.
    fd = os.open(
        state_file.with_name(state_file.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def owner_lock_path(state_file: Path) -> Path:
    """``<state_file>.owner``: exclusively locked by the process serving ``state_file``."""
    return state_file.with_name(state_file.name + ".owner")


def _take_owner_lock(state_file: Path) -> int | None:
    """The locked descriptor if nobody owns ``state_file``; None while another process does.

    A kernel lock, not a pid in a file: it is released when its owner dies however it dies, and
    a stopped or stalled owner keeps it — so nobody ever mistakes "slow" for "gone".
    """
    state_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(owner_lock_path(state_file), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def is_owned(state_file: Path) -> bool:
    """Whether some process serves ``state_file`` now (answering or not)."""
    fd = _take_owner_lock(state_file)
    if fd is None:
        return True
    os.close(fd)
    return False


def start_simulated_cluster(
    state_file: Path | None,
    *,
    time_scale: float = DEFAULT_TIME_SCALE,
    seed_objects: Iterable[SeedService] | None = None,
    attach: bool = True,
    detached: bool = False,
    idle_exit: float = 600.0,
    timings: PodTimings | None = None,
    history_limit: int = 5000,
    owner_wait: float = OWNER_WAIT,
) -> SimulatedCluster:
    """Start the simulation on 127.0.0.1 (ephemeral ports), or attach to the one already running.

    ``state_file``: JSON file the objects are loaded from and saved to (None: in memory only).
    ``time_scale``: real seconds per simulated second (0.1 → pods ready in a few tenths of a
    second, a 600 s progress deadline after 60 s). ``seed_objects``: services to create if absent.
    ``attach=False`` always starts a private simulation (it still loads and saves ``state_file``,
    so it refuses when another process owns that file).
    ``detached=True`` never serves in this process: it attaches to the running simulation or
    starts one as a background process (``python -m backends.kube.sim``) that outlives this one
    and exits after ``idle_exit`` seconds without requests or open watches — so a TUI and a
    CLI can come and go in any order. Its log is ``<state_file>.log``.
    An owner that holds the state file but does not answer is waited for up to ``owner_wait``
    seconds (then :class:`SimulationUnavailable`), never replaced.
    """
    if detached:
        if state_file is None:
            raise ValueError("a detached simulation needs a state file")
        cluster = _attach_or_spawn(state_file, time_scale, idle_exit, owner_wait)
    elif state_file is None:
        cluster = _start_owner(None, time_scale, timings, history_limit)
    else:
        cluster = _own_or_attach(state_file, attach, time_scale, timings, history_limit, owner_wait)
    if seed_objects:
        cluster.seed(seed_objects)
    return cluster


def _own_or_attach(
    state_file: Path,
    attach: bool,
    time_scale: float,
    timings: PodTimings | None,
    history_limit: int,
    owner_wait: float,
) -> SimulatedCluster:
    deadline = time.monotonic() + owner_wait
    while True:
        with _startup_lock(state_file):
            fd = _take_owner_lock(state_file)
            if fd is not None:
                try:
                    cluster = _start_owner(state_file, time_scale, timings, history_limit)
                except BaseException:
                    os.close(fd)
                    raise
                cluster._owner_fd = fd
                Endpoint(os.getpid(), cluster.api_url, cluster.prometheus_url).write(state_file)
                return cluster
        if not attach:
            raise SimulationUnavailable(
                f"another process serves the simulated cluster in {state_file}; attach to it instead"
            )
        running = _attach(state_file)
        if running is not None:
            return running
        if time.monotonic() > deadline:
            raise _unanswered(state_file, owner_wait)
        time.sleep(0.1)


def _unanswered(state_file: Path, waited: float) -> SimulationUnavailable:
    endpoint = Endpoint.read(state_file)
    who = f"pid {endpoint.pid}, {endpoint.api_url}" if endpoint else "starting"
    return SimulationUnavailable(
        f"the simulated cluster for {state_file} ({who}) has not answered for {waited:.0f}s; "
        "not starting a second one on the same file"
    )


def _attach(state_file: Path) -> SimulatedCluster | None:
    endpoint = Endpoint.read(state_file)
    if endpoint is None or not endpoint.is_live():
        return None
    return SimulatedCluster(
        api_url=endpoint.api_url, prometheus_url=endpoint.prometheus_url, state_file=state_file, attached=True
    )


def _attach_or_spawn(
    state_file: Path, time_scale: float, idle_exit: float, owner_wait: float
) -> SimulatedCluster:
    log_path = state_file.with_name(state_file.name + ".log")
    server = None
    with _startup_lock(state_file):
        if not is_owned(state_file):
            # The server takes the same startup lock, so it can only start once we release it;
            # a second starter then finds the file owned and waits for the server to answer.
            server = _spawn_server(state_file, time_scale, idle_exit, log_path)
    deadline = time.monotonic() + owner_wait
    while time.monotonic() < deadline:
        running = _attach(state_file)  # the endpoint file is written atomically: no lock needed
        if running is not None:
            return running
        if server is not None and server.poll() is not None and not is_owned(state_file):
            # It died before serving (and nobody else serves): no use waiting for the deadline.
            raise SimulationUnavailable(
                f"the simulated cluster exited at start (exit code {server.returncode}); see {log_path}"
            )
        time.sleep(0.05)
    if not is_owned(state_file):
        raise SimulationUnavailable(
            f"the simulated cluster did not start within {owner_wait:.0f}s; see {log_path}"
        )
    raise _unanswered(state_file, owner_wait)


def _spawn_server(
    state_file: Path, time_scale: float, idle_exit: float, log_path: Path
) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[3]  # the directory holding the `backends` package
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    command = [
        sys.executable, "-m", "backends.kube.sim",
        "--state-file", str(state_file),
        "--time-scale", str(time_scale),
        "--idle-exit", str(idle_exit),
    ]  # fmt: skip
    state_file.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    with os.fdopen(log_fd, "ab") as log_file:
        # A new session: the server survives the terminal (and Ctrl-C) of the process that started it.
        server = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    # Reap it when it exits while we still run, so it does not linger as a zombie.
    threading.Thread(target=server.wait, name="simulated-cluster-reaper", daemon=True).start()
    return server


def _traffic(store: ObjectStore, service: str, namespace: str | None) -> dict[str, TrackTraffic]:
    """The fake Prometheus' series of ``service``, from the workloads and routes that exist now."""
    from .resources import DEPLOYMENTS, HTTPROUTES, SERVICES
    from .workloads import TrackTraffic, service_traffic

    namespaces = (
        [namespace]
        if namespace is not None
        else sorted({str(d["metadata"].get("namespace")) for d in store.peek(DEPLOYMENTS)})
    )
    sums: dict[str, TrackTraffic] = {}
    for ns in namespaces:
        found = service_traffic(
            store.peek(DEPLOYMENTS, ns), store.peek(SERVICES, ns), store.peek(HTTPROUTES, ns), service
        )
        for track, traffic in found.items():
            before = sums.get(track, TrackTraffic(0.0, 0.0))
            sums[track] = TrackTraffic(before.requests + traffic.requests, before.errors + traffic.errors)
    return sums


def _start_owner(
    state_file: Path | None, time_scale: float, timings: PodTimings | None, history_limit: int
) -> SimulatedCluster:
    import kmock

    from .controller import SimulatedController
    from .emulator import QuietTestServer, SimulatedApiServer
    from .loop import LoopThread
    from .prometheus import FakePrometheus
    from .store import ObjectStore

    store = ObjectStore(history_limit=history_limit)
    prometheus = FakePrometheus()
    prometheus.traffic = functools.partial(_traffic, store)
    journal = _load_state(state_file, store, prometheus)
    loop = LoopThread()
    # A simulated container logs a line every 10 simulated seconds (1 s at the demo's time scale).
    api_server = SimulatedApiServer(store=store, log_interval=max(0.05, 10 * time_scale))
    controller = SimulatedController(store, time_scale=time_scale, timings=timings)

    async def boot() -> tuple[str, kmock.Server]:
        await api_server.__aenter__()
        server = kmock.Server(api_server, host="127.0.0.1", server_cls=QuietTestServer)
        await server.__aenter__()
        await prometheus.start()
        return str(server.url).rstrip("/"), server

    try:
        api_url, kmock_server = loop.call(boot())
    except BaseException:
        loop.stop()
        raise
    cluster = SimulatedCluster(
        api_url=api_url,
        prometheus_url=prometheus.url,
        state_file=state_file,
        attached=False,
        store=store,
        api_server=api_server,
        controller=controller,
        prometheus=prometheus,
        loop=loop,
        kmock_server=kmock_server,
    )
    if state_file is not None:
        cluster.journal = journal

        async def start_saver() -> None:
            cluster._flush_lock = asyncio.Lock()
            cluster._dirty = asyncio.Event()
            cluster._saver = asyncio.get_running_loop().create_task(cluster._save_loop())

        loop.call(start_saver())
        store.add_listener(cluster._on_change)
        prometheus.on_change = cluster._on_change
        api_server.persist = cluster._flush

    async def start_controller() -> None:
        loop.loop.create_task(controller.run(), name="simulated-controller")

    # Last: its first pass writes at once (a restart with work to do), and a write the journal
    # never heard of is lost at the next kill -9, with resourceVersions clients have seen.
    loop.call(start_controller())
    return cluster


def _load_state(state_file: Path | None, store: ObjectStore, prometheus: FakePrometheus) -> Journal | None:
    """Load the saved state (snapshot + journal) into ``store``; the journal to append to next."""
    if state_file is None:
        return None
    try:
        state = recover(state_file)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # A damaged state file must not make the demo unusable: start empty, keep the files aside.
        log.warning("ignoring unreadable simulated cluster state %s: %s", state_file, exc)
        stamp = int(time.time())
        for path in [state_file, *(p for _n, p in segment_paths(state_file))]:
            with contextlib.suppress(OSError):
                path.replace(path.with_name(f"{path.name}.broken-{stamp}"))
        state = None
    segments = segment_paths(state_file)
    if state is None:
        return Journal(state_file, last_seq=0, segment=0)
    # Watchers may have seen changes this restart lost (the controller's reach them a moment before
    # they are journaled): the versions go on far above any handed out before, so a watch resumed
    # from one of those is told to list again (410) instead of missing the loss.
    state["resourceVersion"] = int(state["resourceVersion"]) + _RESTART_GAP
    store.load(state)
    prometheus.load(state.get("errorRates", []))
    if segments:
        # Fold the replayed journal in once, before serving: the next start reads one file.
        write_snapshot(state_file, {**store.snapshot(), "errorRates": prometheus.snapshot(),
                                    "journalSeq": state["journalSeq"]})  # fmt: skip
        for _number, path in segments:
            path.unlink(missing_ok=True)
    journal = Journal(
        state_file, last_seq=int(state["journalSeq"]), segment=segments[-1][0] + 1 if segments else 0
    )
    journal.append(lambda: {"resourceVersion": store.resource_version})  # on disk before any is handed out
    journal.sync()
    return journal
