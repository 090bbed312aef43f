"""Status mode and a service's status page, driven by keyboard against the demo's simulated cluster
over HTTP (only faster): my services by default, ``a`` for all, ``/`` facets, keyed row updates,
an unreachable cluster, enter → the page with pods, Events, links and ``l`` following the log."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from backends.catalog.model import Entity, SourcePosition
from backends.deploy.events import Outcome
from backends.deploy.history import DeployRecord
from backends.kube.cluster import Cluster
from backends.kube.sim.cluster import SimulatedCluster
from backends.status.model import Health, PodRow, StatusCell
from backends.status.page import EntityLink, EventRow, Series
from console.app import IdpConsoleApp
from screens.status import StatusClock, StatusScreen
from screens.status_page import PageClock, ServiceStatusScreen
from tests.screens.helpers import (
    demo_app,
    screen_text,
    until,
    wait_for_catalog,
    workspace_app,
    write_workspace,
)
from tests.status.conftest import ClusterLink, linked_kubeconfig, unreachable_kubeconfig
from widgets.console_footer import ConsoleFooter
from widgets.virtual_table import VirtualTable

TIME_SCALE = 0.02  # simulated pods ready in ~0.1 s, a log line every 0.2 s
SIZE = (130, 36)
NOW = 1_796_000_000.0


class FrozenStatusClock(StatusClock):
    def now(self) -> float:
        return NOW


class FrozenPageClock(PageClock):
    def now(self) -> float:
        return NOW

    def stamp(self, at: float) -> str:
        return "2026-11-30 09:00"


@pytest.fixture(autouse=True)
def fast_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(StatusScreen, "SESSION_TIME_SCALE", TIME_SCALE)
    monkeypatch.setattr(StatusScreen, "clock", FrozenStatusClock())
    monkeypatch.setattr(ServiceStatusScreen, "clock", FrozenPageClock())
    yield


def _status(app: IdpConsoleApp) -> StatusScreen:
    screen = app.screen
    assert isinstance(screen, StatusScreen), type(screen)
    return screen


def _rows(app: IdpConsoleApp) -> dict[str, tuple[str, ...]]:
    table = _status(app).query_one("#status", VirtualTable)
    return {row[0]: tuple(row) for row in table._rows}


async def _open_status(pilot: Pilot, *, healthy: tuple[str, ...] = ("payment-service",)) -> StatusScreen:
    app = pilot.app
    assert isinstance(app, IdpConsoleApp)
    await wait_for_catalog(pilot)
    await pilot.press("5")
    await until(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.is_live, what="live")

    def all_healthy() -> bool:
        rows = _rows(app)
        return all(name in rows and all(c.startswith("✔") for c in rows[name][1:]) for name in healthy)

    await until(pilot, all_healthy, what=f"{healthy} healthy")
    return _status(app)


def _sim_cluster(screen: StatusScreen, tmp: Path) -> Cluster:
    assert screen.session is not None
    kubeconfig = screen.session.simulation().kubeconfig(tmp / "kubeconfig")
    return Cluster.from_kubeconfig(str(kubeconfig), "simulated")


async def test_my_services_by_default_a_for_all_and_facet_filter() -> None:
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await _open_status(pilot)
        mine = set(_rows(app))
        # jane.doe is in team-payments: its services, not the checkout team's
        assert {"payment-service", "ledger-service", "invoice-service"} <= mine and "cart-service" not in mine
        await pilot.press("a")
        assert "cart-service" in _rows(app) and len(_rows(app)) > len(mine)
        await pilot.press("slash", *"owner:team-checkout", "enter")
        await until(pilot, lambda: "ledger-service" not in _rows(app), what="the filter")
        assert "cart-service" in _rows(app) and all(name not in mine for name in _rows(app))
        await pilot.press("escape")  # clears the filter
        await until(pilot, lambda: "ledger-service" in _rows(app), what="the filter cleared")
        await pilot.press("a")
        assert set(_rows(app)) == mine


async def test_a_cluster_change_replaces_only_its_row(tmp_path: Path) -> None:
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_status(pilot, healthy=("payment-service", "ledger-service"))
        table = screen.query_one("#status", VirtualTable)
        rows_before = table._rows
        ledger_before = _rows(app)["ledger-service"]
        cluster = _sim_cluster(screen, tmp_path)
        cluster.patch("deployments", "production", "payment-service", {"spec": {"replicas": 5}})
        await until(pilot, lambda: "5/5" in _rows(app)["payment-service"][2], what="5/5 in production")
        assert table._rows is rows_before  # the same list: one row replaced, nothing refilled
        assert _rows(app)["ledger-service"] == ledger_before  # other rows as they were
        assert "5/5" in screen_text(app)


async def test_the_clusters_are_asked_before_the_screen_is_mounted() -> None:
    """Textual styles and mounts a mode's screen for a fifth of a second (more on a loaded machine):
    the watches' lists are asked for meanwhile, so the rows go live sooner after `5`."""
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        screen = StatusScreen()
        assert not screen.is_mounted
        assert [w.name for w in app.workers if w.node is screen] == ["status view"]
        await app.push_screen(screen)
        await until(pilot, lambda: screen.is_live and "✔" in screen_text(app), what="live rows")
        controller = screen.controller
        assert controller is not None
        await app.pop_screen()
        await until(
            pilot, lambda: not any(w.streaming for w in controller.watches), what="the watches closed"
        )


async def test_the_footer_is_rebuilt_once_per_burst_and_only_when_a_key_changes() -> None:
    """A mode's screen changes its bindings four or five times while it opens, and every focus move
    says so; each footer rebuild restyles every key (a third of the status mode's first-paint CPU).
    One rebuild per burst, none when the keys stay the same, and a remapped key still shows."""
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_status(pilot)
        footer = screen.query_one(ConsoleFooter)
        asked: list[int] = []
        rebuild = footer.recompose

        async def counted() -> None:
            asked.append(1)
            await rebuild()

        footer.recompose = counted  # type: ignore[method-assign]
        keys = list(footer.query(FooterKey))
        for _ in range(5):
            screen.refresh_bindings()
        await until(pilot, lambda: asked, what="the footer asked to rebuild")
        assert len(asked) < 5  # one per frame at most (was one per change)
        assert list(footer.query(FooterKey)) == keys  # the same keys: the same widgets
        app.set_keymap({"status.toggle_all": "t"})
        await until(pilot, lambda: "t All / mine" in screen_text(app).splitlines()[-1], what="the new key")


async def test_an_unreachable_cluster_is_named_and_the_rest_shown(tmp_path: Path) -> None:
    broken = unreachable_kubeconfig(tmp_path / "broken-kubeconfig")
    catalog = {
        "c.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: web}\n"
        "spec: {type: service, lifecycle: production, owner: team-web}\n"
    }
    environments = (
        "environments:\n  staging: {cluster: simulated, namespace: staging}\n"
        f"  production: {{kubeconfig: {broken}, context: prod, namespace: production}}\n"
    )
    write_workspace(tmp_path / "ws", catalog, environments)
    app = workspace_app(tmp_path / "ws")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("5")
        await until(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.is_live, what="live")
        await pilot.press("a")  # nobody's groups own `web` here
        await until(pilot, lambda: "web" in _rows(app), what="the web row")
        assert _rows(app)["web"][1:] == ("– not deployed", "? unreachable")
        notice = str(_status(app).query_one("#unreachable", Static).content)
        assert notice.startswith("⚠ production:") and "production is not reachable" in notice
        assert "⚠ production:" in screen_text(app)


async def test_a_cluster_that_goes_away_mid_view_is_marked_on_the_list_and_the_page(
    tmp_path: Path, sim: SimulatedCluster, link: ClusterLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "for 2m (since 14:02:11)" is measured against the real clock: the frozen one would be before it.
    monkeypatch.setattr(StatusScreen, "clock", StatusClock())
    monkeypatch.setattr(ServiceStatusScreen, "clock", PageClock())
    catalog = {
        f"{name}.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}, annotations: {{backstage.io/kubernetes-id: {name}}}}}\n"
        "spec: {type: service, lifecycle: production, owner: team-web}\n"
        for name in ("invoice-service", "payment-service")
    }
    direct = sim.kubeconfig(tmp_path / "kubeconfig")
    linked = linked_kubeconfig(sim, link, tmp_path / "production-kubeconfig")
    environments = (
        f"environments:\n  staging: {{kubeconfig: {direct}, context: simulated, namespace: staging}}\n"
        f"  production: {{kubeconfig: {linked}, context: simulated, namespace: production}}\n"
    )
    write_workspace(tmp_path / "ws", catalog, environments)
    app = workspace_app(tmp_path / "ws")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("5")
        await until(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.is_live, what="live")
        await pilot.press("a")  # nobody's groups own them here
        await until(pilot, lambda: _all_healthy(app), what="both services healthy everywhere")
        notice = _status(app).query_one("#unreachable", Static)

        link.cut()  # production's API goes away while the list is open
        await until(
            pilot, lambda: _rows(app)["payment-service"][2].startswith("? unreachable for"), what="mark"
        )
        assert _rows(app)["invoice-service"][2].startswith("? unreachable for")
        assert all(row[1].startswith("✔ healthy") for row in _rows(app).values())  # staging stays live
        await until(pilot, lambda: "no answer for" in str(notice.content), what="the notice")
        text = str(notice.content)
        assert text.startswith("⚠ production: ") and "(since " in text
        assert "⚠ production:" in screen_text(app) and "? unreachable for" in screen_text(app)

        link.restore()  # it answers again: the list recovers by itself
        await until(pilot, lambda: _all_healthy(app), what="production live again")
        await until(pilot, lambda: not notice.has_class("-shown"), what="the notice gone")

        await pilot.press("slash", *"name:payment-service", "enter", "enter", "e")  # its page, production
        await until(pilot, lambda: isinstance(app.screen, ServiceStatusScreen), what="the page")
        page = app.screen
        assert isinstance(page, ServiceStatusScreen) and page.environment == "production"
        outage = page.query_one("#outage", Static)
        await until(pilot, lambda: "production: ✔ healthy" in screen_text(app), what="the tab healthy")
        link.cut()
        await until(pilot, lambda: outage.has_class("-shown"), what="the page's outage line")
        assert "production: ? unreachable" in screen_text(app)
        line = str(outage.content)
        assert line.startswith("⚠ production: ") and "no answer for" in line and "as last seen" in line
        link.restore()
        await until(pilot, lambda: not outage.has_class("-shown"), what="the page live again")
        assert "production: ✔ healthy" in screen_text(app)


def _all_healthy(app: IdpConsoleApp) -> bool:
    rows = _rows(app)
    return len(rows) == 2 and all(cell.startswith("✔ healthy") for row in rows.values() for cell in row[1:])


async def test_enter_opens_the_page_and_l_follows_the_log(tmp_path: Path) -> None:
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await _open_status(pilot)
        await pilot.press("slash", *"name:payment-service", "enter", "enter")
        await until(pilot, lambda: isinstance(app.screen, ServiceStatusScreen), what="the page")
        page = app.screen
        assert isinstance(page, ServiceStatusScreen)
        await until(pilot, lambda: screen_text(app).count("✔ yes") == 4, what="4 ready pods")
        events = page.query_one("#events", VirtualTable)
        await until(pilot, lambda: {"Scheduled", "Started"} <= {r[2] for r in events._rows}, what="events")
        await until(pilot, lambda: "requests" in screen_text(app), what="the traffic sparklines")
        assert "↗ Runbook" in screen_text(app)
        await until(pilot, lambda: page.log_lines > 0, what="the log tail")
        await pilot.press("l")
        assert page.following
        # Everything the container had written when following began (the follow's tail has at most
        # that many, up to its 50): two lines more can only have come while following.
        status = app.screen_stack[-2]
        assert isinstance(status, StatusScreen)
        cluster = _sim_cluster(status, tmp_path)
        written = len(list(cluster.pod_log(page.environment, page._log_pod)))
        await until(pilot, lambda: page.log_lines >= min(written, 50) + 2, what="new lines while following")
        assert "following (l stops)" in screen_text(app)
        await pilot.press("l")
        assert not page.following
        await pilot.press("escape")
        assert isinstance(app.screen, StatusScreen)


# -- snapshots ----------------------------------------------------------------------------------


def test_snapshot_status_list(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _open_status(pilot, healthy=("payment-service", "invoice-service", "ledger-service"))
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


class FixedPage:
    """A page backend with fixed data: what the page shows, without the clock or random pod names."""

    def __init__(self) -> None:
        raw = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": "payment-service", "title": "Payment Service"},
            "spec": {"type": "service", "lifecycle": "production", "owner": "team-payments"},
        }
        self.entity = Entity(raw, SourcePosition("catalog.yaml"))
        self.service = "payment-service"
        self.on_change: Callable[[], object] | None = None

    def environments(self) -> list[str]:
        return ["staging", "production"]

    def cell(self, env: str) -> StatusCell:
        if env == "staging":
            return StatusCell(
                "payment-service", env, env, Health.HEALTHY, version="v2.3.1", ready=4, desired=4
            )
        return StatusCell(
            "payment-service", env, env, Health.DEPLOYING, "canary", "v2.3.0", "v2.3.1", 5, 5, restarts_1h=1
        )

    def pods(self, env: str) -> list[PodRow]:
        stable = [
            PodRow(f"payment-service-7d9f8c6b5-{s}", "stable", "v2.3.0", "Running", True, 0, 3600.0,
                   "node-a", "", ("payment-service",))
            for s in ("4jssc", "667dk", "lwshq", "vtjr6")
        ]  # fmt: skip
        canary = PodRow("payment-service-canary-5c4b9-x2k8p", "canary", "v2.3.1", "Running", True, 1, 300.0,
                        "node-b", "", ("payment-service",))  # fmt: skip
        return [canary, *stable]

    def events(self, env: str) -> list[EventRow]:
        return [
            EventRow(NOW - 40, "Warning", "BackOff", "pod/payment-service-canary-5c4b9-x2k8p",
                     "Back-off restarting failed container", 2),
            EventRow(NOW - 300, "Normal", "Started", "pod/payment-service-canary-5c4b9-x2k8p",
                     "Started container payment-service", 1),
            EventRow(NOW - 310, "Normal", "ScalingReplicaSet", "deployment/payment-service-canary",
                     "Scaled up replica set payment-service-canary-5c4b9 from 0 to 1", 1),
        ]  # fmt: skip

    def timeline(self, env: str) -> list[DeployRecord]:
        def record(i: str, to: str, user: str, outcome: Outcome | None) -> DeployRecord:
            return DeployRecord(i, "deploy", "payment-service", env, env, "payment-service", user,
                                "v2.3.0", to, NOW - 600, outcome=outcome)  # fmt: skip

        return [record("d3", "v2.3.1", "jane.doe", None), record("d2", "v2.3.0", "omar", Outcome.SUCCEEDED)]

    def traffic(self, env: str) -> list[Series]:
        wave = tuple(100 + 20 * math.sin(i / 6) for i in range(61))
        return [
            Series("requests", "req/s", wave),
            Series("errors", "ratio", tuple(0.002 + 0.001 * (i % 7 == 0) for i in range(61))),
            Series("p95", "s", tuple(0.12 + 0.01 * math.cos(i / 5) for i in range(61))),
        ]

    def links(self) -> list[EntityLink]:
        return [
            EntityLink("Grafana", "https://grafana.acme.example/d/payments"),
            EntityLink("PagerDuty", "https://app.pagerduty.com/service-directory/PX1"),
            EntityLink("Runbook", "https://runbooks.acme.example/payment-service"),
        ]

    def follow_log(self, env: str, pod: str, container: str | None, on_line: Callable[[str], object],
                   on_end: Callable[[str], object] | None = None, **_: Any) -> None:  # fmt: skip
        for i in range(3):
            on_line(f"2026-11-30T09:0{i}:00Z INFO  GET /api/v1/payments 200 {12 + i}ms")

    def stop(self) -> None:
        pass


def test_snapshot_service_page(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot) -> None:
        await wait_for_catalog(pilot)
        await pilot.press("5")  # the page belongs to the status mode (crumbs: status › service)
        await until(pilot, lambda: isinstance(pilot.app.screen, StatusScreen), what="status mode")
        await pilot.app.push_screen(ServiceStatusScreen(FixedPage()))
        screen = pilot.app.screen
        assert isinstance(screen, ServiceStatusScreen)
        await until(pilot, lambda: screen.log_lines == 3 and "BackOff" in screen_text(pilot.app), what="page")
        await until(pilot, lambda: "requests" in screen_text(pilot.app), what="sparklines")

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)
