"""Fixtures for the simulated cluster: a fresh cluster per test, reached by the official client over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config

from backends.kube.sim import SimulatedCluster, start_simulated_cluster

T = TypeVar("T")

# 1 simulated second = 10 ms: a pod is ready after 50 ms.
FAST = 0.01


@pytest.fixture
def sim() -> Iterator[SimulatedCluster]:
    with start_simulated_cluster(None, time_scale=FAST) as cluster:
        yield cluster


@pytest.fixture
def api(sim: SimulatedCluster, tmp_path: Path) -> Iterator[client.ApiClient]:
    """An ApiClient loaded from a kubeconfig file, exactly as for a real cluster."""
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    api_client = config.new_client_from_config(str(kubeconfig), context="simulated")
    yield api_client
    api_client.close()


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def wait_for(probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.02) -> T:
    """Poll ``probe`` until it returns something truthy (a state, never a fixed sleep); fail after
    ``timeout`` seconds. The plain (non-Pilot) wait of the simulation, status and infra tests."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def deployment(name: str, image: str, replicas: int = 3, **spec: Any) -> dict[str, Any]:
    """A minimal Deployment manifest with one container exposing port 8080."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 8080}]}]},
            },
            **spec,
        },
    }


def rolled_out(apps: client.AppsV1Api, name: str, namespace: str = "default") -> bool:
    """``kubectl rollout status``'s verdict: generation observed and every replica updated and available."""
    d = apps.read_namespaced_deployment(name, namespace)
    s = d.status
    if s is None or (s.observed_generation or 0) < d.metadata.generation:
        return False
    want = d.spec.replicas
    return (
        (s.updated_replicas or 0) == want
        and (s.replicas or 0) == (s.updated_replicas or 0)
        and (s.available_replicas or 0) == (s.updated_replicas or 0)
    )
