"""Where a canary's traffic share is set: exactly, on a Gateway API HTTPRoute, or by pod counts.

With ``environments.<env>.traffic: {httproute: NAME}`` the route's rule that serves the service gets
two weighted backendRefs, ``<svc>-stable`` and ``<svc>-canary`` — Services this module creates
beside the service's own, selecting the ``track: stable`` and ``track: canary`` pods — and a step
of 5 % writes weights 95 / 5 (Argo Rollouts' Gateway API model). The stable keeps its full size and
the canary runs just enough pods for its share. Outside a deploy the route stays 100 / 0.

Without a route, the share is the share of pods (`backends.deploy.weights`): the nearest split the
replicas allow, and every message says which it is ("5% requested, 1 of 5 pods (20%)").
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass
from typing import Any

from backends.deploy import canary as cn
from backends.deploy.weights import ReplicaSplit
from backends.kube.cluster import Cluster, ClusterError, Conflict

TRACKS = ("stable", "canary")


class RouteError(ClusterError):
    """The configured HTTPRoute is missing or sends the service no traffic (a pre-check refusal)."""


def describe_split(weight: int, split: ReplicaSplit) -> str:
    """The share a pod split really gives, next to the one asked for."""
    if split.total and round(split.actual_weight, 1) == weight:
        return f"{weight}% ({split.canary} of {split.total} pods)"
    return f"{weight}% requested, {split.canary} of {split.total} pods ({split.actual_weight:.0f}%)"


def routed_canary_pods(total: int, weight: int) -> int:
    """Pods the canary runs behind a route: its share of the service's size, at least one."""
    return max(1, math.ceil(total * weight / 100)) if weight > 0 else 0


def _selector(stable: dict[str, Any]) -> dict[str, str]:
    labels = dict((stable.get("spec") or {}).get("selector", {}).get("matchLabels") or {})
    labels.pop(cn.TRACK, None)
    return labels


def _serves(service: dict[str, Any] | None, base: dict[str, str]) -> bool:
    """Whether a Service selects the service's pods of some track (its track label aside)."""
    selector = ((service or {}).get("spec") or {}).get("selector") or {}
    return bool(selector) and all(base.get(k) == v for k, v in selector.items() if k != cn.TRACK)


def _base_name(name: str) -> str:
    for track in TRACKS:
        name = name.removesuffix(f"-{track}")
    return name


@dataclass
class RouteTraffic:
    """The HTTPRoute ``route`` in ``namespace`` carrying the traffic of the ``stable`` Deployment."""

    cluster: Cluster
    namespace: str
    route: str
    stable: dict[str, Any]

    def _services(self) -> dict[str, dict[str, Any]]:
        services, _ = self.cluster.list("services", self.namespace)
        return {str(s["metadata"]["name"]): s for s in services}

    def _our_refs(self, rule: dict[str, Any], services: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        base = _selector(self.stable)
        return [
            ref
            for ref in rule.get("backendRefs") or []
            if ref.get("kind", "Service") == "Service" and _serves(services.get(str(ref.get("name"))), base)
        ]

    def check(self) -> str:
        """Refuse (RouteError) unless the route exists and a rule of it sends the service traffic;
        returns the name of the service's Service it routes to (``<svc>`` of ``<svc>-stable``)."""
        route = self.cluster.find("httproutes", self.namespace, self.route)
        if route is None:
            raise RouteError(
                f"HTTPRoute {self.route} (environment traffic.httproute) is not in {self.namespace}"
            )
        services = self._services()
        for rule in (route.get("spec") or {}).get("rules") or []:
            refs = self._our_refs(rule, services)
            if refs:
                return _base_name(str(refs[0]["name"]))
        name = self.stable["metadata"]["name"]
        raise RouteError(
            f"HTTPRoute {self.route} in {self.namespace} has no backendRef to a Service of {name}"
        )

    def prepare(self) -> None:
        """Create ``<svc>-stable`` and ``<svc>-canary`` (one track each) if they are missing."""
        base_name = self.check()
        services = self._services()
        template = services.get(base_name) or next(
            (s for s in services.values() if _serves(s, _selector(self.stable))), None
        )
        ports = copy.deepcopy(((template or {}).get("spec") or {}).get("ports")) or [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
        ]
        for track in TRACKS:
            name = f"{base_name}-{track}"
            if name in services:
                continue
            body = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "namespace": self.namespace,
                    "labels": {**_selector(self.stable), cn.TRACK: track},
                    "annotations": {cn.PREFIX + "managed-by": "idp-console canary traffic"},
                },
                "spec": {"selector": {**_selector(self.stable), cn.TRACK: track}, "ports": ports},
            }
            # A Conflict: created by a retried request or a concurrent resume, the same object.
            with contextlib.suppress(Conflict):
                self.cluster.create("services", self.namespace, body)

    def set_weight(self, canary: int) -> None:
        """Send ``canary`` percent to the canary's Service and the rest to the stable's (exactly)."""
        base = self.check()

        def weigh(route: dict[str, Any]) -> None:
            services = self._services()
            for rule in (route.get("spec") or {}).get("rules") or []:
                ours = self._our_refs(rule, services)
                if not ours:
                    continue
                port = next((ref["port"] for ref in ours if "port" in ref), None)
                others = [ref for ref in rule.get("backendRefs") or [] if ref not in ours]
                refs = []
                for track, weight in (("stable", 100 - canary), ("canary", canary)):
                    ref: dict[str, Any] = {"kind": "Service", "name": f"{base}-{track}", "weight": weight}
                    if port is not None:
                        ref["port"] = port
                    refs.append(ref)
                rule["backendRefs"] = refs + others

        self.cluster.update("httproutes", self.namespace, self.route, weigh)

    def weight(self) -> int | None:
        """The canary's weight on the route now (None: the route or its canary ref is missing)."""
        return canary_weight(self.cluster, self.namespace, self.route)


def canary_weight(cluster: Cluster, namespace: str, route_name: str) -> int | None:
    """The share (percent) the route gives the service's canary Service now, None when it has none."""
    route = cluster.find("httproutes", namespace, route_name)
    if route is None:
        return None
    for rule in (route.get("spec") or {}).get("rules") or []:
        weights = {str(ref.get("name")): int(ref.get("weight", 1)) for ref in rule.get("backendRefs") or []}
        canary = [w for name, w in weights.items() if name.endswith("-canary")]
        total = sum(weights.values())
        if canary and total:
            return round(100 * sum(canary) / total)
    return None
