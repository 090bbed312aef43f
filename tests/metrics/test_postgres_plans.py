"""On PostgreSQL the scorecard's statements are planned for their own values on every run."""

from __future__ import annotations

from pathlib import Path

from backends.deploy.history import open_history
from backends.metrics import compute_scorecard, resolve_scope
from tests.history.conftest import workspace_with
from tests.metrics.history_builder import NOW, build, write_catalog


def test_a_scorecard_shown_again_and_again_is_never_prepared(pg_url: str, tmp_path: Path) -> None:
    # psycopg prepares a statement a connection ran 5 times, and PostgreSQL then settles on a
    # generic plan that ignores the window's times (the DORA statement cost 1.7x the CPU on 100k
    # records; the demo check read every deploy). The screen refreshes the card: run it more often.
    history = open_history(workspace_with(tmp_path, pg_url))
    build(history)
    catalog = write_catalog(tmp_path)
    cards = [
        compute_scorecard(
            history,
            catalog,
            resolve_scope(catalog),
            window_days=30,
            now=NOW,
            production=("production",),
            workspace_root=tmp_path,
        )  # fmt: skip
        for _ in range(7)
    ]
    assert len({tuple(f.display for f in card.figures) for card in cards}) == 1
    # One caller at a time: the pool served every statement from one connection, this one too.
    prepared = history.store.fetch("SELECT statement FROM pg_prepared_statements")
    reads = [sql for (sql,) in prepared if not sql.startswith(("INSERT", "SET"))]
    assert reads == []
    history.close()
