"""What the status view shows: one cell per service × environment, and the verdict on its health.

The verdict never relies on colour: every :class:`Health` has a mark (✔ ! ✖ ? –) and a word.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from backends.deploy.history import DeployRecord
from backends.kube.age import kubectl_age


class Health(StrEnum):
    HEALTHY = "healthy"
    DEPLOYING = "deploying"  # a canary or a rollout is in progress
    DEGRADED = "degraded"  # serving, but not every pod is ready, or pods restart
    DOWN = "down"  # no ready pod, or the rollout failed
    UNREACHABLE = "unreachable"  # the environment's cluster does not answer
    ABSENT = "absent"  # not deployed in this environment

    @property
    def mark(self) -> str:
        return _MARKS[self]


_MARKS = {
    Health.HEALTHY: "✔",
    Health.DEPLOYING: "!",
    Health.DEGRADED: "!",
    Health.DOWN: "✖",
    Health.UNREACHABLE: "?",
    Health.ABSENT: "–",
}

# Restarts within the last hour from which a fully ready service still counts as degraded.
RESTARTS_DEGRADED = 3
BAD_REASONS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"}
)


@dataclass(frozen=True, slots=True)
class StatusCell:
    """A service in one environment, as the status list shows it."""

    service: str
    environment: str
    namespace: str
    health: Health
    reason: str = ""  # why the health is what it is, in a few words ("2/4 ready", "CrashLoopBackOff")
    version: str = ""
    canary_version: str = ""
    ready: int = 0
    desired: int = 0
    restarts_1h: int = 0
    last_deploy: DeployRecord | None = None
    error: str = ""  # the environment's error when it is unreachable
    since: float | None = None  # since when it has been unreachable (None: since the view opened)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["health"] = str(self.health)
        data["mark"] = self.health.mark
        return data


@dataclass(frozen=True, slots=True)
class PodRow:
    """One pod on the service page."""

    name: str
    track: str
    version: str
    phase: str
    ready: bool
    restarts: int
    age_seconds: float
    node: str
    reason: str = ""
    containers: tuple[str, ...] = ()


def verdict(
    *,
    desired: int,
    ready: int,
    restarts_1h: int,
    bad_reason: str,
    canary: bool,
    rolling: bool,
    rollout_failed: bool,
) -> tuple[Health, str]:
    """The health of one cell and the few words that explain it (the order is the priority)."""
    if rollout_failed:
        return Health.DOWN, "rollout failed"
    if desired > 0 and ready == 0:
        return Health.DOWN, bad_reason or "no pod ready"
    if bad_reason:
        return Health.DEGRADED, bad_reason
    if canary:
        return Health.DEPLOYING, "canary"
    if rolling:
        return Health.DEPLOYING, "rolling out"
    if ready < desired:
        return Health.DEGRADED, f"{ready}/{desired} ready"
    if restarts_1h >= RESTARTS_DEGRADED:
        return Health.DEGRADED, f"{restarts_1h} restarts in 1 h"
    return Health.HEALTHY, ""


def cell_summary(cell: StatusCell | None, ago: Callable[[float], str]) -> str:
    """One line for a cell, mark and word first (never colour alone), then what runs and who
    deployed it: ``✔ healthy v2.3.0 4/4 ↻0 · 2h jane.doe succeeded`` (``ago(epoch)`` → "2h")."""
    if cell is None:
        return "… connecting"
    health = cell.health
    if health is Health.UNREACHABLE:
        # How long, beside the mark: a cluster lost while the view is open says since when.
        return f"? unreachable for {ago(cell.since)}" if cell.since is not None else "? unreachable"
    if health is Health.ABSENT:
        return "– not deployed"
    # The reason when it says more than the counts that follow ("CrashLoopBackOff", "canary").
    word = cell.reason if cell.reason and not cell.reason.endswith("ready") else str(health)
    version = cell.version + (f" +{cell.canary_version}" if cell.canary_version else "")
    text = f"{health.mark} {word} {version} {cell.ready}/{cell.desired} ↻{cell.restarts_1h}"
    record = cell.last_deploy
    if record is not None:
        outcome = str(record.outcome) if record.outcome else "running"
        text += f" · {ago(record.started_at)} {record.user} {outcome}"
    return text


def outage_line(env: str, error: str, since: float | None, ago: Callable[[float], str]) -> str:
    """One environment whose cluster does not answer: which, why, and — when it went away after
    the view opened — for how long and since when (``ago(epoch)`` → "2m")."""
    line = f"⚠ {env}: {error}"
    if since is not None:
        line += f" — no answer for {ago(since)} (since {time.strftime('%H:%M:%S', time.localtime(since))})"
    return line


def outage_lines(outages: dict[str, tuple[str, float | None]], ago: Callable[[float], str]) -> list[str]:
    """What the status view says above the list about the environments whose cluster does not answer."""
    lines = [outage_line(env, error, since, ago) for env, (error, since) in outages.items()]
    if lines:
        lines.append("  (its cells say unreachable; the other environments are live)")
    return lines


def ago(at: float, now: float) -> str:
    """``45s``, ``12m``, ``5h``, ``3d``: how long before ``now`` ``at`` was."""
    return kubectl_age(now - at)
