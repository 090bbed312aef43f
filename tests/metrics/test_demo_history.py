"""The demo's generated 90-day history: deterministic, marked, seeded once, and harmless to the
deploy engine (the live demo's first deploy and rollback work on top of it)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from backends.catalog import load_catalog
from backends.demo.history_seed import SERVICES, seed_demo_history, seeded_ids
from backends.deploy.events import DeployFinished, Outcome
from backends.deploy.history import DeployHistory
from backends.kube.sim.seed import DEMO_SERVICES
from backends.metrics import compute_scorecard, production_environments, resolve_scope, store
from backends.workspace import load_demo_workspace
from console.cli import main
from tests.deploy.conftest import SERVICE, Harness, collect
from tests.metrics.history_builder import NOW


def test_the_demo_history_is_deterministic_marked_and_seeded_once(tmp_path: Path) -> None:
    first, second = DeployHistory(tmp_path / "a.sqlite3"), DeployHistory(tmp_path / "b.sqlite3")
    assert seed_demo_history(first, NOW) and seed_demo_history(second, NOW + 60)  # same hour
    assert sorted(seeded_ids(first)) == sorted(seeded_ids(second))
    assert not seed_demo_history(first, NOW)  # never twice
    rows = store.query(first, "SELECT DISTINCT host, pid FROM deploys")
    assert rows == [("demo-history", 0)]
    # Nothing is left unfinished: nothing to resume or abort.
    assert first.unfinished() == []
    # Each service ends healthy on the version the simulated cluster runs today.
    running = {s.name: s.image.rsplit(":", 1)[1] for s in DEMO_SERVICES}
    for service in SERVICES:
        last = first.records(service.name, "production", limit=1)[0]
        assert last.outcome is Outcome.SUCCEEDED and last.version == service.version
        if service.name in running:
            assert service.version == running[service.name]
    # 90 days of it, the newest more than a day old.
    span = store.query(
        first, "SELECT MIN(started_at), MAX(finished_at) FROM deploys JOIN outcomes ON id = deploy_id"
    )
    assert span[0][0] > NOW - 91 * 86400 and span[0][1] < NOW - 86400


def test_the_demo_scorecard_means_something(tmp_path: Path) -> None:
    history = DeployHistory(tmp_path / "h.sqlite3")
    seed_demo_history(history, NOW)
    workspace = load_demo_workspace()
    catalog = load_catalog(workspace)
    card = compute_scorecard(
        history, catalog, resolve_scope(catalog), window_days=90, now=NOW,
        production=production_environments(workspace), workspace_root=workspace.root,
    )  # fmt: skip
    assert card.demo
    for key in ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"):
        figure = card.figure(key)
        assert figure.denominator > 0 and figure.band is not None and figure.ids, key
    assert 0 < card.figure("change_failure_rate").numerator < card.figure("change_failure_rate").denominator
    assert card.figure("time_to_first_deploy").numerator == 3  # the three golden-path services
    assert card.figure("golden_paths").numerator == 3
    assert card.figure("nps").denominator > 0


def test_the_live_demo_deploys_and_rolls_back_on_top_of_the_generated_history(harness: Harness) -> None:
    assert seed_demo_history(harness.history, time.time())
    events = collect(harness.engine.deploy(SERVICE, "production", "v2.3.1"))
    assert isinstance(events[-1], DeployFinished) and events[-1].outcome is Outcome.SUCCEEDED, events[-1]
    assert harness.engine.find_interrupted() == []
    # Rolling back without --to goes to the version the live deploy replaced, not to generated ones.
    events = collect(harness.engine.rollback(SERVICE, "production"))
    assert isinstance(events[-1], DeployFinished) and events[-1].outcome is Outcome.SUCCEEDED, events[-1]
    assert harness.history.records(SERVICE, "production", limit=1)[0].to_version == "v2.3.0"


def test_the_demo_status_shows_each_services_last_deploy_from_the_generated_history(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The first command of a fresh demo is `status`: its last-deploy column is already filled.
    assert main(["status", "--output", "json"]) == 0
    by_name = {s["service"]: s["environments"] for s in json.loads(capsys.readouterr().out)["services"]}
    history = DeployHistory()  # the state dir's, which the command seeded
    for service in ("payment-service", "invoice-service", "ledger-service"):
        newest = history.records(service, "production", limit=1)[0]
        assert newest.host == "demo-history"
        last = by_name[service]["production"]["last_deploy"]
        assert last is not None and last["user"] == newest.user and last["outcome"] == "succeeded", service
