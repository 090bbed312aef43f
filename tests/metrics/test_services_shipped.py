"""Deployment frequency names the services that shipped: each once, whatever the number of
production environments, on both stores."""

from __future__ import annotations

from pathlib import Path

from backends.deploy.events import Outcome
from backends.deploy.history import open_history
from backends.metrics import compute_scorecard, resolve_scope
from tests.history.conftest import workspace_with
from tests.metrics.history_builder import DAY, NOW, Builder, write_catalog


def test_a_service_counts_once_when_it_shipped_in_the_window(store_url: str, tmp_path: Path) -> None:
    history = open_history(workspace_with(tmp_path, store_url))
    b = Builder(history)
    b.add("alpha", "v1.0.0", NOW - 3 * DAY)
    b.add("alpha", "v1.0.0", NOW - 2 * DAY, env="production-eu")  # a second production: same service
    b.add("alpha", "v1.1.0", NOW - 1 * DAY, env="production-eu")
    b.add("beta", "v2.0.0", NOW - 40 * DAY)  # shipped, but before the window
    b.add("beta", "v2.1.0", NOW - 5 * DAY, outcome=Outcome.ROLLED_BACK)  # in the window, not shipped
    b.add("beta", "v2.0.0", NOW - 5 * DAY + 3600, kind="rollback")  # a rollback ships nothing new
    b.add("gamma", "v0.1.0", NOW - 4 * DAY, env="staging")  # not production
    catalog = write_catalog(tmp_path)
    card = compute_scorecard(
        history, catalog, resolve_scope(catalog), window_days=30, now=NOW,
        production=("production", "production-eu"), workspace_root=tmp_path,
    )  # fmt: skip
    frequency = card.figure("deployment_frequency")
    assert frequency.universe == "3 production deploys in 30 days by 1 services"
    assert card.figure("change_failure_rate").universe == "1 of 4 production deploys failed"
    history.close()
