"""The few things the scorecard needs from the history store, through its public contract
(``backends.deploy.history.DeployHistory`` over SQLite or PostgreSQL): read-only SQL with ``?``
placeholders in both dialects, and the feedback and scaffold records."""

from __future__ import annotations

from typing import Any


def dialect(history: Any) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(getattr(history, "dialect", "sqlite"))


def query(history: Any, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read-only query with ``?`` placeholders."""
    return [tuple(row) for row in history.query(sql, tuple(params))]


def record_feedback(history: Any, user: str, score: int, comment: str = "", at: float | None = None) -> None:
    """Store one satisfaction score (0–10) with an optional comment."""
    history.record_feedback(user, score, comment, at=at)


def record_scaffold(history: Any, entity_ref: str, template: str, user: str, at: float | None = None) -> None:
    """Store that ``entity_ref`` was created from ``template`` (for time-to-first-deploy)."""
    history.record_scaffold(entity_ref, template, user, at=at)


def finish_at(history: Any, deploy_id: str, outcome: Any, version: str, reason: str, at: float) -> None:
    """Record an outcome at a given time (a seeded history's past)."""
    history.finish(deploy_id, outcome, version, reason, at=at)


def open_store(workspace: Any) -> Any:
    """The workspace's history store (``history:`` in idp-console.yaml, else SQLite in the state dir)."""
    from backends.deploy.history import open_history

    return open_history(workspace)
