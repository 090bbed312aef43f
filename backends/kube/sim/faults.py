"""Fault injection for the simulated API server: what a flaky real cluster does to a client.

Tests (and the demo, from any thread) arm rules such as "the next 2 PATCHes of deployments
answer 500" or "the next GET hangs for 30 s", or cut every open watch stream. Rules are matched
in the order they were added and are used up request by request.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    """One armed fault: ``remaining`` requests matching ``method``/``path`` (and ``watch``) are hit."""

    kind: str  # "error" | "hang" | "stall"
    path: re.Pattern[str]
    method: str | None = None
    watch: bool | None = None
    remaining: int = 1
    status: int = 500
    seconds: float = 0.0
    until: float = 0.0  # a stall: time.monotonic() at which the API answers again

    def matches(self, method: str, path: str, is_watch: bool) -> bool:
        """Whether this rule applies to a request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.watch is not None and self.watch != is_watch:
            return False
        return self.path.search(path) is not None


@dataclass(frozen=True)
class FaultHit:
    """A request that was answered by a fault (for assertions)."""

    kind: str
    method: str
    path: str


@dataclass
class ApiFaults:
    """The fault hooks of one simulated API server (thread-safe)."""

    _rules: list[FaultRule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    hits: list[FaultHit] = field(default_factory=list)
    # Installed by the server: closes open watch streams matching a path regex, returns the count.
    _drop_watches: Callable[[re.Pattern[str] | None, bool], int] | None = None

    def fail_next(
        self,
        count: int = 1,
        *,
        method: str | None = None,
        path: str = "",
        status: int = 500,
        watch: bool | None = None,
    ) -> FaultRule:
        """Answer the next ``count`` matching requests with ``status`` (a Kubernetes Status body).

        ``path`` is a regular expression searched in the URL path, e.g. ``r"/deployments/payment"``.
        """
        return self._add(FaultRule("error", re.compile(path), method, watch, count, status=status))

    def hang_next(
        self,
        count: int = 1,
        *,
        method: str | None = None,
        path: str = "",
        seconds: float = 30.0,
        watch: bool | None = None,
    ) -> FaultRule:
        """Hold the next ``count`` matching requests for ``seconds``, then answer 504.

        A client with a shorter request timeout sees a read timeout, as with a stuck apiserver.
        """
        return self._add(
            FaultRule("hang", re.compile(path), method, watch, count, status=504, seconds=seconds)
        )

    def stall(self, seconds: float, *, method: str | None = None, path: str = "") -> FaultRule:
        """Freeze the API for ``seconds`` from now: every matching request arriving meanwhile is
        held until the stall ends, then answered 504 without being applied (a stuck apiserver)."""
        rule = FaultRule(
            "stall",
            re.compile(path),
            method,
            False,
            remaining=1,
            status=504,
            until=time.monotonic() + seconds,
        )
        return self._add(rule)

    def drop_watches(self, path: str | None = None, *, abrupt: bool = True) -> int:
        """Cut the open watch streams (whose URL path matches ``path``, if given); returns how many.

        ``abrupt`` closes the TCP connection mid-stream (the client sees a protocol error, like a
        restarted apiserver or a dropped load balancer connection); otherwise the stream just ends.
        """
        if self._drop_watches is None:
            return 0
        return self._drop_watches(re.compile(path) if path else None, abrupt)

    def clear(self) -> None:
        """Disarm every rule."""
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str, is_watch: bool) -> FaultRule | None:
        """The rule that hits this request, if any, using up one of its ``remaining`` requests."""
        with self._lock:
            now = time.monotonic()
            self._rules[:] = [r for r in self._rules if r.kind != "stall" or r.until > now]
            for rule in self._rules:
                if rule.kind == "stall" and rule.matches(method, path, is_watch):
                    self.hits.append(FaultHit(rule.kind, method, path))
                    del self.hits[:-1000]
                    return rule  # a stall holds every request until it ends, however many
                if rule.remaining > 0 and rule.matches(method, path, is_watch):
                    rule.remaining -= 1
                    self.hits.append(FaultHit(rule.kind, method, path))
                    del self.hits[:-1000]  # a long demo must not grow this forever
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def _add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule
