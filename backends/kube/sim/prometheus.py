"""A fake Prometheus for canary analysis: ``GET|POST /api/v1/query`` answering an instant vector.

Query convention (what the deploy engine sends): any PromQL whose text contains the label
matchers ``service="<name>"`` and ``track="<stable|canary>"`` — and optionally
``namespace="<ns>"`` — e.g.::

    sum(rate(http_requests_total{service="payment-service",track="canary",code=~"5.."}[1m]))
      / sum(rate(http_requests_total{service="payment-service",track="canary"}[1m]))

is answered with the error rate set by `FakePrometheus.set_error_rate` for that service/track
(namespace-specific first, then any namespace; ``None`` silences it: "no data") as a one-sample
vector. Where nothing is set, the series come from what runs (`FakePrometheus.traffic`, see
`backends.kube.sim.workloads.service_traffic`): every workload has them, a new one included — the
requests its track serves (by HTTPRoute weights, else by ready pods) and the error ratio its
version's image tag asks for; a track serving nothing has no data. The expression itself is not
evaluated beyond its shape: a ratio (``/``) is answered with the error ratio, a query matching
``code=~"5.."`` with the failing requests per second, any other with the requests per second.

``POST /sim/error-rate`` with JSON ``{"service", "track", "value", "namespace"?, "keepExisting"?}``
sets a rate (with ``keepExisting``: only if none is set) over HTTP, so a second process attached
to a running simulation can steer it too.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp.web

from .workloads import TrackTraffic

_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')

RateKey = tuple[str, str, str | None]  # (service, track, namespace or None for any)
# What runs: (service, namespace or None for all) → per track requests and errors per second.
TrafficSource = Callable[[str, "str | None"], "dict[str, TrackTraffic]"]


def parse_matchers(query: str) -> dict[str, str]:
    """The ``label="value"`` equality matchers in a PromQL text (``!=`` and ``=~`` never match the
    pattern, since ``=`` must be followed by the quote); the first occurrence of a label wins."""
    found: dict[str, str] = {}
    for match in _MATCHER.finditer(query):
        found.setdefault(match.group(1), match.group(2))
    return found


class FakePrometheus:
    """Error rates per service/track served over Prometheus' HTTP API (thread-safe setters)."""

    def __init__(self) -> None:
        self._rates: dict[RateKey, float | None] = {}  # None: silenced (no data)
        # Series derived from the workloads that run; installed by the cluster that owns the store.
        self.traffic: TrafficSource | None = None
        # Called after every rate change (the cluster saves its state file then).
        self.on_change: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._failures = 0
        self.queries: list[str] = []  # the most recent queries, for assertions
        self._runner: aiohttp.web.AppRunner | None = None
        self.url = ""

    def set_error_rate(
        self, service: str, track: str, value: float | None, *, namespace: str | None = None
    ) -> None:
        """Serve ``value`` (a ratio, e.g. 0.07 for 7 %) for the service/track; ``None`` means no data
        (even for a workload that runs)."""
        with self._lock:
            self._rates[(service, track, namespace)] = None if value is None else float(value)
        if self.on_change is not None:
            self.on_change()

    def clear(self) -> None:
        """Forget every error rate (all queries return no data)."""
        with self._lock:
            self._rates.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        """The error rates as JSON-able records (kept in the cluster's state file)."""
        with self._lock:
            return [
                {"service": service, "track": track, "namespace": namespace, "value": value}
                for (service, track, namespace), value in self._rates.items()
            ]

    def load(self, records: list[dict[str, Any]]) -> None:
        """Restore rates saved by `snapshot`."""
        with self._lock:
            for record in records:
                key = (str(record["service"]), str(record["track"]), record.get("namespace"))
                value = record.get("value")
                self._rates[key] = None if value is None else float(value)

    def _override(self, service: str, track: str, namespace: str | None) -> tuple[bool, float | None]:
        """(whether a rate was set for these labels, that rate)."""
        with self._lock:
            for key in ((service, track, namespace), (service, track, None)):
                if key in self._rates:
                    return True, self._rates[key]
            return False, None

    def explicit_rate(self, service: str, track: str, namespace: str | None = None) -> float | None:
        """The rate set with `set_error_rate` for these labels (None: none set, or silenced)."""
        return self._override(service, track, namespace)[1]

    def track_traffic(self, service: str, track: str, namespace: str | None = None) -> TrackTraffic | None:
        """Requests and errors per second of the track's workloads, None when nothing runs."""
        if self.traffic is None:
            return None
        return self.traffic(service, namespace).get(track)

    def error_rate(self, service: str, track: str, namespace: str | None = None) -> float | None:
        """The rate a query for these labels gets, or None (no data)."""
        is_set, value = self._override(service, track, namespace)
        if is_set:
            return value
        traffic = self.track_traffic(service, track, namespace)
        return traffic.error_ratio if traffic is not None else None

    def _answer(self, query: str, service: str, track: str, namespace: str | None) -> float | None:
        """The one number a query gets (see the module docstring), or None (no data)."""
        ratio = self.error_rate(service, track, namespace)
        if "/" in query or ratio is None:
            return ratio
        traffic = self.track_traffic(service, track, namespace)
        requests = traffic.requests if traffic is not None else 0.0
        return requests * ratio if '=~"5' in query.replace(" ", "") else requests

    def fail_next(self, count: int = 1) -> None:
        """Answer the next ``count`` queries with 503, as an overloaded Prometheus would."""
        with self._lock:
            self._failures += count

    # ------------------------------------------------------------------ HTTP

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = ephemeral); returns the base URL."""
        app = aiohttp.web.Application()
        app.router.add_route("GET", "/api/v1/query", self._query)
        app.router.add_route("POST", "/api/v1/query", self._query)
        app.router.add_route("GET", "/api/v1/query_range", self._query_range)
        app.router.add_route("POST", "/api/v1/query_range", self._query_range)
        app.router.add_route("GET", "/-/healthy", self._healthy)
        app.router.add_route("GET", "/-/ready", self._healthy)
        app.router.add_route("POST", "/sim/error-rate", self._set_rate)
        self._runner = aiohttp.web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = aiohttp.web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[attr-defined]
        bound_port = sockets[0].getsockname()[1]
        self.url = f"http://{host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthy(self, _request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text="Prometheus Server is Healthy.\n")

    async def _query(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            params.update(await request.post())
        query = str(params.get("query") or "")
        with self._lock:
            self.queries.append(query)
            del self.queries[:-200]
            failing = self._failures > 0
            if failing:
                self._failures -= 1
        if failing:
            return _error(503, "unavailable", "injected fault: Prometheus is unavailable")
        if not query:
            return _error(400, "bad_data", 'invalid parameter "query": query is empty')
        labels = parse_matchers(query)
        service, track = labels.get("service"), labels.get("track")
        value = self._answer(query, service, track, labels.get("namespace")) if service and track else None
        result = []
        if value is not None:
            metric = {k: v for k, v in labels.items() if k in ("service", "track", "namespace")}
            result.append({"metric": metric, "value": [round(time.time(), 3), _format(value)]})
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        return aiohttp.web.json_response(body)

    async def _query_range(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        from .prometheus_range import RangeError, query_range

        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            params.update(await request.post())
        with self._lock:
            self.queries.append(str(params.get("query") or ""))
            del self.queries[:-200]
        try:
            return aiohttp.web.json_response(query_range(self, params))
        except RangeError as error:
            return _error(400, "bad_data", str(error))

    async def _set_rate(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        body = await request.json()
        value = body.get("value")
        current = self.explicit_rate(body["service"], body["track"], body.get("namespace"))
        if body.get("keepExisting") and current is not None:
            return aiohttp.web.json_response({"status": "success", "kept": True})
        self.set_error_rate(
            body["service"],
            body["track"],
            None if value is None else float(value),
            namespace=body.get("namespace"),
        )
        return aiohttp.web.json_response({"status": "success"})


def _format(value: float) -> str:
    # Prometheus renders sample values as strings in Go's shortest float format.
    return repr(float(value)) if value != int(value) else str(int(value))


def _error(status: int, error_type: str, message: str) -> aiohttp.web.Response:
    return aiohttp.web.json_response(
        {"status": "error", "errorType": error_type, "error": message}, status=status
    )
