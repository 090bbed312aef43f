"""What a simulated container writes to stdout: ``GET …/pods/{name}/log`` for the emulator.

A container's output is a pure function of the pod and the clock: line ``i`` of a run appears
``i × interval`` real seconds after the container started. So a tail read twice gives the same
lines, ``follow=true`` simply waits for the next line's moment, and ``kubectl logs`` sees exactly
what the status page shows. A crash-looping container's run ends with the error it exits on; a
container that never started has no log (400, like kube-apiserver).
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import ApiError

Obj = dict[str, Any]
MAX_LINES = 5000  # a run's output kept by the "kubelet" (older lines are rotated away)

_PATHS = ("/api/v1/orders", "/api/v1/payments", "/api/v1/items", "/healthz", "/metrics", "/api/v1/users")
_METHODS = ("GET", "GET", "GET", "POST", "PUT")


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _iso(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ContainerRun:
    """One run of a container: from ``started`` until ``finished`` (None while it runs)."""

    pod: str
    container: str
    image: str
    started: float
    finished: float | None = None

    def line(self, index: int) -> str:
        """Line ``index`` of this run (deterministic: the same pod and index give the same text)."""
        image = self.image.split("@", 1)[0]  # a pinned repo:tag@sha256:… logs its tag
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "latest"
        if index == 0:
            return f"INFO  {self.container} {tag} starting, listening on :8080"
        digest = hashlib.sha256(f"{self.pod}/{index}".encode()).digest()
        method = _METHODS[digest[0] % len(_METHODS)]
        path = _PATHS[digest[1] % len(_PATHS)]
        millis = 2 + digest[2] % 180
        if digest[3] < 8:
            return f"WARN  {method} {path} 503 {millis}ms upstream timeout, retrying"
        return f"INFO  {method} {path} 200 {millis}ms"

    def last_line(self) -> str:
        return f"ERROR {self.container} fatal: cannot connect to the database; exiting (code 1)"


def container_run(pod: Obj, container: str | None) -> ContainerRun:
    """The run whose output ``kubectl logs`` shows: the running one, else the last that ended.

    Raises the API's 400 for a missing or ambiguous container and for one that never started.
    """
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    name = meta.get("name", "")
    names = [c.get("name", "") for c in spec.get("containers") or []]
    if container is None:
        if len(names) != 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
            )
        container = names[0]
    elif container not in names:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    image = next((c.get("image", "") for c in spec.get("containers") or [] if c.get("name") == container), "")
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    status: Obj = next((s for s in statuses if s.get("name") == container), {})
    state, last = status.get("state") or {}, status.get("lastState") or {}
    running = state.get("running")
    if running and _epoch(running.get("startedAt")) is not None:
        return ContainerRun(name, container, image, _epoch(running.get("startedAt")) or 0.0)
    ended = state.get("terminated") or last.get("terminated")
    if ended and _epoch(ended.get("startedAt")) is not None:
        return ContainerRun(
            name, container, image, _epoch(ended.get("startedAt")) or 0.0, _epoch(ended.get("finishedAt"))
        )
    reason = ((state.get("waiting") or {}).get("reason")) or "ContainerCreating"
    raise ApiError(
        400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: {reason}'
    )


@dataclass(frozen=True)
class LogRequest:
    """The query of a log request: ``tailLines``, ``sinceSeconds``, ``timestamps``, ``follow``."""

    tail_lines: int | None = None
    since_seconds: float | None = None
    timestamps: bool = False
    follow: bool = False

    @classmethod
    def parse(cls, params: dict[str, str]) -> LogRequest:
        def number(key: str) -> int | None:
            raw = params.get(key)
            if raw in (None, ""):
                return None
            try:
                value = int(str(raw))
            except ValueError:
                raise errors.bad_request(f"{key}: invalid value {raw!r}") from None
            if value < 0:
                raise errors.bad_request(f"{key}: must be greater than or equal to 0")
            return value

        since = number("sinceSeconds")
        return cls(
            tail_lines=number("tailLines"),
            since_seconds=float(since) if since is not None else None,
            timestamps=params.get("timestamps") in ("true", "1"),
            follow=params.get("follow") in ("true", "1"),
        )


class LogView:
    """The lines of one run at a moment: which exist, and when the next one is due."""

    def __init__(self, run: ContainerRun, interval: float) -> None:
        self.run = run
        self.interval = interval

    def count_at(self, now: float) -> int:
        """How many lines the run has written by ``now`` (a finished run: all of them)."""
        end = now if self.run.finished is None else min(now, self.run.finished)
        if end < self.run.started:
            return 0
        count = int((end - self.run.started) / self.interval) + 1
        return count + (1 if self.run.finished is not None and now >= self.run.finished else 0)

    def at(self, index: int) -> tuple[float, str]:
        """(when, text) of line ``index``; a finished run's extra last line is its exit error."""
        when = self.run.started + index * self.interval
        if self.run.finished is not None and when >= self.run.finished:
            return self.run.finished, self.run.last_line()
        return when, self.run.line(index)

    def first_index(self, request: LogRequest, count: int, now: float) -> int:
        first = max(0, count - MAX_LINES)
        if request.since_seconds is not None:
            since = now - request.since_seconds
            first = max(first, int(max(0.0, since - self.run.started) / self.interval + 0.999999))
        if request.tail_lines is not None:
            first = max(first, count - request.tail_lines)
        return min(first, count)

    def render(self, index: int, request: LogRequest) -> bytes:
        when, text = self.at(index)
        prefix = f"{_iso(when)} " if request.timestamps else ""
        return f"{prefix}{_iso(when)[:19]}Z {text}\n".encode()
