"""The chat audit (``/platform`` actions from Slack) is part of the history's schema: append-only on
both stores like every other table, and copied by ``history migrate``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from backends.chatops.audit import ChatAudit
from backends.deploy.history import DeployHistory, open_history
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
