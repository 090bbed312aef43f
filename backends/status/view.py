"""What the status screens show, as plain text and tuples: the list's rows and summary, the page's
pod, Event and deploy lines. The screens only place them (no rule of the status view lives there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from backends.status.model import Health, PodRow, StatusCell, cell_summary, outage_line

if TYPE_CHECKING:
    from backends.catalog.model import Entity
    from backends.status.controller import StatusController
    from backends.status.page import EventRow

Ago = Callable[[float], str]  # epoch → "2m"


def scoped_services(catalog: Any, identity: str) -> tuple[list[Entity], set[str]]:
    """The services the status view lists, and the names of those the user's groups own (or the
    user, as owner)."""
    from backends.deploy.prechecks import group_memberships
    from backends.status.controller import status_services

    services = status_services(catalog.entities)
    owners = (group_memberships(catalog, identity) or set()) | {canonical_ref(identity, "User")}
    mine = {e.name for e in services if e.owner and canonical_ref(e.owner, "Group", e.namespace) in owners}
    return services, mine


def canonical_ref(text: str, kind: str, namespace: str = "default") -> str:
    """The canonical ref of an owner or user as written (``team-a`` → ``group:default/team-a``)."""
    from backends.catalog.refs import EntityRefError, parse_entity_ref

    try:
        return parse_entity_ref(text, default_kind=kind, default_namespace=namespace).canonical
    except EntityRefError:
        return text


def visible_services(
    services: Iterable[Entity], mine: set[str] | None, filter_text: str
) -> tuple[list[Entity], str]:
    """The services the list shows — ``mine`` (None: all) that match the filter (the catalog's
    facets and words) — and, when none does, what the empty list says instead."""
    from backends.catalog.query import matches, parse_query

    query = parse_query(filter_text)
    scope = [e for e in services if mine is None or e.name in mine]
    visible = [e for e in scope if query.is_empty or matches(e, query)]
    if visible:
        return visible, ""
    if not query.is_empty:
        return visible, "No service matches the filter."
    return visible, "None of your groups owns a service — press a to see all."


def service_row(
    controller: StatusController | None, service: str, environments: Iterable[str], ago: Ago
) -> tuple[str, ...]:
    """One row of the list: the service, then a cell per environment ("… connecting" until the
    controller covers it)."""
    cells = []
    for env in environments:
        cell = (
            controller.cell(service, env) if controller is not None and controller.has(service, env) else None
        )
        cells.append(cell_summary(cell, ago))
    return (service, *cells)


def list_summary(
    *, shown: int, total: int, show_all: bool, identity: str, live: bool, history_error: str
) -> str:
    """The line above the list: how many of which services, live or not, the keys, and why the
    last deploys are missing when the history did not answer."""
    scope = "all services" if show_all else f"services owned by {identity}'s groups"
    count = f"{shown} of {total}" if shown != total else f"{total}"
    toggle = "a: mine" if show_all else "a: all"
    summary = f"{count} {scope} · {'live' if live else 'connecting…'} · {toggle} · enter: status page"
    if history_error:
        summary += f" · no last deploys: the deploy history did not answer ({history_error})"
    return summary


def pod_rows(pods: Iterable[PodRow], age: Callable[[float], str]) -> list[tuple[str, ...]]:
    """The page's pod table (``age(seconds)`` → "5m"): the mark says ready, never colour alone."""
    return [
        (
            p.name,
            p.track,
            p.version,
            p.reason or p.phase,
            "✔ yes" if p.ready else "✖ no",
            str(p.restarts),
            age(p.age_seconds),
            p.node,
        )
        for p in pods
    ]


def event_rows(events: Iterable[EventRow], now: float, age: Callable[[float], str]) -> list[tuple[str, ...]]:
    """The page's Event table, newest first as given; a repeated Event says how often."""
    return [
        (
            age(now - e.last_seen),
            e.type,
            e.reason,
            e.object,
            f"{e.message} (×{e.count})" if e.count > 1 else e.message,
        )
        for e in events
    ]


def tab_label(env: str, cell: StatusCell | None) -> str:
    """An environment's tab on the page: its health mark and word ("…" until known)."""
    return f" {env}: {cell.health.mark} {cell.health} " if cell is not None else f" {env}: … "


def page_outage(env: str, cell: StatusCell | None, ago: Ago) -> str:
    """The page's line under the tabs when the environment's cluster does not answer, else ""."""
    if cell is None or cell.health is not Health.UNREACHABLE:
        return ""
    return f"{outage_line(env, cell.error, cell.since, ago)} — what is below is as last seen"


def timeline_lines(records: Iterable[Any], stamp: Callable[[float], str]) -> list[str]:
    """The page's deploy timeline, one line per deploy: mark, when, what, who and how it ended."""
    lines = []
    for record in records:
        outcome = str(record.outcome) if record.outcome else "running"
        mark = {"succeeded": "✔", "running": "◌"}.get(outcome, "✖")
        lines.append(
            f"{mark} {stamp(record.started_at)} {record.kind} "
            f"{record.from_version} → {record.to_version} by {record.user}: {outcome}"
        )
    return lines
