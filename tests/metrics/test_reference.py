"""The scorecard's SQL against a plain Python reading of the same definitions, on seeded random
histories in both stores: outcomes recorded out of order (a late outcome), overlapping deploys,
rollbacks, fix-forwards, staging noise, deploys that changed nothing."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends.deploy.events import Outcome
from backends.deploy.history import DeployHistory, DeployRecord, open_history
from backends.history.schema import LATEST, MIGRATIONS, SCHEMA_VERSION_TABLE
from backends.metrics.bands import DAY, WEEK
from backends.metrics.queries import (
    DRILL_LIMIT,
    FIX_FORWARD_HOURS,
    DeployCounts,
    DeployFigures,
    Frame,
    deploy_figures,
)
from backends.metrics.store import finish_at
from tests.history.conftest import workspace_with
from tests.history.test_store import raw_connection

NOW = 1_796_000_000.0
HOUR = 3600.0
DIGITS = "0123456789"


@dataclass(frozen=True)
class Change:
    id: str
    kind: str
    service: str
    environment: str
    version: str
    started: float
    finished: float
    outcome: str
    commit_time: float | None


def generate(seed: int, services: int = 4, count: int = 160) -> list[Change]:
    rng = random.Random(seed)
    found: list[Change] = []
    minor = dict.fromkeys(range(services), 0)
    patch = dict.fromkeys(range(services), 0)
    for n in range(count):
        s = rng.randrange(services)
        # Clustered starts (several within a day) so the 24 h follow-up rule is exercised.
        started = NOW - rng.choice((rng.uniform(0, 100), rng.uniform(0, 10), rng.uniform(0, 3))) * DAY
        kind = rng.choices(("deploy", "rollback", "scale"), (0.8, 0.15, 0.05))[0]
        step = rng.random()
        if step < 0.5:
            patch[s] += 1
        elif step < 0.8:
            minor[s], patch[s] = minor[s] + 1, 0
        version = f"v1.{minor[s]}.{patch[s]}" if kind != "rollback" else f"v1.{max(minor[s] - 1, 0)}.0"
        outcome = rng.choices(
            [o.value for o in (Outcome.SUCCEEDED, Outcome.ROLLED_BACK, Outcome.ABORTED, Outcome.FAILED)],
            (0.7, 0.15, 0.08, 0.07),
        )[0]
        took = rng.choice((rng.uniform(60, 900), rng.uniform(1, 40) * HOUR))  # some overlap the next
        commit = started - rng.uniform(0.1, 80) * HOUR if rng.random() < 0.6 else None
        env = "production" if rng.random() < 0.75 else "staging"
        found.append(
            Change(f"c{n:03d}", kind, f"svc-{s}", env, version, started, started + took, outcome, commit)
        )
    return found


def reference(changes: list[Change], frame: Frame) -> DeployFigures:
    """The definitions in backends/metrics/queries.py, read row by row."""
    wanted = [
        c
        for c in changes
        if c.environment in frame.environments
        and (frame.services is None or c.service in frame.services)
        and c.kind in ("deploy", "rollback")
        and c.outcome in ("succeeded", "rolled-back", "aborted")
        and c.started >= frame.range_start - DAY
    ]
    by_target: dict[tuple[str, str], list[Change]] = {}
    for c in sorted(wanted, key=lambda c: (c.started, c.id)):
        by_target.setdefault((c.environment, c.service), []).append(c)
    facts = []
    for row in by_target.values():
        for i, c in enumerate(row):
            after = row[i + 1 :]
            nxt = after[0] if after else None
            failed = c.kind == "deploy" and (
                c.outcome in ("rolled-back", "aborted")
                or (
                    nxt is not None
                    and nxt.started <= c.finished + FIX_FORWARD_HOURS * HOUR
                    and (
                        nxt.kind == "rollback"
                        or (
                            nxt.version != c.version
                            and nxt.version.rstrip(DIGITS) == c.version.rstrip(DIGITS)
                        )
                    )
                )
            )
            healthy = [a.finished for a in after if a.outcome == "succeeded"]
            recovery = min(healthy) - c.finished if failed and healthy else None
            if frame.range_start <= c.finished <= frame.now:
                facts.append((c, failed, recovery))
    weeks = frame.weeks

    def counts(rows: list[tuple[Change, bool, float | None]]) -> DeployCounts:
        shipped = [c for c, _f, _r in rows if c.kind == "deploy" and c.outcome == "succeeded"]
        return DeployCounts(
            shipped=len(shipped),
            services=len({c.service for c in shipped}),
            changes=sum(1 for c, _f, _r in rows if c.kind == "deploy"),
            failed=sum(1 for _c, f, _r in rows if f),
            recovered=sum(1 for _c, _f, r in rows if r is not None),
            with_commit=sum(1 for c in shipped if c.commit_time is not None),
        )

    def lead(c: Change) -> float | None:
        if c.kind == "deploy" and c.outcome == "succeeded" and c.commit_time is not None:
            return c.finished - c.commit_time
        return None

    window = [f for f in facts if f[0].finished >= frame.window_start]
    buckets = [[f for f in facts if int((frame.now - f[0].finished) // WEEK) == b] for b in range(weeks)]
    buckets.reverse()  # oldest first
    weekly = [counts(b) for b in buckets]
    # The services figure is the window's only: a week has none of its own.
    weekly = [DeployCounts(w.shipped, 0, w.changes, w.failed, w.recovered, w.with_commit) for w in weekly]

    def mean(values: list[float]) -> float | None:
        return statistics.fmean(values) if values else None

    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    def newest(condition: list[tuple[Change, bool, float | None]]) -> list[str]:
        ordered = sorted(condition, key=lambda f: (-f[0].finished, f[0].id))
        return [f[0].id for f in ordered[:DRILL_LIMIT]]

    leads = [(f, v) for f in window if (v := lead(f[0])) is not None]
    failed_ids = newest([f for f in window if f[1]])
    return DeployFigures(
        window=counts(window),
        weekly=weekly,
        lead_time=median([v for _f, v in leads]),
        recovery=median([f[2] for f in window if f[2] is not None]),
        weekly_lead_time=[mean([v for f in b if (v := lead(f[0])) is not None]) for b in buckets],
        weekly_recovery=[mean([f[2] for f in b if f[2] is not None]) for b in buckets],
        ids={
            "deployment_frequency": newest([f for f in window if _shipped(f[0])]),
            "lead_time": newest([f for f, _v in leads]),
            "change_failure_rate": failed_ids,
            "recovery_time": failed_ids,
        },
    )


def _shipped(c: Change) -> bool:
    return c.kind == "deploy" and c.outcome == "succeeded"


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and a == pytest.approx(b, rel=1e-9))


def _record_deploys(history: DeployHistory, changes: list[Change]) -> None:
    for c in changes:
        history.start(
            DeployRecord(
                id=c.id, kind=c.kind, service=c.service, environment=c.environment, namespace=c.environment,
                deployment=c.service, user="u", from_version="v0", to_version=c.version,
                started_at=c.started, pid=0, host="test", commit_time=c.commit_time,
            )
        )  # fmt: skip


def _assert_figures_match(history: DeployHistory, changes: list[Change]) -> None:
    for window, services in ((90, None), (30, None), (7, ("svc-1", "svc-2")), (30, ("svc-0",))):
        frame = Frame(NOW, window, ("production",), services)
        got, want = deploy_figures(history, frame), reference(changes, frame)
        assert got.window == want.window, (window, services)
        assert got.weekly == want.weekly, (window, services)
        assert got.ids == want.ids, (window, services)
        for name in ("lead_time", "recovery"):
            assert _close(getattr(got, name), getattr(want, name)), (name, window, services)
        for name in ("weekly_lead_time", "weekly_recovery"):
            pairs = zip(getattr(got, name), getattr(want, name), strict=True)
            assert all(_close(a, b) for a, b in pairs), (name, window, services)
    assert want.window.failed and want.window.recovered and want.window.with_commit  # it tested something


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sql_figures_match_a_plain_reading_of_their_definitions(
    store_url: str, tmp_path: Path, seed: int
) -> None:
    changes = generate(seed)
    history = open_history(workspace_with(tmp_path, store_url))
    _record_deploys(history, changes)
    late = list(changes)
    random.Random(seed).shuffle(late)  # outcomes arrive in any order: the derived rows still line up
    for c in late:
        finish_at(history, c.id, Outcome(c.outcome), c.version, "", c.finished)
    _assert_figures_match(history, changes)


def test_a_store_upgraded_with_outcomes_on_both_sides_of_the_upgrade_keeps_its_figures(
    store_url: str, tmp_path: Path
) -> None:
    # A store at the schema before ``follows`` (which change followed which) holding half the
    # outcomes, in random order …
    dialect = "postgresql" if store_url.startswith("postgresql://") else "sqlite"
    adds_follows = next(
        v
        for v, statements in MIGRATIONS[dialect].items()
        if any("CREATE TABLE follows" in s for s in statements)
    )
    changes = generate(4)
    late = list(changes)
    random.Random(4).shuffle(late)
    conn = raw_connection(store_url)
    try:
        conn.execute(
            SCHEMA_VERSION_TABLE.format(real="DOUBLE PRECISION" if dialect == "postgresql" else "REAL")
        )
        for version in range(1, adds_follows):
            for statement in MIGRATIONS[dialect][version]:
                conn.execute(statement)
            conn.execute(f"INSERT INTO schema_version VALUES ({version}, 0)")
        mark = "%s" if dialect == "postgresql" else "?"
        for c in changes:
            conn.execute(
                'INSERT INTO deploys (id, kind, service, environment, namespace, deployment, "user", '
                "from_version, to_version, commit_time, started_at, pid, host) "
                f"VALUES ({', '.join([mark] * 6)}, 'u', 'v0', {mark}, {mark}, {mark}, 0, 't')",
                (c.id, c.kind, c.service, c.environment, c.environment, c.service, c.version, c.commit_time,
                 c.started),
            )  # fmt: skip
        for c in late[: len(late) // 2]:
            conn.execute(
                f"INSERT INTO outcomes (deploy_id, finished_at, outcome, version, reason) "
                f"VALUES ({mark}, {mark}, {mark}, {mark}, '')",
                (c.id, c.finished, c.outcome, c.version),
            )
    finally:
        conn.close()
    # … is upgraded (the migration fills ``follows`` from what is there), the other half arrives
    # late: the scorecard reads the same figures as a plain reading of the definitions.
    history = open_history(workspace_with(tmp_path, store_url))
    for c in late[len(late) // 2 :]:
        finish_at(history, c.id, Outcome(c.outcome), c.version, "", c.finished)
    assert history.store.schema_version() == LATEST
    _assert_figures_match(history, changes)
