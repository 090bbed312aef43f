"""Every chat action in the history store: who (Slack id and catalog User), where (channel), what
(the command in the grammar's words) and how it ended. Append-only like the rest of the history.

The table is the history's schema version 7 (backends/history/schema.py): created with the rest
of the store, refusing UPDATE, DELETE (and on PostgreSQL TRUNCATE) like every other table, and
copied by ``history migrate``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


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

    def record(self, slack_user: str, user: str | None, channel: str, command: str, outcome: str) -> None:
        # ``?`` in both dialects: the PostgreSQL store translates placeholders itself.
        self.store.execute(
            "INSERT INTO chat_audit (at, slack_user, user_name, channel, command, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), slack_user, user, channel, command, outcome),
        )

    def records(self, limit: int = 100) -> list[AuditRecord]:
        """The newest ``limit`` records, oldest first."""
        rows = self.store.fetch(
            "SELECT at, slack_user, user_name, channel, command, outcome FROM chat_audit "
            f"ORDER BY id DESC LIMIT {int(limit)}",
            readonly=True,
        )
        return [AuditRecord(*row) for row in reversed(rows)]
