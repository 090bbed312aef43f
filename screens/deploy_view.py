"""What the deploy screen shows, computed from the engine's events and the cluster's objects.

Pure functions, no widgets: the screen feeds them events and watch caches on the main thread and
hands the results to the widgets. The events are folded by the one reducer of the deploy stream
(:class:`backends.deploy.reducer.RunModel`); this module only turns its state into widget data.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from backends.deploy.reducer import RunModel
from backends.kube.age import kubectl_age
from widgets.canary_steps import CheckView, StepView
from widgets.rollout_tree import PodNode, ReplicaSetNode, RolloutTreeData, TrackNode

if TYPE_CHECKING:
    from backends.deploy.status import WorkloadStatus


class Clock:
    """Wall-clock time as the screen shows it; tests swap in a frozen one for stable snapshots."""

    def now(self) -> float:
        return time.time()

    def stamp(self, at: float) -> str:
        return dt.datetime.fromtimestamp(at).strftime("%H:%M:%S")

    def age(self, seconds: float) -> str:
        """kubectl's style: 45s, 12m, 5h, 3d."""
        return kubectl_age(seconds)


# -- the run ----------------------------------------------------------------------------------


class RunState(RunModel):
    """The run as the watch view draws it: the shared model (:mod:`backends.deploy.reducer`, which
    the CLI's printer reads too) plus its steps as the step widget's views."""

    def step_views(self) -> tuple[StepView, ...]:
        views = [
            StepView(
                f"{w}%",
                self.statuses[i],
                self.notes[i],
                tuple(CheckView(c.label, c.verdict, c.detail) for c in self.checks[i]),
            )
            for i, w in enumerate(self.weights)
        ]
        views.append(StepView(self.final_label, self.final_status))
        return tuple(views)


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
