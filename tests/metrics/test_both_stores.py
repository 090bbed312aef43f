"""The scorecard's SQL gives the same answers on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.deploy.history import open_history
from backends.metrics import compute_scorecard, drilldown, resolve_scope
from tests.history.conftest import workspace_with
from tests.metrics.history_builder import HOUR, MIN, NOW, build, write_catalog


def test_every_figure_on_both_stores(store_url: str, tmp_path: Path) -> None:
    history = open_history(workspace_with(tmp_path, store_url))
    ids = build(history)
    catalog = write_catalog(tmp_path)
    card = compute_scorecard(
        history, catalog, resolve_scope(catalog), window_days=30, now=NOW,
        production=("production",), workspace_root=tmp_path,
    )  # fmt: skip
    assert history.dialect in store_url or store_url.endswith(".sqlite3")
    figures = {f.key: (f.numerator, f.denominator) for f in card.figures}
    assert figures == {
        "deployment_frequency": (6, 30),
        "lead_time": (3, 6),
        "change_failure_rate": (3, 7),
        "recovery_time": (3, 3),
        "teams_deploying": (2, 3),
        "golden_paths": (2, 3),
        "time_to_first_deploy": (1, 2),
        "ownership": (2, 3),
        "docs": (1, 3),
        "nps": (1, 4),
    }
    assert card.figure("lead_time").value == 4 * HOUR
    assert card.figure("recovery_time").value == 2 * HOUR + 5 * MIN
    assert card.figure("nps").value == 25.0
    assert card.figure("change_failure_rate").ids == [ids["e1"], ids["d3"], ids["d2"]]
    assert card.figure("deployment_frequency").trend == [0, 0, 1, 0, 0, 1, 1, 4]
    # The share of teams that deployed, week by week (PostgreSQL ORs the weeks' bits, SQLite sums them).
    assert card.figure("teams_deploying").trend == pytest.approx([0, 0, 1 / 3, 0, 0, 1 / 3, 1 / 3, 2 / 3])
    assert [row.id for row in drilldown(history, [ids["d2"], ids["r1"]])] == [ids["r1"], ids["d2"]]
