"""`SimulatedCluster`: API emulator + controller + fake Prometheus on loopback, persisted to a file.

One process owns the running simulation for a state file; others attach to it. Start-up is
serialised with an advisory lock on ``<state_file>.lock``; the owner writes
``<state_file>.endpoint.json`` (pid + URLs). A later `start_simulated_cluster` for the same file
finds that endpoint, checks that the pid is alive and the API answers, and *attaches* (no
servers of its own) — so a deploy from the CLI is seen live by a TUI that started the simulation.
When the owner stops, the simulation stops with it: an attached process then gets connection
errors, and its next `start_simulated_cluster` starts a new owner from the saved state.

``detached=True`` avoids that: the simulation then always runs in a background process of its
own (started on demand, ``<state_file>.log``), every caller attaches, and the server exits
after a while without clients — the choice for a TUI and a CLI that come and go in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
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
from typing import Any

import httpx
import kmock
import yaml

from backends.atomic import write_text_atomic

from .controller import SimulatedController
from .emulator import QuietTestServer, SimulatedApiServer
from .faults import ApiFaults
from .kubelet import PodTimings
from .loop import LoopThread
from .prometheus import FakePrometheus
from .seed import SeedService, seed, seed_store
from .store import ObjectStore, StoredEvent

log = logging.getLogger(__name__)

DEFAULT_TIME_SCALE = 0.1
_SAVE_DEBOUNCE = 0.2  # real seconds: many quick writes become one file write


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
            return httpx.get(f"{self.api_url}/version", timeout=2.0).status_code == 200
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
        self, service: str, track: str, value: float | None, *, namespace: str | None = None
    ) -> None:
        """Set the fake Prometheus' error rate (None = no data), locally or over HTTP when attached."""
        if self.prometheus is not None:
            self.prometheus.set_error_rate(service, track, value, namespace=namespace)
            return
        body = {"service": service, "track": track, "value": value, "namespace": namespace}
        httpx.post(f"{self.prometheus_url}/sim/error-rate", json=body, timeout=5.0).raise_for_status()

    def seed(self, services: Iterable[SeedService]) -> list[str]:
        """Create the missing Namespaces, Deployments and Services of ``services`` (see `seed.seed`)."""
        if self.store is not None:
            return seed_store(self.store, services)
        return seed(self.api_url, services)

    def save(self) -> None:
        """Write the state file now (the owner also saves on its own shortly after each change)."""
        if self.store is None or self.state_file is None:
            return
        state = self.store.snapshot()
        if self.prometheus is not None:
            state["errorRates"] = self.prometheus.snapshot()
        write_text_atomic(self.state_file, json.dumps(state, separators=(",", ":")))

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
            self.save()
            if self.state_file is not None:
                endpoint = Endpoint.read(self.state_file)
                if endpoint is not None and endpoint.pid == os.getpid() and endpoint.api_url == self.api_url:
                    Endpoint.path_for(self.state_file).unlink(missing_ok=True)

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

    def _on_change(self, _event: StoredEvent | None = None) -> None:
        loop, dirty = self._loop, self._dirty
        if loop is not None and dirty is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile; stop() saves anyway
                loop.loop.call_soon_threadsafe(dirty.set)

    async def _save_loop(self) -> None:
        assert self._dirty is not None
        while True:
            await self._dirty.wait()
            await asyncio.sleep(_SAVE_DEBOUNCE)
            self._dirty.clear()
            try:
                await asyncio.to_thread(self.save)
            except OSError:
                log.exception("could not save the simulated cluster to %s", self.state_file)


@contextlib.contextmanager
def _startup_lock(state_file: Path | None) -> Iterator[None]:
    if state_file is None:
        yield
        return
    state_file.parent.mkdir(parents=True, exist_ok=True)
    with open(state_file.with_name(state_file.name + ".lock"), "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
) -> SimulatedCluster:
    """Start the simulation on 127.0.0.1 (ephemeral ports), or attach to the one already running.

    ``state_file``: JSON file the objects are loaded from and saved to (None: in memory only).
    ``time_scale``: real seconds per simulated second (0.1 → pods ready in a few tenths of a
    second, a 600 s progress deadline after 60 s). ``seed_objects``: services to create if absent.
    ``attach=False`` always starts a private simulation (it still loads and saves ``state_file``).
    ``detached=True`` never serves in this process: it attaches to the running simulation or
    starts one as a background process (``python -m backends.kube.sim``) that outlives this one
    and exits after ``idle_exit`` seconds without requests or open watches — so a TUI and a
    CLI can come and go in any order. Its log is ``<state_file>.log``.
    """
    if detached:
        if state_file is None:
            raise ValueError("a detached simulation needs a state file")
        cluster = _attach_or_spawn(state_file, time_scale, idle_exit)
    else:
        with _startup_lock(state_file):
            running = _attach(state_file) if attach and state_file is not None else None
            if running is not None:
                cluster = running
            else:
                cluster = _start_owner(state_file, time_scale, timings, history_limit)
                if attach and state_file is not None:
                    Endpoint(os.getpid(), cluster.api_url, cluster.prometheus_url).write(state_file)
    if seed_objects:
        cluster.seed(seed_objects)
    return cluster


def _attach(state_file: Path) -> SimulatedCluster | None:
    endpoint = Endpoint.read(state_file)
    if endpoint is None or not endpoint.is_live():
        return None
    return SimulatedCluster(
        api_url=endpoint.api_url, prometheus_url=endpoint.prometheus_url, state_file=state_file, attached=True
    )


def _attach_or_spawn(
    state_file: Path, time_scale: float, idle_exit: float, timeout: float = 30.0
) -> SimulatedCluster:
    log_path = state_file.with_name(state_file.name + ".log")
    with _startup_lock(state_file):
        running = _attach(state_file)
        if running is not None:
            return running
        # The server takes the same startup lock, so it can only start once we release it.
        _spawn_server(state_file, time_scale, idle_exit, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = _attach(state_file)  # the endpoint file is written atomically: no lock needed
        if running is not None:
            return running
        time.sleep(0.05)
    raise RuntimeError(f"the simulated cluster did not start within {timeout:.0f}s; see {log_path}")


def _spawn_server(state_file: Path, time_scale: float, idle_exit: float, log_path: Path) -> None:
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
    with open(log_path, "ab") as log_file:
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


def _start_owner(
    state_file: Path | None, time_scale: float, timings: PodTimings | None, history_limit: int
) -> SimulatedCluster:
    store = ObjectStore(history_limit=history_limit)
    prometheus = FakePrometheus()
    if state_file is not None and state_file.exists():
        try:
            state = json.loads(state_file.read_text())
            store.load(state)
            prometheus.load(state.get("errorRates", []))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A damaged state file must not make the demo unusable: start empty, keep the file aside.
            log.warning("ignoring unreadable simulated cluster state %s: %s", state_file, exc)
            with contextlib.suppress(OSError):
                state_file.replace(state_file.with_name(f"{state_file.name}.broken-{int(time.time())}"))
    loop = LoopThread()
    api_server = SimulatedApiServer(store=store)
    controller = SimulatedController(store, time_scale=time_scale, timings=timings)

    async def boot() -> tuple[str, kmock.Server]:
        await api_server.__aenter__()
        server = kmock.Server(api_server, host="127.0.0.1", server_cls=QuietTestServer)
        await server.__aenter__()
        await prometheus.start()
        loop.loop.create_task(controller.run(), name="simulated-controller")
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

        async def start_saver() -> None:
            cluster._dirty = asyncio.Event()
            cluster._saver = asyncio.get_running_loop().create_task(cluster._save_loop())

        loop.call(start_saver())
        store.add_listener(cluster._on_change)
        prometheus.on_change = cluster._on_change
    return cluster
