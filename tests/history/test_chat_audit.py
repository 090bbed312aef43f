"""The chat audit (``/platform`` actions from Slack) is part of the history's schema: append-only on
both stores like every other table, and copied by ``history migrate``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from backends.chatops.audit import ChatAudit
from backends.deploy.history import DeployHistory, open_history
from backends.history.schema import LATEST, MIGRATIONS, SCHEMA_VERSION_TABLE
from console.cli import main
from tests.history.conftest import workspace_with
from tests.history.test_cli import write_workspace
from tests.history.test_store import raw_connection


def test_the_chat_audit_cannot_be_rewritten(history: DeployHistory, store_url: str) -> None:
    audit = ChatAudit(history.store)  # a fresh store: the table comes with the schema
    audit.record(
        "U0JANEDOE", "jane.doe", "C0DEPLOYS", "scale payment-service --replicas 3 --env staging", "succeeded"
    )
    conn = raw_connection(store_url)
    try:
        for statement in ("UPDATE chat_audit SET outcome = 'failed'", "DELETE FROM chat_audit"):
            with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="append-only"):
                conn.execute(statement)
        if store_url.startswith("postgresql://"):
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute("TRUNCATE chat_audit")
    finally:
        conn.close()
    assert [(r.user, r.outcome) for r in audit.records()] == [("jane.doe", "succeeded")]


def test_a_store_whose_server_made_the_table_itself_keeps_its_rows_and_becomes_append_only(
    store_url: str, tmp_path: Path
) -> None:
    # A store at version 6 with the table serve-chatops used to create on first use (no triggers
    # on PostgreSQL), holding one record …
    dialect = "postgresql" if store_url.startswith("postgresql://") else "sqlite"
    conn = raw_connection(store_url)
    try:
        conn.execute(
            SCHEMA_VERSION_TABLE.format(real="DOUBLE PRECISION" if dialect == "postgresql" else "REAL")
        )
        for version in range(1, 7):
            for statement in MIGRATIONS[dialect][version]:
                conn.execute(statement)
            conn.execute(f"INSERT INTO schema_version VALUES ({version}, 0)")
        conn.execute(
            f"""CREATE TABLE chat_audit (
                id {"BIGSERIAL" if dialect == "postgresql" else "INTEGER"} PRIMARY KEY,
                at DOUBLE PRECISION NOT NULL, slack_user TEXT NOT NULL, user_name TEXT,
                channel TEXT NOT NULL, command TEXT NOT NULL, outcome TEXT NOT NULL)"""
        )
        conn.execute(
            "INSERT INTO chat_audit (at, slack_user, user_name, channel, command, outcome) "
            "VALUES (5, 'U0LIWEI', 'li.wei', 'C0DEPLOYS', 'help', 'answered')"
        )
    finally:
        conn.close()
    # … is upgraded in place: the record kept, the table now refusing to be rewritten.
    history = open_history(workspace_with(tmp_path, store_url))
    try:
        assert history.store.schema_version() == LATEST
        assert [(r.user, r.command) for r in ChatAudit(history.store).records()] == [("li.wei", "help")]
    finally:
        history.close()
    conn = raw_connection(store_url)
    try:
        with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="append-only"):
            conn.execute("DELETE FROM chat_audit")
    finally:
        conn.close()


def test_history_migrate_copies_the_chat_audit_once(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = write_workspace(tmp_path / "ws", None)  # SQLite in the state dir
    source = DeployHistory()
    audit = ChatAudit(source.store)
    audit.record(
        "U0JANEDOE", "jane.doe", "C0DEPLOYS", "deploy payment-service --env staging --version v2", "started"
    )
    audit.record("U0NOBODY", None, "C0DEPLOYS", "rollback payment-service --env staging", "refused: no user")

    assert main(["--workspace", str(workspace), "history", "migrate", "--to", pg_url]) == 0
    assert "chat_audit 2" in capsys.readouterr().out
    target = open_history(workspace_with(tmp_path, pg_url))
    try:
        assert ChatAudit(target.store).records() == audit.records()
        # A second run finds both rows there, the unknown user's (NULL catalog User) included.
        assert main(["--workspace", str(workspace), "history", "migrate", "--to", pg_url]) == 0
        assert "copied 0 rows" in capsys.readouterr().out
        assert len(ChatAudit(target.store).records()) == 2
    finally:
        target.close()
        source.close()
