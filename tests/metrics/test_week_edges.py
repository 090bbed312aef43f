"""A deploy that ends on a week's edge or on the window's start counts once, in its week and on its
side of the window, on both stores."""

from __future__ import annotations

from pathlib import Path

from backends.deploy.history import open_history
from backends.metrics import compute_scorecard, resolve_scope
from backends.metrics.bands import WEEK
from tests.history.conftest import workspace_with
from tests.metrics.history_builder import DAY, MIN, NOW, Builder, write_catalog


def test_deploys_ending_on_edges_land_in_one_week_and_one_side_of_the_window(
    store_url: str, tmp_path: Path
) -> None:
    history = open_history(workspace_with(tmp_path, store_url))
    b = Builder(history)
    took = 10 * MIN
    window_start = NOW - 30 * DAY
    for n, end in enumerate(
        (
            NOW,  # the newest week
            NOW - WEEK,  # a week ago to the second: the week before
            NOW - 2 * WEEK + 0.5,  # half a second inside that same week
            window_start,  # the window's first second: in it
            window_start - 0.5,  # half a second earlier: the same week, outside the window
            NOW - 8 * WEEK,  # where the trend's range begins: in no week shown
        )
    ):
        b.add("alpha", f"v1.{n}.0", end - took, took=took)
    catalog = write_catalog(tmp_path)
    card = compute_scorecard(
        history, catalog, resolve_scope(catalog), window_days=30, now=NOW,
        production=("production",), workspace_root=tmp_path,
    )  # fmt: skip
    frequency = card.figure("deployment_frequency")
    assert frequency.numerator == 4
    assert frequency.trend == [0, 0, 0, 2, 0, 0, 2, 1]
    history.close()
