"""The history's behaviour, the same on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from backends.deploy.events import Outcome, Stage, StageFinished, StageStarted
from backends.deploy.history import DeployHistory, DeployRecord, open_history
from backends.history.errors import HistorySchemaError
from backends.history.schema import LATEST, MIGRATIONS, SCHEMA_VERSION_TABLE
from tests.history.conftest import workspace_with
from tests.pg import TEST_PASSWORD

T0 = 1_700_000_000.0


def record(
    deploy_id: str, service: str = "payment-service", started_at: float = T0, user: str = "jane"
) -> DeployRecord:
    return DeployRecord(
        id=deploy_id, kind="deploy", service=service, environment="production", namespace="production",
        deployment=service, user=user, from_version="v1", to_version="v2", started_at=started_at,
        pid=1, host="bastion-1", commit_sha="abc123", commit_time=started_at - 600,
    )  # fmt: skip


def raw_connection(store_url: str):  # noqa: ANN201 - sqlite3 or psycopg, as a test needs
    if store_url.startswith("postgresql://"):
        return psycopg.connect(store_url, password=TEST_PASSWORD, autocommit=True)
    return sqlite3.connect(store_url, isolation_level=None)


def test_a_deploy_reads_back_with_the_times_it_was_given(history: DeployHistory) -> None:
    history.start(record("d-1", started_at=T0))
    history.append(StageStarted("d-1", at=T0 + 1, stage=Stage.PRECHECKS))
    history.append(StageFinished("d-1", at=T0 + 2, stage=Stage.PRECHECKS, ok=True))
    history.finish("d-1", Outcome.SUCCEEDED, "v2", "all steps healthy", at=T0 + 300)
    history.start(record("d-2", started_at=T0 + 1000))

    got = history.get("d-1")
    assert got is not None
    assert (got.started_at, got.finished_at, got.outcome, got.user) == (
        T0,
        T0 + 300,
        Outcome.SUCCEEDED,
        "jane",
    )
    assert got.commit_time == T0 - 600
    assert [r.id for r in history.records("payment-service")] == ["d-2", "d-1"]
    assert [r.id for r in history.unfinished()] == ["d-2"]
    assert [type(e).__name__ for e in history.events("d-1")] == ["StageStarted", "StageFinished"]
    assert history.events("d-1")[1].at == T0 + 2


def test_the_past_cannot_be_rewritten(history: DeployHistory, store_url: str) -> None:
    history.start(record("d-1"))
    history.append(StageStarted("d-1", at=T0 + 1, stage=Stage.PRECHECKS))
    history.finish("d-1", Outcome.SUCCEEDED, "v2", at=T0 + 5)
    history.record_feedback("jane", 9, "fast", at=T0)
    history.request_control("d-1", "pause", "omar")
    conn = raw_connection(store_url)
    try:
        for statement in (
            "UPDATE deploys SET to_version = 'v9'",
            "DELETE FROM events",
            "UPDATE outcomes SET outcome = 'failed'",
            "DELETE FROM feedback",
            "UPDATE controls SET action = 'abort'",
        ):
            with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="append-only"):
                conn.execute(statement)
        if store_url.startswith("postgresql://"):
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute("TRUNCATE deploys CASCADE")
    finally:
        conn.close()
    with pytest.raises(Exception, match="(?i)outcomes|unique|duplicate"):
        history.finish("d-1", Outcome.FAILED, "v1")  # a second outcome is refused
    assert history.get("d-1").outcome is Outcome.SUCCEEDED
    assert history.get("d-1").to_version == "v2"


def test_query_is_read_only_and_speaks_one_placeholder_style(history: DeployHistory) -> None:
    history.start(record("d-1", user="jane"))
    history.start(record("d-2", user="omar", started_at=T0 + 1))
    history.start(record("d-3", service="orders", user="omar", started_at=T0 + 2))
    rows = history.query(
        "SELECT \"user\", COUNT(*) FROM deploys WHERE service = ? AND id LIKE 'd-%' "
        'AND host <> \'?\' GROUP BY "user" ORDER BY "user"',
        ("payment-service",),
    )
    assert [(user, int(count)) for user, count in rows] == [("jane", 1), ("omar", 1)]
    assert history.query("SELECT started_at FROM deploys WHERE id = ?", ["d-2"])[0][0] == T0 + 1
    with pytest.raises(Exception, match="(?i)read.?only"):
        history.query(
            'INSERT INTO feedback (at, "user", score, comment) VALUES (?, ?, ?, ?)', (T0, "x", 5, "")
        )
    assert history.query("SELECT COUNT(*) FROM feedback")[0][0] == 0


def test_feedback_scaffolds_and_controls(history: DeployHistory) -> None:
    history.record_feedback("jane", 10, "love it", at=T0)
    history.record_feedback("omar", 0)
    for bad in (11, -1, 2.5, True):
        with pytest.raises(ValueError, match="0 to 10"):
            history.record_feedback("jane", bad)  # type: ignore[arg-type]
    history.record_scaffold("component:default/orders", "microservice-golden-path", "jane", at=T0 + 5)
    assert history.query('SELECT "user", score, comment, at FROM feedback ORDER BY id')[0] == (
        "jane",
        10,
        "love it",
        T0,
    )
    assert history.query('SELECT entity_ref, template, "user", at FROM scaffolds') == [
        ("component:default/orders", "microservice-golden-path", "jane", T0 + 5)
    ]

    history.start(record("d-1"))
    first = history.request_control("d-1", "pause", "omar")
    history.request_control("d-other", "abort", "omar")
    second = history.request_control("d-1", "promote", "jane")
    assert second > first
    assert [(c.action, c.requested_by) for c in history.controls_after("d-1", 0)] == [
        ("pause", "omar"),
        ("promote", "jane"),
    ]
    assert [c.id for c in history.controls_after("d-1", first)] == [second]
    assert history.controls_after("d-1", second) == []


def test_events_after_tails_one_deploy(history: DeployHistory) -> None:
    history.start(record("d-1"))
    history.start(record("d-2"))
    history.append(StageStarted("d-1", at=T0, stage=Stage.PRECHECKS))
    history.append(StageStarted("d-2", at=T0, stage=Stage.PRECHECKS))
    history.append(StageStarted("d-1", at=T0 + 1, stage=Stage.CANARY, step=0))
    seen = history.events_after("d-1", 0)
    assert [type(e).__name__ for _seq, e in seen] == ["StageStarted", "StageStarted"]
    assert seen[0][0] < seen[1][0]
    assert history.events_after("d-1", seen[-1][0]) == []
    history.append(StageFinished("d-1", at=T0 + 2, stage=Stage.CANARY, step=0, ok=True))
    assert [type(e).__name__ for _s, e in history.events_after("d-1", seen[-1][0])] == ["StageFinished"]


def test_a_fresh_store_is_at_the_latest_schema_version(history: DeployHistory) -> None:
    assert history.store.schema_version() == LATEST
    assert [v for (v,) in history.query("SELECT version FROM schema_version ORDER BY version")] == list(
        range(1, LATEST + 1)
    )


def test_a_history_from_before_migrations_is_upgraded_keeping_its_rows(
    store_url: str, tmp_path: Path
) -> None:
    conn = raw_connection(store_url)
    dialect = "postgresql" if store_url.startswith("postgresql://") else "sqlite"
    try:
        for statement in MIGRATIONS[dialect][1]:
            conn.execute(statement)
        if dialect == "postgresql":
            # PostgreSQL came with migrations: its oldest database says it is at version 1.
            # A SQLite file from before them has no schema_version table at all.
            conn.execute(SCHEMA_VERSION_TABLE.format(real="DOUBLE PRECISION"))
            conn.execute("INSERT INTO schema_version VALUES (1, 0)")
        conn.execute(
            'INSERT INTO deploys (id, kind, service, environment, namespace, deployment, "user", '
            "from_version, to_version, started_at, pid, host) "
            "VALUES ('old-1', 'deploy', 's', 'e', 'n', 'd', 'u', 'a', 'b', 5, 1, 'h')"
        )
    finally:
        conn.close()
    history = open_history(workspace_with(tmp_path, store_url))
    history.ping()
    assert history.store.schema_version() == LATEST
    assert history.get("old-1").to_version == "b"
    history.record_feedback("jane", 7)  # a table version 2 added
    history.close()


def test_a_database_from_a_newer_version_is_refused_naming_both_versions(
    store_url: str, tmp_path: Path
) -> None:
    first = open_history(workspace_with(tmp_path, store_url))
    first.ping()  # PostgreSQL connects (and migrates) on first use
    first.close()
    conn = raw_connection(store_url)
    try:
        conn.execute(f"INSERT INTO schema_version VALUES ({LATEST + 7}, 0)")
    finally:
        conn.close()
    with pytest.raises(HistorySchemaError) as caught:
        history = open_history(workspace_with(tmp_path, store_url))
        history.ping()
    message = str(caught.value)
    assert f"schema version {LATEST + 7}" in message and f"this idp-console's {LATEST}" in message
    assert "\n" not in message


def test_a_hundred_events_read_back_in_order(history: DeployHistory) -> None:
    history.start(record("d-1"))
    for index in range(100):
        history.append(StageStarted("d-1", at=T0 + index, stage=Stage.CANARY, step=index))
    assert [e.step for e in history.events("d-1")] == list(range(100))


def test_a_control_request_keeps_its_reason_and_older_requests_read_as_none_given(
    store_url: str, tmp_path: Path
) -> None:
    # A store at the schema before reasons existed, holding one request …
    conn = raw_connection(store_url)
    dialect = "postgresql" if store_url.startswith("postgresql://") else "sqlite"
    adds_reason = next(
        v
        for v, statements in MIGRATIONS[dialect].items()
        if any("ADD COLUMN reason" in s for s in statements)
    )
    before = adds_reason - 1
    try:
        conn.execute(
            SCHEMA_VERSION_TABLE.format(real="DOUBLE PRECISION" if dialect == "postgresql" else "REAL")
        )
        for version in range(1, before + 1):
            for statement in MIGRATIONS[dialect][version]:
                conn.execute(statement)
            conn.execute(f"INSERT INTO schema_version VALUES ({version}, 0)")
        conn.execute(
            "INSERT INTO controls (deploy_id, action, requested_by, at) VALUES ('d-1', 'pause', 'omar', 5)"
        )
    finally:
        conn.close()
    # … is upgraded in place: the old request has no reason, a new one keeps its words.
    history = open_history(workspace_with(tmp_path, store_url))
    history.request_control("d-1", "abort", "sam.lee", "aborted from the command line")
    assert [(c.action, c.requested_by, c.reason) for c in history.controls_after("d-1", 0)] == [
        ("pause", "omar", ""),
        ("abort", "sam.lee", "aborted from the command line"),
    ]
    history.close()
