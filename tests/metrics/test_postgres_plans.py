"""On PostgreSQL the scorecard's statements are planned for their own values on every run."""

from __future__ import annotations

from pathlib import Path

from backends.deploy.history import open_history
from backends.metrics.queries import Frame, deploy_figures, team_activity
from tests.history.conftest import workspace_with
from tests.metrics.history_builder import NOW, build


def test_a_scorecard_shown_again_and_again_is_never_prepared(pg_url: str, tmp_path: Path) -> None:
    # psycopg prepares a statement a connection ran 5 times, and PostgreSQL then settles on a
    # generic plan that ignores the window's times (the DORA statement cost 1.7x the CPU on 100k
    # records; the demo check read every deploy). The screen refreshes the card: run its
    # statements more often than that, one after the other (so on one pooled connection).
    history = open_history(workspace_with(tmp_path, pg_url))
    build(history)
    frame = Frame(NOW, 30, ("production",), None)
    owners = [("alpha", "group:default/team-a"), ("beta", "group:default/team-b")]
    runs = [(deploy_figures(history, frame), team_activity(history, frame, owners)) for _ in range(7)]
    assert all(run == runs[0] for run in runs)
    assert runs[0][0].window.shipped == 6 and len(runs[0][1].active) == 2
    prepared = history.store.fetch("SELECT statement FROM pg_prepared_statements")
    reads = [sql for (sql,) in prepared if not sql.startswith(("INSERT", "SET"))]
    assert reads == []
    history.close()
