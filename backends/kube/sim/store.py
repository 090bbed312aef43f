"""The simulated cluster's object store: what etcd plus the generic apiserver registry do.

One cluster-wide, monotonic ``resourceVersion`` counter; server-owned metadata (``uid``,
``creationTimestamp``, ``generation`` bumped on spec changes only); ``/status`` kept apart from the
rest of the object; optimistic concurrency (409 on a stale ``resourceVersion``); a bounded event
history so a watch can resume from a resourceVersion (410 Gone once that version was compacted);
and owner-reference garbage collection on delete.

Every write — from HTTP handlers and from the in-process controller alike — goes through
`ObjectStore._commit`, so resourceVersions, watch events and persistence never diverge.
The store is thread-safe; watchers are woken on their own event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import datetime
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .resources import BY_KEY, ResourceType
from .selectors import FieldRequirement, LabelRequirement, fields_match, labels_match

ObjectKey = tuple[str, str | None, str]  # (resource key, namespace or None, name)
Obj = dict[str, Any]
PROGRESS = "PROGRESS"  # an internal queue item type: "nothing for you up to this resourceVersion"
_INITIAL_STATUS: dict[str, Obj] = {
    "Namespace": {"phase": "Active"},
    "Pod": {"phase": "Pending", "qosClass": "BestEffort"},
}


def now_iso() -> str:
    """A Kubernetes timestamp (RFC 3339, second precision, UTC)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StoredEvent:
    """A change as recorded in the history: ``old`` is the previous state (``None`` for ADDED)."""

    type: str  # ADDED | MODIFIED | DELETED
    resource: ResourceType
    resource_version: int
    object: Obj
    old: Obj | None = None


@dataclass(eq=False)
class Watcher:
    """One open watch: filters events for its resource/namespace/selectors and queues them.

    ``queue`` yields ``(type, object)`` tuples, or ``None`` when the watch is closed from the
    server side (a dropped stream in fault injection, or the store shutting down).
    """

    resource: ResourceType
    namespace: str | None
    labels: list[LabelRequirement]
    fields: list[FieldRequirement]
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[str, Obj] | None] = field(default_factory=asyncio.Queue)
    closed: bool = False
    abrupt: bool = False  # how a server-side close ends the HTTP stream (fault injection)
    # With bookmarks, events this watcher filters out still advance its progress: they are queued
    # as PROGRESS items, so a BOOKMARK never claims a version whose events are still in flight.
    bookmarks: bool = False
    progress: int = 0  # the resourceVersion up to which everything relevant was queued

    def _selects(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return labels_match(self.labels, meta.get("labels")) and fields_match(self.fields, obj)

    def translate(self, event: StoredEvent) -> tuple[str, Obj] | None:
        """The event as this watcher sees it; an object leaving the selection is a DELETED."""
        if event.resource.key != self.resource.key:
            return None
        now_in = self._selects(event.object)
        if event.type == "DELETED":
            return ("DELETED", event.object) if now_in else None
        was_in = self._selects(event.old)
        if now_in and was_in:
            return ("MODIFIED", event.object)
        if now_in:
            return ("ADDED", event.object)
        if was_in:
            return ("DELETED", event.object)
        return None

    def deliver(self, item: tuple[str, Obj] | None) -> None:
        """Queue an item from any thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.queue.put_nowait(item)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody listens
                self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def close(self) -> None:
        """End the stream from the server side (the client sees the connection end)."""
        if not self.closed:
            self.closed = True
            self.deliver(None)


def _allocate_cluster_ip(service: Obj) -> None:
    # The apiserver allocates a ClusterIP on create; derive one from the name so it is stable.
    spec = service.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
        digest = uuid.uuid5(
            uuid.NAMESPACE_DNS, f"{service['metadata'].get('namespace')}/{service['metadata']['name']}"
        )
        spec["clusterIP"] = f"10.96.{digest.bytes[0]}.{digest.bytes[1] or 1}"
        spec["clusterIPs"] = [spec["clusterIP"]]


def _fold_string_data(secret: Obj) -> None:
    # As the apiserver does: ``stringData`` is write-only — each value is base64-encoded into
    # ``data`` (over a key already there) and the field itself is never stored or returned.
    string_data = secret.pop("stringData", None)
    if string_data is None:
        return
    if not isinstance(string_data, dict) or not all(isinstance(v, str) for v in string_data.values()):
        raise errors.bad_request("stringData: expected a map of strings")
    data = secret.get("data") or {}
    secret["data"] = {**data, **{k: base64.b64encode(v.encode()).decode() for k, v in string_data.items()}}


def _spec_part(obj: Obj) -> Obj:
    """Everything a ``generation`` bump depends on: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def _without_rv(obj: Obj) -> Obj:
    clone = dict(obj)
    clone["metadata"] = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return clone


class ObjectStore:
    """In-memory objects of every served resource with Kubernetes write semantics."""

    def __init__(self, *, history_limit: int = 5000) -> None:
        self._lock = threading.RLock()
        self._objects: dict[ObjectKey, Obj] = {}
        # The same objects per resource key, so listing pods does not walk every Event.
        self._by_resource: dict[str, dict[ObjectKey, Obj]] = {}
        # Never 0: a list answering resourceVersion "0" would make a watch from it mean "any
        # version" (replay current objects) instead of "after this point".
        self._rv = 1
        self._history: deque[StoredEvent] = deque()
        self._history_limit = history_limit
        # Watches may resume from any version >= this one; older ones get 410 Gone.
        self._oldest_resumable = 0
        self._watchers: set[Watcher] = set()
        self._listeners: list[Callable[[StoredEvent], None]] = []
        # uid → the keys of the stored objects naming it in ownerReferences (garbage collection,
        # and the controller's "the pods of this ReplicaSet" without a scan of every pod).
        self._dependents: dict[str, dict[ObjectKey, None]] = {}  # insertion-ordered
        self._by_uid: dict[str, ObjectKey] = {}

    # ----------------------------------------------------------------- reading

    @property
    def resource_version(self) -> int:
        """The newest resourceVersion handed out (the list ``metadata.resourceVersion``)."""
        with self._lock:
            return self._rv

    def get(
        self, resource: ResourceType, namespace: str | None, name: str, *, copy_: bool = True
    ) -> Obj | None:
        """A deep copy of one object (the stored, read-only dict with ``copy_=False``), or None."""
        with self._lock:
            obj = self._objects.get(self._key(resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None and copy_ else obj

    def list_objects(
        self,
        resource: ResourceType,
        namespace: str | None = None,
        labels: list[LabelRequirement] | None = None,
        fields: list[FieldRequirement] | None = None,
        *,
        copy_: bool = True,
    ) -> tuple[list[Obj], int]:
        """The matching objects (all namespaces when ``namespace`` is None) and the current rv.

        Deep copies, unless ``copy_=False``: then the stored dicts, which must be treated as
        read-only (used to serialise HTTP responses without copying).
        """
        with self._lock:
            found = list(self._select(resource, namespace, labels, fields))
            return ([copy.deepcopy(obj) for obj in found] if copy_ else found), self._rv

    def peek_uid(self, uid: str) -> Obj | None:
        """The stored object with this ``metadata.uid`` (read-only, as `peek`), or None."""
        with self._lock:
            key = self._by_uid.get(uid)
            return None if key is None else self._objects.get(key)

    def peek_owned(self, uid: str, resource: ResourceType) -> list[Obj]:
        """The stored ``resource`` objects whose ownerReferences name ``uid`` (read-only, as `peek`)."""
        with self._lock:
            keys = self._dependents.get(uid, ())
            return [self._objects[k] for k in keys if k[0] == resource.key and k in self._objects]

    def peek(self, resource: ResourceType, namespace: str | None = None) -> list[Obj]:
        """The stored objects themselves, without copying: read-only, for the in-process controller.

        Safe because a write never mutates a stored dict; it replaces it with a new one.
        """
        with self._lock:
            return list(self._select(resource, namespace, None, None))

    def _select(
        self,
        resource: ResourceType,
        namespace: str | None,
        labels: list[LabelRequirement] | None,
        fields: list[FieldRequirement] | None,
    ) -> Iterator[Obj]:
        for (_key, ns, _name), obj in self._by_resource.get(resource.key, {}).items():
            if namespace is not None and ns != namespace:
                continue
            if labels and not labels_match(labels, obj["metadata"].get("labels")):
                continue
            if fields and not fields_match(fields, obj):
                continue
            yield obj

    # ----------------------------------------------------------------- writing

    def create(
        self,
        resource: ResourceType,
        namespace: str | None,
        body: Obj,
        *,
        copy_: bool = True,
        dry_run: bool = False,
    ) -> Obj:
        """POST semantics: 409 AlreadyExists on a duplicate; server fields set; status dropped.

        Returns a deep copy of the stored object (the stored, read-only one with ``copy_=False``).
        ``dry_run`` (``?dryRun=All``) validates and answers without storing anything.
        """
        with self._lock:
            obj = copy.deepcopy(body)
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            name = meta.get("name")
            if not name:
                raise errors.invalid(resource.kind, "", "metadata.name: Required value")
            if resource.namespaced:
                namespace = namespace or meta.get("namespace") or "default"
                if meta.get("namespace") not in (None, namespace):
                    raise errors.bad_request("the namespace of the object does not match the request")
                meta["namespace"] = namespace
            else:
                namespace = None
                meta.pop("namespace", None)
            key = self._key(resource, namespace, name)
            if key in self._objects:
                raise errors.already_exists(resource.kind, name)
            obj["apiVersion"] = resource.api_version
            obj["kind"] = resource.kind
            if resource.has_status:
                # The real registries reset status on create; only the controller writes it…
                obj.pop("status", None)
            # …except for what the apiserver itself initialises.
            if resource.kind in _INITIAL_STATUS:
                obj["status"] = dict(_INITIAL_STATUS[resource.kind])
            if resource.kind == "Service":
                _allocate_cluster_ip(obj)
            if resource.kind == "Secret":
                _fold_string_data(obj)
                obj.setdefault("type", "Opaque")
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
            meta["generation"] = 1
            for server_field in ("resourceVersion", "deletionTimestamp", "managedFields"):
                meta.pop(server_field, None)
            if dry_run:
                return obj
            stored = self._commit("ADDED", resource, key, obj, None)
            return copy.deepcopy(stored) if copy_ else stored

    def update(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        mutate: Callable[[Obj], Obj],
        *,
        subresource: str | None = None,
        copy_: bool = True,
        dry_run: bool = False,
    ) -> Obj:
        """Read-modify-write one object (PUT and PATCH both end here).

        ``mutate`` gets a deep copy of the current object and returns the desired one. A
        ``metadata.resourceVersion`` in the result that differs from the stored one is a stale
        write → 409. On the main resource the status is kept; on ``/status`` only status changes.
        """
        with self._lock:
            key = self._key(resource, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise errors.not_found(resource.kind, name)
            candidate = mutate(copy.deepcopy(current))
            if not isinstance(candidate, dict):
                raise errors.bad_request("the patched object is not a JSON object")
            cand_meta = candidate.get("metadata") or {}
            sent_rv = cand_meta.get("resourceVersion")
            if sent_rv not in (None, "") and str(sent_rv) != current["metadata"]["resourceVersion"]:
                raise errors.conflict(resource.kind, name)
            if cand_meta.get("name") not in (None, name):
                raise errors.bad_request("the name of the object does not match the request")
            if resource.kind == "Secret" and subresource is None:
                _fold_string_data(candidate)
            new = self._merge_sides(resource, current, candidate, subresource)
            if _without_rv(new) == _without_rv(current):
                stored = current  # a no-op write: no new version, no event
            elif dry_run:
                return copy.deepcopy(new)
            else:
                stored = self._commit("MODIFIED", resource, key, new, current)
            return copy.deepcopy(stored) if copy_ else stored

    def update_status(
        self, resource: ResourceType, namespace: str | None, name: str, status: Obj, *, copy_: bool = True
    ) -> Obj:
        """An unconditional ``/status`` write, as controllers do — `update` without copying the object."""
        with self._lock:
            key = self._key(resource, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise errors.not_found(resource.kind, name)
            if current.get("status") == status:
                stored = current
            else:
                stored = self._commit("MODIFIED", resource, key, {**current, "status": status}, current)
            return copy.deepcopy(stored) if copy_ else stored

    def _merge_sides(
        self, resource: ResourceType, current: Obj, candidate: Obj, subresource: str | None
    ) -> Obj:
        # Stored objects are never mutated, so a new version may share parts with the previous
        # one; ``candidate`` is private (``mutate`` got a deep copy), so it may be edited here.
        if subresource == "status":
            new = dict(current)
            if "status" in candidate:
                new["status"] = candidate["status"]
            else:
                new.pop("status", None)
            return new
        new = candidate
        if resource.has_status:
            if "status" in current:
                new["status"] = current["status"]
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        old_meta = current["metadata"]
        for server_field in (
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "resourceVersion",
            "generation",
        ):
            if server_field in old_meta:
                meta[server_field] = old_meta[server_field]
            else:
                meta.pop(server_field, None)
        new["apiVersion"] = resource.api_version
        new["kind"] = resource.kind
        if _spec_part(new) != _spec_part(current):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        return new

    def delete(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        preconditions: dict[str, str] | None = None,
    ) -> Obj:
        """Delete at once (finalizers are not simulated) and garbage-collect owned objects.

        ``preconditions`` (``uid``, ``resourceVersion``): delete only that exact object, else 409.
        """
        with self._lock:
            key = self._key(resource, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise errors.not_found(resource.kind, name)
            meta = current["metadata"]
            for field_name, wanted in (preconditions or {}).items():
                if str(meta.get(field_name)) != wanted:
                    raise errors.conflict(resource.kind, name)
            if not dry_run:
                self._delete_cascading(key)
            return copy.deepcopy(current)

    def _delete_cascading(self, key: ObjectKey) -> None:
        obj = self._objects.pop(key)
        self._by_resource[key[0]].pop(key, None)
        resource = BY_KEY[key[0]]
        self._commit("DELETED", resource, key, obj, obj, store=False)
        uid = obj["metadata"].get("uid")
        for dependent in list(self._dependents.get(str(uid), ())):
            if dependent in self._objects:
                self._delete_cascading(dependent)

    def _commit(
        self,
        kind: str,
        resource: ResourceType,
        key: ObjectKey,
        obj: Obj,
        old: Obj | None,
        *,
        store: bool = True,
    ) -> Obj:
        """Give ``obj`` the next resourceVersion, store it, record the event and wake watchers."""
        self._rv += 1
        # A new top-level dict and metadata: the version stored before may share everything else.
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}
        if old is not None:
            self._index(old, key, add=False)
        if kind != "DELETED":
            self._index(obj, key, add=True)
        if store:
            self._objects[key] = obj
            self._by_resource.setdefault(key[0], {})[key] = obj
        event = StoredEvent(kind, resource, self._rv, obj, old)
        self._history.append(event)
        while len(self._history) > self._history_limit:
            dropped = self._history.popleft()
            self._oldest_resumable = dropped.resource_version
        for watcher in list(self._watchers):
            translated = watcher.translate(event)
            if translated is not None:
                watcher.deliver(translated)
            elif watcher.bookmarks:
                watcher.deliver((PROGRESS, {"metadata": {"resourceVersion": str(self._rv)}}))
        for listener in self._listeners:
            listener(event)
        return obj

    def _index(self, obj: Obj, key: ObjectKey, *, add: bool) -> None:
        meta = obj["metadata"]
        uid = meta.get("uid")
        if uid is not None:
            if add:
                self._by_uid[str(uid)] = key
            elif self._by_uid.get(str(uid)) == key:
                del self._by_uid[str(uid)]
        for ref in meta.get("ownerReferences") or []:
            owner = str(ref.get("uid"))
            if add:
                self._dependents.setdefault(owner, {})[key] = None
            elif owner in self._dependents:
                self._dependents[owner].pop(key, None)
                if not self._dependents[owner]:
                    del self._dependents[owner]

    # ----------------------------------------------------------------- watching

    def watch(
        self,
        resource: ResourceType,
        namespace: str | None,
        *,
        resource_version: str | None,
        labels: list[LabelRequirement] | None = None,
        fields: list[FieldRequirement] | None = None,
        bookmarks: bool = False,
    ) -> Watcher:
        """Open a watch on the running event loop.

        Without a resourceVersion (or "0") the current objects come first as ADDED events, like
        kube-apiserver. With one, every later change is replayed from the history, then live
        events follow; snapshot and subscription happen under one lock, so nothing slips between.
        """
        watcher = Watcher(resource, namespace, labels or [], fields or [], asyncio.get_running_loop())
        watcher.bookmarks = bookmarks
        with self._lock:
            watcher.progress = self._rv
            if resource_version in (None, "", "0"):
                for obj in self._select(resource, namespace, labels, fields):
                    watcher.queue.put_nowait(("ADDED", obj))
            else:
                try:
                    since = int(resource_version)
                except ValueError as exc:
                    raise errors.bad_request(f"invalid resourceVersion {resource_version!r}") from exc
                if since < self._oldest_resumable:
                    raise errors.gone(since, self._oldest_resumable)
                for event in self._history:
                    if event.resource_version > since:
                        translated = watcher.translate(event)
                        if translated is not None:
                            watcher.queue.put_nowait(translated)
            self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        """Forget a watcher (its stream has ended)."""
        with self._lock:
            self._watchers.discard(watcher)

    def close_watches(self, predicate: Callable[[Watcher], bool] = lambda _w: True) -> int:
        """Close the matching open watches; returns how many were closed."""
        with self._lock:
            victims = [w for w in self._watchers if predicate(w)]
        for watcher in victims:
            watcher.close()
        return len(victims)

    def add_listener(self, listener: Callable[[StoredEvent], None]) -> None:
        """Call ``listener`` (under the store lock; keep it quick) for every committed change."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[StoredEvent], None]) -> None:
        """Stop calling a listener added with `add_listener`."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # ----------------------------------------------------------------- persistence

    @contextlib.contextmanager
    def paused_writes(self) -> Iterator[None]:
        """Hold every write (HTTP and controller alike) for the block, so what it reads — a snapshot
        and the persistence's own bookkeeping — is one instant. Keep the block short."""
        with self._lock:
            yield

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to restart the cluster: the objects and the resourceVersion counter."""
        with self._lock:
            return {
                "resourceVersion": self._rv,
                # No copies: stored objects are never mutated, only replaced.
                "objects": [{"resource": key[0], "object": obj} for key, obj in self._objects.items()],
            }

    def load(self, snapshot: dict[str, Any]) -> None:
        """Replace the contents with a snapshot; watches cannot resume across it (410)."""
        with self._lock:
            self._objects.clear()
            self._by_resource.clear()
            self._history.clear()
            self._dependents.clear()
            self._by_uid.clear()
            for entry in snapshot.get("objects", []):
                resource = BY_KEY.get(entry["resource"])
                if resource is None:
                    continue  # a resource this version no longer serves
                obj = entry["object"]
                meta = obj["metadata"]
                namespace = meta.get("namespace") if resource.namespaced else None
                key = self._key(resource, namespace, meta["name"])
                self._objects[key] = obj
                self._by_resource.setdefault(resource.key, {})[key] = obj
                self._index(obj, key, add=True)
            highest = max(
                (int(o["metadata"].get("resourceVersion", 0)) for o in self._objects.values()), default=0
            )
            self._rv = max(int(snapshot.get("resourceVersion", 0)), highest)
            self._oldest_resumable = self._rv

    @staticmethod
    def _key(resource: ResourceType, namespace: str | None, name: str) -> ObjectKey:
        return (resource.key, namespace if resource.namespaced else None, name)
