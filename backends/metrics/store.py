"""The few things the scorecard needs from a history store, through its public contract.

The store (``backends.deploy.history`` / ``backends.history``) answers read-only SQL with ``?``
placeholders in both dialects (``history.query``), and records feedback and scaffolds. Until every
store offers that contract, an SQLite ``DeployHistory`` without it is read through its own
connection, and the two tables the scorecard adds are created there if missing (same columns as
the store's migrations create: the ``IF NOT EXISTS`` makes either order harmless).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

_FALLBACK_TABLES = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    "user" TEXT NOT NULL,
    score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
    comment TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS scaffolds (
    entity_ref TEXT NOT NULL,
    template TEXT NOT NULL,
    "user" TEXT NOT NULL,
    at REAL NOT NULL
);
"""


class HistoryLike(Protocol):
    """A deploy history store (SQLite or PostgreSQL)."""

    def start(self, record: Any) -> None: ...

    def finish(self, deploy_id: str, outcome: Any, version: str, reason: str = "", *args: Any) -> None: ...


def dialect(history: Any) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(getattr(history, "dialect", "sqlite"))


def query(history: Any, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read-only query with ``?`` placeholders."""
    own = getattr(history, "query", None)
    if callable(own):
        return [tuple(row) for row in own(sql, tuple(params))]
    _ensure_fallback_tables(history)
    with history._connect() as db:
        return [tuple(row) for row in db.execute(sql, tuple(params)).fetchall()]


def record_feedback(history: Any, user: str, score: int, comment: str = "", at: float | None = None) -> None:
    """Store one satisfaction score (0–10) with an optional comment."""
    own = getattr(history, "record_feedback", None)
    if callable(own):
        own(user, score, comment, at=at)
        return
    _ensure_fallback_tables(history)
    with history._connect() as db:
        db.execute(
            'INSERT INTO feedback (at, "user", score, comment) VALUES (?, ?, ?, ?)',
            (time.time() if at is None else at, user, score, comment),
        )


def record_scaffold(history: Any, entity_ref: str, template: str, user: str, at: float | None = None) -> None:
    """Store that ``entity_ref`` was created from ``template`` (for time-to-first-deploy)."""
    own = getattr(history, "record_scaffold", None)
    if callable(own):
        own(entity_ref, template, user, at=at)
        return
    _ensure_fallback_tables(history)
    with history._connect() as db:
        db.execute(
            'INSERT INTO scaffolds (entity_ref, template, "user", at) VALUES (?, ?, ?, ?)',
            (entity_ref, template, user, time.time() if at is None else at),
        )


def finish_at(history: Any, deploy_id: str, outcome: Any, version: str, reason: str, at: float) -> None:
    """Record an outcome at a given time (a seeded history's past)."""
    try:
        history.finish(deploy_id, outcome, version, reason, at=at)
    except TypeError:  # a store without ``at=``: write the row as the store would
        with history._connect() as db:
            db.execute(
                "INSERT INTO outcomes (deploy_id, finished_at, outcome, version, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (deploy_id, at, str(outcome), version, reason),
            )


def _ensure_fallback_tables(history: Any) -> None:
    if getattr(history, "_metrics_tables_ready", False):
        return
    with history._connect() as db:
        db.executescript(_FALLBACK_TABLES)
    history._metrics_tables_ready = True


def open_store(workspace: Any) -> Any:
    """The workspace's history store (the pluggable factory when this version has it)."""
    try:
        from backends.history import open_history  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        from backends.deploy.history import DeployHistory

        return DeployHistory()
    return open_history(workspace)
