"""The deploy mode, driven by keyboard against the simulated cluster over HTTP (the backend's real
code path, only faster): board, deploy → watch → complete, promote, pause/resume, abort, rollback,
inconclusive analysis, interrupted deploys, an unreachable cluster, and snapshots.

Every deploy runs in a real detached runner process, as in production; the simulated cluster is
served by this test process (it outlives each app, as the shared one outlives consoles)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from backends.deploy.events import StageFinished
from backends.deploy.session import open_deploy
from backends.kube.sim.cluster import SimulatedCluster
from backends.workspace import load_demo_workspace
from console.app import IdpConsoleApp
from screens.deploy import DeployScreen
from screens.deploy_confirm import ConfirmDeploy
from screens.deploy_view import Clock
from tests.screens.helpers import screen_text, wait_for_catalog, workspace_app, write_workspace
from tests.screens.helpers import until as wait_until
from widgets.event_log import EventLog
from widgets.virtual_table import VirtualTable

TIME_SCALE = 0.02  # simulated pods are ready in ~0.1 s
SERVICE = "payment-service"


class FrozenClock(Clock):
    """Stamps and ages that never change, so snapshots are stable."""

    def stamp(self, at: float) -> str:
        return "12:00:00"

    def age(self, seconds: float) -> str:
        return "5m"


@pytest.fixture(autouse=True)
def fast_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(DeployScreen, "SESSION_TIME_SCALE", TIME_SCALE)
    monkeypatch.setattr(DeployScreen, "clock", FrozenClock())
    yield


@pytest.fixture(autouse=True)
def sim_owner(isolated_home: Path) -> Iterator[SimulatedCluster]:
    """The demo's simulated cluster, owned by the test rather than by an app: runners keep using it
    after the app that started them quit. At the end, every runner still going is stopped."""
    from backends.deploy.history import DeployHistory

    # Its own (unused) history: a second connection to the console's would only add noise.
    history = DeployHistory(isolated_home / "sim-owner-history.sqlite3")
    session = open_deploy(load_demo_workspace(), time_scale=TIME_SCALE, history=history)
    yield session.simulation()
    stop_runners()
    session.close()


def stop_runners() -> None:
    """Abort every deploy still running in a runner and wait for its process to end."""
    from backends.deploy.attach import attach, running_deploys
    from backends.deploy.history import DeployHistory

    history = DeployHistory()
    for deploy_id in running_deploys():
        record = history.get(deploy_id)
        with contextlib.suppress(Exception):
            attach(deploy_id).abort("the test is over")
        if record is not None and record.pid:
            try:
                wait_for_exit(record.pid)
            except AssertionError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record.pid, signal.SIGKILL)


def deploy_app(bake: str = "0.3s", **deploy: Any) -> IdpConsoleApp:
    """The demo workspace (simulated cluster, seeded services) with short bakes."""
    workspace = load_demo_workspace()
    workspace.raw["deploy"] = {**workspace.raw["deploy"], "bake": bake, **deploy}
    return IdpConsoleApp(workspace)


# -- helpers ------------------------------------------------------------------------------------


def board_rows(screen: DeployScreen) -> dict[str, tuple[str, ...]]:
    table = screen.query_one("#board", VirtualTable)
    return {row[0]: tuple(row) for row in table._rows}


def settled(screen: DeployScreen) -> bool:
    """Every seeded service shows ready pods and nothing is still rolling out."""
    rows = board_rows(screen)
    cells = [cell for row in rows.values() for cell in row[1:] if cell != "—"]
    return bool(cells) and all(cell.startswith("✔") and "⇢" not in cell for cell in cells)


async def open_deploy_mode(pilot: Pilot) -> DeployScreen:
    await wait_for_catalog(pilot)
    await pilot.press("3")
    screen = pilot.app.screen
    assert isinstance(screen, DeployScreen)
    await wait_until(pilot, lambda: screen.board is not None and settled(screen), what="the board")
    return screen


async def fill_form(pilot: Pilot, screen: DeployScreen, service: str, env: str, version: str) -> None:
    await pilot.press("n")
    assert screen.view == "form"
    assert screen.query_one("#service-filter", Input).has_focus
    await pilot.press(*service[:5], "enter")  # a prefix is enough: the first match is chosen
    assert screen.form.service == service
    environments = screen.query_one("#environments", OptionList)
    assert environments.has_focus
    ids = [environments.get_option_at_index(i).id for i in range(environments.option_count)]
    for _ in range(ids.index(env)):
        await pilot.press("down")
    await pilot.press("enter")
    assert screen.query_one("#version", Input).has_focus
    await pilot.press(*version, "enter")
    await pilot.pause()


async def confirm(pilot: Pilot, typed: str | None = None) -> None:
    modal = pilot.app.screen
    assert isinstance(modal, ConfirmDeploy)
    if typed is not None:
        await pilot.press(*typed)
    await pilot.press("enter")
    await pilot.pause()


async def deploy(pilot: Pilot, screen: DeployScreen, env: str, version: str) -> None:
    await fill_form(pilot, screen, SERVICE, env, version)
    await confirm(pilot, SERVICE if env == "production" else None)
    assert screen.view == "watch"


async def wait_finished(pilot: Pilot, screen: DeployScreen, timeout: float = 40.0) -> str:
    await wait_until(pilot, lambda: screen.state is not None and screen.state.finished, timeout, "the run")
    await wait_until(pilot, lambda: not screen.driving, 10, "the worker")
    assert screen.state is not None
    return screen.state.outcome


async def wait_step(pilot: Pilot, screen: DeployScreen, step: int) -> None:
    def reached() -> bool:
        state = screen.state
        return state is not None and state.current_step == step and state.statuses[step] == "running"

    await wait_until(pilot, reached, what=f"step {step + 1}")


def log_text(screen: DeployScreen) -> str:
    return "\n".join(screen.query_one("#log", EventLog).lines_text)


def stable_cell(screen: DeployScreen, env: str) -> str:
    environments = screen.desk.environments
    return board_rows(screen)[SERVICE][1 + environments.index(env)]


# -- the pure parts: folding events, filtering, cells ------------------------------------------


def test_run_state_folds_a_deploy_with_an_inconclusive_step() -> None:
    from backends.deploy import events as ev
    from screens.deploy_view import RunState

    state = RunState(SERVICE, "production", "v2.3.1")
    stream = [
        ev.DeployStarted(
            "d1",
            SERVICE,
            "production",
            "v2.3.0",
            "v2.3.1",
            "jane",
            "production",
            (5, 50, 100),
            (2.0, 2.0, 2.0),
        ),
        ev.StageStarted("d1", ev.Stage.CANARY, step=0, detail="5%: 1 canary / 4 stable pods"),
        ev.RolloutProgress("d1", 5, 20.0, 4, 4, 1, 1, step=0),
        ev.StageFinished("d1", ev.Stage.CANARY, True, step=0),
        ev.StageStarted("d1", ev.Stage.ANALYSIS, step=0),
        ev.AnalysisResult("d1", 0, "error-rate", ev.Verdict.INCONCLUSIVE, "no data", None, 0.01),
        ev.Paused("d1", "analysis inconclusive at 5%: no data", step=0, needs_decision=True),
    ]
    entries = [state.apply(event) for event in stream]
    assert state.paused and state.needs_decision and state.statuses == ["paused", "pending", "pending"]
    assert state.weight == 5 and state.actual_weight == 20.0
    assert entries[5] is not None and entries[5].level == "warning"
    assert "promote (p) or abort (a)" in entries[6].text
    views = state.step_views()
    assert [v.label for v in views] == ["5%", "50%", "100%", "promote"]
    assert views[0].note == "1 canary / 4 stable pods" and views[0].checks[0].name == "error rate"
    assert state.highlighted_step == 0

    state.apply(ev.Resumed("d1", by="promote"))
    assert state.phase == "Progressing" and state.statuses[0] == "running"
    state.apply(ev.StageStarted("d1", ev.Stage.ROLLBACK, detail="aborted by user"))
    assert state.phase == "Rolling back" and state.statuses[0] == "failed"
    last = state.apply(ev.DeployFinished("d1", ev.Outcome.ABORTED, "aborted by user", "v2.3.0"))
    assert state.finished and state.phase == "Aborted"
    assert state.statuses == ["failed", "skipped", "skipped"] and state.final_status == "skipped"
    assert last is not None and last.level == "error" and "is on v2.3.0" in last.text
    assert "‖" not in state.headline() and "✖ Aborted" in state.headline()


def test_fuzzy_filter_prefers_substrings_then_close_matches() -> None:
    from widgets.deploy_form import fuzzy_filter

    names = ["auth-service", "payment-service", "payments-gateway", "ledger-service"]
    assert fuzzy_filter("", names) == names
    assert fuzzy_filter("pay", names) == ["payment-service", "payments-gateway"]
    assert fuzzy_filter("paymnt", names)[0] == "payment-service"  # a typo still finds it
    assert fuzzy_filter("zzzz", names) == []


def test_board_cell() -> None:
    from backends.deploy.status import WorkloadStatus
    from screens.deploy_view import board_cell

    def workload(version: str, desired: int, ready: int, done: bool = True) -> WorkloadStatus:
        return WorkloadStatus("x", version, desired, ready, ready, ready, "", done, False)

    assert board_cell(None, None) == "—"
    assert board_cell(workload("v1", 4, 4), None) == "✔ v1 4/4"
    assert (
        board_cell(workload("v1", 3, 4, done=False), workload("v2", 1, 0, done=False)) == "◐ v1 4/3 ⇢ v2 0/1"
    )


# -- the board ----------------------------------------------------------------------------------


async def test_board_shows_what_runs_where_from_watches(tmp_path: Path) -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        rows = board_rows(screen)
        assert rows[SERVICE] == (SERVICE, "✔ v2.3.0 4/4", "✔ v2.3.0 4/4")
        assert rows["ledger-service"][1] == "✔ v3.1.0 3/3"
        assert rows["auth-service"][1] == "—"  # in the catalog, not in the cluster
        # A change made behind the screen's back (another client) arrives by watch.
        sim = screen.session.simulated
        assert sim is not None
        from backends.kube.cluster import Cluster

        cluster = Cluster.from_kubeconfig(str(sim.kubeconfig(tmp_path / "kubeconfig")), "simulated")
        cluster.patch("deployments", "staging", "ledger-service", {"spec": {"replicas": 5}})
        await wait_until(
            pilot, lambda: board_rows(screen)["ledger-service"][1] == "✔ v3.1.0 5/5", what="watch"
        )
        assert "SIMULATED CLUSTER" in screen_text(app)


async def test_help_lists_the_deploy_keys_with_their_ids() -> None:
    from screens.help import HelpScreen

    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deploy_mode(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "[deploy.new]" in text and "canary deploys watched live" in text


async def test_unreachable_kubeconfig_is_an_error_on_screen_not_a_fallback(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
        "clusters: [{name: prod, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: prod, context: {cluster: prod, user: me}}]\n"
        "users: [{name: me, user: {token: x}}]\n"
    )
    component = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: api\n"
        "  annotations: {backstage.io/kubernetes-id: api}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )
    environments = f"environments:\n  production:\n    kubeconfig: {kubeconfig}\n    context: prod\n"
    write_workspace(tmp_path / "ws", {"api.yaml": component}, environments)
    app = workspace_app(tmp_path / "ws")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        errors = screen.query_one("#board-errors", Static)
        await wait_until(pilot, lambda: errors.has_class("-shown"), what="the error")
        await wait_until(pilot, lambda: "never falls back" in screen_text(app), what="the error painted")
        text = screen_text(app)
        assert "✖ production: cannot reach the cluster prod (http://127.0.0.1:9)" in text
        assert board_rows(screen)["api"] == ("api", "✖ unreachable")
        assert "SIMULATED CLUSTER" not in text
        assert screen.session.simulated is None  # nothing was started instead


async def test_a_workspace_without_environments_says_so(tmp_path: Path) -> None:
    component = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: api\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )
    write_workspace(tmp_path / "ws", {"api.yaml": component})
    app = workspace_app(tmp_path / "ws")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("3")
        await wait_until(pilot, lambda: "No environments configured" in screen_text(app), what="the hint")


# -- deploy, watch, controls --------------------------------------------------------------------


async def test_deploy_to_production_confirm_watch_complete() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await fill_form(pilot, screen, SERVICE, "production", "v2.3.1")
        modal = app.screen
        assert isinstance(modal, ConfirmDeploy)
        assert "v2.3.0 (4/4) → v2.3.1" in screen_text(app)
        # enter alone (or a wrong name) does not deploy to production
        await pilot.press(*"payment", "enter")
        assert app.screen is modal
        assert "not the service name" in screen_text(app)
        await pilot.press(*"-service", "enter")
        await pilot.pause()
        assert screen.view == "watch"

        assert await wait_finished(pilot, screen) == "succeeded"
        text = screen_text(app)
        assert "deploy payment-service · production · v2.3.0 → v2.3.1 · ✔ Succeeded" in text
        assert screen.state is not None
        assert screen.state.statuses == ["done"] * 4 and screen.state.final_status == "done"
        log = log_text(screen)
        assert "analysis error-rate: error rate 0.20% within 1.00%" in log
        assert "deploy complete: payment-service runs v2.3.1; rollback available for 72h" in log
        # the tree shows the stable on the new version; the canary is gone
        await wait_until(pilot, lambda: "stable payment-service  v2.3.1  4/4 ready" in screen_text(app))
        assert "canary payment-service-canary" not in screen_text(app)
        await pilot.press("y")  # copy the log (OSC 52)
        assert "deploy complete: payment-service runs v2.3.1" in app.clipboard
        # the board followed by watch
        await pilot.press("escape")
        await wait_until(pilot, lambda: stable_cell(screen, "production") == "✔ v2.3.1 4/4", what="board")
        assert stable_cell(screen, "staging") == "✔ v2.3.0 4/4"
        board = screen.query_one("#board", VirtualTable)
        assert screen.desk.board.row_services[board.cursor_row] == SERVICE  # back on the row just deployed
        await pilot.press("w")
        assert screen.view == "watch" and screen.state is not None and screen.state.finished
        records = screen.session.context.history.records(SERVICE, "production", limit=1)
        assert records[0].outcome == "succeeded" and records[0].user == "jane.doe"


async def test_watch_view_shows_canary_and_pods_while_running() -> None:
    app = deploy_app(bake="30s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_step(pilot, screen, 0)
        await wait_until(
            pilot, lambda: "canary payment-service-canary  v2.3.1  1/1 ready" in screen_text(app)
        )
        text = screen_text(app)
        assert "stable payment-service  v2.3.0  4/4 ready" in text
        assert "▶ ◐  5%" in text  # the current step is marked
        assert "Running    1/1  ↻0" in text  # pods: ready, restarts
        await pilot.press("o")  # fold pods
        assert "5 pods ✔" not in screen_text(app)  # (the log says "1 of 5 pods (20%)": the real share)
        assert "4 pods ✔✔✔✔" in screen_text(app) and "1 pods ✔" in screen_text(app)
        await pilot.press("P")  # promote fully: skip the remaining steps
        assert await wait_finished(pilot, screen) == "succeeded"


async def test_promote_ends_each_bake_early() -> None:
    app = deploy_app(bake="60s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        started = asyncio.get_running_loop().time()
        for step in range(3):  # the 100% step has no bake
            await wait_step(pilot, screen, step)
            await pilot.press("p")
        assert await wait_finished(pilot, screen) == "succeeded"
        assert asyncio.get_running_loop().time() - started < 30  # not 3 × 60 s
        assert screen.state is not None and screen.state.statuses == ["done"] * 4


async def test_pause_and_resume() -> None:
    app = deploy_app(bake="1s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_step(pilot, screen, 1)
        await pilot.press("space")
        await wait_until(pilot, lambda: screen.state is not None and screen.state.paused, what="pause")
        assert screen.run is not None and screen.run.paused
        assert "‖ Paused: paused by user" in screen_text(app)
        assert "‖ Paused" in screen.query_one("#run-header", Static).render().plain
        await pilot.pause(1.5)  # longer than the bake: a paused bake does not finish
        assert screen.state is not None and screen.state.statuses[1] == "paused"
        await pilot.press("space")
        await wait_until(pilot, lambda: not screen.state.paused, what="resume")
        assert "resumed (resume)" in log_text(screen)
        assert await wait_finished(pilot, screen) == "succeeded"


async def test_abort_rolls_back() -> None:
    app = deploy_app(bake="60s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "production", "v2.3.1")
        await wait_step(pilot, screen, 0)
        await pilot.press("a")
        assert await wait_finished(pilot, screen) == "aborted"
        assert screen.state is not None
        assert screen.state.statuses == ["failed", "skipped", "skipped", "skipped"]
        assert "✖ Aborted" in screen_text(app)
        assert "aborted: aborted by user; payment-service is on v2.3.0" in log_text(screen)
        await wait_until(pilot, lambda: "canary payment-service-canary" not in screen_text(app), what="tree")
        await pilot.press("escape")
        await wait_until(pilot, lambda: stable_cell(screen, "production") == "✔ v2.3.0 4/4", what="board")


async def test_rollback_after_a_deploy() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        assert await wait_finished(pilot, screen) == "succeeded"
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmDeploy)
        assert "last good version" in screen_text(app)
        await confirm(pilot)  # staging: enter on the focused Confirm button
        assert await wait_finished(pilot, screen) == "succeeded"
        assert screen.state is not None and screen.state.kind == "rollback"
        assert "rollback payment-service · staging · v2.3.1 → v2.3.0 · ✔ Succeeded" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: stable_cell(screen, "staging") == "✔ v2.3.0 4/4", what="board")


async def test_rollback_key_during_a_deploy_stops_it() -> None:
    app = deploy_app(bake="60s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_step(pilot, screen, 0)
        await pilot.press("b")
        assert await wait_finished(pilot, screen) == "rolled-back"
        assert "rolling back: rollback requested by user" in log_text(screen)


def prometheus_fails_one_analysis(sim: SimulatedCluster) -> None:
    """Prometheus answers the next query (and both its retries) with 503: no data for one analysis."""
    assert sim.prometheus is not None
    sim.prometheus.fail_next(3)


async def test_inconclusive_analysis_asks_and_promote_goes_on(sim_owner: SimulatedCluster) -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        prometheus_fails_one_analysis(sim_owner)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_until(
            pilot, lambda: screen.state is not None and screen.state.needs_decision, what="pause"
        )
        decision = screen.query_one("#decision", Static)
        assert decision.has_class("-shown")
        text = screen_text(app)
        assert "analysis inconclusive at 5%" in text
        assert "p promotes (accept and go on) · a aborts (roll back)" in text
        await pilot.press("space")  # resume is not an answer to an inconclusive analysis
        await pilot.pause(0.3)
        assert screen.state.needs_decision
        await pilot.press("p")
        assert await wait_finished(pilot, screen) == "succeeded"
        assert "error rate accepted by user" in log_text(screen)


async def test_inconclusive_analysis_abort(sim_owner: SimulatedCluster) -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        prometheus_fails_one_analysis(sim_owner)
        await deploy(pilot, screen, "production", "v2.3.1")
        await wait_until(
            pilot, lambda: screen.state is not None and screen.state.needs_decision, what="pause"
        )
        await pilot.press("a")
        assert await wait_finished(pilot, screen) == "aborted"
        assert not screen.query_one("#decision", Static).has_class("-shown")


async def test_failing_canary_is_rolled_back_and_shown() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        screen.session.simulated.set_error_rate(SERVICE, "canary", 0.07)
        await deploy(pilot, screen, "staging", "v2.3.1")
        assert await wait_finished(pilot, screen) == "rolled-back"
        assert screen.state is not None and screen.state.checks[0][-1].verdict == "failed"
        assert "✖ error rate 7.00%" in screen_text(app)
        assert "↩ Rolled back" in screen_text(app)


async def test_deploy_command_preselects_the_service() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"deploy payment-service", "enter")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await wait_until(pilot, lambda: screen.form.service == SERVICE, what="preselect")
        assert screen.view == "form"
        assert screen.query_one("#environments", OptionList).has_focus
        await wait_until(
            pilot, lambda: "production    runs v2.3.0 (4/4)" in screen_text(app), what="versions"
        )


async def test_the_version_list_comes_from_the_repository_each_environment_deploys_from() -> None:
    from backends.registry import registry_for

    workspace = load_demo_workspace()
    environments = {name: dict(env) for name, env in workspace.raw["environments"].items()}
    environments["staging"]["image"] = "candidates/{service}"
    environments["production"]["image"] = "releases/{service}"
    workspace.raw["environments"] = environments
    registry = registry_for(workspace)
    assert registry is not None
    for tag in ("v2.4.0-rc.1", "v2.4.0-rc.2"):
        registry.push(f"{registry.host}/candidates/{SERVICE}", tag)
    registry.push(f"{registry.host}/releases/{SERVICE}", "v2.3.1")
    app = IdpConsoleApp(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        version = screen.query_one("#version", Input)
        await pilot.press("n", *"payme", "enter")  # staging is highlighted first
        await wait_until(
            pilot,
            lambda: "in the registry, newest first: v2.4.0-rc.2, v2.4.0-rc.1" in screen_text(app),
            what="staging's repository",
        )
        assert version.value == "v2.4.0-rc.2"
        await pilot.press("down")  # production deploys from another repository
        await wait_until(
            pilot,
            lambda: any(
                line.strip() == "in the registry, newest first: v2.3.1"
                for line in screen_text(app).splitlines()
            ),
            what="production's repository",
        )
        assert version.value == "v2.3.1"  # the newest filled in follows; a typed version would stay


async def test_deploy_command_on_an_entity_page_means_that_entity() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"e ledger-service", "enter")
        await pilot.pause()
        await pilot.press("colon", *"deploy", "enter")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await wait_until(pilot, lambda: screen.form.service == "ledger-service", what="preselect")
        assert screen.view == "form"


async def test_refused_deploy_is_shown() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        # checkout-bff belongs to team-checkout: production refuses jane.doe (team-payments)
        await fill_form(pilot, screen, "checkout-bff", "production", "v5.0.5")
        await confirm(pilot, "checkout-bff")
        assert await wait_finished(pilot, screen) == "failed"
        assert "✖ Failed" in screen_text(app)
        assert "not a member of" in log_text(screen)


async def test_watch_a_service_without_deploying_follows_other_clients() -> None:
    app = deploy_app(bake="0.5s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        for _ in range(list(board_rows(screen)).index(SERVICE)):
            await pilot.press("down")
        await pilot.press("w")
        assert screen.view == "watch" and screen.state is None
        await wait_until(pilot, lambda: "stable payment-service  v2.3.0  4/4 ready" in screen_text(app))
        assert "watching payment-service · staging" in screen_text(app)
        await pilot.press("e")
        await wait_until(pilot, lambda: "└─ production  namespace production" in screen_text(app), what="env")
        # a deploy by someone else (the CLI, another console) shows up live, canary included
        run = screen.desk.engine.deploy(SERVICE, "production", "v2.3.1")
        finished = asyncio.get_running_loop().run_in_executor(None, lambda: list(run.events()))
        await wait_until(
            pilot, lambda: "canary payment-service-canary  v2.3.1" in screen_text(app), what="canary"
        )
        await finished
        await wait_until(pilot, lambda: "stable payment-service  v2.3.1  4/4 ready" in screen_text(app))
        assert "canary payment-service-canary" not in screen_text(app)
        # and it can be rolled back from here (production: typed confirmation)
        await pilot.press("b")
        await confirm(pilot, SERVICE)
        assert await wait_finished(pilot, screen) == "succeeded"
        assert screen.state is not None and screen.state.kind == "rollback"
        assert screen.state.to_version == "v2.3.0"
        await pilot.press("escape")
        await wait_until(pilot, lambda: stable_cell(screen, "production") == "✔ v2.3.0 4/4", what="board")


# -- recovery -----------------------------------------------------------------------------------


def interrupt_a_deploy() -> None:
    """A deploy to staging whose runner was killed (-9) once its first step had passed its checks."""
    from backends.deploy.attach import RunnerError, start_runner
    from backends.deploy.runner import RunRequest

    deploy = {**load_demo_workspace().raw["deploy"], "bake": "0.2s"}
    run = start_runner(RunRequest("deploy", SERVICE, "staging", "v2.3.1", deploy=deploy))
    with contextlib.suppress(RunnerError):  # "the runner stopped before the run finished"
        for event in run.events():
            # the first step passed its checks: routed, baked and analysed
            if isinstance(event, StageFinished) and event.stage == "analysis" and event.step == 0:
                os.kill(run.pid or 0, signal.SIGKILL)
    wait_for_exit(run.pid or 0)


def wait_for_exit(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not exit")


@pytest.mark.parametrize("key, outcome", [("x", "aborted"), ("r", "succeeded")])
async def test_interrupted_deploy_offered_on_start(key: str, outcome: str) -> None:
    interrupt_a_deploy()
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await wait_until(pilot, lambda: screen.desk.board.interrupted, what="interrupted deploys")
        text = screen_text(app)
        assert "Deploys interrupted in an earlier run" in text
        assert "payment-service in staging: v2.3.0 → v2.3.1 by jane.doe, stopped after step 1" in text
        await pilot.press(key)
        await confirm(pilot)
        assert await wait_finished(pilot, screen) == outcome, log_text(screen)
        assert screen.state is not None and screen.state.final_status == "done"
        if key == "r":  # the step done before the interruption shows as done too
            assert screen.state.statuses == ["done"] * 4
        version = "v2.3.0" if key == "x" else "v2.3.1"
        await pilot.press("escape")
        await wait_until(pilot, lambda: stable_cell(screen, "staging") == f"✔ {version} 4/4", what="board")
        assert not screen.query_one("#interrupted", Static).has_class("-shown")


async def test_quitting_mid_deploy_leaves_it_running_and_the_next_console_attaches() -> None:
    # (Before runners, quitting left the deploy interrupted, to resume on the next start.)
    app = deploy_app(bake="60s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_until(pilot, lambda: "analysis at 5%" in log_text(screen), what="the first bake")
        assert screen.run is not None
        deploy_id = screen.run.deploy_id
    from backends.deploy.attach import running_deploys

    assert deploy_id in running_deploys()  # the console is gone; the deploy is not
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode_while_deploying(pilot)
        assert not screen.desk.board.interrupted  # running, not interrupted
        await wait_until(pilot, lambda: stable_cell(screen, "staging").startswith("▶ "), what="the mark")
        await move_to(pilot, screen, SERVICE)
        await pilot.press("w")  # attach: the whole story so far, then live, with the same keys
        assert screen.view == "watch"
        await wait_until(pilot, lambda: "analysis at 5%" in log_text(screen), what="the replayed log")
        assert screen.run is not None and screen.run.deploy_id == deploy_id
        await pilot.press("P")
        assert await wait_finished(pilot, screen) == "succeeded"
        await pilot.press("escape")
        await wait_until(pilot, lambda: stable_cell(screen, "staging") == "✔ v2.3.1 4/4", what="unmarked")


async def test_a_deploy_started_elsewhere_is_marked_and_enter_attaches() -> None:
    from backends.deploy.attach import start_runner
    from backends.deploy.runner import RunRequest

    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        deploy = {**app.workspace.raw["deploy"], "bake": "60s"}  # as the CLI would, in its own process
        run = start_runner(RunRequest("deploy", SERVICE, "production", "v2.3.1", deploy=deploy))
        await wait_until(pilot, lambda: stable_cell(screen, "production").startswith("▶ "), what="the mark")
        assert not stable_cell(screen, "staging").startswith("▶ ")
        await move_to(pilot, screen, SERVICE)
        await pilot.press("enter")  # watches the running deploy instead of opening the form
        assert screen.view == "watch"
        await wait_step(pilot, screen, 0)
        assert screen.run is not None and screen.run.deploy_id == run.deploy_id
        assert "deploy payment-service · production · v2.3.0 → v2.3.1" in screen_text(app)
        await pilot.press("a")  # steered from here: the runner rolls it back
        assert await wait_finished(pilot, screen) == "aborted"


async def test_ctrl_q_while_deploying_asks_and_detach_leaves_it_running() -> None:
    from backends.deploy.attach import running_deploys
    from screens.quit_confirm import QuitWhileDeploying

    app = deploy_app(bake="60s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_step(pilot, screen, 0)
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, QuitWhileDeploying)
        text = screen_text(app)
        assert "The deploy of payment-service to staging is running" in text
        assert "It continues in its runner when you quit" in text
        assert "[d] detach and quit   [a] abort it and quit   [esc] stay" in text
        await pilot.press("escape")  # stay
        assert app.screen is screen and app.is_running
        await pilot.press("colon", *"q", "enter")  # :q asks too
        assert isinstance(app.screen, QuitWhileDeploying)
        assert screen.run is not None
        deploy_id = screen.run.deploy_id
        await pilot.press("d")
        await pilot.pause()
        assert not app.is_running
    assert deploy_id in running_deploys()


async def test_ctrl_q_abort_and_quit_rolls_the_deploy_back() -> None:
    from backends.deploy.history import DeployHistory

    app = deploy_app(bake="60s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_step(pilot, screen, 0)
        assert screen.run is not None
        deploy_id = screen.run.deploy_id
        await pilot.press("ctrl+q", "a")
        await pilot.pause()
        assert not app.is_running
    deadline = time.monotonic() + 30
    while (record := DeployHistory().get(deploy_id)) is None or record.outcome is None:
        assert time.monotonic() < deadline, "the runner did not abort"
        await asyncio.sleep(0.1)
    assert record.outcome == "aborted"


async def test_ctrl_q_without_a_running_deploy_quits_at_once() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        assert await wait_finished(pilot, screen) == "succeeded"
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running


async def test_the_top_bar_says_who_you_are() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        first_line = screen_text(app).splitlines()[0]
        assert first_line.rstrip().endswith("jane.doe · Acme (demo)")
        assert "READ-ONLY" not in first_line


async def test_readonly_console_changes_nothing_and_says_so() -> None:
    workspace = load_demo_workspace()
    app = IdpConsoleApp(workspace, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        text = screen_text(app)
        assert "READ-ONLY  jane.doe · Acme (demo)" in text.splitlines()[0]
        footer = text.splitlines()[-1]
        assert "Watch" in footer and "Deploy" not in footer  # the key of a change is hidden
        await pilot.press("n")
        await pilot.pause()
        assert screen.view == "board"
        assert "Read-only mode: deploying is off." in notifications(app)
        await move_to(pilot, screen, SERVICE)
        await pilot.press("enter")  # watches the service instead of opening the deploy form
        assert screen.view == "watch" and screen.state is None
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDeploy)
        assert "Read-only mode: rolling back is off." in notifications(app)
        await pilot.press("colon", *"deploy payment-service", "enter")
        await pilot.pause()
        assert screen.view == "watch"  # not the form
        assert screen.session is not None
        assert screen.session.context.history.records(SERVICE, "staging", limit=1) == []


def notifications(app: IdpConsoleApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def open_deploy_mode_while_deploying(pilot: Pilot) -> DeployScreen:
    """The deploy mode once the board is there (a canary may be running: not settled)."""
    await wait_for_catalog(pilot)
    await pilot.press("3")
    screen = pilot.app.screen
    assert isinstance(screen, DeployScreen)
    await wait_until(pilot, lambda: screen.board is not None and board_rows(screen), what="the board")
    return screen


async def move_to(pilot: Pilot, screen: DeployScreen, service: str) -> None:
    table = screen.query_one("#board", VirtualTable)
    while screen.desk.board.row_services[table.cursor_row] != service:
        await pilot.press("down")


# -- snapshots ----------------------------------------------------------------------------------

SIZE = (120, 40)


async def _board(pilot: Pilot) -> None:
    await open_deploy_mode(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


def test_snapshot_board(snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(deploy_app(), terminal_size=SIZE, run_before=_board)


def test_snapshot_production_confirmation(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await _board(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, DeployScreen)
        await fill_form(pilot, screen, SERVICE, "production", "v2.3.1")
        await pilot.press(*"payment-service")

    assert snap_compare(deploy_app(), terminal_size=SIZE, run_before=run_before)


def test_snapshot_finished_deploy(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await _board(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, DeployScreen)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_finished(pilot, screen)
        await pilot.press("o")  # pods folded: their names are random
        await wait_until(pilot, lambda: "4 pods ✔✔✔✔" in screen_text(pilot.app), what="tree")
        # The log's last line arrives after the run's state says finished: the picture includes it.
        await wait_until(pilot, lambda: "deploy complete" in log_text(screen), what="the log's last line")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(deploy_app(), terminal_size=SIZE, run_before=run_before)


def test_snapshot_deploy_in_progress(snap_compare) -> None:  # noqa: ANN001
    """Mid-canary: the first step baking (a long bake holds it there), its pods ready, the steps,
    the rollout tree and the live log as they stand while the deploy runs."""

    async def run_before(pilot: Pilot) -> None:
        await _board(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, DeployScreen)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_step(pilot, screen, 0)
        await pilot.press("o")  # pods folded: their names are random

        def baking() -> bool:
            state, text = screen.state, screen_text(pilot.app)
            return (
                state is not None
                and state.actual_weight is not None
                and "analysis at 5%" in log_text(screen)
                and "1 pods ✔" in text
                and "4 pods ✔✔✔✔" in text
            )

        await wait_until(pilot, baking, what="the first step baking with its canary pod ready")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(deploy_app(bake="600s"), terminal_size=SIZE, run_before=run_before)
