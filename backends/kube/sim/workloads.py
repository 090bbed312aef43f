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
