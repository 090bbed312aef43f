"""What a kubelet would report for a pod: a pure function of the pod, its fault and its age.

Deriving the status from the age (instead of stepping a state machine) makes it deterministic —
repeated evaluations give identical dicts, so the controller writes only real changes — and lets
pods restored from the state file continue where they were.

All durations here are *simulated* seconds; the controller divides real time by its time scale.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class PodFault:
    """How the containers of a matching image misbehave.

    ``crash_loop``: the container starts, exits with code 1 after ``PodTimings.crash_after`` and is
    restarted with exponential back-off (``CrashLoopBackOff``). ``image_pull_error``: the image never
    pulls (``ErrImagePull`` then ``ImagePullBackOff``). ``ready_after``: simulated seconds from start
    until the readiness probe passes (slow readiness).
    """

    crash_loop: bool = False
    image_pull_error: bool = False
    ready_after: float | None = None


@dataclass(frozen=True)
class PodTimings:
    """Simulated seconds for a healthy pod's life; scaled by the controller's time scale."""

    pull: float = 2.0  # ContainerCreating → running
    ready: float = 3.0  # running → readiness probe passes
    crash_after: float = 3.0  # a crash-looping container runs this long, then exits 1
    backoff_base: float = 10.0  # kubelet restart back-off: 10 s, doubling…
    backoff_max: float = 300.0  # …capped at 5 minutes


@dataclass(frozen=True)
class ContainerReport:
    """One container's status entry and what the pod-level status needs to know about it."""

    status: Obj
    ready: bool
    started_once: bool
    next_change: float | None  # simulated seconds from pod start until this report changes
    ready_at: float | None = None  # when the container became ready (simulated seconds from pod start)


def iso_at(wall_start: float, offset: float) -> str:
    """The Kubernetes timestamp ``offset`` real seconds after ``wall_start`` (epoch seconds)."""
    moment = datetime.datetime.fromtimestamp(wall_start + offset, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _image_id(image: str) -> str:
    digest = hashlib.sha256(image.encode()).hexdigest()
    return f"{image.split(':')[0]}@sha256:{digest}"


def _container(
    spec: Obj, fault: PodFault | None, age: float, timings: PodTimings, stamp: Any
) -> ContainerReport:
    name, image = spec.get("name", ""), spec.get("image", "")
    base = {"name": name, "image": image, "imageID": "", "restartCount": 0, "ready": False, "started": False}
    fault = fault or PodFault()
    if age < timings.pull:
        waiting = {"waiting": {"reason": "ContainerCreating"}}
        return ContainerReport({**base, "state": waiting, "lastState": {}}, False, False, timings.pull)
    if fault.image_pull_error:
        # The first failure is ErrImagePull; after the first back-off it settles in ImagePullBackOff.
        in_backoff = age >= timings.pull + timings.backoff_base
        reason = "ImagePullBackOff" if in_backoff else "ErrImagePull"
        message = (
            f'Back-off pulling image "{image}"'
            if in_backoff
            else f'Failed to pull image "{image}": not found: manifest unknown'
        )
        state = {"waiting": {"reason": reason, "message": message}}
        change = None if in_backoff else timings.pull + timings.backoff_base
        return ContainerReport({**base, "state": state, "lastState": {}}, False, False, change)
    base["imageID"] = _image_id(image)
    if fault.crash_loop:
        return _crash_loop(base, age, timings, stamp)
    ready_at = timings.pull + (fault.ready_after if fault.ready_after is not None else timings.ready)
    ready = age >= ready_at
    state = {"running": {"startedAt": stamp(timings.pull)}}
    status = {**base, "state": state, "lastState": {}, "ready": ready, "started": True}
    return ContainerReport(status, ready, True, None if ready else ready_at, ready_at if ready else None)


def _crash_loop(base: Obj, age: float, timings: PodTimings, stamp: Any) -> ContainerReport:
    run_started = timings.pull
    restarts = 0
    backoff = timings.backoff_base
    last_state: Obj = {}
    while True:
        exits_at = run_started + timings.crash_after
        if age < exits_at:
            state = {"running": {"startedAt": stamp(run_started)}}
            status = {
                **base,
                "state": state,
                "lastState": last_state,
                "restartCount": restarts,
                "started": True,
            }
            return ContainerReport(status, False, True, exits_at)
        last_state = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": stamp(run_started),
                "finishedAt": stamp(exits_at),
            }
        }
        restarts_at = exits_at + backoff
        if age < restarts_at:
            message = f"back-off {int(backoff)}s restarting failed container={base['name']}"
            state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
            # The kubelet counts the restart when the container exits and is scheduled to restart.
            status = {**base, "state": state, "lastState": last_state, "restartCount": restarts + 1}
            return ContainerReport(status, False, True, restarts_at)
        restarts += 1
        run_started = restarts_at
        backoff = min(backoff * 2, timings.backoff_max)


def pod_status(
    pod: Obj,
    faults: list[PodFault | None],
    age: float,
    timings: PodTimings,
    wall_start: float,
    time_scale: float,
) -> tuple[Obj, float | None]:
    """The pod's ``status`` at ``age`` simulated seconds, and when (in the same unit) it next changes.

    ``faults`` lines up with ``spec.containers``. ``wall_start`` is the real epoch time the pod started;
    timestamps in the status are derived from it so that they are stable between evaluations.
    """

    def stamp(sim_offset: float) -> str:
        return iso_at(wall_start, sim_offset * time_scale)

    containers = (pod.get("spec") or {}).get("containers") or []
    reports = [
        _container(spec, fault, age, timings, stamp) for spec, fault in zip(containers, faults, strict=False)
    ]
    all_ready = bool(reports) and all(report.ready for report in reports)
    started = any(report.started_once for report in reports)
    ready_since = max(report.ready_at or 0.0 for report in reports) if all_ready else None
    created = stamp(0)
    ready_stamp = stamp(ready_since) if ready_since is not None else stamp(timings.pull if started else 0)
    conditions = [
        {
            "type": "PodReadyToStartContainers",
            "status": "True" if started else "False",
            "lastTransitionTime": created,
        },
        {"type": "Initialized", "status": "True", "lastTransitionTime": created},
        {"type": "Ready", "status": "True" if all_ready else "False", "lastTransitionTime": ready_stamp},
        {
            "type": "ContainersReady",
            "status": "True" if all_ready else "False",
            "lastTransitionTime": ready_stamp,
        },
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": created},
    ]
    if not all_ready:
        for condition in conditions[2:4]:
            condition["reason"] = "ContainersNotReady"
            not_ready = [r.status["name"] for r in reports if not r.ready]
            condition["message"] = f"containers with unready status: [{' '.join(not_ready)}]"
    name = (pod.get("metadata") or {}).get("name", "")
    octets = hashlib.sha256(name.encode()).digest()
    status = {
        "phase": "Running" if started else "Pending",
        "conditions": conditions,
        "hostIP": "10.0.0.10",
        "podIP": f"10.244.{octets[0]}.{octets[1] or 1}",
        "startTime": created,
        "qosClass": "BestEffort",
        "containerStatuses": [report.status for report in reports],
    }
    changes = [report.next_change for report in reports if report.next_change is not None]
    return status, (min(changes) if changes else None)
