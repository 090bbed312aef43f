"""The simulated control plane: Deployment and ReplicaSet controllers plus a kubelet.

It runs on the emulator's event loop and reads and writes through the same `ObjectStore` path
as HTTP requests, so every status it writes bumps resourceVersion and reaches watchers exactly as
a real controller's writes would. It wakes on changes to Deployments, ReplicaSets and Pods and at
the next moment a pod or a progress deadline is due, and never writes an unchanged object.
A pass looks only at what changed or fell due — the pod, its ReplicaSet, their Deployment — as
informers' work queues do: a full pass over thousands of pods would hold the loop that streams
the watches for tens of milliseconds after every change. A full pass runs at start, when a fault
rule changes, and every `_FULL_PASS_EVERY` seconds as a safety net.

Time runs ``1 / time_scale`` times faster than real time: with ``time_scale=0.01`` a pod that
needs 5 simulated seconds to become ready is ready after 50 ms, and a Deployment's
``progressDeadlineSeconds: 600`` expires after 6 s.

Pod faults, by rule (`set_fault`, matched against a Deployment name, a full image or a tag) or by
convention in the image tag: a tag containing ``crashloop`` crash-loops, ``pullerror`` fails to
pull, ``slow`` becomes ready only after 60 simulated seconds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import heapq
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from . import errors
from .kubelet import PodFault, PodTimings, pod_status
from .resources import DEPLOYMENTS, EVENTS, PODS, REPLICASETS, STATEFULSETS, ResourceType
from .store import Obj, ObjectStore, StoredEvent, now_iso
from .workloads import (
    ReplicaCounts,
    resolve_int_or_percent,
    rolling_update_targets,
    safe_encode,
    template_hash,
)

log = logging.getLogger(__name__)

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
_WATCHED = frozenset({DEPLOYMENTS.key, REPLICASETS.key, PODS.key, STATEFULSETS.key})
_SLOW_READY = 60.0  # simulated seconds for a tag containing "slow"
_MAX_EVENTS = 1000
_COALESCE = 0.01  # real seconds to let a burst of changes (a seed, a rollout step) become one pass
_SAFETY_PASS = 5.0  # real seconds at most between two passes when nothing is due
_FULL_PASS_EVERY = 30.0  # real seconds between two passes over every object (missed changes)


def _tag(image: str) -> str:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]  # repo:tag@sha256:… (pinned) runs the tag's image
    return last.split(":", 1)[1] if ":" in last else "latest"


def _owner_uid(obj: Obj) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _owner_ref(obj: Obj) -> Obj:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _is_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return None


@contextlib.contextmanager
def _isolated(obj: Obj) -> Iterator[None]:
    """One object the controller cannot handle (a client may store a number for an image: the API
    takes it) is logged and skipped: it must not hold up every object after it in the pass."""
    try:
        yield
    except Exception:
        meta = obj.get("metadata") or {}
        log.exception(
            "simulated controller: skipped %s %s/%s", obj.get("kind"), meta.get("namespace"), meta.get("name")
        )


def _without_zeros(status: Obj) -> Obj:
    # Kubernetes omits zero counts (`omitempty`); clients must read a missing count as 0.
    return {k: v for k, v in status.items() if v != 0}


class SimulatedController:
    """Deployments → ReplicaSets → Pods with rolling updates, statuses, conditions and faults."""

    def __init__(
        self, store: ObjectStore, *, time_scale: float = 1.0, timings: PodTimings | None = None
    ) -> None:
        self.store = store
        self.time_scale = time_scale
        self.timings = timings or PodTimings()
        self._rules: dict[str, PodFault] = {}
        self._rules_lock = threading.Lock()
        self._pod_starts: dict[str, tuple[float, float]] = {}  # uid → (monotonic, epoch) start
        self._progress_at: dict[str, float] = {}  # deployment uid → monotonic time of last progress
        self._pod_reasons: dict[str, str] = {}  # pod uid → last waiting reason (for Events)
        # The Events this controller keeps, oldest first: the oldest go beyond _MAX_EVENTS.
        self._event_order: collections.deque[tuple[str, str]] | None = None
        # pod uid → (resourceVersion we last saw or wrote, faults, when it next changes): lets a
        # pass skip pods whose status cannot have changed, so passes stay cheap with many pods.
        self._pod_cache: dict[str, tuple[str, tuple[PodFault | None, ...], float | None]] = {}
        # deployment uid → (fingerprint of it, its ReplicaSets and pods; when it is next due).
        self._deployment_cache: dict[str, tuple[Any, float | None]] = {}
        # What changed since the last pass (filled by `_on_change`, from any thread):
        self._dirty_lock = threading.Lock()
        self._dirty_pods: set[tuple[str, str]] = set()  # (namespace, name)
        self._dirty_owners: set[str] = set()  # ReplicaSet and StatefulSet uids
        self._dirty_deployments: set[str] = set()  # uids
        self._full_pass_due = True  # the first pass looks at everything
        self._next_full_pass = 0.0
        # When a pod or a Deployment is next due: a heap of (monotonic time, kind, key), the
        # current time per (kind, key) in _scheduled (heap entries that differ are stale).
        self._timers: list[tuple[float, str, str]] = []
        self._scheduled: dict[tuple[str, str], float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self.passes = 0
        self.full_passes = 0
        self.full_pass_every = _FULL_PASS_EVERY  # real seconds

    # ------------------------------------------------------------------ faults

    def set_fault(self, match: str, fault: PodFault | None) -> None:
        """Make pods misbehave: ``match`` is a Deployment name, a full image or an image tag.

        ``None`` removes the rule. Existing pods follow the new rule at the next pass.
        """
        with self._rules_lock:
            if fault is None:
                self._rules.pop(match, None)
            else:
                self._rules[match] = fault
        self._full_pass_due = True  # a rule may match any pod
        self.wake()

    def clear_faults(self) -> None:
        """Remove every rule set with `set_fault` (tag conventions still apply)."""
        with self._rules_lock:
            self._rules.clear()
        self._full_pass_due = True
        self.wake()

    def fault_for(self, image: str, deployment: str | None) -> PodFault | None:
        """The fault for a container of ``image`` in a pod of ``deployment`` (rules, then tag words)."""
        tag = _tag(image)
        with self._rules_lock:
            for key in (deployment, image, tag, f":{tag}"):
                if key is not None and key in self._rules:
                    return self._rules[key]
        lowered = tag.lower()
        if "crashloop" in lowered:
            return PodFault(crash_loop=True)
        if "pullerror" in lowered:
            return PodFault(image_pull_error=True)
        if "slow" in lowered:
            return PodFault(ready_after=_SLOW_READY)
        return None

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        """Reconcile until `stop`; meant to run as a task on the emulator's event loop."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.store.add_listener(self._on_change)
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    if self._full_pass_due or time.monotonic() >= self._next_full_pass:
                        self.reconcile_once()
                    else:
                        self.reconcile_changes()
                    due = self._next_due()
                except Exception:  # a bug in one pass must not stop the cluster
                    log.exception("simulated controller pass failed")
                    due = 0.5
                timeout = _SAFETY_PASS if due is None else min(max(due, 0.0), _SAFETY_PASS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                await asyncio.sleep(_COALESCE)
        finally:
            self.store.remove_listener(self._on_change)

    def stop(self) -> None:
        """Ask `run` to return after the current pass."""
        self._stopping = True
        self.wake()

    def wake(self) -> None:
        """Run a pass soon (thread-safe)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    def _on_change(self, event: StoredEvent) -> None:
        key = event.resource.key
        if key not in _WATCHED:
            return
        obj, meta = event.object, event.object["metadata"]
        owners = {_owner_uid(o) for o in (obj, event.old) if o is not None} - {None}
        with self._dirty_lock:
            if key == PODS.key:
                if event.type != "DELETED":
                    self._dirty_pods.add((str(meta.get("namespace")), meta["name"]))
                self._dirty_owners.update(str(o) for o in owners)
            elif key == DEPLOYMENTS.key:
                self._dirty_deployments.add(meta["uid"])
            else:  # a ReplicaSet or StatefulSet: it, and the Deployment that owns it
                self._dirty_owners.add(meta["uid"])
                self._dirty_deployments.update(str(o) for o in owners)
        self.wake()

    def reconcile_once(self) -> float | None:
        """One pass over every pod, ReplicaSet, StatefulSet and Deployment; real seconds until the
        next is due."""
        self.passes += 1
        self.full_passes += 1
        self._full_pass_due = False
        with self._dirty_lock:  # all looked at now; what changes during the pass stays dirty
            self._dirty_pods.clear()
            self._dirty_owners.clear()
            self._dirty_deployments.clear()
        now = time.monotonic()
        self._next_full_pass = now + self.full_pass_every
        due: list[float] = []
        self._kubelet(now, due)
        self._replicasets()
        self._statefulsets()
        self._deployments(now, due)
        return (min(due) - time.monotonic()) if due else None

    def reconcile_changes(self) -> None:
        """One pass over what changed or fell due since the last: the pods, then their owners,
        then the Deployments above them (each stage sees the writes of the one before)."""
        self.passes += 1
        now = time.monotonic()
        due: list[float] = []
        with self._dirty_lock:
            self._take_due(now)
            pods, self._dirty_pods = self._dirty_pods, set()
        for namespace, name in sorted(pods):
            pod = self.store.get(PODS, namespace, name, copy_=False)
            if pod is not None:
                with _isolated(pod):
                    self._kubelet_pod(pod, self._deployment_of(pod), now, due)
        with self._dirty_lock:
            owners, self._dirty_owners = self._dirty_owners, set()
        for uid in sorted(owners):
            owner = self.store.peek_uid(uid)
            if owner is None:
                continue
            if owner.get("kind") == "ReplicaSet":
                with _isolated(owner):
                    self._sync_replicaset(owner, self.store.peek_owned(uid, PODS))
                with self._dirty_lock:  # its pods' readiness counts in its Deployment's status
                    self._dirty_deployments.update(str(o) for o in [_owner_uid(owner)] if o)
            elif owner.get("kind") == "StatefulSet":
                pods_by_name = {p["metadata"]["name"]: p for p in self.store.peek_owned(uid, PODS)}
                with _isolated(owner):
                    self._sync_statefulset(owner, pods_by_name)
        with self._dirty_lock:
            deployments, self._dirty_deployments = self._dirty_deployments, set()
        for uid in sorted(deployments):
            deployment = self.store.peek_uid(uid)
            if deployment is None or deployment.get("kind") != "Deployment":
                continue
            owned = self.store.peek_owned(uid, REPLICASETS)
            pods_by_owner = {
                rs["metadata"]["uid"]: self.store.peek_owned(rs["metadata"]["uid"], PODS) for rs in owned
            }
            with _isolated(deployment):
                self._deployment(deployment, {uid: owned}, pods_by_owner, now, due)

    def _schedule(self, kind: str, key: str, when: float | None) -> None:
        """Look at a pod or Deployment again at ``when`` (None: not until it changes)."""
        if when is None:
            self._scheduled.pop((kind, key), None)
        elif self._scheduled.get((kind, key)) != when:
            self._scheduled[(kind, key)] = when
            heapq.heappush(self._timers, (when, kind, key))

    def _take_due(self, now: float) -> None:
        """Mark what fell due as changed (with the dirty lock held)."""
        while self._timers and self._timers[0][0] <= now:
            when, kind, key = heapq.heappop(self._timers)
            if self._scheduled.get((kind, key)) != when:
                continue  # rescheduled or cancelled since
            del self._scheduled[(kind, key)]
            if kind == "pod":
                namespace, name = key.split("/", 1)
                self._dirty_pods.add((namespace, name))
            else:
                self._dirty_deployments.add(key)

    def _next_due(self) -> float | None:
        """Real seconds until the next pod or Deployment falls due (None: nothing is)."""
        while self._timers and self._scheduled.get(self._timers[0][1:]) != self._timers[0][0]:
            heapq.heappop(self._timers)  # stale
        candidates = [self._timers[0][0]] if self._timers else []
        if not self._full_pass_due:
            candidates.append(self._next_full_pass)
        return (min(candidates) - time.monotonic()) if candidates else None

    # ------------------------------------------------------------------ kubelet

    def _pod_start(self, pod: Obj, now: float) -> tuple[float, float]:
        uid = pod["metadata"]["uid"]
        if uid not in self._pod_starts:
            # A pod we did not create in this run (restored from the state file, or created by a
            # client): its age comes from creationTimestamp.
            created = _parse_time(pod["metadata"].get("creationTimestamp")) or time.time()
            age = max(time.time() - created, 0.0)
            self._pod_starts[uid] = (now - age, created)
        return self._pod_starts[uid]

    def _kubelet(self, now: float, due: list[float]) -> None:
        deployment_of_rs = {
            rs["metadata"]["uid"]: ref.get("name")
            for rs in self.store.peek(REPLICASETS)
            for ref in rs["metadata"].get("ownerReferences") or []
            if ref.get("kind") == "Deployment"
        }
        alive: set[str] = set()
        for pod in self.store.peek(PODS):
            alive.add(pod["metadata"]["uid"])
            with _isolated(pod):
                self._kubelet_pod(pod, deployment_of_rs.get(_owner_uid(pod) or ""), now, due)
        for uid in set(self._pod_starts) - alive:
            del self._pod_starts[uid]
        for uid in set(self._pod_cache) - alive:
            del self._pod_cache[uid]
            self._pod_reasons.pop(uid, None)

    def _deployment_of(self, pod: Obj) -> str | None:
        """The name of the Deployment whose ReplicaSet owns ``pod`` (what fault rules match)."""
        rs = self.store.peek_uid(_owner_uid(pod) or "")
        for ref in (rs or {}).get("metadata", {}).get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                return str(ref.get("name"))
        return None

    def _kubelet_pod(self, pod: Obj, deployment: str | None, now: float, due: list[float]) -> None:
        meta = pod["metadata"]
        start, wall = self._pod_start(pod, now)
        containers = (pod.get("spec") or {}).get("containers") or []
        faults = tuple(self.fault_for(c.get("image", ""), deployment) for c in containers)
        cached = self._pod_cache.get(meta["uid"])
        timer = f"{meta['namespace']}/{meta['name']}"
        if cached is not None and cached[:2] == (meta["resourceVersion"], faults):
            if cached[2] is None:
                return  # nothing will change until the pod or its fault does
            if now < cached[2]:
                due.append(cached[2])
                self._schedule("pod", timer, cached[2])
                return
        age = (now - start) / self.time_scale
        status, next_change = pod_status(pod, list(faults), age, self.timings, wall, self.time_scale)
        due_at = None if next_change is None else start + next_change * self.time_scale
        if due_at is not None:
            due.append(due_at)
        version = meta["resourceVersion"]
        if status != pod.get("status"):
            written = self._write_status(PODS, meta["namespace"], meta["name"], status)
            version = written["metadata"]["resourceVersion"] if written else version
            self._lifecycle_events(pod, status)
            self._pod_event(pod, status)
        self._pod_cache[meta["uid"]] = (version, faults, due_at)
        self._schedule("pod", timer, due_at)

    def _lifecycle_events(self, pod: Obj, status: Obj) -> None:
        """The kubelet's Normal events as a container (re)starts: Pulled once, then Started every
        time it starts (a crash loop bumps its count)."""
        before = {
            cs.get("name"): ((cs.get("state") or {}).get("running") or {}).get("startedAt")
            for cs in (pod.get("status") or {}).get("containerStatuses") or []
        }
        images = {c.get("name"): c.get("image", "") for c in (pod.get("spec") or {}).get("containers") or []}
        for cs in status.get("containerStatuses") or []:
            name = cs.get("name")
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt")
            if not started or before.get(name) == started:
                continue
            image = images.get(name, "")
            if not cs.get("restartCount"):
                self.record_event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}"')
            self.record_event(pod, "Normal", "Started", f"Started container {name}")

    def _pod_event(self, pod: Obj, status: Obj) -> None:
        uid = pod["metadata"]["uid"]
        reasons = [
            (cs.get("state") or {}).get("waiting", {}).get("reason", "")
            for cs in status.get("containerStatuses") or []
        ]
        reason = next(
            (r for r in reasons if r in ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff")), ""
        )
        restarts = sum(cs.get("restartCount", 0) for cs in status.get("containerStatuses") or [])
        key = f"{reason}/{restarts}"
        if not reason or self._pod_reasons.get(uid) == key:
            return
        self._pod_reasons[uid] = key
        if reason == "CrashLoopBackOff":
            self.record_event(pod, "Warning", "BackOff", "Back-off restarting failed container")
        else:
            self.record_event(pod, "Warning", "Failed", f"Error: {reason}")

    # ------------------------------------------------------------------ replicasets

    def _replicasets(self) -> None:
        pods_by_owner: dict[str, list[Obj]] = {}
        for pod in self.store.peek(PODS):
            owner = _owner_uid(pod)
            if owner is not None:
                pods_by_owner.setdefault(owner, []).append(pod)
        for rs in self.store.peek(REPLICASETS):
            with _isolated(rs):
                self._sync_replicaset(rs, pods_by_owner.get(rs["metadata"]["uid"], []))

    def _sync_replicaset(self, rs: Obj, pods: list[Obj]) -> None:
        """Create or delete ``rs``'s pods to match its replicas; write its status."""
        meta, spec = rs["metadata"], rs.get("spec") or {}
        want = int(spec.get("replicas", 1))
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self._create_pod(rs))
        elif len(pods) > want:
            # Remove pods that are not ready first, then the youngest, like the RS controller.
            by_preference = sorted(
                pods,
                key=lambda p: (_is_ready(p), -(_parse_time(p["metadata"].get("creationTimestamp")) or 0)),
            )
            victims = by_preference[: len(pods) - want]
            for pod in victims:
                with contextlib.suppress(errors.ApiError):
                    self.store.delete(PODS, meta["namespace"], pod["metadata"]["name"])
                    for container in (pod.get("spec") or {}).get("containers") or []:
                        self.record_event(
                            pod, "Normal", "Killing", f"Stopping container {container.get('name', '')}"
                        )
                    self.record_event(
                        rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}"
                    )
            pods = [p for p in pods if p not in victims]
        ready = sum(1 for p in pods if _is_ready(p))
        # ReplicaSetStatus.replicas is required (no omitempty); the other counts are omitted at 0.
        status = {
            "replicas": len(pods),
            **_without_zeros(
                {"fullyLabeledReplicas": len(pods), "readyReplicas": ready, "availableReplicas": ready}
            ),
        }
        status["observedGeneration"] = meta.get("generation", 1)
        if status != rs.get("status"):
            self._write_status(REPLICASETS, meta["namespace"], meta["name"], status)

    def _statefulsets(self) -> None:
        """Pods ``<name>-0 … <name>-(n-1)`` per StatefulSet (what infra apply provisions databases
        and caches with); no ordered start, no volumes: enough for them to show up running."""
        pods_by_owner: dict[str, dict[str, Obj]] = {}
        for pod in self.store.peek(PODS):
            owner = _owner_uid(pod)
            if owner is not None:
                pods_by_owner.setdefault(owner, {})[pod["metadata"]["name"]] = pod
        for sts in self.store.peek(STATEFULSETS):
            with _isolated(sts):
                self._sync_statefulset(sts, pods_by_owner.get(sts["metadata"]["uid"], {}))

    def _sync_statefulset(self, sts: Obj, pods: dict[str, Obj]) -> None:
        """Pods ``<name>-0 …`` for ``sts`` (``pods``: its pods by name); write its status."""
        meta, spec = sts["metadata"], sts.get("spec") or {}
        want = int(spec.get("replicas", 1))
        for index in range(want):
            name = f"{meta['name']}-{index}"
            if name not in pods:
                pods[name] = self._create_pod(sts, name=name)
        for name in [n for n in pods if int(n.rsplit("-", 1)[-1] or 0) >= want]:
            with contextlib.suppress(errors.ApiError):
                self.store.delete(PODS, meta["namespace"], name)
            del pods[name]
        ready = sum(1 for p in pods.values() if _is_ready(p))
        status = {
            "replicas": len(pods),
            **_without_zeros(
                {"readyReplicas": ready, "availableReplicas": ready, "currentReplicas": len(pods)}
            ),
            "observedGeneration": meta.get("generation", 1),
        }
        if status != sts.get("status"):
            self._write_status(STATEFULSETS, meta["namespace"], meta["name"], status)

    def _create_pod(self, rs: Obj, name: str | None = None) -> Obj:
        meta = rs["metadata"]
        template = (rs.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        pod = {
            "metadata": {
                "generateName": f"{meta['name']}-",
                "namespace": meta["namespace"],
                "labels": dict(tmeta.get("labels") or {}),
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [_owner_ref(rs)],
            },
            "spec": {**(template.get("spec") or {}), "nodeName": "sim-node-1"},
        }
        for _attempt in range(5):
            pod["metadata"]["name"] = (
                name or f"{meta['name']}-{safe_encode(str(time.monotonic_ns()).encode(), 5)}"
            )
            try:
                created = self.store.create(PODS, meta["namespace"], pod, copy_=False)
            except errors.ApiError as exc:
                if exc.status != 409:
                    raise
                continue
            self._pod_starts[created["metadata"]["uid"]] = (time.monotonic(), time.time())
            self.record_event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
            node = created["spec"].get("nodeName", "")
            self.record_event(
                created,
                "Normal",
                "Scheduled",
                f"Successfully assigned {meta['namespace']}/{created['metadata']['name']} to {node}",
            )
            return created
        raise RuntimeError("could not find a free pod name")

    # ------------------------------------------------------------------ deployments

    def _deployments(self, now: float, due: list[float]) -> None:
        pods_by_owner: dict[str, list[Obj]] = {}
        for pod in self.store.peek(PODS):
            owner = _owner_uid(pod)
            if owner is not None:
                pods_by_owner.setdefault(owner, []).append(pod)
        rs_by_owner: dict[str, list[Obj]] = {}
        for rs in self.store.peek(REPLICASETS):
            owner = _owner_uid(rs)
            if owner is not None:
                rs_by_owner.setdefault(owner, []).append(rs)
        alive: set[str] = set()
        for deployment in self.store.peek(DEPLOYMENTS):
            alive.add(deployment["metadata"]["uid"])
            with _isolated(deployment):
                self._deployment(deployment, rs_by_owner, pods_by_owner, now, due)
        for uid in set(self._progress_at) - alive:
            del self._progress_at[uid]
        for uid in set(self._deployment_cache) - alive:
            del self._deployment_cache[uid]

    def _deployment(
        self,
        deployment: Obj,
        rs_by_owner: dict[str, list[Obj]],
        pods_by_owner: dict[str, list[Obj]],
        now: float,
        due: list[float],
    ) -> None:
        uid = deployment["metadata"]["uid"]
        owned = rs_by_owner.get(uid, [])
        # Skip a Deployment when neither it, its ReplicaSets nor their pods changed since its
        # last sync and no deadline is due: most passes touch only a few of many workloads.
        fingerprint = (
            deployment["metadata"]["resourceVersion"],
            tuple(rs["metadata"]["resourceVersion"] for rs in owned),
            tuple(
                p["metadata"]["resourceVersion"]
                for rs in owned
                for p in pods_by_owner.get(rs["metadata"]["uid"], [])
            ),
        )
        cached = self._deployment_cache.get(uid)
        if cached is not None and cached[0] == fingerprint and (cached[1] is None or now < cached[1]):
            if cached[1] is not None:
                due.append(cached[1])
                self._schedule("deployment", uid, cached[1])
            return
        mine: list[float] = []
        try:
            self._sync_deployment(deployment, owned, pods_by_owner, now, mine)
        except errors.ApiError as exc:
            if exc.status not in (404, 409):  # deleted or changed meanwhile: the next pass retries
                raise
        due.extend(mine)
        self._deployment_cache[uid] = (fingerprint, min(mine) if mine else None)
        self._schedule("deployment", uid, min(mine) if mine else None)

    def _sync_deployment(
        self,
        deployment: Obj,
        rses: list[Obj],
        pods_by_owner: dict[str, list[Obj]],
        now: float,
        due: list[float],
    ) -> None:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        namespace = meta["namespace"]
        desired = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        pod_hash = template_hash(template)
        rses = sorted(rses, key=_revision)
        new_rs = next(
            (rs for rs in rses if rs["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash), None
        )
        old_rses = [rs for rs in rses if rs is not new_rs]
        top_revision = max((_revision(rs) for rs in rses), default=0)
        created_rs = False
        paused = bool(spec.get("paused"))
        if new_rs is None and not paused:
            new_rs = self._create_rs(deployment, template, pod_hash, top_revision + 1)
            created_rs = True
        elif new_rs is not None and _revision(new_rs) < top_revision and not paused:
            # A rollback to an earlier template: its ReplicaSet becomes the newest revision again.
            revision = str(top_revision + 1)
            new_rs = self.store.update(
                REPLICASETS,
                namespace,
                new_rs["metadata"]["name"],
                lambda cur: _with_annotation(cur, REVISION, revision),
            )
        if new_rs is not None and not paused:
            self._scale(deployment, new_rs, old_rses, pods_by_owner, desired)
            revision = str(_revision(new_rs))
            if (meta.get("annotations") or {}).get(REVISION) != revision:
                # The Deployment carries its current revision too (kubectl rollout history/undo).
                self.store.update(
                    DEPLOYMENTS,
                    namespace,
                    meta["name"],
                    lambda cur: _with_annotation(cur, REVISION, revision),
                    copy_=False,
                )

        # Fresh view after scaling: pods are not created yet, so count the ReplicaSets' pods.
        all_rses = [rs for rs in [new_rs, *old_rses] if rs is not None]
        pods = [p for rs in all_rses for p in pods_by_owner.get(rs["metadata"]["uid"], [])]
        new_pods = pods_by_owner.get(new_rs["metadata"]["uid"], []) if new_rs is not None else []
        ready = sum(1 for p in pods if _is_ready(p))
        counts = {
            "replicas": len(pods),
            "updatedReplicas": len(new_pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(desired - ready, 0),
        }
        old_status = deployment.get("status") or {}
        status: Obj = {"observedGeneration": meta.get("generation", 1), **_without_zeros(counts)}
        status["conditions"] = self._conditions(
            deployment, new_rs, counts, old_status, created_rs, paused, now, due
        )
        if status != old_status:
            self._write_status(DEPLOYMENTS, namespace, meta["name"], status)
        self._prune_history(spec, old_rses, pods_by_owner)

    def _scale(
        self,
        deployment: Obj,
        new_rs: Obj,
        old_rses: list[Obj],
        pods_by_owner: dict[str, list[Obj]],
        desired: int,
    ) -> None:
        spec = deployment.get("spec") or {}
        strategy = spec.get("strategy") or {}

        def counts(rs: Obj) -> ReplicaCounts:
            pods = pods_by_owner.get(rs["metadata"]["uid"], [])
            return ReplicaCounts(
                int((rs.get("spec") or {}).get("replicas", 0)), sum(1 for p in pods if _is_ready(p))
            )

        new, old = counts(new_rs), [counts(rs) for rs in old_rses]
        if strategy.get("type") == "Recreate":
            old_pods = sum(len(pods_by_owner.get(rs["metadata"]["uid"], [])) for rs in old_rses)
            new_target, old_targets = (desired if old_pods == 0 else 0), [0] * len(old)
        else:
            rolling = strategy.get("rollingUpdate") or {}
            surge = resolve_int_or_percent(rolling.get("maxSurge"), desired, default="25%", round_up=True)
            unavailable = resolve_int_or_percent(
                rolling.get("maxUnavailable"), desired, default="25%", round_up=False
            )
            new_target, old_targets = rolling_update_targets(desired, surge, unavailable, new, old)
        for rs, before, after in [
            (new_rs, new.spec, new_target),
            *zip(old_rses, [c.spec for c in old], old_targets, strict=True),
        ]:
            if before != after:
                self._set_replicas(rs, after)
                verb = "up" if after > before else "down"
                message = f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {after}"
                self.record_event(deployment, "Normal", "ScalingReplicaSet", message)

    def _set_replicas(self, rs: Obj, replicas: int) -> None:
        def mutate(current: Obj) -> Obj:
            current.setdefault("spec", {})["replicas"] = replicas
            return current

        self.store.update(
            REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], mutate, copy_=False
        )

    def _conditions(
        self,
        deployment: Obj,
        new_rs: Obj | None,
        counts: dict[str, int],
        old_status: Obj,
        created_rs: bool,
        paused: bool,
        now: float,
        due: list[float],
    ) -> list[Obj]:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        uid = meta["uid"]
        desired = int(spec.get("replicas", 1))
        old_conditions = {c.get("type"): c for c in old_status.get("conditions") or []}
        rs_name = new_rs["metadata"]["name"] if new_rs is not None else ""
        stamp = now_iso()

        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = resolve_int_or_percent(
            rolling.get("maxUnavailable"), desired, default="25%", round_up=False
        )
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            max_unavailable = desired
        available_ok = counts["availableReplicas"] >= desired - max_unavailable
        available = _condition(
            old_conditions.get("Available"),
            "Available",
            "True" if available_ok else "False",
            "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available_ok
            else "Deployment does not have minimum availability.",
            stamp,
        )

        previous = old_conditions.get("Progressing")
        previous_reason = (previous or {}).get("reason")
        complete = (
            counts["updatedReplicas"] == desired
            and counts["availableReplicas"] == desired
            and counts["replicas"] == desired
        )

        def old_replicas(status: Obj) -> int:
            return int(status.get("replicas", 0)) - int(status.get("updatedReplicas", 0))

        progressed = (
            counts["updatedReplicas"] > old_status.get("updatedReplicas", 0)
            or old_replicas(counts) < old_replicas(old_status)
            or counts["readyReplicas"] > old_status.get("readyReplicas", 0)
            or counts["availableReplicas"] > old_status.get("availableReplicas", 0)
        )
        deadline = float(spec.get("progressDeadlineSeconds", 600)) * self.time_scale
        if uid not in self._progress_at:
            last = _parse_time((previous or {}).get("lastUpdateTime"))
            self._progress_at[uid] = now - max(time.time() - last, 0.0) if last else now

        if paused:
            progressing = _condition(
                previous, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", stamp
            )
        elif created_rs:
            self._progress_at[uid] = now
            progressing = _condition(
                previous,
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{rs_name}"',
                stamp,
                True,
            )
        elif complete:
            if previous_reason != "NewReplicaSetAvailable":
                self._progress_at[uid] = now
            progressing = _condition(
                previous,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                stamp,
            )
        elif progressed:
            self._progress_at[uid] = now
            progressing = _condition(
                previous,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                stamp,
                True,
            )
        elif previous is not None and previous_reason in (
            "NewReplicaSetAvailable",
            "ProgressDeadlineExceeded",
        ):
            progressing = previous  # complete rollouts never time out; a timed-out one stays so
        elif now - self._progress_at[uid] >= deadline:
            progressing = _condition(
                previous,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
                stamp,
            )
        else:
            progressing = previous or _condition(
                None,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                stamp,
            )
            due.append(self._progress_at[uid] + deadline)
        return [available, progressing]

    def _create_rs(self, deployment: Obj, template: Obj, pod_hash: str, revision: int) -> Obj:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        tmeta = dict(template.get("metadata") or {})
        labels = {**(tmeta.get("labels") or {}), HASH_LABEL: pod_hash}
        selector = dict(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        rs = {
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                },
                "ownerReferences": [_owner_ref(deployment)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": {**template, "metadata": {**tmeta, "labels": labels}},
            },
        }
        return self.store.create(REPLICASETS, meta["namespace"], rs, copy_=False)

    def _prune_history(self, spec: Obj, old_rses: list[Obj], pods_by_owner: dict[str, list[Obj]]) -> None:
        limit = int(spec.get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in old_rses
            if not (rs.get("spec") or {}).get("replicas") and not pods_by_owner.get(rs["metadata"]["uid"])
        ]
        for rs in idle[: max(len(idle) - limit, 0)]:  # oldest revisions first
            with contextlib.suppress(errors.ApiError):
                self.store.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])

    # ------------------------------------------------------------------ writes

    def _write_status(self, resource: ResourceType, namespace: str, name: str, status: Obj) -> Obj | None:
        try:
            return self.store.update_status(resource, namespace, name, status, copy_=False)
        except errors.ApiError:
            return None  # deleted meanwhile

    def record_event(self, involved: Obj, event_type: str, reason: str, message: str) -> None:
        """Create or bump a core/v1 Event about ``involved`` (deduplicated by reason and message)."""
        meta = involved["metadata"]
        fingerprint = f"{meta.get('uid')}/{reason}/{message}".encode()
        name = f"{meta['name']}.{safe_encode(fingerprint, 8)}"
        namespace = meta.get("namespace") or "default"
        stamp = now_iso()
        existing = self.store.get(EVENTS, namespace, name, copy_=False)
        if existing is not None:

            def bump(current: Obj) -> Obj:
                current["count"] = int(current.get("count", 1)) + 1
                current["lastTimestamp"] = stamp
                return current

            self.store.update(EVENTS, namespace, name, bump, copy_=False)
            return
        if self._event_order is None:  # once: the Events restored from the state file, oldest first
            self._event_order = collections.deque(
                (str(e["metadata"].get("namespace")), str(e["metadata"]["name"]))
                for e in self.store.peek(EVENTS)
            )
        while len(self._event_order) >= _MAX_EVENTS:
            old_namespace, old_name = self._event_order.popleft()
            with contextlib.suppress(errors.ApiError):  # someone deleted it already
                self.store.delete(EVENTS, old_namespace, old_name)
        self._event_order.append((namespace, name))
        self.store.create(
            EVENTS,
            namespace,
            {
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {
                    "apiVersion": involved.get("apiVersion"),
                    "kind": involved.get("kind"),
                    "name": meta["name"],
                    "namespace": namespace,
                    "uid": meta.get("uid"),
                    "resourceVersion": meta.get("resourceVersion"),
                },
                "reason": reason,
                "message": message,
                "type": event_type,
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {
                    "component": _SOURCES.get(reason, _KIND_SOURCES.get(str(involved.get("kind")), "kubelet"))
                },
                "reportingComponent": "idp-console-simulator",
            },
        )


_KIND_SOURCES = {"Deployment": "deployment-controller", "ReplicaSet": "replicaset-controller"}
_SOURCES = {"Scheduled": "default-scheduler"}


def _revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, 0))
    except ValueError:
        return 0


def _with_annotation(obj: Obj, key: str, value: str) -> Obj:
    obj["metadata"].setdefault("annotations", {})[key] = value
    return obj


def _condition(
    previous: Obj | None,
    kind: str,
    status: str,
    reason: str,
    message: str,
    stamp: str,
    touch: bool = False,
) -> Obj:
    """A condition that keeps its timestamps unless something about it changed (so no-op passes
    write nothing); ``touch`` refreshes lastUpdateTime to record progress."""
    unchanged = previous is not None and previous.get("status") == status
    same_reason = unchanged and previous is not None and previous.get("reason") == reason
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": previous["lastUpdateTime"] if same_reason and not touch and previous else stamp,
        "lastTransitionTime": previous["lastTransitionTime"] if unchanged and previous else stamp,
        "reason": reason,
        "message": message,
    }
