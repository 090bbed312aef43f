"""What the deploy screen shows, computed from the engine's events and the cluster's objects.

Pure functions and one small state machine (:class:`RunState`), no widgets: the screen feeds them
events and watch caches on the main thread and hands the results to the widgets. Kept apart from
the screen so the rules for "which step is current" or "is this pod healthy" read in one place.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from widgets.canary_steps import CheckView, StepView
from widgets.rollout_tree import PodNode, ReplicaSetNode, RolloutTreeData, TrackNode

if TYPE_CHECKING:
    from backends.deploy.events import DeployEvent
    from backends.deploy.status import WorkloadStatus


class Clock:
    """Wall-clock time as the screen shows it; tests swap in a frozen one for stable snapshots."""

    def now(self) -> float:
        return time.time()

    def stamp(self, at: float) -> str:
        return dt.datetime.fromtimestamp(at).strftime("%H:%M:%S")

    def age(self, seconds: float) -> str:
        """kubectl's style: 45s, 12m, 5h, 3d."""
        if seconds < 120:
            return f"{int(seconds)}s"
        if seconds < 7200:
            return f"{int(seconds // 60)}m"
        if seconds < 172800:
            return f"{int(seconds // 3600)}h"
        return f"{int(seconds // 86400)}d"


# -- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogEntry:
    at: float
    text: str
    level: str = "info"  # info | success | warning | error


PHASE_ICONS: dict[str, str] = {
    "Starting": "○",
    "Progressing": "◐",
    "Paused": "‖",
    "Rolling back": "↩",
    "Succeeded": "✔",
    "Rolled back": "↩",
    "Aborted": "✖",
    "Failed": "✖",
    "Interrupted": "⚠",
}
OUTCOME_PHASES: dict[str, str] = {
    "succeeded": "Succeeded",
    "rolled-back": "Rolled back",
    "aborted": "Aborted",
    "failed": "Failed",
    "interrupted": "Interrupted",
}


def _promoted(status: str) -> str:
    """A step's status once the deploy is promoted past it."""
    return {"running": "done", "paused": "done", "pending": "skipped"}.get(status, status)


@dataclass
class RunState:
    """Everything the watch view needs to know about one run, folded from its events."""

    service: str
    environment: str
    to_version: str = ""
    kind: str = "deploy"  # deploy | rollback | scale | abort
    deploy_id: str = ""
    from_version: str = ""
    user: str = ""
    weights: tuple[int, ...] = ()
    bakes: tuple[float, ...] = ()
    statuses: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[list[CheckView]] = field(default_factory=list)
    final_status: str = "pending"  # the promote (deploy) or the only stage (rollback/scale)
    current_step: int | None = None
    weight: float = 0.0
    actual_weight: float | None = None  # None while no canary pods serve
    phase: str = "Starting"
    pause_reason: str = ""
    needs_decision: bool = False
    outcome: str = ""
    reason: str = ""

    @property
    def finished(self) -> bool:
        return bool(self.outcome)

    @property
    def paused(self) -> bool:
        return self.phase == "Paused"

    def apply(self, event: DeployEvent) -> LogEntry | None:
        """Fold one event in; the log line it deserves, if any."""
        from backends.deploy import events as ev

        at = event.at
        if isinstance(event, ev.DeployStarted):
            self._started(event)
            what = f"{event.kind} {event.service} {event.from_version} → {event.to_version}"
            return LogEntry(at, f"{what} in {event.environment} by {event.user}")
        if isinstance(event, ev.StageStarted):
            return self._stage_started(event)
        if isinstance(event, ev.StageFinished):
            return self._stage_finished(event)
        if isinstance(event, ev.RolloutProgress):
            self.weight = float(event.weight)
            self.actual_weight = event.actual_weight
            return None
        if isinstance(event, ev.AnalysisResult):
            check = CheckView(_check_label(event.check, event.value), str(event.verdict), event.detail)
            if 0 <= event.step < len(self.checks):
                self.checks[event.step].append(check)
            level = {"passed": "info", "failed": "error", "inconclusive": "warning"}[str(event.verdict)]
            return LogEntry(at, f"analysis {event.check}: {event.detail}", level)
        if isinstance(event, ev.Paused):
            self.phase, self.pause_reason, self.needs_decision = "Paused", event.reason, event.needs_decision
            self._set_current("paused")
            ask = " — promote (p) or abort (a)" if event.needs_decision else " — space resumes"
            return LogEntry(at, f"paused: {event.reason}{ask}", "warning")
        if isinstance(event, ev.Resumed):
            self.phase, self.pause_reason, self.needs_decision = "Progressing", "", False
            self._set_current("running")
            return LogEntry(at, f"resumed ({event.by or 'resume'})")
        if isinstance(event, ev.LogLine):
            return LogEntry(at, event.message, event.level)
        if isinstance(event, ev.DeployFinished):
            return self._finished(event)
        return None

    def _started(self, event: Any) -> None:
        self.deploy_id, self.kind, self.user = event.deploy_id, event.kind, event.user
        self.from_version, self.to_version = event.from_version, event.to_version
        self.weights, self.bakes = tuple(event.steps), tuple(event.bakes)
        self.statuses = ["pending"] * len(self.weights)
        self.notes = [f"bake {_seconds(b)}" if b else "" for b in self.bakes] or [""] * len(self.weights)
        self.checks = [[] for _ in self.weights]
        self.phase = "Progressing"

    def _set_current(self, status: str) -> None:
        if self.current_step is not None and self.current_step < len(self.statuses):
            self.statuses[self.current_step] = status
        elif self.final_status in ("running", "paused"):
            self.final_status = status

    @property
    def _rollback_is_the_job(self) -> bool:
        """A rollback run, or the abort of an interrupted deploy: restoring is the work, not a failure."""
        return self.kind in ("rollback", "abort")

    def _stage_started(self, event: Any) -> LogEntry:
        stage, at, detail = str(event.stage), event.at, event.detail
        if stage == "canary" and event.step is not None and event.step < len(self.statuses):
            self.current_step = event.step
            # A resumed deploy starts after the steps its first run completed.
            self.statuses[: event.step] = [
                "done" if s == "pending" else s for s in self.statuses[: event.step]
            ]
            self.statuses[event.step] = "running"
            self.notes[event.step] = detail.partition(": ")[2] or detail
            return LogEntry(at, f"step {event.step + 1}/{len(self.weights)}: {detail}")
        if stage == "analysis" and event.step is not None and event.step < len(self.statuses):
            self.statuses[event.step] = "running"
            return LogEntry(at, f"analysis at {self.weights[event.step]}%: {detail}")
        if stage == "promote":
            # Promoting ends the steps: the one in progress is done, those never reached (P promotes
            # fully) are skipped — no step keeps spinning beside "✔ Succeeded".
            self.statuses = [_promoted(s) for s in self.statuses]
        if stage in ("promote", "scale") or (stage == "rollback" and self._rollback_is_the_job):
            self.current_step = None
            self.final_status = "running"
        if stage == "rollback":
            self.phase = "Rolling back"
            if not self._rollback_is_the_job:
                self._set_current("failed")
                self.current_step = None
            return LogEntry(at, f"rolling back: {detail}", "warning")
        text = {
            "prechecks": "running pre-deployment checks…",
            "update": f"updating Kubernetes deployment: {detail}",
            "promote": f"promoting: {detail}",
            "scale": f"scaling: {detail}",
        }.get(stage, f"{stage}: {detail}")
        return LogEntry(at, text)

    def _stage_finished(self, event: Any) -> LogEntry:
        stage, ok = str(event.stage), bool(event.ok)
        status = "done" if ok else "failed"
        step = event.step
        in_steps = step is not None and step < len(self.statuses)
        if stage == "canary" and in_steps:
            # Routed is not passed: the step stays running until its check (the analysis stage,
            # which every step has) passes.
            self.statuses[step] = "running" if ok else status
        elif stage == "analysis" and in_steps:
            self.statuses[step] = status
        elif stage in ("promote", "scale") or (stage == "rollback" and self._rollback_is_the_job):
            self.final_status = status
        label = {"prechecks": "pre-deployment checks", "update": "update"}.get(stage, stage)
        if in_steps:
            label = f"{label} {self.weights[step]}%"
        return LogEntry(
            event.at, f"{label}: {event.detail}" if event.detail else label, "success" if ok else "error"
        )

    def _finished(self, event: Any) -> LogEntry:
        self.outcome, self.reason = str(event.outcome), event.reason
        self.phase = OUTCOME_PHASES.get(self.outcome, self.outcome)
        self.needs_decision, self.pause_reason = False, ""
        if self.outcome != "succeeded":
            self.statuses = ["skipped" if s == "pending" else s for s in self.statuses]
            if self.final_status == "pending":
                self.final_status = "skipped"
        if self.outcome == "succeeded":
            self.statuses = [_promoted(s) for s in self.statuses]
            self.weight = 100.0 if self.kind == "deploy" else self.weight
            self.actual_weight = None  # the canary is gone: the stable runs the new version
            text = f"{self.kind} complete: {self.service} runs {event.version}"
            if self.kind == "deploy":
                text += f"; rollback available for {event.rollback_hours}h"
            return LogEntry(event.at, text, "success")
        self.weight, self.actual_weight = 0.0, None
        back = f"; {self.service} is on {event.version}" if event.version else ""
        return LogEntry(event.at, f"{self.phase.lower()}: {event.reason}{back}", "error")

    def step_views(self) -> tuple[StepView, ...]:
        views = [
            StepView(f"{w}%", self.statuses[i], self.notes[i], tuple(self.checks[i]))
            for i, w in enumerate(self.weights)
        ]
        final = {"deploy": "promote", "rollback": "rollback", "scale": "scale", "abort": "restore"}
        views.append(StepView(final.get(self.kind, self.kind), self.final_status))
        return tuple(views)

    @property
    def highlighted_step(self) -> int | None:
        """The step the ▶ points at: the current canary step, or the final stage while it runs."""
        if self.current_step is not None:
            return self.current_step
        if self.final_status in ("running", "paused"):
            return len(self.weights)
        return None

    def headline(self) -> str:
        icon = PHASE_ICONS.get(self.phase, "?")
        versions = f"{self.from_version or '?'} → {self.to_version or '?'}"
        return f"{self.kind} {self.service} · {self.environment} · {versions} · {icon} {self.phase}"


CHECK_LABELS: dict[str, str] = {
    "progress-deadline": "deadline",
    "restarts": "restarts",
    "pods-ready": "pods ready",
    "error-rate": "error rate",
}


def _check_label(check: str, value: float | None) -> str:
    label = CHECK_LABELS.get(check, check)
    if check == "error-rate" and value is not None:
        label += f" {value:.2%}"
    return label


def _seconds(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 60 else f"{seconds / 60:g} min"


# -- the tree ---------------------------------------------------------------------------------


def _owner(obj: dict[str, Any]) -> str:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return str(refs[0].get("name", "")) if refs else ""


def _pod_node(pod: dict[str, Any], clock: Clock) -> PodNode:
    from backends.deploy.analysis import BAD_WAITING_REASONS
    from backends.deploy.status import pod_status

    status = pod_status(pod, clock.now())
    if status.ready:
        state, shown = "healthy", "Running"
    elif status.reason in BAD_WAITING_REASONS:
        state, shown = "degraded", status.reason
    else:
        state, shown = "progressing", status.reason or status.phase
    return PodNode(status.name, state, shown, status.ready, status.restarts, clock.age(status.age_seconds))


def _replica_sets(
    deployment: str, replicasets: Iterable[dict[str, Any]], pods: list[dict[str, Any]], clock: Clock
) -> tuple[ReplicaSetNode, ...]:
    from backends.deploy.canary import image_tag

    nodes = []
    for rs in replicasets:
        if _owner(rs) != deployment:
            continue
        meta, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
        mine = sorted((p for p in pods if _owner(p) == meta.get("name")), key=lambda p: p["metadata"]["name"])
        desired = int(spec.get("replicas") or 0)
        if not desired and not mine:
            continue  # an old revision kept for rollback: kubectl argo hides those too unless asked
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        nodes.append(
            ReplicaSetNode(
                name=str(meta.get("name", "")),
                revision=str((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision", "?")),
                version=image_tag(str(containers[0].get("image", ""))) if containers else "",
                desired=desired,
                ready=int(status.get("readyReplicas") or 0),
                pods=tuple(_pod_node(p, clock) for p in mine),
            )
        )
    return tuple(sorted(nodes, key=lambda n: int(n.revision) if n.revision.isdigit() else 0, reverse=True))


def workload_state(workload: WorkloadStatus, pods: Iterable[PodNode] = ()) -> str:
    if workload.rollout_failed or any(p.state == "degraded" for p in pods):
        return "degraded"
    if workload.desired == 0 and workload.ready == 0:
        return "scaled-down"
    if workload.rollout_done and workload.ready >= workload.desired:
        return "healthy"
    return "progressing"


def rollout_tree(
    *,
    service: str,
    environment: str,
    namespace: str,
    cluster: str,
    stable_name: str,
    deployments: dict[str, dict[str, Any]],
    replicasets: dict[str, dict[str, Any]],
    pods: dict[str, dict[str, Any]],
    clock: Clock,
) -> RolloutTreeData:
    """The tree for one service in one environment, from the watches' caches."""
    from backends.deploy.canary import canary_name
    from backends.deploy.status import workload_status

    pod_list = list(pods.values())
    tracks = []
    for track, name in (("canary", canary_name(stable_name)), ("stable", stable_name)):
        deployment = deployments.get(name)
        if deployment is None:
            continue
        workload = workload_status(deployment)
        sets = _replica_sets(name, replicasets.values(), pod_list, clock)
        state = workload_state(workload, (p for rs in sets for p in rs.pods))
        message = "" if workload.rollout_done else workload.rollout
        tracks.append(
            TrackNode(track, name, state, workload.version, workload.desired, workload.ready, message, sets)
        )
    note = "" if tracks else f"no Deployment {stable_name} in namespace {namespace}"
    return RolloutTreeData(service, environment, namespace, cluster, tuple(tracks), note)


# -- the status board -------------------------------------------------------------------------


def board_cell(stable: WorkloadStatus | None, canary: WorkloadStatus | None) -> str:
    """``✔ v2.3.0 4/4`` plus the canary when there is one; ``—`` when nothing runs there."""
    if stable is None:
        return "—"
    icons = {"healthy": "✔", "progressing": "◐", "degraded": "✖", "scaled-down": "·"}
    text = f"{icons[workload_state(stable)]} {stable.version} {stable.ready}/{stable.desired}"
    if canary is not None:
        text += f" ⇢ {canary.version} {canary.ready}/{canary.desired}"
    return text


def running_version(stable: WorkloadStatus | None) -> str:
    return f"{stable.version} ({stable.ready}/{stable.desired})" if stable else "not deployed"
