"""Teams deploying through the platform, week by week, on both stores: a deploy counts in the week
its start falls in (edges included), in any environment, for the team owning its service."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.deploy.history import open_history
from backends.metrics import compute_scorecard, resolve_scope
from backends.metrics.bands import WEEK
from tests.history.conftest import workspace_with
from tests.metrics.history_builder import NOW, Builder, write_catalog


def test_each_week_counts_the_teams_whose_services_started_a_deploy_in_it(
    store_url: str, tmp_path: Path
) -> None:
    history = open_history(workspace_with(tmp_path, store_url))
    b = Builder(history)
    a1, _ = b.add("alpha", "v1.0.0", NOW - WEEK)  # on the edge: the second newest week
    b1, _ = b.add("beta", "v2.0.0", NOW - WEEK + 1)  # a second later: the newest week
    b.add("beta", "v1.9.0", NOW - 3 * WEEK, kind="rollback")  # a rollback is not a deploy
    b.add("beta", "v1.8.0", NOW - 5 * WEEK - 1, env="staging")  # any environment counts
    b.add("zeta", "v0.1.0", NOW - 2 * WEEK)  # not in the catalog: no team
    b.add("alpha", "v0.9.0", NOW - 8 * WEEK)  # where the trend's range begins: before its weeks
    catalog = write_catalog(tmp_path)
    card = compute_scorecard(
        history, catalog, resolve_scope(catalog), window_days=30, now=NOW,
        production=("production",), workspace_root=tmp_path,
    )  # fmt: skip
    teams = card.figure("teams_deploying")
    assert teams.trend == pytest.approx([0, 0, 1 / 3, 0, 0, 0, 1 / 3, 1 / 3])
    assert (teams.numerator, teams.denominator) == (2, 3)
    assert teams.ids == [a1, b1]
    assert teams.details == [f"team-a: deployed ({a1})", f"team-b: deployed ({b1})", "team-c: no deploy"]
    history.close()
