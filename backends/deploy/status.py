"""What a service runs in an environment: stable and canary, their pods, who holds the deploy lease.

:func:`read_status` answers once (``idp-console status``); :class:`StatusBoard` keeps the answer
current for many services and environments from one Deployment watch per namespace — the live
status view — and never polls.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from backends.deploy import canary as cn
from backends.deploy.analysis import BAD_WAITING_REASONS
from backends.deploy.history import DeployRecord
from backends.kube.cluster import Cluster
from backends.kube.rollout import rollout_status
from backends.kube.watch import ResourceWatch


@dataclass(frozen=True, slots=True)
class PodStatus:
    name: str
    track: str  # stable | canary
    phase: str
    ready: bool
    restarts: int
    reason: str  # a waiting reason such as CrashLoopBackOff, or ""
    age_seconds: float
    version: str


@dataclass(frozen=True, slots=True)
class WorkloadStatus:
    name: str
    version: str
    desired: int
    ready: int
    available: int
    updated: int
    rollout: str  # kubectl's sentence
    rollout_done: bool
    rollout_failed: bool


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    service: str
    environment: str
    namespace: str
    stable: WorkloadStatus | None
    canary: WorkloadStatus | None
    pods: tuple[PodStatus, ...] = ()
    lease_holder: dict[str, Any] | None = None
    last_deploy: DeployRecord | None = None
    rollback_to: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.last_deploy is not None:
            data["last_deploy"] = {k: v for k, v in asdict(self.last_deploy).items()}
        return data


def workload_status(deployment: dict[str, Any]) -> WorkloadStatus:
    status = deployment.get("status") or {}
    verdict = rollout_status(deployment)
    return WorkloadStatus(
        name=deployment["metadata"]["name"],
        version=cn.deployed_version(deployment),
        desired=cn.desired_replicas(deployment),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        rollout=verdict.message,
        rollout_done=verdict.done,
        rollout_failed=verdict.failed,
    )


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def pod_status(pod: dict[str, Any], now: float | None = None) -> PodStatus:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    restarts, reason = 0, ""
    for container in status.get("containerStatuses") or []:
        restarts += int(container.get("restartCount") or 0)
        waiting = ((container.get("state") or {}).get("waiting") or {}).get("reason")
        if waiting and (waiting in BAD_WAITING_REASONS or not reason):
            reason = waiting
    created = _parse_time(meta.get("creationTimestamp"))
    images = [c.get("image", "") for c in (pod.get("spec") or {}).get("containers") or []]
    return PodStatus(
        name=meta.get("name", ""),
        track=(meta.get("labels") or {}).get(cn.TRACK, "stable"),
        phase=str(status.get("phase") or "Pending"),
        ready=conditions.get("Ready") == "True",
        restarts=restarts,
        reason=reason,
        age_seconds=max(0.0, (now or time.time()) - created) if created else 0.0,
        version=cn.image_tag(images[0]) if images else "",
    )


def pod_selector(stable: dict[str, Any]) -> str:
    """A selector for the pods of both tracks: the stable's own labels without ``track``."""
    labels = dict(((stable.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
    labels.pop(cn.TRACK, None)
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def read_status(
    cluster: Cluster,
    namespace: str,
    stable_name: str,
    *,
    service: str,
    environment: str,
    lease_holder: dict[str, Any] | None = None,
    last_deploy: DeployRecord | None = None,
    rollback_to: str | None = None,
) -> ServiceStatus:
    """One look at the cluster: the stable and canary Deployments and every pod of the service."""
    stable = cluster.find("deployments", namespace, stable_name)
    canary = cluster.find("deployments", namespace, cn.canary_name(stable_name))
    pods: list[dict[str, Any]] = []
    if stable is not None:
        selector = pod_selector(stable)
        pods, _ = cluster.list("pods", namespace, selector or None)
    now = time.time()
    return ServiceStatus(
        service=service,
        environment=environment,
        namespace=namespace,
        stable=workload_status(stable) if stable else None,
        canary=workload_status(canary) if canary else None,
        pods=tuple(sorted((pod_status(p, now) for p in pods), key=lambda p: (p.track, p.name))),
        lease_holder=lease_holder,
        last_deploy=last_deploy,
        rollback_to=rollback_to,
    )


@dataclass(frozen=True, slots=True)
class BoardTarget:
    """One cell of the board: a service's stable Deployment in an environment."""

    service: str
    environment: str
    cluster: Cluster
    namespace: str
    deployment: str


class StatusBoard:
    """Live stable/canary status of many services × environments, from one watch per namespace.

    ``on_change(service, environment)`` is called (on a watch thread) whenever a cell changes.
    """

    def __init__(
        self, targets: Iterable[BoardTarget], on_change: Callable[[str, str], object] | None = None
    ) -> None:
        self.targets = list(targets)
        self.on_change = on_change
        self._by_deployment: dict[tuple[int, str, str], list[BoardTarget]] = {}
        self.watches: list[ResourceWatch] = []
        self._watch_for: dict[tuple[int, str], ResourceWatch] = {}
        for target in self.targets:
            key = (id(target.cluster), target.namespace)
            if key not in self._watch_for:
                watch = ResourceWatch(target.cluster, "deployments", target.namespace, listener=self._changed)
                self._watch_for[key] = watch
                self.watches.append(watch)
            for name in (target.deployment, cn.canary_name(target.deployment)):
                self._by_deployment.setdefault((id(target.cluster), target.namespace, name), []).append(
                    target
                )
        self._lock = threading.Lock()

    def start(self) -> StatusBoard:
        for watch in self.watches:
            watch.start()
        return self

    def stop(self) -> None:
        for watch in self.watches:
            watch.stop()

    def wait_synced(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        return all(w.synced.wait(max(0.0, deadline - time.monotonic())) for w in self.watches)

    def _changed(self, _kind: str, obj: dict[str, Any]) -> None:
        if self.on_change is None:
            return
        meta = obj.get("metadata") or {}
        for watch_key, watch in self._watch_for.items():
            if watch.namespace != meta.get("namespace", watch.namespace):
                continue
            for target in self._by_deployment.get((watch_key[0], watch.namespace, meta.get("name", "")), []):
                self.on_change(target.service, target.environment)

    def cell(self, target: BoardTarget) -> tuple[WorkloadStatus | None, WorkloadStatus | None]:
        """(stable, canary) of one cell, from the watch cache."""
        watch = self._watch_for[(id(target.cluster), target.namespace)]
        stable = watch.get(target.deployment)
        canary = watch.get(cn.canary_name(target.deployment))
        return (workload_status(stable) if stable else None, workload_status(canary) if canary else None)

    def snapshot(self) -> dict[tuple[str, str], tuple[WorkloadStatus | None, WorkloadStatus | None]]:
        return {(t.service, t.environment): self.cell(t) for t in self.targets}
