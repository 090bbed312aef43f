"""Server-side printing (``meta.k8s.io/v1 Table``), so ``kubectl get`` shows the familiar columns.

kubectl asks for a Table in its Accept header; without one it falls back to NAME and AGE only.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from backends.kube.age import kubectl_age

from .resources import ResourceType

Obj = dict[str, Any]
Column = tuple[str, Callable[[Obj], Any]]


def wants_table(accept: str) -> bool:
    """Whether an Accept header asks for server-side printing."""
    return "as=Table" in accept


def _age(obj: Obj) -> str:
    created = obj.get("metadata", {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    return kubectl_age((datetime.datetime.now(datetime.UTC) - then).total_seconds())


def _pod_status(pod: Obj) -> str:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    return str((pod.get("status") or {}).get("phase", "Unknown"))


def _pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _ports(service: Obj) -> str:
    ports = (service.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _involved(event: Obj) -> str:
    involved = event.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _status(obj: Obj, key: str) -> int:
    return int((obj.get("status") or {}).get(key, 0))


_COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        ("Ready", _pod_ready),
        ("Status", _pod_status),
        (
            "Restarts",
            lambda p: sum(
                c.get("restartCount", 0) for c in (p.get("status") or {}).get("containerStatuses") or []
            ),
        ),
    ],
    "Deployment": [
        ("Ready", lambda d: f"{_status(d, 'readyReplicas')}/{(d.get('spec') or {}).get('replicas', 1)}"),
        ("Up-to-date", lambda d: _status(d, "updatedReplicas")),
        ("Available", lambda d: _status(d, "availableReplicas")),
    ],
    "ReplicaSet": [
        ("Desired", lambda r: (r.get("spec") or {}).get("replicas", 1)),
        ("Current", lambda r: _status(r, "replicas")),
        ("Ready", lambda r: _status(r, "readyReplicas")),
    ],
    "Service": [
        ("Type", lambda s: (s.get("spec") or {}).get("type", "ClusterIP")),
        ("Cluster-IP", lambda s: (s.get("spec") or {}).get("clusterIP", "<none>")),
        ("Port(s)", _ports),
    ],
    "HTTPRoute": [
        ("Hostnames", lambda r: ",".join((r.get("spec") or {}).get("hostnames") or []) or "<none>"),
        (
            "Backends",
            lambda r: ",".join(
                f"{ref.get('name')}={ref.get('weight', 1)}"
                for rule in (r.get("spec") or {}).get("rules") or []
                for ref in rule.get("backendRefs") or []
            ),
        ),
    ],
    "Event": [
        ("Type", lambda e: e.get("type", "")),
        ("Reason", lambda e: e.get("reason", "")),
        ("Object", lambda e: _involved(e)),
        ("Message", lambda e: e.get("message", "")),
    ],
}


def to_table(resource: ResourceType, items: list[Obj], resource_version: str) -> Obj:
    """A ``Table`` with NAME, the kind's own columns and AGE."""
    columns: list[Column] = [
        ("Name", lambda o: o["metadata"]["name"]),
        *_COLUMNS.get(resource.kind, []),
        ("Age", _age),
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": "string",
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": 0,
            }
            for name, _ in columns
        ],
        "rows": [
            {
                "cells": [render(item) for _, render in columns],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"],
                },
            }
            for item in items
        ],
    }
