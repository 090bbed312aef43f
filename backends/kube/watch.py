"""Live views of the cluster by list + watch, never by polling.

A :class:`ResourceWatch` keeps an up-to-date copy of one resource kind in one namespace (optionally
narrowed by a label selector). It lists once, then watches from the list's ``resourceVersion``;
when the stream ends or drops it resumes from the last version it saw (so nothing in between is
missed); when the server answers 410 Gone (version too old) it lists again and reports the
difference as ADDED / MODIFIED / DELETED, so listeners see every change exactly as if the stream
had never broken.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3

from backends.kube.cluster import Cluster, ClusterError, Gone

log = logging.getLogger(__name__)
T = TypeVar("T")

Listener = Callable[[str, dict[str, Any]], None]  # (event type, object)
StateListener = Callable[[], None]  # the watch went down or came back: read ``down_since``


@dataclass(slots=True)
class WatchStats:
    lists: int = 0
    watches: int = 0  # watch requests opened (1 + resumes + relists)
    resumes: int = 0  # stream ended or dropped, continued from the last resourceVersion
    relists: int = 0  # 410 Gone
    events: int = 0


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class ResourceWatch:
    """A background thread mirroring ``kind`` in ``namespace``; listeners run on that thread."""

    def __init__(
        self,
        cluster: Cluster,
        kind: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        timeout_seconds: int = 30,
        listener: Listener | None = None,
    ) -> None:
        self.cluster = cluster
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.timeout_seconds = timeout_seconds
        self.stats = WatchStats()
        self._listeners: list[Listener] = [listener] if listener else []
        self._objects: dict[str, dict[str, Any]] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self.synced = threading.Event()  # set after the first list
        self.error: Exception | None = None  # the last error, for a status line
        # Since when (epoch seconds) the server has not let the watch list or open a stream, or
        # None while it does: a stream that drops and reopens at once never counts as down.
        self.down_since: float | None = None
        self._state_listeners: list[StateListener] = []
        self._response: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ResourceWatch:
        self._thread = threading.Thread(
            target=self._run, name=f"watch-{self.kind}-{self.namespace}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, interrupting a blocked read by shutting the stream's socket."""
        self._stop.set()
        response = self._response
        if response is not None:
            # Any failure to interrupt only means waiting for the stream's own timeout.
            with contextlib.suppress(Exception):
                response.shutdown()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> ResourceWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def streaming(self) -> bool:
        """Whether a watch stream is open right now (False while listing or reconnecting)."""
        return self._response is not None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def add_state_listener(self, listener: StateListener) -> None:
        """``listener()`` (on the watch thread) when the watch goes down or comes back."""
        self._state_listeners.append(listener)

    # -- reading --------------------------------------------------------------------------------
    def objects(self) -> dict[str, dict[str, Any]]:
        """A snapshot: name → object (do not mutate the objects)."""
        with self._changed:
            return dict(self._objects)

    def get(self, name: str) -> dict[str, Any] | None:
        with self._changed:
            return self._objects.get(name)

    def wait_until(self, check: Callable[[dict[str, dict[str, Any]]], T | None], timeout: float) -> T | None:
        """Block until ``check(objects)`` returns something truthy (returned), or None on timeout.

        Wakes on every change the watch applies, so the answer comes as soon as the cluster moves.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self.synced.is_set():
                    result = check(dict(self._objects))
                    if result:
                        return result
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._changed.wait(remaining)

    # -- the loop ---------------------------------------------------------------------------------
    def _run(self) -> None:
        version: str | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._relist()
                self.stats.watches += 1
                for event in self.cluster.watch_stream(
                    self.kind,
                    self.namespace,
                    version,
                    label_selector=self.label_selector,
                    timeout_seconds=self.timeout_seconds,
                    on_open=self._opened,
                ):
                    if self._stop.is_set():
                        return
                    failures = 0
                    obj = event.get("object") or {}
                    version = _version(obj) or version
                    if event.get("type") == "BOOKMARK":
                        continue
                    self._apply(str(event.get("type")), obj)
                self.stats.resumes += 1  # server closed the stream (its timeout): continue
            except Gone:
                self.stats.relists += 1
                version = None
            except (ClusterError, urllib3.exceptions.HTTPError, OSError, ValueError) as error:
                if self._stop.is_set():
                    return
                self.error = error
                failures += 1
                if self._response is None:  # no stream opened: the server refused or did not answer
                    self._set_down(True)
                self.stats.resumes += 1
                log.info(
                    "watch %s/%s dropped (%s); resuming from %s", self.namespace, self.kind, error, version
                )
                # First retry at once (a dropped stream is normal), then back off if the server is down.
                self._stop.wait(min(2.0, 0.05 * (2 ** (failures - 1))) if failures > 1 else 0)
            finally:
                self._response = None

    def _opened(self, response: Any) -> None:
        self._response = response
        self._set_down(False)
        if self._stop.is_set():
            response.shutdown()

    def _relist(self) -> str:
        items, version = self.cluster.list(self.kind, self.namespace, self.label_selector)
        self.stats.lists += 1
        fresh = {_name(item): item for item in items}
        with self._changed:
            old = self._objects
            self._objects = fresh
        # Report what changed while we were not watching, as the stream would have.
        for name, obj in old.items():
            if name not in fresh:
                self._notify("DELETED", obj)
        for name, obj in fresh.items():
            if name not in old:
                self._notify("ADDED", obj)
            elif _version(old[name]) != _version(obj) or not _version(obj):
                self._notify("MODIFIED", obj)
        self.synced.set()
        self._set_down(False)
        with self._changed:
            self._changed.notify_all()
        return version

    def _set_down(self, down: bool) -> None:
        if down == (self.down_since is not None):
            return
        self.down_since = time.time() if down else None
        for listener in self._state_listeners:
            try:
                listener()
            except Exception:  # noqa: BLE001 - one bad listener must not kill the watch
                log.exception("watch state listener failed")

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        name = _name(obj)
        with self._changed:
            if kind == "DELETED":
                self._objects.pop(name, None)
            else:
                self._objects[name] = obj
            self._changed.notify_all()
        self._notify(kind, obj)

    def _notify(self, kind: str, obj: dict[str, Any]) -> None:
        self.stats.events += 1
        for listener in self._listeners:
            try:
                listener(kind, obj)
            except Exception:  # noqa: BLE001 - one bad listener must not kill the watch
                log.exception("watch listener failed")
