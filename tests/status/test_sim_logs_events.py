"""The simulated cluster serves container logs, Kubernetes Events and Prometheus range queries,
so kubectl and the status page read the same thing a real cluster would give them."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from backends.kube.cluster import Cluster, ClusterError
from backends.kube.sim.cluster import SimulatedCluster
from tests.status.conftest import wait_for

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def _running_pod(cluster: Cluster, namespace: str = "production", app: str = "payment-service") -> str:
    def probe() -> str | None:
        pods, _ = cluster.list("pods", namespace, f"app={app}")
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        return running[0]["metadata"]["name"] if running else None

    return wait_for(probe)


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--context", "simulated", "-n", "production", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_pod_log_tail_and_follow(sim: SimulatedCluster, tmp_path: Path) -> None:
    cluster = Cluster.from_kubeconfig(str(sim.kubeconfig(tmp_path / "kubeconfig")), "simulated")
    pod = _running_pod(cluster)
    wait_for(lambda: len(list(cluster.pod_log("production", pod))) >= 3)
    tail = list(cluster.pod_log("production", pod, tail_lines=2))
    assert len(tail) == 2
    assert all(" INFO " in line or " WARN " in line for line in tail)
    # The same moment gives the same lines: a log is a function of the pod, not random.
    assert tail[0] in list(cluster.pod_log("production", pod))

    seen: list[str] = []
    stream = cluster.pod_log("production", pod, tail_lines=1, follow=True)
    for line in stream:
        seen.append(line)
        if len(seen) == 3:  # one from the tail, two written while following
            break
    stream.close()
    assert len(set(seen)) == 3


def test_pod_log_refuses_unknown_container_and_pod(sim: SimulatedCluster, tmp_path: Path) -> None:
    cluster = Cluster.from_kubeconfig(str(sim.kubeconfig(tmp_path / "kubeconfig")), "simulated")
    pod = _running_pod(cluster)
    with pytest.raises(ClusterError, match="container nope is not valid"):
        list(cluster.pod_log("production", pod, container="nope"))
    with pytest.raises(ClusterError, match="not found"):
        list(cluster.pod_log("production", "no-such-pod"))


@needs_kubectl
def test_kubectl_logs_and_events(sim: SimulatedCluster, tmp_path: Path) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    pod = _running_pod(cluster)
    wait_for(lambda: len(list(cluster.pod_log("production", pod))) >= 2)

    logs = _kubectl(kubeconfig, "logs", pod, "--tail=2")
    assert logs.returncode == 0, logs.stderr
    assert len(logs.stdout.splitlines()) == 2

    follow = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--context", "simulated", "-n", "production",
         "logs", "-f", pod, "--tail=1"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert follow.stdout is not None
        lines = [follow.stdout.readline() for _ in range(3)]  # new lines arrive while following
        assert all(line.strip() for line in lines) and len(set(lines)) == 3
    finally:
        follow.kill()
        follow.wait()

    def events() -> str | None:
        out = _kubectl(kubeconfig, "get", "events").stdout
        wanted = ("Scheduled", "Pulled", "Started", "SuccessfulCreate", "ScalingReplicaSet")
        return out if all(word in out for word in wanted) else None

    assert f"pod/{pod}" in wait_for(events)


def test_events_for_a_crash_loop_and_scale_down(sim: SimulatedCluster, tmp_path: Path) -> None:
    cluster = Cluster.from_kubeconfig(str(sim.kubeconfig(tmp_path / "kubeconfig")), "simulated")
    _running_pod(cluster, app="invoice-service")
    cluster.patch("deployments", "production", "invoice-service", {"spec": {"replicas": 1}})

    def reasons() -> set[str] | None:
        events, _ = cluster.list("events", "production")
        found = {e["reason"] for e in events if e["involvedObject"]["name"].startswith("invoice-service")}
        return found if {"Killing", "SuccessfulDelete"} <= found else None

    wait_for(reasons)


def test_prometheus_range_queries(sim: SimulatedCluster) -> None:
    sim.set_error_rate("payment-service", "stable", 0.03)
    end = time.time()
    url = f"{sim.prometheus_url}/api/v1/query_range"

    def ask(query: str) -> list:
        answer = httpx.get(url, params={"query": query, "start": end - 3600, "end": end, "step": "60s"})
        assert answer.status_code == 200
        body = answer.json()
        assert body["data"]["resultType"] == "matrix"
        return body["data"]["result"]

    rate = ask('sum(rate(http_requests_total{service="payment-service"}[5m]))')
    assert len(rate[0]["values"]) == 61 and all(float(v) > 0 for _t, v in rate[0]["values"])
    errors = ask('sum(rate(http_requests_total{service="payment-service",code=~"5.."}[5m]))')
    assert {v for _t, v in errors[0]["values"]} == {"0.03"}
    buckets = 'rate(http_request_duration_seconds_bucket{service="payment-service"}[5m])'
    p95 = ask(f"histogram_quantile(0.95, sum by (le) ({buckets}))")
    assert all(0.01 < float(v) < 1 for _t, v in p95[0]["values"])
    assert ask('sum(rate(http_requests_total{service="ghost-service",code=~"5.."}[5m]))') == []  # no data

    bad = httpx.get(url, params={"query": "up", "start": end, "end": end - 10, "step": 60})
    assert bad.status_code == 400 and "end timestamp must not be before start" in bad.json()["error"]
