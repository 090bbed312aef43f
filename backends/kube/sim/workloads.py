"""Deployment arithmetic shared by the simulated controller: template hashes and rolling-update steps."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

# The alphabet kube-controller-manager uses for generated names (no vowels, no look-alikes).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(data: bytes, length: int) -> str:
    """``length`` characters of ``NAME_ALPHABET`` derived from ``data``."""
    number = int.from_bytes(hashlib.sha256(data).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(NAME_ALPHABET))
        chars.append(NAME_ALPHABET[index])
    return "".join(chars)


def template_hash(template: dict[str, Any]) -> str:
    """The ``pod-template-hash`` label value: equal templates give equal hashes (so a rollback
    to an earlier template reuses its ReplicaSet, as in Kubernetes)."""
    return safe_encode(json.dumps(template, sort_keys=True, separators=(",", ":")).encode(), 10)


def resolve_int_or_percent(value: int | str | None, total: int, *, default: str, round_up: bool) -> int:
    """``maxSurge``/``maxUnavailable``: an int, or a percentage of ``total`` (surge rounds up,
    unavailability rounds down, as in the Deployment controller)."""
    if value is None:
        value = default
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        fraction = float(text[:-1]) / 100 * total
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(text)


@dataclass(frozen=True)
class ReplicaCounts:
    """A ReplicaSet's desired size and how many of its pods are available right now."""

    spec: int
    available: int


def rolling_update_targets(
    desired: int, max_surge: int, max_unavailable: int, new: ReplicaCounts, old: list[ReplicaCounts]
) -> tuple[int, list[int]]:
    """New sizes for the new and the old ReplicaSets after one rolling-update step.

    Scale the new ReplicaSet up while the total stays within ``desired + max_surge``; scale old
    ones down while at least ``desired - max_unavailable`` pods stay available, removing
    unavailable old pods first (they count for nothing). Old ReplicaSets come oldest first.
    """
    if max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1  # the API forbids both zero; the controller would otherwise stall
    total = new.spec + sum(rs.spec for rs in old)
    new_target = new.spec
    if new.spec > desired:
        new_target = desired
    elif new.spec < desired and total < desired + max_surge:
        new_target = min(desired, new.spec + desired + max_surge - total)
    total += new_target - new.spec

    old_targets = [rs.spec for rs in old]
    min_available = desired - max_unavailable
    new_unavailable = max(new_target - new.available, 0)
    budget = total - min_available - new_unavailable
    if budget <= 0:
        return new_target, old_targets
    # First the old pods that are not available anyway.
    for index, rs in enumerate(old):
        unhealthy = max(old_targets[index] - rs.available, 0)
        take = min(unhealthy, budget)
        old_targets[index] -= take
        budget -= take
    # Then available old pods, as long as enough stay available.
    budget = (
        new.available
        + sum(min(rs.available, t) for rs, t in zip(old, old_targets, strict=True))
        - min_available
    )
    for index in range(len(old)):
        take = max(min(old_targets[index], budget), 0)
        old_targets[index] -= take
        budget -= take
    return new_target, old_targets


# --------------------------------------------------------------------------- traffic model
#
# What the simulated Prometheus reports for a service is derived from what runs, so a workload
# created a minute ago (kubectl apply, a first deploy) has series at once, like the seeded ones:
# a fixed load of TOTAL_RPS per service and namespace reaches its pods through an HTTPRoute's
# weighted backendRefs when one routes to the service, else through the service's own Service,
# and inside a Service spreads over its ready pods. Each version answers with the error rate its
# image tag asks for: a tag containing "errors" fails FAILING_ERROR_RATE of its requests (as
# "crashloop" crash-loops), any other HEALTHY_ERROR_RATE.

TOTAL_RPS = 100.0
HEALTHY_ERROR_RATE = 0.002
FAILING_ERROR_RATE = 0.07
ERRORS_WORD = "errors"


@dataclass(frozen=True)
class TrackTraffic:
    """One track's requests per second and the share of them that fail (nothing served: 0 / 0)."""

    requests: float
    errors: float

    @property
    def error_ratio(self) -> float | None:
        """Errors over requests, None when the track served nothing (Prometheus' 0/0: no data)."""
        return self.errors / self.requests if self.requests > 0 else None


def version_error_rate(image: str) -> float:
    """The error ratio a container image serves with (version-driven, see above)."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]  # a pinned repo:tag@sha256:… keeps its tag
    tag = last.split(":", 1)[1] if ":" in last else ""
    return FAILING_ERROR_RATE if ERRORS_WORD in tag.lower() else HEALTHY_ERROR_RATE


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    template = (deployment.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def _selects(service: dict[str, Any], pod_labels: dict[str, str]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(pod_labels.get(k) == v for k, v in selector.items())


def _track(deployment: dict[str, Any]) -> str:
    name = str(deployment["metadata"].get("name", ""))
    return _pod_labels(deployment).get("track") or ("canary" if name.endswith("-canary") else "stable")


def _belongs(deployment: dict[str, Any], service: str) -> bool:
    """Whether a Deployment runs ``service`` (by the labels the catalog and the golden path use)."""
    name = str(deployment["metadata"].get("name", ""))
    labels = {**_labels(deployment), **_pod_labels(deployment)}
    return (
        name in (service, f"{service}-canary")
        or labels.get("app") == service
        or labels.get("app.kubernetes.io/name") == service
        or labels.get("backstage.io/kubernetes-id") == service
    )


def _ready(deployment: dict[str, Any]) -> int:
    return int((deployment.get("status") or {}).get("readyReplicas") or 0)


def _image(deployment: dict[str, Any]) -> str:
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers")
    return str((containers or [{}])[0].get("image", ""))


def _backends(
    routes: list[dict[str, Any]], services: dict[str, dict[str, Any]], pods: list[dict[str, str]]
) -> list[tuple[float, dict[str, Any]]]:
    """(share, Service) pairs of the first HTTPRoute rule that sends traffic to these pods."""
    for route in routes:
        for rule in (route.get("spec") or {}).get("rules") or []:
            refs = [
                (services.get(str(ref.get("name"))), int(ref.get("weight", 1)))
                for ref in rule.get("backendRefs") or []
                if ref.get("kind", "Service") == "Service"
            ]
            if not any(svc is not None and any(_selects(svc, p) for p in pods) for svc, _ in refs):
                continue
            total = sum(weight for _, weight in refs)
            if total <= 0:
                return []  # every weight 0: the route sends this service nothing
            return [(weight / total, svc) for svc, weight in refs if svc is not None and weight > 0]
    return []


def service_traffic(
    deployments: list[dict[str, Any]],
    services: list[dict[str, Any]],
    routes: list[dict[str, Any]],
    service: str,
) -> dict[str, TrackTraffic]:
    """Requests and errors per track of ``service`` from the objects of one namespace."""
    own = [d for d in deployments if _belongs(d, service)]
    if not own:
        return {}
    by_name = {str(s["metadata"]["name"]): s for s in services}
    backends = _backends(routes, by_name, [_pod_labels(d) for d in own])
    if not backends:
        main = by_name.get(service) or next(
            (s for s in services if any(_selects(s, _pod_labels(d)) for d in own)), None
        )
        backends = [(1.0, main)] if main is not None else [(1.0, {})]
    sums: dict[str, list[float]] = {}
    for share, svc in backends:
        served = [d for d in own if not svc or _selects(svc, _pod_labels(d))]
        ready = sum(_ready(d) for d in served)
        for deployment in served:
            requests = TOTAL_RPS * share * _ready(deployment) / ready if ready else 0.0
            track = sums.setdefault(_track(deployment), [0.0, 0.0])
            track[0] += requests
            track[1] += requests * version_error_rate(_image(deployment))
    for deployment in own:
        sums.setdefault(_track(deployment), [0.0, 0.0])
    return {track: TrackTraffic(requests, errors) for track, (requests, errors) in sums.items()}
