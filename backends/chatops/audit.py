"""Every chat action in the history store: who (Slack id and catalog User), where (channel), what
(the command in the grammar's words) and how it ended. Append-only like the rest of the history.

The table is created on first use with ``IF NOT EXISTS`` rather than as a numbered migration, so
it never races another area's migration of the same store; both dialects get the same columns.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

_SQLITE = [
    """CREATE TABLE IF NOT EXISTS chat_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        slack_user TEXT NOT NULL,
        user_name TEXT,
        channel TEXT NOT NULL,
        command TEXT NOT NULL,
        outcome TEXT NOT NULL
    )""",
    "CREATE TRIGGER IF NOT EXISTS chat_audit_no_update BEFORE UPDATE ON chat_audit "
    "BEGIN SELECT RAISE(ABORT, 'deploy history is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS chat_audit_no_delete BEFORE DELETE ON chat_audit "
    "BEGIN SELECT RAISE(ABORT, 'deploy history is append-only'); END",
]
_POSTGRES = [
    """CREATE TABLE IF NOT EXISTS chat_audit (
        id BIGSERIAL PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        slack_user TEXT NOT NULL,
        user_name TEXT,
        channel TEXT NOT NULL,
        command TEXT NOT NULL,
        outcome TEXT NOT NULL
    )""",
]


@dataclass(frozen=True)
class AuditRecord:
    at: float
    slack_user: str
    user: str | None  # the catalog User, None when the Slack user is unknown
    channel: str
    command: str
    outcome: str


class ChatAudit:
    """The ``chat_audit`` table of one history store (a DeployHistory's ``store``)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._ready = False
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        with self._lock:
            if self._ready:
                return
            for statement in _POSTGRES if self.store.dialect == "postgresql" else _SQLITE:
                self.store.execute(statement)
            self._ready = True

    def record(self, slack_user: str, user: str | None, channel: str, command: str, outcome: str) -> None:
        self._ensure()
        # ``?`` in both dialects: the PostgreSQL store translates placeholders itself.
        self.store.execute(
            "INSERT INTO chat_audit (at, slack_user, user_name, channel, command, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), slack_user, user, channel, command, outcome),
        )

    def records(self, limit: int = 100) -> list[AuditRecord]:
        """The newest ``limit`` records, oldest first."""
        self._ensure()
        rows = self.store.fetch(
            "SELECT at, slack_user, user_name, channel, command, outcome FROM chat_audit "
            f"ORDER BY id DESC LIMIT {int(limit)}",
            readonly=True,
        )
        return [AuditRecord(*row) for row in reversed(rows)]
