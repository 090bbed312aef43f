"""The deploy mode's live connections to the cluster: the status board and one rollout's watches.

Both are built in thread workers (listing is blocking) and call ``on_change`` from watch threads;
the screen turns that into a coalescing message. Nothing here polls: every update is a watch event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backends.deploy.status import BoardTarget, StatusBoard, pod_selector
from backends.kube.environments import ANNOTATION_ID, ANNOTATION_SELECTOR, workload_for
from backends.kube.watch import ResourceWatch

if TYPE_CHECKING:
    from backends.catalog.model import Entity
    from backends.deploy.engine import DeployContext


def deployable_services(entities: Iterable[Entity]) -> list[Entity]:
    """Components that say where they run (Backstage's kubernetes annotations); all Components
    when none does, so a catalog without annotations can still deploy by name."""
    components = [e for e in entities if e.kind.lower() == "component"]
    annotated = [
        e for e in components if ANNOTATION_ID in e.annotations or ANNOTATION_SELECTOR in e.annotations
    ]
    return sorted(annotated or components, key=lambda e: e.name)


@dataclass
class LiveBoard:
    """A started :class:`StatusBoard` plus the environments it could not reach (name → error)."""

    board: StatusBoard | None
    environments: list[str]
    errors: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.board is not None:
            self.board.stop()


def start_board(
    context: DeployContext, services: list[Entity], on_change: Callable[[str, str], object]
) -> LiveBoard:
    """One Deployment watch per namespace for every service × environment.

    An environment whose cluster cannot be reached is reported in ``errors`` and left out — it is
    shown as an error, never replaced by anything else.
    """
    environments = context.environments()
    errors: dict[str, str] = {}
    targets: list[BoardTarget] = []
    for env in environments.values():
        try:
            cluster = context.cluster_for(env)
        except Exception as error:  # noqa: BLE001 — any failure must reach the screen, whatever it is
            errors[env.name] = str(error) or type(error).__name__
            continue
        for entity in services:
            workload = workload_for(entity, env)
            targets.append(BoardTarget(entity.name, env.name, cluster, workload.namespace, workload.name))
    board = StatusBoard(targets, on_change=on_change).start() if targets else None
    if board is not None:
        board.wait_synced()
    return LiveBoard(board, list(environments), errors)


class LiveRollout:
    """Watches of one service in one namespace: Deployments, and its ReplicaSets and pods."""

    def __init__(
        self,
        context: DeployContext,
        service: str,
        environment: str,
        on_change: Callable[[], object],
    ) -> None:
        env = context.environment(environment)
        target, stable = context.resolve(service, env, check_permissions=False)
        self.service = target.service
        self.environment = environment
        self.namespace = target.namespace
        self.stable_name = target.stable_name
        self.cluster_name = target.cluster.name
        selector = pod_selector(stable) or None

        def listener(_kind: str, _obj: dict[str, Any]) -> None:
            on_change()

        cluster = target.cluster
        self.deployments = ResourceWatch(cluster, "deployments", self.namespace, listener=listener)
        self.replicasets = ResourceWatch(
            cluster, "replicasets", self.namespace, label_selector=selector, listener=listener
        )
        self.pods = ResourceWatch(cluster, "pods", self.namespace, label_selector=selector, listener=listener)
        self._watches = (self.deployments, self.replicasets, self.pods)

    def start(self) -> LiveRollout:
        for watch in self._watches:
            watch.start()
        for watch in self._watches:
            watch.synced.wait(timeout=10)
        return self

    def stop(self) -> None:
        for watch in self._watches:
            watch.stop()
