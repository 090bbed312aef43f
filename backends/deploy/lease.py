"""One deploy per service and environment at a time: a coordination.k8s.io Lease in the namespace.

The lease lives next to the workload, so every idp-console (any laptop, the TUI, CI) sees the same
lock. The holder renews it while it works; a process that dies stops renewing and the lease expires
after ``lease_seconds``, unless the same deploy is resumed, which may take it over at once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from backends.kube.cluster import Cluster, Conflict, NotFound


class LeaseHeld(Exception):
    """Another deploy holds the lease; the message says who, which deploy and since when."""

    def __init__(self, message: str, holder: dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


def lease_name(service: str) -> str:
    return f"idp-console-deploy-{service}"[:63]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _micro(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class DeployLease:
    cluster: Cluster
    namespace: str
    service: str
    environment: str
    deploy_id: str
    user: str
    seconds: int = 60

    @property
    def name(self) -> str:
        return lease_name(self.service)

    def _holder(self) -> str:
        # holderIdentity is a free string; JSON lets the refusal message name who and what.
        return json.dumps(
            {
                "user": self.user,
                "deploy": self.deploy_id,
                "env": self.environment,
                "host": socket.gethostname(),
                "pid": os.getpid(),
            },
            sort_keys=True,
        )

    def acquire(self, *, take_over_from: str | None = None) -> None:
        """Take the lease or raise :class:`LeaseHeld`. ``take_over_from``: a deploy id whose lease
        may be taken even if unexpired (resuming or aborting that same interrupted deploy)."""
        now = _now()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "idp-console"},
            },
            "spec": {
                "holderIdentity": self._holder(),
                "leaseDurationSeconds": self.seconds,
                "acquireTime": _micro(now),
                "renewTime": _micro(now),
            },
        }
        try:
            self.cluster.create("leases", self.namespace, body)
            return
        except Conflict:
            pass

        def take(lease: dict[str, Any]) -> None:
            spec = lease.setdefault("spec", {})
            holder = describe_holder(spec)
            mine = holder.get("deploy") in (self.deploy_id, take_over_from) and holder.get("deploy")
            if spec.get("holderIdentity") and not mine and not _expired(spec, _now()):
                raise LeaseHeld(holder_message(self.service, self.environment, holder, spec), holder)
            spec.update(body["spec"])
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1

        self.cluster.update("leases", self.namespace, self.name, take)

    def renew(self) -> None:
        """Push renewTime forward (only while we still hold it)."""

        def bump(lease: dict[str, Any]) -> None:
            spec = lease.setdefault("spec", {})
            if describe_holder(spec).get("deploy") == self.deploy_id:
                spec["renewTime"] = _micro(_now())

        try:
            self.cluster.update("leases", self.namespace, self.name, bump)
        except NotFound:
            self.acquire()

    def release(self) -> None:
        """Give the lease up, if it is still ours (a taken-over lease is left alone)."""
        lease = self.cluster.find("leases", self.namespace, self.name)
        if lease and describe_holder(lease.get("spec") or {}).get("deploy") == self.deploy_id:
            self.cluster.delete("leases", self.namespace, self.name)


def describe_holder(spec: dict[str, Any]) -> dict[str, Any]:
    raw = spec.get("holderIdentity") or ""
    try:
        data = json.loads(raw)
        return data if isinstance(data, dict) else {"user": raw}
    except ValueError:
        return {"user": raw} if raw else {}


def _expired(spec: dict[str, Any], now: dt.datetime) -> bool:
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    if renewed is None:
        return True
    return (now - renewed).total_seconds() > int(spec.get("leaseDurationSeconds") or 60)


def holder_message(service: str, environment: str, holder: dict[str, Any], spec: dict[str, Any]) -> str:
    since = _parse(spec.get("acquireTime"))
    when = f" since {since:%H:%M:%S} UTC" if since else ""
    where = f" on {holder['host']}" if holder.get("host") else ""
    return (
        f"another deploy of {service} to {environment} is in progress: held by {holder.get('user', '?')}"
        f" (deploy {holder.get('deploy', '?')}{where}){when}"
    )


def current_holder(cluster: Cluster, namespace: str, service: str) -> dict[str, Any] | None:
    """Who holds the lease now (None when free or expired)."""
    lease = cluster.find("leases", namespace, lease_name(service))
    if not lease:
        return None
    spec = lease.get("spec") or {}
    if not spec.get("holderIdentity") or _expired(spec, _now()):
        return None
    return describe_holder(spec)
