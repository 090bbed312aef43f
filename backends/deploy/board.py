"""The deploy board's rules, without a terminal: what each service × environment cell says, which
running deploy a row attaches to, and how an interrupted deploy is described.

The screen feeds in the watch caches' snapshot and the runs found in runners; it draws the rows
this module returns. How one cell is worded (icons, ready counts) is the caller's ``cell`` function.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from backends.deploy.run import InterruptedDeploy

LIVE_MARK = "▶ "  # before a board cell whose service has a deploy running in that environment
UNREACHABLE = "✖ unreachable"
Record = TypeVar("Record")


def board_rows(
    services: Sequence[str],
    environments: Sequence[str],
    cells: Mapping[tuple[str, str], tuple[Any, Any]],
    *,
    errors: Collection[str] = (),
    live: Collection[tuple[str, str]] = (),
    cell: Callable[[Any, Any], str],
) -> list[tuple[str, ...]]:
    """One row per service: its name, then per environment the cell (stable, canary) as ``cell``
    words it, ▶ when a deploy runs there now, or "unreachable" for an environment in ``errors``.
    No environments: no rows (nothing can be deployed anywhere; the empty text says why)."""
    if not environments:
        return []
    rows = []
    for service in services:
        row = [service]
        for env in environments:
            if env in errors:
                row.append(UNREACHABLE)
            else:
                mark = LIVE_MARK if (service, env) in live else ""
                row.append(mark + cell(*cells.get((service, env), (None, None))))
        rows.append(tuple(row))
    return rows


def live_run_of(
    service: str,
    live_runs: Mapping[tuple[str, str], Record],
    environments: Sequence[str],
    shown: tuple[str, str] | None = None,
) -> Record | None:
    """The running deploy of ``service`` to attach to: in the environment on screen first."""
    order = list(environments)
    if shown is not None and shown[0] == service:
        order = [shown[1], *order]
    return next((live_runs[(service, env)] for env in order if (service, env) in live_runs), None)


def interrupted_line(item: InterruptedDeploy) -> str:
    """One interrupted deploy, as the board's panel lists it: who, what, and where it stopped."""
    record = item.record
    canary = f"canary {item.canary_replicas} pods" if item.canary_present else "no canary"
    if item.route_weight:  # the route still sends it requests that nobody checks
        canary += f", {item.route_weight}% of the route's requests"
    if item.rollback_outcome:  # resuming (r) or aborting (x) both finish the rollback
        where = f"stopped while rolling back: {item.rollback_reason}"
    elif item.last_step >= 0:
        where = f"stopped after step {item.last_step + 1} passed its checks"
    else:
        where = "stopped before any step passed its checks"
    return (
        f"{record.service} in {record.environment}: {record.from_version} → {record.to_version} "
        f"by {record.user}, {where} ({canary})"
    )
