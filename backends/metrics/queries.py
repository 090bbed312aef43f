"""The scorecard's SQL: one text for SQLite (≥ 3.28) and PostgreSQL, with ``?`` placeholders.

Every figure is aggregated in the database with window functions; Python only receives one row per
week (or quarter) and figure, plus the drill-down ids (capped). What the figures mean:

* A **production change** is a deploy or rollback in a production environment that ended
  succeeded, rolled back or aborted (a deploy refused by its pre-checks changed nothing).
* **Deployment frequency**: production deploys that succeeded, per day.
* **Lead time for changes**: commit time → the production deploy finished (deploys that carry
  ``--commit-time``); the median (the weekly trend: the mean of each week).
* **Change failure rate**: production deploys that rolled back or were aborted, or that the next
  production change of the same service followed within 24 h as a rollback or a fix-forward (a
  deploy whose version differs only in its trailing number: v2.3.0 → v2.3.1), over all production
  deploys. The failure counts against the deploy that caused it, in the week it finished.
* **Failed-deployment recovery time**: from a failed deploy's end to the end of the next production
  change of that service that succeeded (a fix, or the rollback); the median (trend: weekly means).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backends.metrics import store
from backends.metrics.bands import DAY, WEEK

DRILL_LIMIT = 500
FIX_FORWARD_HOURS = 24


@dataclass(frozen=True, slots=True)
class Frame:
    """When and where: the window, the trend's weeks, the production environments, the scope."""

    now: float
    window_days: int
    environments: tuple[str, ...]
    services: tuple[str, ...] | None  # None: every service

    @property
    def window_start(self) -> float:
        return self.now - self.window_days * DAY

    @property
    def weeks(self) -> int:
        """Weeks in the trend: the window's, and at least 8 so a 7-day window still has a line."""
        return max(math.ceil(self.window_days / 7), 8)

    @property
    def range_start(self) -> float:
        return self.now - self.weeks * WEEK


def _in(column: str, values: Sequence[str] | None) -> tuple[str, list[Any]]:
    """``column IN (?, …)`` (always true for None, always false for an empty list)."""
    if values is None:
        return "1 = 1", []
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def _bucket(history: Any, column: str, now_param: str = "?") -> str:
    """Weeks before now (0 = the last 7 days), floored in both dialects (CAST rounds in PostgreSQL)."""
    ratio = f"(({now_param} - {column}) / {WEEK})"
    if store.dialect(history) == "postgresql":
        return f"CAST(FLOOR{ratio} AS INTEGER)"
    return f"CAST({ratio} AS INTEGER)"


def _changes_cte(history: Any, frame: Frame) -> tuple[str, list[Any]]:
    envs, env_params = _in("d.environment", frame.environments)
    scope, scope_params = _in("d.service", frame.services)
    follow = FIX_FORWARD_HOURS * 3600
    # The finish of the next healthy change after each row, two ways that give the same answer:
    # SQLite keeps a MIN over "every following row" cheap (it slides); PostgreSQL recomputes it per
    # row (1.2 s of 2.4 s at 100k rows), so there rows that have seen the same number of successes
    # share the value, which the last of them has as LEAD — linear, one more sort.
    # ``d.service || ''`` in the window keeps SQLite from walking deploys_by_target row by row (a
    # random table read per row: 5x slower at 100k rows than one scan and a sort; PostgreSQL sorts
    # either way).
    if store.dialect(history) == "postgresql":
        next_healthy = (
            "CASE WHEN LEAD(o.outcome) OVER w = 'succeeded' THEN LEAD(o.finished_at) OVER w END\n"
            "            AS next_healthy,\n"
            "        SUM(CASE WHEN o.outcome = 'succeeded' THEN 1 ELSE 0 END)\n"
            "            OVER (w ROWS UNBOUNDED PRECEDING) AS healthy_seen"
        )
        healthy_after = "MAX(next_healthy) OVER (PARTITION BY service, environment, healthy_seen)"
    else:
        next_healthy = (
            "MIN(CASE WHEN o.outcome = 'succeeded' THEN o.finished_at END)\n"
            "            OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_healthy"
        )
        healthy_after = "next_healthy"
    sql = f"""
WITH changes AS (
    SELECT d.id, d.kind, d.service, d.environment, d.to_version, d.commit_time, o.outcome, o.finished_at,
        LEAD(d.kind) OVER w AS next_kind,
        LEAD(d.to_version) OVER w AS next_version,
        LEAD(d.started_at) OVER w AS next_started,
        {next_healthy}
    FROM deploys d JOIN outcomes o ON o.deploy_id = d.id
    WHERE d.kind IN ('deploy', 'rollback') AND o.outcome IN ('succeeded', 'rolled-back', 'aborted')
        AND {envs} AND {scope} AND d.started_at >= ?
    WINDOW w AS (PARTITION BY d.service || '', d.environment ORDER BY d.started_at, d.id)
),
judged AS (
    SELECT id, kind, service, finished_at AS at,
        {healthy_after} AS healthy_after,
        CASE WHEN finished_at >= ? THEN 1 ELSE 0 END AS in_window,
        {_bucket(history, "finished_at")} AS bucket,
        CASE WHEN kind = 'deploy' AND outcome = 'succeeded' THEN 1 ELSE 0 END AS shipped,
        CASE WHEN kind = 'deploy' THEN 1 ELSE 0 END AS is_change,
        CASE WHEN kind <> 'deploy' THEN 0
            WHEN outcome IN ('rolled-back', 'aborted') THEN 1
            WHEN next_started IS NOT NULL AND next_started <= finished_at + {follow}
                AND (next_kind = 'rollback' OR (next_version <> to_version
                    AND rtrim(next_version, '0123456789') = rtrim(to_version, '0123456789'))) THEN 1
            ELSE 0 END AS failed,
        CASE WHEN kind = 'deploy' AND outcome = 'succeeded' AND commit_time IS NOT NULL
            THEN finished_at - commit_time END AS lead_time
    FROM changes
    WHERE finished_at >= ? AND finished_at <= ?
),
facts AS (
    SELECT id, kind, service, at, in_window, bucket, shipped, is_change, failed, lead_time,
        CASE WHEN failed = 1 AND healthy_after IS NOT NULL THEN healthy_after - at END AS recovery
    FROM judged
)"""
    params = [
        *env_params,
        *scope_params,
        frame.range_start - DAY,  # a deploy that started a day before the range may end inside it
        frame.window_start,
        frame.now,
        frame.range_start,
        frame.now,
    ]
    return sql, params


@dataclass(frozen=True, slots=True)
class DeployCounts:
    shipped: int = 0
    services: int = 0
    changes: int = 0
    failed: int = 0
    recovered: int = 0
    with_commit: int = 0


@dataclass(frozen=True, slots=True)
class DeployFigures:
    """Production-deploy aggregates for the window and per trend week (index 0 = oldest week)."""

    window: DeployCounts
    weekly: list[DeployCounts]
    lead_time: float | None
    recovery: float | None
    weekly_lead_time: list[float | None]
    weekly_recovery: list[float | None]
    ids: dict[str, list[str]]


_COUNTS = """SUM(shipped), COUNT(DISTINCT CASE WHEN shipped = 1 THEN service END), SUM(is_change),
    SUM(failed), SUM(CASE WHEN recovery IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN lead_time IS NOT NULL THEN 1 ELSE 0 END)"""

# PostgreSQL types a bare NULL in a UNION's first branch (or a subquery) as text: say what it is.
_NO_VALUE = "CAST(NULL AS DOUBLE PRECISION)"
_NO_COUNTS = ", ".join(f"CAST(NULL AS BIGINT) AS c{n}" for n in range(1, 7))

# The drill-down ids of each figure: its newest DRILL_LIMIT deploys in the window.
_PICKED = {
    "deployment_frequency": "shipped = 1",
    "change_failure_rate": "failed = 1",
    "lead_time": "lead_time IS NOT NULL",
    "recovery_time": "failed = 1",
}


def deploy_figures(history: Any, frame: Frame) -> DeployFigures:
    """DORA aggregates of production deploys in ``frame``, in one statement (one pass over the
    history, not one per figure), as rows of one shape ``(part, group, six counts, two values, id)``:
    the window's counts and medians (lead time, recovery), each week's counts and means (the
    trend: a weekly median would sort every row a second time), and the drill-down ids."""
    cte, params = _changes_cte(history, frame)
    picks = "\nUNION ALL ".join(
        f"SELECT * FROM (SELECT 'id:{key}' AS part, -1 AS grp, {_NO_COUNTS}, {_NO_VALUE} AS v1, "
        f"{_NO_VALUE} AS v2, id FROM facts WHERE in_window = 1 AND {condition} "
        f"ORDER BY at DESC, id LIMIT {DRILL_LIMIT}) p_{index}"
        for index, (key, condition) in enumerate(_PICKED.items())
    )
    sql = (
        cte
        + f""",
vals AS (
    SELECT 'lead' AS metric, lead_time AS v FROM facts WHERE lead_time IS NOT NULL AND in_window = 1
    UNION ALL SELECT 'recovery', recovery FROM facts WHERE recovery IS NOT NULL AND in_window = 1
),
ranked AS (
    SELECT metric, v, ROW_NUMBER() OVER (PARTITION BY metric ORDER BY v) AS rn,
        COUNT(*) OVER (PARTITION BY metric) AS n
    FROM vals
)
SELECT 'count' AS part, -1 AS grp, {_COUNTS}, {_NO_VALUE} AS v1, {_NO_VALUE} AS v2, NULL AS id
    FROM facts WHERE in_window = 1
UNION ALL SELECT 'count', bucket, {_COUNTS}, AVG(lead_time), AVG(recovery), NULL FROM facts GROUP BY bucket
UNION ALL SELECT metric, -1, NULL, NULL, NULL, NULL, NULL, NULL, AVG(v), NULL, NULL
    FROM ranked WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2 GROUP BY metric
UNION ALL {picks}"""
    )
    weeks = frame.weeks
    window, weekly = DeployCounts(), [DeployCounts() for _ in range(weeks)]
    lead_trend: list[float | None] = [None] * weeks
    recovery_trend: list[float | None] = [None] * weeks
    medians: dict[str, float] = {}
    ids: dict[str, list[str]] = {}
    for part, grp, *counts, first, second, deploy_id in store.query(history, sql, params):
        group = int(grp)
        if part == "count":
            values = DeployCounts(*(int(v or 0) for v in counts))
            if group == -1:
                window = values
            elif 0 <= group < weeks:
                weekly[weeks - 1 - group] = values
                lead_trend[weeks - 1 - group] = None if first is None else float(first)
                recovery_trend[weeks - 1 - group] = None if second is None else float(second)
        elif str(part).startswith("id:"):
            ids.setdefault(str(part)[3:], []).append(str(deploy_id))
        elif first is not None:
            medians[str(part)] = float(first)
    return DeployFigures(
        window=window,
        weekly=weekly,
        lead_time=medians.get("lead"),
        recovery=medians.get("recovery"),
        weekly_lead_time=lead_trend,
        weekly_recovery=recovery_trend,
        ids=ids,
    )


@dataclass(frozen=True, slots=True)
class TeamActivity:
    active: list[tuple[str, str]]  # (team, its newest deploy id in the window)
    weekly: list[int]  # distinct teams that deployed, per week, oldest first


def team_activity(history: Any, frame: Frame, owners: Sequence[tuple[str, str]]) -> TeamActivity:
    """Which teams (through the services they own) started a deploy in the window, and per week.

    The database groups the deploys by service and week (a few rows per service); the catalog's
    service → team mapping is applied to that summary here, since the catalog is not in the store.
    """
    weeks = frame.weeks
    team_of = dict(owners)
    if not team_of:
        return TeamActivity([], [0] * weeks)
    sql = f"""
SELECT service, bucket, MAX(CASE WHEN started_at >= ? THEN started_at END) AS latest
FROM (
    SELECT service, started_at, {_bucket(history, "started_at")} AS bucket FROM deploys
    WHERE kind = 'deploy' AND started_at >= ? AND started_at <= ?
) hits
GROUP BY service, bucket"""
    now = frame.now
    rows = store.query(history, sql, [frame.window_start, now, frame.range_start, now])
    weekly_teams: list[set[str]] = [set() for _ in range(weeks)]
    latest: dict[str, tuple[float, str]] = {}  # team → (newest deploy start in the window, service)
    for service, bucket, newest in rows:
        team = team_of.get(str(service))
        if team is None:
            continue
        if 0 <= int(bucket) < weeks:
            weekly_teams[weeks - 1 - int(bucket)].add(team)
        if newest is not None and float(newest) > latest.get(team, (0.0, ""))[0]:
            latest[team] = (float(newest), str(service))
    ids = _deploys_started(history, [(service, at) for at, service in latest.values()])
    active = sorted((team, ids.get((service, at), "")) for team, (at, service) in latest.items())
    return TeamActivity(active, [len(teams) for teams in weekly_teams])


def _deploys_started(history: Any, starts: Sequence[tuple[str, float]]) -> dict[tuple[str, float], str]:
    """The ids of the deploys of these (service, start time) pairs."""
    if not starts:
        return {}
    where = " OR ".join("(service = ? AND started_at = ?)" for _ in starts)
    sql = f"SELECT service, started_at, id FROM deploys WHERE kind = 'deploy' AND ({where})"
    params = [value for pair in starts for value in pair]
    return {(str(s), float(a)): str(i) for s, a, i in store.query(history, sql, params)}


def scaffolds_since(history: Any, since: float, until: float) -> list[tuple[str, str, str, float]]:
    """(entity ref, template, user, when) of every scaffold in the period, oldest first."""
    sql = 'SELECT entity_ref, template, "user", at FROM scaffolds WHERE at >= ? AND at <= ? ORDER BY at'
    return [(str(r), str(t), str(u), float(a)) for r, t, u, a in store.query(history, sql, (since, until))]


def first_deploys(
    history: Any, frame: Frame, new_services: Sequence[tuple[str, str, float]]
) -> dict[str, tuple[str, float]]:
    """For each (ref, service, scaffolded at): its first healthy production deploy (id, finished)."""
    if not new_services:
        return {}
    values = ", ".join("(?, ?, ?)" for _ in new_services)
    envs, env_params = _in("d.environment", frame.environments)
    sql = f"""
WITH new_services(ref, service, at) AS (VALUES {values})
SELECT ref, id, finished_at FROM (
    SELECT n.ref, d.id, o.finished_at,
        ROW_NUMBER() OVER (PARTITION BY n.ref ORDER BY o.finished_at, d.id) AS rn
    FROM new_services n JOIN deploys d ON d.service = n.service AND d.started_at >= n.at
    JOIN outcomes o ON o.deploy_id = d.id
    WHERE d.kind = 'deploy' AND o.outcome = 'succeeded' AND {envs} AND o.finished_at <= ?
) p WHERE rn = 1"""
    params = [value for row in new_services for value in row] + env_params + [frame.now]
    return {str(ref): (str(i), float(at)) for ref, i, at in store.query(history, sql, params)}


def nps_by_period(
    history: Any, periods: Sequence[tuple[float, float]], users: Sequence[str] | None
) -> list[tuple[int, int, int]]:
    """(promoters 9–10, detractors 0–6, responses) for each [start, end) period, in order."""
    if not periods:
        return []
    values = ", ".join("(?, ?, ?)" for _ in periods)
    who, who_params = _in('f."user"', users)
    sql = f"""
WITH periods(idx, p_start, p_end) AS (VALUES {values})
SELECT p.idx, SUM(CASE WHEN f.score >= 9 THEN 1 ELSE 0 END), SUM(CASE WHEN f.score <= 6 THEN 1 ELSE 0 END),
    COUNT(f.score)
FROM periods p LEFT JOIN feedback f ON f.at >= p.p_start AND f.at < p.p_end AND {who}
GROUP BY p.idx ORDER BY p.idx"""
    params = [v for index, (start, end) in enumerate(periods) for v in (index, start, end)] + who_params
    found = {
        int(i): (int(p or 0), int(d or 0), int(n or 0)) for i, p, d, n in store.query(history, sql, params)
    }
    return [found.get(index, (0, 0, 0)) for index in range(len(periods))]


def deploy_rows(history: Any, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """The drill-down rows of ``ids`` (newest first): id, kind, service, environment, user,
    from → to version, started, finished, outcome."""
    if not ids:
        return []
    where, params = _in("d.id", list(ids))
    sql = f"""
SELECT d.id, d.kind, d.service, d.environment, d."user", d.from_version, d.to_version, d.started_at,
    o.finished_at, o.outcome
FROM deploys d LEFT JOIN outcomes o ON o.deploy_id = d.id
WHERE {where} ORDER BY d.started_at DESC, d.id"""
    return store.query(history, sql, params)
