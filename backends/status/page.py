"""What a service's status page shows besides its pods: Kubernetes Events, a container's log (tail
and follow), the entity's links, the deploy timeline and the last hour's traffic from Prometheus.

Each is a small function or class over the same `Cluster` the status view watches with; the
screen runs them in workers. Following a log and watching Events are streams (no polling).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import urllib3

from backends.http import tls_context
from backends.kube.cluster import Cluster, ClusterError
from backends.kube.watch import ResourceWatch

if TYPE_CHECKING:
    from backends.catalog.model import Entity

log = logging.getLogger(__name__)


# -- Kubernetes Events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventRow:
    last_seen: float
    type: str  # Normal | Warning
    reason: str
    object: str  # kind/name
    message: str
    count: int


def _epoch(stamp: Any) -> float:
    if not stamp:
        return 0.0
    try:
        return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def event_row(event: dict[str, Any]) -> EventRow:
    involved = event.get("involvedObject") or {}
    last = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )
    return EventRow(
        last_seen=_epoch(last),
        type=str(event.get("type") or "Normal"),
        reason=str(event.get("reason") or ""),
        object=f"{str(involved.get('kind') or '').lower()}/{involved.get('name', '')}",
        message=str(event.get("message") or "").replace("\n", " "),
        count=int(event.get("count") or 1),
    )


def is_about(event: dict[str, Any], names: set[str]) -> bool:
    """Whether an Event concerns one of ``names``, or a pod of one of them (``<replicaset>-xxxxx``)."""
    name = str((event.get("involvedObject") or {}).get("name", ""))
    if name in names:
        return True
    return "-" in name and name.rsplit("-", 1)[0] in names


def recent_events(events: Iterable[dict[str, Any]], names: set[str], limit: int = 50) -> list[EventRow]:
    """The newest ``limit`` Events about ``names``, newest first."""
    rows = [event_row(e) for e in events if is_about(e, names)]
    return sorted(rows, key=lambda r: r.last_seen, reverse=True)[:limit]


class EventWatch:
    """The Events of one namespace, kept current by a watch; ``on_change()`` on every change."""

    def __init__(self, cluster: Cluster, namespace: str, on_change: Callable[[], object]) -> None:
        def changed(_kind: str, _obj: dict[str, Any]) -> None:
            on_change()

        self.watch = ResourceWatch(cluster, "events", namespace, listener=changed)

    def start(self) -> EventWatch:
        self.watch.start()
        return self

    def stop(self) -> None:
        self.watch.stop()

    def rows(self, names: set[str], limit: int = 50) -> list[EventRow]:
        return recent_events(self.watch.objects().values(), names, limit)


# -- container log ------------------------------------------------------------------------------


class LogFollower:
    """``kubectl logs -f --tail N`` on a thread: ``on_line(text)`` per line; `stop` ends it at once."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        tail_lines: int = 100,
        follow: bool = True,
        on_line: Callable[[str], object],
        on_end: Callable[[str], object] | None = None,
    ) -> None:
        self.cluster, self.namespace, self.pod = cluster, namespace, pod
        self.container, self.tail_lines, self.follow = container, tail_lines, follow
        self.on_line, self.on_end = on_line, on_end
        self._stop = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name=f"log-{pod}", daemon=True)

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def _opened(self, response: Any) -> None:
        self._response = response
        if self._stop.is_set():
            response.shutdown()

    def _run(self) -> None:
        reason = "the log ended"
        try:
            for line in self.cluster.pod_log(
                self.namespace,
                self.pod,
                container=self.container,
                tail_lines=self.tail_lines,
                follow=self.follow,
                on_open=self._opened,
            ):
                if self._stop.is_set():
                    return
                self.on_line(line)
        except (ClusterError, urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            reason = str(error)
        if self.on_end is not None and not self._stop.is_set():
            self.on_end(reason)

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # failing to interrupt only delays the thread's end
                response.shutdown()


# -- links --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityLink:
    title: str
    url: str


# Annotations that name a page rather than carry a URL, and how to make the URL.
_ANNOTATION_LINKS: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("grafana/overview-dashboard", "Grafana", lambda v: v),
    ("grafana/dashboard-url", "Grafana", lambda v: v),
    ("pagerduty.com/service-id", "PagerDuty", lambda v: f"https://app.pagerduty.com/service-directory/{v}"),
    ("idp-console/runbook", "Runbook", lambda v: v),
)


def entity_links(entity: Entity) -> list[EntityLink]:
    """The entity's ``metadata.links`` (Grafana, PagerDuty, runbook… as the catalog names them),
    then those its annotations imply. Only http(s) URLs: anything else is not a link to follow."""
    found: list[EntityLink] = []
    for link in entity.links:
        url = str(link.get("url") or "")
        if url.startswith(("https://", "http://")):
            found.append(EntityLink(str(link.get("title") or url), url))
    annotations = {str(k): str(v) for k, v in entity.annotations.items()}
    for key, title, make in _ANNOTATION_LINKS:
        value = annotations.get(key, "").strip()
        url = make(value) if value else ""
        if url.startswith(("https://", "http://")) and all(link.url != url for link in found):
            found.append(EntityLink(title, url))
    return found


# -- Prometheus: the last hour ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    title: str
    unit: str
    values: tuple[float, ...]  # oldest first; NaN where Prometheus had no sample

    @property
    def last(self) -> float | None:
        known = [v for v in self.values if not math.isnan(v)]
        return known[-1] if known else None


def traffic_queries(service: str, namespace: str) -> dict[str, tuple[str, str]]:
    """Title → (PromQL, unit) of the three series a status page shows."""
    matchers = f'service="{service}",namespace="{namespace}"'
    requests = f"sum(rate(http_requests_total{{{matchers}}}[5m]))"
    errors = f'sum(rate(http_requests_total{{{matchers},code=~"5.."}}[5m])) / {requests}'
    buckets = f"rate(http_request_duration_seconds_bucket{{{matchers}}}[5m])"
    latency = f"histogram_quantile(0.95, sum by (le) ({buckets}))"
    return {"requests": (requests, "req/s"), "errors": (errors, "ratio"), "p95": (latency, "s")}


def query_range(
    url: str, promql: str, start: float, end: float, step: float, *, timeout: float = 5.0
) -> tuple[float, ...]:
    """One series of a range query, one value per step (NaN where there is no sample)."""
    response = httpx.get(
        f"{url.rstrip('/')}/api/v1/query_range",
        params={"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"},
        timeout=timeout,
        verify=tls_context(),
    )
    payload = response.json()
    if response.status_code >= 400 or payload.get("status") != "success":
        raise ValueError(f"Prometheus: {payload.get('error') or f'HTTP {response.status_code}'}")
    count = int((end - start) / step) + 1
    values = [math.nan] * count
    result = (payload.get("data") or {}).get("result") or []
    for at, raw in (result[0].get("values") or []) if result else []:
        index = round((float(at) - start) / step)
        with contextlib.suppress(ValueError):
            if 0 <= index < count:
                values[index] = float(raw)
    return tuple(values)


def last_hour(
    url: str, service: str, namespace: str, *, now: float | None = None, step: float = 60.0
) -> list[Series]:
    """Request rate, error rate and p95 latency over the last hour (raises on an unreachable
    Prometheus: httpx.HTTPError, or ValueError for an answer it refused)."""
    end = time.time() if now is None else now
    start = end - 3600
    return [
        Series(title, unit, query_range(url, promql, start, end, step))
        for title, (promql, unit) in traffic_queries(service, namespace).items()
    ]


# -- one service's page -------------------------------------------------------------------------


class LiveServicePage:
    """Everything the page of ``service`` shows, live: cells and pods from the status controller,
    Events from a watch per environment (started when first asked for), the deploy timeline from
    the history, the last hour's traffic from Prometheus. ``on_change()`` on any live change."""

    def __init__(
        self,
        controller: Any,  # StatusController (typed loosely: it imports this module's neighbours)
        entity: Entity,
        *,
        history: Any = None,
        prometheus_url: Callable[[], str | None] | None = None,
    ) -> None:
        self.controller = controller
        self.entity = entity
        self.service = entity.name
        self.history = history
        self._prometheus_url = prometheus_url
        self._events: dict[str, EventWatch] = {}
        self._lock = threading.Lock()
        self.on_change: Callable[[], object] | None = None

    @classmethod
    def for_service(cls, controller: Any, entity: Entity, context: Any) -> LiveServicePage:
        """The page of ``entity`` in a deploy session's ``context`` (its history, its Prometheus)."""

        def prometheus() -> str | None:
            prom = context.prometheus_for(context.settings_for(entity.name))
            return prom.url if prom is not None else None

        return cls(controller, entity, history=context.history, prometheus_url=prometheus)

    def environments(self) -> list[str]:
        return [env for env in self.controller.environments() if self.controller.has(self.service, env)]

    def cell(self, environment: str) -> Any:
        return self.controller.cell(self.service, environment)

    def pods(self, environment: str) -> list[Any]:
        return list(self.controller.pods(self.service, environment))

    def links(self) -> list[EntityLink]:
        return entity_links(self.entity)

    def events(self, environment: str) -> list[EventRow]:
        """Recent Events of this service in ``environment`` (the first call starts their watch)."""
        target = self.controller.target(self.service, environment)
        if target.cluster is None:
            return []
        with self._lock:
            watch = self._events.get(environment)
            if watch is None:
                watch = self._events[environment] = EventWatch(
                    target.cluster, target.namespace, lambda: self._changed()
                ).start()
        watch.watch.synced.wait(5)
        return watch.rows(self.controller.deployment_names(self.service, environment))

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def timeline(self, environment: str, limit: int = 10) -> list[Any]:
        if self.history is None:
            return []
        return list(self.history.records(self.service, environment, limit=limit))

    def traffic(self, environment: str) -> list[Series]:
        """The last hour from Prometheus; ValueError with a sentence when there is none to ask."""
        url = self._prometheus_url() if self._prometheus_url is not None else None
        if not url:
            raise ValueError("no Prometheus configured (deploy.analysis.prometheus)")
        namespace = self.controller.target(self.service, environment).namespace
        try:
            return last_hour(url, self.service, namespace)
        except httpx.HTTPError as error:
            raise ValueError(f"Prometheus at {url} did not answer: {error}") from error

    def follow_log(
        self,
        environment: str,
        pod: str,
        container: str | None,
        on_line: Callable[[str], object],
        on_end: Callable[[str], object] | None = None,
        *,
        follow: bool = True,
        tail_lines: int = 50,
    ) -> LogFollower | None:
        target = self.controller.target(self.service, environment)
        if target.cluster is None:
            return None
        return LogFollower(
            target.cluster,
            target.namespace,
            pod,
            container=container,
            tail_lines=tail_lines,
            follow=follow,
            on_line=on_line,
            on_end=on_end,
        ).start()

    def stop(self) -> None:
        with self._lock:
            watches, self._events = list(self._events.values()), {}
        for watch in watches:
            watch.stop()
