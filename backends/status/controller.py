"""The live status of many services × environments, from watches only.

One Deployment watch and one Pod watch per (cluster, namespace), whatever the number of services:
500 services in 3 environments are 6 watches. Every watch event is routed to the one cell it
concerns — a pod through its ReplicaSet to its Deployment, a Deployment by name (stable or
``-canary``) — and only that cell's ``on_change(service, environment)`` is called, so a screen
updates one row. Nothing polls the cluster: idle, the controller sends no request at all.

Restarts "in the last hour" are counted from what the watches saw: a pod's restart count when it
is first seen is dated at its last termination (or its creation), later increases at the moment
they arrive. The last deploy of a cell comes from the deploy history (a local read, never an API
request), read again when its Deployment changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.client
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import urllib3

from backends.deploy import canary as cn
from backends.deploy.history import DeployRecord
from backends.deploy.status import WorkloadStatus, pod_status, workload_status
from backends.kube.cluster import ClusterError
from backends.kube.environments import ANNOTATION_ID, ANNOTATION_SELECTOR, workload_for
from backends.kube.watch import ResourceWatch
from backends.status.model import BAD_REASONS, Health, PodRow, StatusCell, verdict

if TYPE_CHECKING:
    from backends.catalog.model import Entity
    from backends.deploy.engine import DeployContext
    from backends.kube.cluster import Cluster

log = logging.getLogger(__name__)

HOUR = 3600.0
HASH_LABEL = "pod-template-hash"
# Long watches: each one that ends is a new request, and an idle view should send none. The server
# sends bookmarks while nothing changes, so a stream this long still resumes from a fresh version.
WATCH_SECONDS = 300
Key = tuple[str, str]  # (service, environment)


class HistoryLike(Protocol):
    def records(
        self, service: str | None = None, environment: str | None = None, *, limit: int = 100
    ) -> list[DeployRecord]: ...


@dataclass(frozen=True, slots=True)
class StatusTarget:
    """Where one cell lives; ``cluster`` is None (and ``error`` says why) when it is unreachable."""

    service: str
    environment: str
    namespace: str
    deployment: str
    cluster: Cluster | None = None
    error: str = ""


def status_services(entities: Iterable[Entity]) -> list[Entity]:
    """The Components the status view lists: those with Backstage's kubernetes annotations, or
    every Component when none has them (a catalog without annotations still shows by name)."""
    components = [e for e in entities if e.kind.lower() == "component"]
    annotated = [
        e for e in components if ANNOTATION_ID in e.annotations or ANNOTATION_SELECTOR in e.annotations
    ]
    return sorted(annotated or components, key=lambda e: e.name)


def targets_for(
    context: DeployContext, services: Iterable[Entity], only: Iterable[str] | None = None
) -> list[StatusTarget]:
    """Every service × environment of the workspace (``only``: these environments). The clusters
    are probed at once (in parallel); an unreachable one gives cells carrying its error."""
    wanted = set(only) if only is not None else None
    environments = [e for e in context.environments().values() if wanted is None or e.name in wanted]
    services = list(services)

    def connect(env: Any) -> tuple[Cluster | None, str]:
        try:
            return context.cluster_for(env), ""
        except Exception as error:  # noqa: BLE001 - whatever it is, it must reach the view as text
            return None, str(error) or type(error).__name__

    with ThreadPoolExecutor(max_workers=max(1, min(len(environments), 8))) as pool:
        clusters = list(pool.map(connect, environments))
    targets = []
    for env, (cluster, error) in zip(environments, clusters, strict=True):
        for entity in services:
            workload = workload_for(entity, env)
            targets.append(
                StatusTarget(entity.name, env.name, workload.namespace, workload.name, cluster, error)
            )
    return targets


@dataclass
class _Cell:
    target: StatusTarget
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen_restarts: dict[str, int] = field(default_factory=dict)  # pod uid → restart count seen
    restart_log: list[tuple[float, int]] = field(default_factory=list)  # (when, how many)
    last_deploy: DeployRecord | None = None
    # Pod name → its bad waiting reason ("" for none), worked out once per pod event (in the
    # pods' order): a cell is read far more often — every row, every filter keystroke — than a
    # pod changes.
    reasons: dict[str, str] = field(default_factory=dict)


class _Namespace:
    """The two watches of one namespace of one cluster, and which cell each Deployment feeds."""

    def __init__(self, cluster: Cluster, namespace: str, controller: StatusController) -> None:
        self.cells: dict[str, list[_Cell]] = {}  # Deployment name (stable or canary) → cells
        # Deployment name → its status, worked out once per Deployment event (see _Cell.reasons).
        self.workloads: dict[str, WorkloadStatus] = {}
        self.deployments = ResourceWatch(
            cluster,
            "deployments",
            namespace,
            listener=lambda kind, obj: controller._deployment(self, kind, obj),
        )
        self.pods = ResourceWatch(
            cluster,
            "pods",
            namespace,
            timeout_seconds=WATCH_SECONDS,
            listener=lambda kind, obj: controller._pod(self, kind, obj),
        )
        for watch in self.watches:
            watch.add_state_listener(lambda: controller._namespace_state(self))

    @property
    def watches(self) -> tuple[ResourceWatch, ResourceWatch]:
        return (self.deployments, self.pods)

    def error(self) -> str:
        """Why this namespace's cells are not live — the cluster did not answer the first list, or
        stopped answering since (its watches cannot be re-established) — or "" while they are (a
        dropped stream that reopens at once is fine)."""
        for watch in self.watches:
            if watch.down_since is not None or (not watch.synced.is_set() and watch.error is not None):
                return _outage_reason(watch)
        return ""

    def down_since(self) -> float | None:
        """Since when the cluster has stopped answering (the earliest of the two watches), or None
        — also for a cluster that never answered: its cells were never live, nothing went stale."""
        if not any(w.synced.is_set() for w in self.watches):
            return None
        times = [w.down_since for w in self.watches if w.down_since is not None]
        return min(times) if times else None


# The innermost transport error, in a user's words (the driver's text names retries and URLs).
_TRANSPORT_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (http.client.RemoteDisconnected, "the server closed the connection"),
    (TimeoutError, "timed out"),
    (urllib3.exceptions.TimeoutError, "timed out"),
    (urllib3.exceptions.NameResolutionError, "unknown host"),
)


def _outage_reason(watch: ResourceWatch) -> str:
    """One line for why a watch cannot reach its cluster: ``cannot reach the cluster NAME (URL):
    connection refused``. A ClusterError already says it in words."""
    error = watch.error
    if isinstance(error, ClusterError) or error is None:
        return str(error or "no answer")
    seen: list[BaseException] = []
    pending: list[object] = [error]
    while pending and len(seen) < 20:
        item = pending.pop(0)
        if isinstance(item, BaseException) and item not in seen:
            seen.append(item)
            pending += [getattr(item, "reason", None), item.__cause__, *item.args]
    words = next((w for e in reversed(seen) for kind, w in _TRANSPORT_WORDS if isinstance(e, kind)), "")
    cluster = watch.cluster
    host = getattr(getattr(getattr(cluster, "api_client", None), "configuration", None), "host", "")
    where = f"{cluster.name} ({host})" if host and host != cluster.name else str(cluster.name)
    return f"cannot reach the cluster {where}: {words or type(error).__name__}"


def _time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _deployment_of_pod(pod: dict[str, Any]) -> str:
    """The Deployment a pod belongs to: its ReplicaSet's name without the template hash."""
    meta = pod.get("metadata") or {}
    owner = next(
        (ref.get("name", "") for ref in meta.get("ownerReferences") or [] if ref.get("kind") == "ReplicaSet"),
        "",
    )
    if not owner:
        return ""
    suffix = (meta.get("labels") or {}).get(HASH_LABEL)
    if suffix and owner.endswith(f"-{suffix}"):
        return owner[: -len(suffix) - 1]
    return owner.rsplit("-", 1)[0]


def _restart_count(pod: dict[str, Any]) -> int:
    return sum(
        int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or []
    )


def _last_termination(pod: dict[str, Any]) -> float | None:
    times = [
        _time(((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        for c in (pod.get("status") or {}).get("containerStatuses") or []
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def start_status(
    context: DeployContext,
    services: Iterable[Entity],
    *,
    on_change: Callable[[str, str], object] | None = None,
    before_history: Callable[[], object] | None = None,
    sync_timeout: float = 10.0,
) -> StatusController:
    """A started controller for ``services`` in every environment, once its clusters were listed
    (or ``sync_timeout``). ``before_history()`` runs before the history is first read (the demo
    seeds its history there)."""
    targets = targets_for(context, services)
    if before_history is not None:
        before_history()
    controller = StatusController(targets, history=context.history, on_change=on_change).start()
    controller.wait_synced(sync_timeout)
    return controller


class StatusController:
    """Live :class:`StatusCell` of every target; ``on_change(service, environment)`` per changed cell
    (called on a watch thread — hand it to your UI thread)."""

    def __init__(
        self,
        targets: Iterable[StatusTarget],
        *,
        history: HistoryLike | None = None,
        on_change: Callable[[str, str], object] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.targets = list(targets)
        self.history = history
        self.on_change = on_change
        self.clock = clock
        self._lock = threading.RLock()
        self._cells: dict[Key, _Cell] = {}
        self._namespaces: dict[tuple[int, str], _Namespace] = {}
        self._cell_namespace: dict[Key, _Namespace] = {}
        # Why the last deploys are missing (the history store did not answer), or "": the cells
        # still come from the cluster, and a screen says why their last deploy is blank.
        self.history_error = ""
        self._config_errors: dict[str, str] = {}  # environment → why it has no cluster at all
        self._env_namespaces: dict[str, list[_Namespace]] = {}
        for target in self.targets:
            cell = _Cell(target)
            self._cells[(target.service, target.environment)] = cell
            if target.cluster is None:
                self._config_errors.setdefault(target.environment, target.error)
                continue
            ns_key = (id(target.cluster), target.namespace)
            namespace = self._namespaces.get(ns_key)
            if namespace is None:
                namespace = self._namespaces[ns_key] = _Namespace(target.cluster, target.namespace, self)
            self._cell_namespace[(target.service, target.environment)] = namespace
            if namespace not in self._env_namespaces.setdefault(target.environment, []):
                self._env_namespaces[target.environment].append(namespace)
            for name in (target.deployment, cn.canary_name(target.deployment)):
                namespace.cells.setdefault(name, []).append(cell)

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def watches(self) -> list[ResourceWatch]:
        return [w for ns in self._namespaces.values() for w in ns.watches]

    def start(self) -> StatusController:
        """Read the history once (one query for every cell), then start the watches."""
        self._load_history()
        for watch in self.watches:
            watch.start()
        return self

    def wait_synced(self, timeout: float = 10.0) -> bool:
        """Block until every reachable namespace has been listed (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        return all(w.synced.wait(max(0.0, deadline - time.monotonic())) for w in self.watches)

    def stop(self) -> None:
        for watch in self.watches:
            watch.stop()

    def __enter__(self) -> StatusController:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading ------------------------------------------------------------------------------------
    @property
    def keys(self) -> list[Key]:
        return list(self._cells)

    def has(self, service: str, environment: str) -> bool:
        """Whether this controller has a cell for the service in the environment (O(1))."""
        return (service, environment) in self._cells

    def environments(self) -> list[str]:
        return list(dict.fromkeys(t.environment for t in self.targets))

    def unreachable(self) -> dict[str, str]:
        """Environment → why it cannot be shown (its cluster did not answer, at start or since)."""
        return {env: error for env, (error, _since) in self.outages().items()}

    def outages(self) -> dict[str, tuple[str, float | None]]:
        """Environment → (why, since when) for every environment whose cluster does not answer;
        ``since`` is None when it never answered since the view opened. One look per namespace."""
        found: dict[str, tuple[str, float | None]] = {
            e: (why, None) for e, why in self._config_errors.items()
        }
        for env, namespaces in self._env_namespaces.items():
            for namespace in namespaces:
                if env not in found and (error := namespace.error()):
                    found[env] = (error, namespace.down_since())
        return found

    def _namespace_error(self, key: Key) -> tuple[str, float | None]:
        namespace = self._cell_namespace.get(key)
        if namespace is None:
            return "", None
        error = namespace.error()
        return error, namespace.down_since() if error else None

    def cell(self, service: str, environment: str) -> StatusCell:
        """The cell as it is now (computed from the watch caches; cheap, no request)."""
        key = (service, environment)
        state = self._cells[key]
        target = state.target
        make = functools.partial(StatusCell, service, environment, target.namespace)
        error, since = (target.error, None) if target.error else self._namespace_error(key)
        if error:
            return make(health=Health.UNREACHABLE, reason="unreachable", error=error, since=since)
        namespace = self._cell_namespace[key]
        ws = namespace.workloads.get(target.deployment)
        cs = namespace.workloads.get(cn.canary_name(target.deployment))
        with self._lock:
            reasons = [reason for reason in state.reasons.values() if reason]
            restarts = self._restarts_1h(state)
            last_deploy = state.last_deploy
        if ws is None:
            return make(
                health=Health.ABSENT,
                reason="not deployed",
                restarts_1h=restarts,
                last_deploy=last_deploy,
            )
        desired = ws.desired + (cs.desired if cs else 0)
        ready = ws.ready + (cs.ready if cs else 0)
        health, reason = verdict(
            desired=desired,
            ready=ready,
            restarts_1h=restarts,
            bad_reason=reasons[0] if reasons else "",
            canary=cs is not None and cs.desired > 0,
            rolling=not ws.rollout_done,
            rollout_failed=ws.rollout_failed or bool(cs and cs.rollout_failed),
        )
        return make(
            health=health,
            reason=reason,
            version=ws.version,
            canary_version=cs.version if cs and cs.desired > 0 else "",
            ready=ready,
            desired=desired,
            restarts_1h=restarts,
            last_deploy=last_deploy,
        )

    def cells(self) -> list[StatusCell]:
        return [self.cell(service, env) for service, env in self._cells]

    def pods(self, service: str, environment: str) -> list[PodRow]:
        """The pods of one cell (stable and canary), for the service page."""
        state = self._cells[(service, environment)]
        with self._lock:
            pods = list(state.pods.values())
        now = self.clock()
        rows = []
        for pod in pods:
            status = pod_status(pod, now)
            spec = pod.get("spec") or {}
            rows.append(
                PodRow(
                    name=status.name,
                    track=status.track,
                    version=status.version,
                    phase=status.phase,
                    ready=status.ready,
                    restarts=status.restarts,
                    age_seconds=status.age_seconds,
                    node=str(spec.get("nodeName") or ""),
                    reason=status.reason,
                    containers=tuple(str(c.get("name", "")) for c in spec.get("containers") or []),
                )
            )
        return sorted(rows, key=lambda p: (p.track, p.name))

    def target(self, service: str, environment: str) -> StatusTarget:
        return self._cells[(service, environment)].target

    def deployment_names(self, service: str, environment: str) -> set[str]:
        """The Deployment, ReplicaSet and pod names of one cell (to pick its Kubernetes Events)."""
        state = self._cells[(service, environment)]
        names = {state.target.deployment, cn.canary_name(state.target.deployment)}
        with self._lock:
            for pod in state.pods.values():
                meta = pod.get("metadata") or {}
                names.add(str(meta.get("name", "")))
                names.update(str(ref.get("name", "")) for ref in meta.get("ownerReferences") or [])
        return names

    # -- history -----------------------------------------------------------------------------------
    def _load_history(self) -> None:
        if self.history is None:
            return
        limit = 5000
        try:
            records = self.history.records(limit=limit)
        except Exception as error:  # noqa: BLE001 - the live view must not depend on the history
            self._history_failed(error)
            return
        self.history_error = ""
        newest: dict[Key, DeployRecord] = {}
        for record in records:  # newest first
            newest.setdefault((record.service, record.environment), record)
        with self._lock:
            for key, cell in self._cells.items():
                cell.last_deploy = newest.get(key)
        if len(records) >= limit:  # older cells exist beyond the bulk read: ask for those one by one
            for key in self._cells.keys() - newest.keys():
                self._read_last_deploy(key)

    def _read_last_deploy(self, key: Key) -> bool:
        """Re-read one cell's last deploy; True when it changed."""
        if self.history is None:
            return False
        try:
            found = self.history.records(key[0], key[1], limit=1)
        except Exception as error:  # noqa: BLE001
            self._history_failed(error)
            return False
        self.history_error = ""
        record = found[0] if found else None
        with self._lock:
            cell = self._cells[key]
            changed = cell.last_deploy != record
            cell.last_deploy = record
        return changed

    def _history_failed(self, error: Exception) -> None:
        self.history_error = str(error) or type(error).__name__
        log.warning("deploy history unavailable: %s", self.history_error)

    def deploys_in_progress(self) -> list[Key]:
        """Cells whose last deploy has no outcome yet (its end may come without a cluster change)."""
        with self._lock:
            return [
                k for k, c in self._cells.items() if c.last_deploy is not None and c.last_deploy.in_progress
            ]

    def refresh_history(self, keys: Iterable[Key] | None = None) -> list[Key]:
        """Re-read the last deploy of ``keys`` (default: those in progress); the ones that changed
        are announced through ``on_change`` and returned. A local read: no cluster request."""
        changed = [
            key
            for key in (self.deploys_in_progress() if keys is None else keys)
            if self._read_last_deploy(key)
        ]
        for key in changed:
            self._announce(key)
        return changed

    # -- watch events (on watch threads) ------------------------------------------------------------
    def _announce(self, key: Key) -> None:
        if self.on_change is not None:
            self.on_change(*key)

    def _namespace_state(self, namespace: _Namespace) -> None:
        """A watch of ``namespace`` went down or came back: every cell it feeds changed."""
        keys = {(c.target.service, c.target.environment) for cells in namespace.cells.values() for c in cells}
        for key in sorted(keys):
            self._announce(key)

    def _deployment(self, namespace: _Namespace, kind: str, obj: dict[str, Any]) -> None:
        name = str((obj.get("metadata") or {}).get("name", ""))
        cells = namespace.cells.get(name, ())
        if kind == "DELETED":
            namespace.workloads.pop(name, None)
        elif cells:  # only the Deployments of listed services are ever read
            namespace.workloads[name] = workload_status(obj)
        for cell in cells:
            key = (cell.target.service, cell.target.environment)
            # A deploy, rollback or scale changes the Deployment: its record may have changed too.
            # (Listed ones were read with everything else at start: one query, not one each.)
            if name == cell.target.deployment and kind == "MODIFIED":
                self._read_last_deploy(key)
            self._announce(key)

    def _pod(self, namespace: _Namespace, kind: str, pod: dict[str, Any]) -> None:
        cells = namespace.cells.get(_deployment_of_pod(pod), ())
        if not cells:
            return
        meta = pod.get("metadata") or {}
        name, uid = str(meta.get("name", "")), str(meta.get("uid", ""))
        now = self.clock()
        reason = "" if kind == "DELETED" else pod_status(pod, now).reason
        for cell in cells:
            with self._lock:
                if kind == "DELETED":
                    cell.pods.pop(name, None)
                    cell.reasons.pop(name, None)
                    cell.seen_restarts.pop(uid, None)
                else:
                    cell.pods[name] = pod
                    cell.reasons[name] = reason if reason in BAD_REASONS else ""
                    self._count_restarts(cell, uid, pod, now)
            self._announce((cell.target.service, cell.target.environment))

    def _count_restarts(self, cell: _Cell, uid: str, pod: dict[str, Any], now: float) -> None:
        count = _restart_count(pod)
        before = cell.seen_restarts.get(uid)
        cell.seen_restarts[uid] = count
        if before is None:
            if count:
                created = _time((pod.get("metadata") or {}).get("creationTimestamp"))
                cell.restart_log.append((_last_termination(pod) or created or now, count))
        elif count > before:
            cell.restart_log.append((now, count - before))
        cutoff = now - HOUR
        if cell.restart_log and cell.restart_log[0][0] < cutoff:
            cell.restart_log[:] = [entry for entry in cell.restart_log if entry[0] >= cutoff]

    def _restarts_1h(self, cell: _Cell) -> int:
        cutoff = self.clock() - HOUR
        return sum(count for at, count in cell.restart_log if at >= cutoff)
