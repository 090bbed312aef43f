"""Infra applies in the history store (table ``infra_applies``, schema 4; append-only like the rest).

Each row: when, who, the environment, the ref and commit applied, the outcome (``applied``,
``refused`` by policy or invalid input, ``failed`` half-way), how many objects were written, the
diff (JSON list of changes) and the monthly cost before and after, per service (JSON).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from backends.deploy.history import DeployHistory


@dataclass(frozen=True, slots=True)
class ApplyRecord:
    id: int
    at: float
    user: str
    environment: str
    ref: str
    commit: str
    outcome: str
    writes: int
    cost_before: float
    cost_after: float
    changes: list[dict[str, Any]]
    costs: dict[str, float]
    reason: str


_COLUMNS = (
    'id, at, "user", environment, ref, commit_sha, outcome, writes, '
    "cost_before, cost_after, diff, costs, reason"
)


def record_apply(
    history: DeployHistory,
    *,
    user: str,
    environment: str,
    ref: str,
    commit: str,
    outcome: str,
    writes: int,
    cost_before: float,
    cost_after: float,
    changes: list[dict[str, Any]],
    costs: dict[str, float],
    reason: str = "",
) -> None:
    history.store.execute(
        'INSERT INTO infra_applies (at, "user", environment, ref, commit_sha, outcome, writes, '
        "cost_before, cost_after, diff, costs, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (time.time(), user, environment, ref, commit, outcome, writes, cost_before, cost_after,
         json.dumps(changes), json.dumps(costs), reason),
    )  # fmt: skip


def _record(row: tuple[Any, ...]) -> ApplyRecord:
    return ApplyRecord(
        int(row[0]), float(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]), str(row[6]),
        int(row[7]), float(row[8]), float(row[9]), json.loads(row[10]), json.loads(row[11]), str(row[12]),
    )  # fmt: skip


def applies(history: DeployHistory, environment: str, limit: int = 20) -> list[ApplyRecord]:
    """The newest applies to ``environment``, newest first."""
    rows = history.store.fetch(
        f"SELECT {_COLUMNS} FROM infra_applies WHERE environment = ? ORDER BY id DESC LIMIT ?",
        (environment, limit),
        readonly=True,
    )
    return [_record(row) for row in rows]


def last_applied(history: DeployHistory, environment: str) -> ApplyRecord | None:
    """The last apply that went through (what the cluster should hold)."""
    rows = history.store.fetch(
        f"SELECT {_COLUMNS} FROM infra_applies WHERE environment = ? AND outcome = 'applied' "
        "ORDER BY id DESC LIMIT 1",
        (environment,),
        readonly=True,
    )
    return _record(rows[0]) if rows else None
