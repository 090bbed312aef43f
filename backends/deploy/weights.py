"""Canary weight → replica counts, by the rule Argo Rollouts uses for canaries without a mesh.

Without traffic routing a weight can only be approximated by how many pods run each version. The
rule: pick the split whose actual weight is nearest the asked one; when floor and ceiling are
equally near, take the larger canary; for 0 < weight < 100 never give the canary (or the stable)
zero pods, unless there is a single replica and no surge allowed; one surge pod (total replicas + 1)
may be used when that gets closer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReplicaSplit:
    canary: int
    stable: int

    @property
    def total(self) -> int:
        return self.canary + self.stable

    @property
    def actual_weight(self) -> float:
        """The share of pods (in percent) that run the canary, i.e. the traffic it really gets."""
        return 100.0 * self.canary / self.total if self.total else 0.0


def _is_tie(weight: int, total: int) -> bool:
    # floor and ceil are equidistant exactly when the fractional part of total*weight/100 is .5
    return (total * weight) % 100 == 50


def split_replicas(replicas: int, weight: int, max_surge: int = 1) -> ReplicaSplit:
    """How many canary and stable pods best approximate ``weight`` percent of ``replicas``.

    Candidates are (ceil, replicas), (floor, replicas) and, when surging is allowed, the same two
    over ``replicas + 1``; ceilings come first so that equal distances resolve upwards.
    """
    if not 0 <= weight <= 100:
        raise ValueError(f"weight must be within 0..100, got {weight}")
    if replicas <= 0:
        return ReplicaSplit(0, 0)
    zero_allowed = weight in (0, 100) or (replicas == 1 and max_surge == 0)
    ceil = math.ceil(replicas * weight / 100)
    floor = math.floor(replicas * weight / 100)
    candidates: list[tuple[int, int]] = []
    # ceil == replicas would leave stable with no pod; only allowed at the extremes.
    if ceil < replicas or zero_allowed:
        candidates.append((ceil, replicas))
    # On a tie the floor loses to the ceiling — unless the ceiling was ruled out (2 replicas at
    # 75%, no surge). Argo then returns no canary at all; we keep the "never zero" promise.
    if (not _is_tie(weight, replicas) or not candidates) and (floor != 0 or zero_allowed):
        candidates.append((floor, replicas))
    if max_surge > 0:
        candidates.append((ceil, replicas + 1))
        if not _is_tie(weight, replicas + 1) and (floor != 0 or zero_allowed):
            candidates.append((floor, replicas + 1))
    if not candidates:
        return ReplicaSplit(0, replicas)

    def distance(candidate: tuple[int, int]) -> float:
        canary, total = candidate
        return abs(100.0 * canary / total - weight)

    # min() keeps the first of equal distances, which is the rounding-up candidate.
    canary, total = min(candidates, key=distance)
    return ReplicaSplit(canary=canary, stable=total - canary)
