"""The median lead time counts the window's production deploys only, on both stores — SQLite walks
an index of every lead time of the environment (in and out of the window) to the middle."""

from __future__ import annotations

from pathlib import Path

from backends.deploy.history import open_history
from backends.metrics import compute_scorecard, resolve_scope
from tests.history.conftest import workspace_with
from tests.metrics.history_builder import DAY, HOUR, MIN, NOW, Builder, write_catalog


def test_the_median_lead_time_skips_what_is_outside_the_window_or_production(
    store_url: str, tmp_path: Path
) -> None:
    history = open_history(workspace_with(tmp_path, store_url))
    b = Builder(history)
    for n, lead in enumerate((8 * HOUR, 1 * HOUR, 5 * HOUR, 2 * HOUR)):
        b.add("alpha", f"v1.{n}.0", NOW - (n + 1) * DAY, lead=lead)
    b.add("alpha", "v0.9.0", NOW - 40 * DAY, lead=10 * MIN)  # shortest, before the window
    b.add("beta", "v0.8.0", NOW - 35 * DAY, lead=20 * MIN)
    b.add("beta", "v9.9.9", NOW - 2 * DAY, lead=1 * MIN, env="staging")
    catalog = write_catalog(tmp_path)

    def lead_time() -> tuple[float | None, int, int]:
        card = compute_scorecard(
            history, catalog, resolve_scope(catalog), window_days=30, now=NOW,
            production=("production",), workspace_root=tmp_path,
        )  # fmt: skip
        figure = card.figure("lead_time")
        return figure.value, figure.numerator, figure.denominator

    assert lead_time() == (3.5 * HOUR, 4, 4)  # 1, 2 | 5, 8 h: the mean of the middle two
    b.add("beta", "v2.0.0", NOW - 3 * DAY, lead=30 * MIN)
    assert lead_time() == (2 * HOUR, 5, 5)
    history.close()
