"""Canary analysis: pod health read from the watched cluster, and an error rate from Prometheus.

A check returns a :class:`Check` with a :class:`Verdict`. Missing data is ``INCONCLUSIVE``, never
``PASSED``: the engine then pauses and asks a person (as an Argo Rollouts inline analysis does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from backends.deploy.events import Verdict
from backends.http import tls_context
from backends.kube.rollout import progress_deadline_exceeded, rollout_status
from backends.retry import linear, retry

# Waiting reasons that mean the pod will not become ready by itself.
BAD_WAITING_REASONS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError"}
)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    verdict: Verdict
    detail: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class PodHealth:
    total: int
    ready: int
    restarts: int
    problems: tuple[str, ...]  # "payment-service-canary-x: CrashLoopBackOff", …


def pod_health(pods: list[dict[str, Any]]) -> PodHealth:
    """Readiness, restarts and stuck-container reasons over a set of pods."""
    ready = restarts = 0
    problems: list[str] = []
    for pod in pods:
        status = pod.get("status") or {}
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        if conditions.get("Ready") == "True":
            ready += 1
        for container in status.get("containerStatuses") or []:
            restarts += int(container.get("restartCount") or 0)
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in BAD_WAITING_REASONS:
                problems.append(f"{pod['metadata'].get('name')}: {reason}")
        if status.get("phase") == "Failed":
            problems.append(f"{pod['metadata'].get('name')}: pod failed ({status.get('reason') or 'Failed'})")
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    return PodHealth(total=len(live), ready=ready, restarts=restarts, problems=tuple(problems))


def health_checks(canary: dict[str, Any] | None, pods: list[dict[str, Any]], desired: int) -> list[Check]:
    """The checks that need no metrics: pods ready, no restarts/crash loops, deadline not exceeded."""
    if canary is None:
        return [Check("pods-ready", Verdict.FAILED, "the canary Deployment has disappeared")]
    health = pod_health(pods)
    status = rollout_status(canary)
    checks = []
    if progress_deadline_exceeded(canary):
        checks.append(Check("progress-deadline", Verdict.FAILED, status.message))
    else:
        checks.append(Check("progress-deadline", Verdict.PASSED, "within the progress deadline"))
    if health.problems:
        checks.append(Check("restarts", Verdict.FAILED, "; ".join(health.problems[:3]), health.restarts, 0))
    elif health.restarts:
        checks.append(
            Check("restarts", Verdict.FAILED, f"{health.restarts} container restarts", health.restarts, 0)
        )
    else:
        checks.append(Check("restarts", Verdict.PASSED, "no restarts", 0, 0))
    ready = health.ready
    if status.done and ready >= desired:
        checks.append(
            Check("pods-ready", Verdict.PASSED, f"{ready}/{desired} canary pods ready", ready, desired)
        )
    else:
        checks.append(
            Check(
                "pods-ready",
                Verdict.FAILED,
                f"{ready}/{desired} canary pods ready: {status.message}",
                ready,
                desired,
            )
        )
    return checks


class PrometheusError(Exception):
    """Prometheus did not answer usefully (unreachable, an error, or an answer of the wrong shape)."""


class Prometheus:
    """A minimal client for Prometheus' HTTP API: one instant query, one number out."""

    def __init__(self, url: str, *, timeout: float = 5.0, attempts: int = 3) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts

    def query(self, promql: str) -> float | None:
        """The first sample of an instant query; None when there is no usable number (empty, NaN,
        ±Inf). Unreachable, an HTTP error or an answer of an unexpected shape: PrometheusError."""

        def once() -> tuple[Any, int]:
            response = httpx.get(
                f"{self.url}/api/v1/query",
                params={"query": promql},
                timeout=self.timeout,
                verify=tls_context(),
            )
            if response.status_code >= 500:
                raise PrometheusError(f"HTTP {response.status_code}")
            return response.json(), response.status_code  # an unparsable body is retried like a 5xx

        try:
            payload, status_code = retry(
                once,
                attempts=self.attempts,
                on=(httpx.HTTPError, httpx.InvalidURL, PrometheusError, ValueError),
                delay=linear(0.1),
            )
        except (httpx.HTTPError, httpx.InvalidURL, PrometheusError, ValueError) as last:
            raise PrometheusError(f"Prometheus at {self.url} failed: {last}") from last
        return sample_value(payload, status_code)


def sample_value(payload: Any, status_code: int = 200) -> float | None:
    """The number in an instant-query answer, checked field by field: whatever a proxy, an old
    version or a broken exporter sends, the result is a finite number, None, or PrometheusError —
    never an exception from poking at the wrong type mid-canary."""
    if not isinstance(payload, dict):
        raise PrometheusError(f"unexpected answer (a JSON {type(payload).__name__}, HTTP {status_code})")
    if payload.get("status") != "success":
        if payload.get("status") == "error":
            raise PrometheusError(f"Prometheus: {payload.get('errorType')}: {payload.get('error')}")
        raise PrometheusError(f"unexpected answer (status {payload.get('status')!r}, HTTP {status_code})")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PrometheusError("unexpected answer (no data object)")
    result = data.get("result")
    if data.get("resultType") == "scalar":
        sample = result
    elif data.get("resultType") == "vector" and isinstance(result, list):
        if not result:
            return None
        first = result[0]
        sample = first.get("value") if isinstance(first, dict) else None
    else:
        raise PrometheusError(f"unexpected answer (resultType {data.get('resultType')!r}, not a vector)")
    if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[1], str | int | float):
        raise PrometheusError(f"unexpected sample {str(sample)[:60]!r}")
    try:
        value = float(sample[1])
    except ValueError:
        raise PrometheusError(f"sample value {str(sample[1])[:40]!r} is not a number") from None
    return value if math.isfinite(value) else None


def error_rate_check(prometheus: Prometheus | None, query: str, threshold: float) -> Check:
    """Compare the query's value with the threshold; no Prometheus or no data → inconclusive."""
    if prometheus is None:
        return Check(
            "error-rate", Verdict.INCONCLUSIVE, "no Prometheus configured (deploy.analysis.prometheus)"
        )
    if not math.isfinite(threshold):
        # Config validation refuses this; a NaN here would make every comparison pass.
        return Check("error-rate", Verdict.INCONCLUSIVE, f"threshold {threshold} is not a number")
    try:
        value = prometheus.query(query)
    except PrometheusError as error:
        return Check("error-rate", Verdict.INCONCLUSIVE, f"no data: {error}", None, threshold)
    if value is None:
        return Check("error-rate", Verdict.INCONCLUSIVE, "no data for the error-rate query", None, threshold)
    if value > threshold:
        return Check(
            "error-rate",
            Verdict.FAILED,
            f"error rate {value:.2%} above threshold {threshold:.2%}",
            value,
            threshold,
        )
    return Check(
        "error-rate", Verdict.PASSED, f"error rate {value:.2%} within {threshold:.2%}", value, threshold
    )
