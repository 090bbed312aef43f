"""Cluster: kubeconfig loading as kubectl does it, retries, errors (real HTTP to the simulation)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from backends.kube.cluster import (
    Cluster,
    ClusterError,
    ClusterUnreachable,
    NotFound,
    RetryPolicy,
    merge_patch,
)

from .conftest import SERVICE, Harness


def test_kubeconfig_from_env_list_and_context(harness: Harness, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(harness.kubeconfig)]))
    cluster = Cluster.from_kubeconfig()  # $KUBECONFIG, read now, current-context
    assert cluster.name == "simulated"
    assert cluster.get("deployments", "production", SERVICE)["metadata"]["name"] == SERVICE
    with pytest.raises(ClusterError, match="nope"):
        Cluster.from_kubeconfig(context="nope")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(ClusterError, match="does not exist"):
        Cluster.from_kubeconfig()


def test_errors_are_typed_and_5xx_exhaustion_reports_status(harness: Harness) -> None:
    cluster = Cluster(harness.cluster.api_client, retry=RetryPolicy(attempts=3, base_delay=0.01))
    with pytest.raises(NotFound):
        cluster.get("deployments", "production", "missing")
    assert cluster.find("pods", "production", "missing") is None
    harness.sim.faults.fail_next(3, method="GET", path="/deployments/", status=503)
    with pytest.raises(ClusterError) as raised:
        cluster.get("deployments", "production", SERVICE)
    assert raised.value.status == 503 and cluster.stats["retries"] == 2
    harness.sim.faults.fail_next(1, method="GET", path="/deployments/", status=403)
    with pytest.raises(ClusterError, match="HTTP 403"):  # not retried: it will not get better
        cluster.get("deployments", "production", SERVICE)


def test_unreachable_fails_fast_and_clearly(harness: Harness, tmp_path: Path) -> None:
    dead = tmp_path / "dead"
    dead.write_text(harness.kubeconfig.read_text().replace(harness.sim.api_url, "http://127.0.0.1:9"))
    cluster = Cluster.from_kubeconfig(str(dead), "simulated", retry=RetryPolicy(attempts=2, base_delay=0.01))
    began = time.monotonic()
    with pytest.raises(
        ClusterUnreachable, match=r"cannot reach the cluster simulated \(http://127.0.0.1:9\)"
    ):
        cluster.version()
    assert time.monotonic() - began < 5


def test_merge_patch() -> None:
    before = {"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2], "gone": True}
    after = {"a": 1, "b": {"c": 5, "d": 3}, "l": [1], "new": "x"}
    assert merge_patch(before, after) == {"b": {"c": 5}, "l": [1], "gone": None, "new": "x"}
    assert merge_patch(after, after) == {}
