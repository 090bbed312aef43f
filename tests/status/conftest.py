"""A simulated cluster with a few services in two environments, and a status controller on it,
reached over real HTTP through a kubeconfig (nothing is monkeypatched)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.deploy.engine import DeployContext
from backends.deploy.history import DeployHistory
from backends.kube.cluster import RetryPolicy
from backends.kube.sim import SeedService, start_simulated_cluster
from backends.kube.sim.cluster import SimulatedCluster
from tests.deploy.conftest import FakeCatalog, entity
from tests.kube_sim.conftest import wait_for  # noqa: F401 - the one polling wait, for this package's tests
from tests.screens.helpers import UNREACHABLE_KUBECONFIG

TIME_SCALE = 0.02  # pods ready in ~0.1 s; a log line every 0.2 s
ENVS = ("staging", "production")
SERVICES = {"payment-service": ("team-payments", 3), "invoice-service": ("team-billing", 2)}


def status_catalog() -> FakeCatalog:
    components = [
        entity(
            "Component",
            name,
            {"type": "service", "lifecycle": "production", "owner": owner},
            {"backstage.io/kubernetes-id": name},
        )
        for name, (owner, _replicas) in SERVICES.items()
    ]
    return FakeCatalog(*components)


@pytest.fixture
def sim() -> Iterator[SimulatedCluster]:
    seed = [
        SeedService(name, ENVS, f"registry.acme.example/{name}:v1.{replicas}.0", replicas)
        for name, (_owner, replicas) in SERVICES.items()
    ]
    with start_simulated_cluster(None, time_scale=TIME_SCALE, attach=False, seed_objects=seed) as cluster:
        yield cluster


def environments(kubeconfig: Path, *, broken: Path | None = None) -> dict[str, Any]:
    """staging and production on the simulation; with ``broken``, production's kubeconfig instead."""
    unreachable = {"kubeconfig": str(broken), "context": "prod", "namespace": "production"}
    return {
        env: unreachable
        if broken is not None and env == "production"
        else {"kubeconfig": str(kubeconfig), "context": "simulated", "namespace": env}
        for env in ENVS
    }


def unreachable_kubeconfig(path: Path) -> Path:
    """A kubeconfig (context ``prod``) whose server refuses connections (a closed loopback port)."""
    path.write_text(UNREACHABLE_KUBECONFIG, encoding="utf-8")
    return path


@pytest.fixture
def context(sim: SimulatedCluster, tmp_path: Path) -> DeployContext:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    return DeployContext(
        catalog=status_catalog(),
        environments=environments(kubeconfig),
        deploy={"analysis": {"prometheus": sim.prometheus_url}},
        history=DeployHistory(tmp_path / "history.sqlite3"),
        user="jane.doe",
        retry=RetryPolicy(attempts=2, base_delay=0.05, max_delay=0.2),
    )


class ClusterLink:
    """A loopback TCP proxy in front of the simulated API, the network path to a cluster.

    ``cut()`` closes every connection through it and resets new ones (the cluster went away: an
    apiserver restarting behind its load balancer), ``restore()`` forwards again. It keeps its
    port all along, so a kubeconfig pointing at it stays valid and no other process can take it.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.split("://", 1)[1].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open = threading.Event()
        self.open.set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="cluster-link", daemon=True).start()

    def cut(self) -> None:
        self.open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _reset(sock)

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.open.is_set():
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a peer that is gone does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv on it
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def link(sim: SimulatedCluster) -> Iterator[ClusterLink]:
    proxy = ClusterLink(sim.api_url)
    yield proxy
    proxy.close()


def linked_kubeconfig(sim: SimulatedCluster, link: ClusterLink, path: Path) -> Path:
    """A kubeconfig (context ``simulated``) that reaches the simulation through ``link``."""
    sim.kubeconfig(path)
    path.write_text(path.read_text(encoding="utf-8").replace(sim.api_url, link.url), encoding="utf-8")
    return path
