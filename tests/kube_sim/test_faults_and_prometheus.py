"""API fault injection and the fake Prometheus."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from backends.kube.sim import SimulatedCluster
from backends.kube.sim.prometheus import parse_matchers

from .conftest import wait_for

QUERY = (
    'sum(rate(http_requests_total{service="payment-service",track="canary",code=~"5.."}[1m]))'
    ' / sum(rate(http_requests_total{service="payment-service",track="canary"}[1m]))'
)


def test_fail_next_answers_500_then_recovers(core: client.CoreV1Api, sim: SimulatedCluster) -> None:
    sim.faults.fail_next(2, method="GET", path=r"/configmaps$")
    for _ in range(2):
        with pytest.raises(ApiException) as failed:
            core.list_namespaced_config_map("default")
        assert failed.value.status == 500
    assert core.list_namespaced_config_map("default").items == []
    assert [hit.kind for hit in sim.faults.hits] == ["error", "error"]


def test_fault_rules_match_method_and_path(core: client.CoreV1Api, sim: SimulatedCluster) -> None:
    sim.faults.fail_next(1, method="PATCH", path="/configmaps/a", status=503)
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.read_namespaced_config_map("a", "default")  # a GET is not hit
    with pytest.raises(ApiException) as failed:
        core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    assert failed.value.status == 503
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})


def test_hang_next_outlasts_the_client_timeout(core: client.CoreV1Api, sim: SimulatedCluster) -> None:
    # The client retries a timed-out GET a few times by itself, so hang more requests than that.
    sim.faults.hang_next(10, method="GET", path="/configmaps", seconds=5.0)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.HTTPError):  # ReadTimeoutError, or MaxRetryError around it
        core.list_namespaced_config_map("default", _request_timeout=0.2)
    assert time.monotonic() - started < 4.5  # the client gave up; it did not wait out the hang
    assert {hit.kind for hit in sim.faults.hits} == {"hang"}
    sim.faults.clear()
    assert core.list_namespaced_config_map("default", _request_timeout=2).items == []


@pytest.mark.parametrize("abrupt", [True, False])
def test_drop_watches_cuts_open_streams(core: client.CoreV1Api, sim: SimulatedCluster, abrupt: bool) -> None:
    outcome: dict[str, object] = {}

    def consume() -> None:
        try:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=10):
                pass
            outcome["ended"] = "cleanly"
        except Exception as exc:  # the client's view of a cut connection
            outcome["ended"] = type(exc).__name__

    thread = threading.Thread(target=consume)
    thread.start()
    wait_for(lambda: sim.faults.drop_watches("/configmaps", abrupt=abrupt))
    thread.join(5)
    assert not thread.is_alive()
    assert (outcome["ended"] != "cleanly") if abrupt else (outcome["ended"] == "cleanly")


def test_matchers_are_parsed_from_promql() -> None:
    assert parse_matchers(QUERY) == {"service": "payment-service", "track": "canary"}
    assert parse_matchers('x{service!="a",service="b", namespace = "prod"}') == {
        "service": "b",
        "namespace": "prod",
    }


def test_prometheus_answers_the_error_rate_or_no_data(sim: SimulatedCluster) -> None:
    def query(text: str) -> dict:
        response = httpx.get(f"{sim.prometheus_url}/api/v1/query", params={"query": text})
        assert response.status_code == 200
        return response.json()

    empty = query(QUERY)
    assert empty == {"status": "success", "data": {"resultType": "vector", "result": []}}

    sim.set_error_rate("payment-service", "canary", 0.07)
    body = query(QUERY)
    (sample,) = body["data"]["result"]
    assert sample["metric"] == {"service": "payment-service", "track": "canary"}
    timestamp, value = sample["value"]
    assert isinstance(timestamp, float) and value == "0.07"
    assert query(QUERY.replace("canary", "stable"))["data"]["result"] == []

    # A namespace-specific rate wins over the any-namespace one for queries naming that namespace.
    sim.set_error_rate("payment-service", "canary", 0.5, namespace="staging")
    staging = query(QUERY.replace('track="canary"', 'track="canary",namespace="staging"'))
    assert staging["data"]["result"][0]["value"][1] == "0.5"
    assert query(QUERY)["data"]["result"][0]["value"][1] == "0.07"

    sim.set_error_rate("payment-service", "canary", None)
    assert query(QUERY)["data"]["result"] == []


def test_prometheus_post_errors_and_faults(sim: SimulatedCluster) -> None:
    sim.set_error_rate("cart", "stable", 0)
    posted = httpx.post(
        f"{sim.prometheus_url}/api/v1/query", data={"query": 'x{service="cart",track="stable"}'}
    )
    assert posted.json()["data"]["result"][0]["value"][1] == "0"
    missing = httpx.get(f"{sim.prometheus_url}/api/v1/query")
    assert missing.status_code == 400 and missing.json()["status"] == "error"
    assert sim.prometheus is not None
    sim.prometheus.fail_next(1)
    assert httpx.get(f"{sim.prometheus_url}/api/v1/query", params={"query": QUERY}).status_code == 503
    assert httpx.get(f"{sim.prometheus_url}/api/v1/query", params={"query": QUERY}).status_code == 200


def test_resumed_watches_miss_nothing_while_streams_are_cut(
    core: client.CoreV1Api, sim: SimulatedCluster
) -> None:
    """Writes keep coming while watch streams are cut; resuming from the last resourceVersion seen
    must replay every change exactly once and in order."""
    total = 60
    core.create_namespaced_config_map("default", {"metadata": {"name": "counter"}, "data": {"n": "0"}})
    resume_from = core.list_namespaced_config_map("default").metadata.resource_version
    writer_done = threading.Event()

    def writer() -> None:
        for n in range(1, total + 1):
            core.patch_namespaced_config_map("counter", "default", {"data": {"n": str(n)}})
            if n % 10 == 0:
                sim.faults.drop_watches("/configmaps", abrupt=n % 20 == 0)
            time.sleep(0.005)
        writer_done.set()

    seen: list[int] = []
    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 20
    while (not seen or seen[-1] < total) and time.monotonic() < deadline:
        try:
            for event in watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=resume_from, timeout_seconds=1
            ):
                seen.append(int(event["object"].data["n"]))
                resume_from = event["object"].metadata.resource_version
                if seen[-1] == total:
                    break
        except (urllib3.exceptions.HTTPError, ApiException):
            pass  # a cut stream: resume from the last version seen
    thread.join(10)
    assert writer_done.is_set()
    assert seen == list(range(1, total + 1))
