"""Typed events of a deploy, the one stream the CLI prints, the TUI renders and tests collect.

Every event is a frozen dataclass with ``at`` (epoch seconds) and serialises to one JSON object via
:func:`event_to_dict` (``{"event": "StageFinished", ...}``), which is what ``--output json`` prints
and what the history stores.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    """The stages of a deploy, in the order they normally run."""

    PRECHECKS = "prechecks"
    UPDATE = "update"  # create/patch the canary Deployment with the new version
    CANARY = "canary"  # one per weight step (the event carries the step)
    ANALYSIS = "analysis"  # one per step with analysis
    PROMOTE = "promote"  # stable gets the new version, canary removed
    ROLLBACK = "rollback"  # stable restored, canary removed
    SCALE = "scale"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled-back"  # failed analysis / deadline / crash loop → automatic rollback
    ABORTED = "aborted"  # a person pressed abort (also rolls back)
    FAILED = "failed"  # could not even start (pre-checks) or could not roll back cleanly
    INTERRUPTED = "interrupted"  # process stopped mid-deploy; see DeployHistory.find_interrupted()


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"  # no data: never passes silently, the deploy pauses and asks


def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class DeployEvent:
    deploy_id: str
    at: float = field(default_factory=_now, kw_only=True)


@dataclass(frozen=True, slots=True)
class DeployStarted(DeployEvent):
    service: str
    environment: str
    from_version: str
    to_version: str
    user: str
    namespace: str
    steps: tuple[int, ...]  # canary weights, e.g. (5, 25, 50, 100); empty for rollback/scale
    bakes: tuple[float, ...] = ()  # bake seconds of each step
    kind: str = "deploy"  # deploy | rollback | scale | abort
    # The image the stable ran ``from_version`` with (``repo:tag@sha256:…`` when pinned), "" if
    # unknown: what an abort, a rollback or a roll-forward puts back, also once the stable switched.
    from_image: str = ""


@dataclass(frozen=True, slots=True)
class StageStarted(DeployEvent):
    stage: Stage
    step: int | None = None  # index into the steps, for canary/analysis stages
    detail: str = ""
    # The rollback stage only: the outcome it ends with (rolled-back | aborted), recorded before the
    # first write so a rollback interrupted half-way is finished as one (see run.read_facts).
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class StageFinished(DeployEvent):
    stage: Stage
    ok: bool
    detail: str = ""
    step: int | None = None
    duration: float = 0.0  # seconds the stage took


@dataclass(frozen=True, slots=True)
class RolloutProgress(DeployEvent):
    """Replica counts of stable and canary as the cluster reports them (from a watch)."""

    weight: int  # the asked weight of the current step
    actual_weight: float  # what the pod counts really give
    stable_desired: int
    stable_ready: int
    canary_desired: int
    canary_ready: int
    canary_restarts: int = 0
    step: int | None = None


@dataclass(frozen=True, slots=True)
class AnalysisResult(DeployEvent):
    step: int
    check: str  # "pods-ready", "restarts", "progress-deadline", "error-rate"
    verdict: Verdict
    detail: str = ""
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class Paused(DeployEvent):
    """The deploy waits for a person: ``reason`` says why; answer with promote / resume / abort."""

    reason: str
    step: int | None = None
    needs_decision: bool = False  # inconclusive analysis: resume is not enough, promote or abort


@dataclass(frozen=True, slots=True)
class Resumed(DeployEvent):
    by: str = ""  # "promote" | "resume"


# ``LogLine.image`` of the line saying the registry check was skipped (--skip-image-check).
IMAGE_UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class LogLine(DeployEvent):
    message: str
    level: str = "info"  # info | warning | error
    # The registry check's line only: the reference the run pins the version to
    # (``repo:tag@sha256:…``), or IMAGE_UNCHECKED. Recorded, so a resumed run pins the same digest.
    image: str = ""


@dataclass(frozen=True, slots=True)
class DeployFinished(DeployEvent):
    outcome: Outcome
    reason: str = ""
    version: str = ""  # the version the stable Deployment runs now
    rollback_hours: int = 72


Event = (
    DeployStarted
    | StageStarted
    | StageFinished
    | RolloutProgress
    | AnalysisResult
    | Paused
    | Resumed
    | LogLine
    | DeployFinished
)

EVENT_TYPES: dict[str, type[DeployEvent]] = {
    cls.__name__: cls
    for cls in (
        DeployStarted,
        StageStarted,
        StageFinished,
        RolloutProgress,
        AnalysisResult,
        Paused,
        Resumed,
        LogLine,
        DeployFinished,
    )
}


def event_to_dict(event: DeployEvent) -> dict[str, Any]:
    """A JSON-ready dict with the event's type under ``"event"``."""
    data: dict[str, Any] = {"event": type(event).__name__}
    for item in dataclasses.fields(event):
        value = getattr(event, item.name)
        data[item.name] = list(value) if isinstance(value, tuple) else value
    return data


def event_from_dict(data: dict[str, Any]) -> DeployEvent:
    """The inverse of :func:`event_to_dict` (used to replay a deploy from history)."""
    cls = EVENT_TYPES[data["event"]]
    # Fields this version does not know are dropped: on a bastion with several hosts a newer
    # idp-console may record events with fields added since, and an older one must still replay them.
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in known}
    if cls is DeployStarted:
        kwargs["steps"] = tuple(kwargs.get("steps") or ())
        kwargs["bakes"] = tuple(kwargs.get("bakes") or ())
    for name, enum in (("stage", Stage), ("outcome", Outcome), ("verdict", Verdict)):
        if kwargs.get(name):  # empty means "none" (e.g. StageStarted.outcome outside a rollback)
            kwargs[name] = enum(kwargs[name])
    return cls(**kwargs)
