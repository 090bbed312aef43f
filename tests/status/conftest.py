"""A simulated cluster with a few services in two environments, and a status controller on it,
reached over real HTTP through a kubeconfig (nothing is monkeypatched)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from backends.deploy.engine import DeployContext
from backends.deploy.history import DeployHistory
from backends.kube.cluster import RetryPolicy
from backends.kube.sim import SeedService, start_simulated_cluster
from backends.kube.sim.cluster import SimulatedCluster
from tests.deploy.conftest import FakeCatalog, entity
from tests.screens.helpers import UNREACHABLE_KUBECONFIG

T = TypeVar("T")
TIME_SCALE = 0.02  # pods ready in ~0.1 s; a log line every 0.2 s
ENVS = ("staging", "production")
SERVICES = {"payment-service": ("team-payments", 3), "invoice-service": ("team-billing", 2)}


def wait_for(probe: Callable[[], T | None], timeout: float = 15.0) -> T:
    """Wait until ``probe`` returns something truthy (a state, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


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
