"""Time to first deploy: from the scaffold to the first healthy production deploy, on both stores."""

from __future__ import annotations

from pathlib import Path

from backends.deploy.events import Outcome
from backends.deploy.history import open_history
from backends.metrics import compute_scorecard, resolve_scope, store
from tests.history.conftest import workspace_with
from tests.metrics.history_builder import DAY, HOUR, MIN, NOW, Builder, write_catalog


def test_the_first_healthy_production_deploy_is_the_one_that_finished_first(
    store_url: str, tmp_path: Path
) -> None:
    history = open_history(workspace_with(tmp_path, store_url))
    b = Builder(history)
    made = NOW - 2 * DAY
    store.record_scaffold(history, "component:default/gamma", "microservice-golden-path", "bob", made)
    b.add("gamma", "v0.0.9", made - HOUR)  # before the scaffold: another service of that name
    b.add("gamma", "v0.1.0", made + 5 * MIN, env="staging")  # healthy, but not production
    b.add("gamma", "v0.1.0", made + 10 * MIN, outcome=Outcome.FAILED)  # changed nothing
    b.add("gamma", "v0.1.0", made + 20 * MIN, outcome=Outcome.ROLLED_BACK)
    b.add("gamma", "v0.0.9", made + 40 * MIN, kind="rollback")  # a rollback is not a deploy
    slow, _ = b.add("gamma", "v0.1.1", made + 50 * MIN, took=2 * HOUR)
    quick, quick_end = b.add("gamma", "v0.1.2", made + 60 * MIN, took=15 * MIN)  # started later, ended first
    catalog = write_catalog(tmp_path)
    card = compute_scorecard(
        history, catalog, resolve_scope(catalog), window_days=30, now=NOW,
        production=("production",), workspace_root=tmp_path,
    )  # fmt: skip
    first = card.figure("time_to_first_deploy")
    assert first.value == quick_end - made == 75 * MIN
    assert (first.numerator, first.denominator) == (1, 1)
    assert first.ids == [quick] and slow != quick
    assert first.details == ["gamma: 1.2 h to production"]
    history.close()
