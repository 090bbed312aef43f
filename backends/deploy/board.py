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


def running_version(stable: Any) -> str:
    """What a stable Deployment (a WorkloadStatus) runs, in the form's words: ``v2.3.0 (4/4)``."""
    return f"{stable.version} ({stable.ready}/{stable.desired})" if stable else "not deployed"


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


class BoardModel:
    """What the board knows between redraws: the services, the watch caches' last snapshot, the
    environments it could not reach, the deploys running in runners and those left interrupted.

    Fed on the UI's thread (the watches' news arrives as a message first); ``rows`` is what a
    board draws and ``row_services`` says which service each of its rows is.
    """

    def __init__(self) -> None:
        self.services: list[str] = []
        self.cells: Mapping[tuple[str, str], tuple[Any, Any]] = {}  # (service, env) → (stable, canary)
        self.errors: Mapping[str, str] = {}  # environment → why it could not be read
        self.live_runs: dict[tuple[str, str], Any] = {}  # (service, env) → the running deploy's record
        self.interrupted: list[InterruptedDeploy] = []
        self.row_services: list[str] = []

    @property
    def stables(self) -> dict[tuple[str, str], Any]:
        """(service, env) → what the stable Deployment runs (its WorkloadStatus)."""
        return {key: stable for key, (stable, _canary) in self.cells.items()}

    def stable(self, service: str, environment: str) -> Any:
        return self.cells.get((service, environment), (None, None))[0]

    def rows(self, environments: Sequence[str], cell: Callable[[Any, Any], str]) -> list[tuple[str, ...]]:
        """The board's rows now (see :func:`board_rows`); remembers which service each row is."""
        rows = board_rows(
            self.services, environments, self.cells, errors=self.errors, live=self.live_runs, cell=cell
        )
        self.row_services = [row[0] for row in rows]
        return rows

    def service_at(self, row: int) -> str | None:
        return self.row_services[row] if 0 <= row < len(self.row_services) else None

    def set_live_runs(self, runs: dict[tuple[str, str], Any]) -> bool:
        """Take the runs found in runners; True when the board's ▶ marks change."""
        changed = runs.keys() != self.live_runs.keys()
        self.live_runs = runs
        return changed

    def live_run(
        self, service: str, environments: Sequence[str], shown: tuple[str, str] | None = None
    ) -> Any:
        """The running deploy of ``service`` a key on its row attaches to (see :func:`live_run_of`)."""
        return live_run_of(service, self.live_runs, environments, shown)

    def running_environment(self, service: str, environments: Sequence[str]) -> str:
        """Where to watch ``service`` without a deploy: the first environment it runs in."""
        running = [env for env in environments if self.stable(service, env) is not None]
        return (running or list(environments) or [""])[0]

    def forget_interrupted(self, service: str, environment: str) -> None:
        """A resume or abort of it started (or a new deploy there): no longer offered."""
        self.interrupted = [
            i for i in self.interrupted if (i.record.service, i.record.environment) != (service, environment)
        ]

    def interrupted_panel(self) -> list[str]:
        """The interrupted deploys' lines, then the keys that act on the first; [] when none."""
        if not self.interrupted:
            return []
        which = "it" if len(self.interrupted) == 1 else "the first"
        return [interrupted_line(item) for item in self.interrupted] + [
            f"r resumes {which} · x aborts {which} (stable restored, canary removed)"
        ]
