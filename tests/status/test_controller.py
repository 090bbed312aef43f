"""The status controller on the simulated cluster: one cell per service × environment, from watches."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from backends.deploy.engine import DeployContext
from backends.deploy.events import Outcome
from backends.deploy.history import DeployHistory, DeployRecord
from backends.kube.cluster import Cluster
from backends.kube.sim import PodFault
from backends.kube.sim.cluster import SimulatedCluster
from backends.status import Health, StatusController, status_services, targets_for
from tests.status.conftest import (
    ClusterLink,
    environments,
    linked_kubeconfig,
    status_catalog,
    unreachable_kubeconfig,
    wait_for,
)


def _controller(context: DeployContext, changes: list | None = None) -> StatusController:
    lock = threading.Lock()

    def changed(service: str, env: str) -> None:
        if changes is not None:
            with lock:
                changes.append((service, env))

    services = status_services(status_catalog().entities)
    return StatusController(
        targets_for(context, services), history=context.history, on_change=changed
    ).start()


def _quiet(changes: list, window: float = 0.3) -> None:
    """Wait until no cell has changed for ``window`` seconds, then forget what changed."""

    def still() -> bool:
        changes.clear()
        time.sleep(window)
        return not changes

    wait_for(still)


def _healthy(controller: StatusController) -> bool:
    return all(cell.health is Health.HEALTHY for cell in controller.cells())


def test_cells_show_what_runs_and_how_healthy(context: DeployContext) -> None:
    context.history.start(
        DeployRecord("d1", "deploy", "payment-service", "production", "production", "payment-service",
                     "jane.doe", "v1.2.0", "v1.3.0", started_at=time.time() - 600)
    )  # fmt: skip
    context.history.finish("d1", Outcome.SUCCEEDED, "v1.3.0")
    with _controller(context) as controller:
        wait_for(lambda: _healthy(controller))
        cell = controller.cell("payment-service", "production")
        assert (cell.version, cell.ready, cell.desired, cell.restarts_1h) == ("v1.3.0", 3, 3, 0)
        assert (cell.health.mark, str(cell.health)) == ("✔", "healthy")
        assert cell.last_deploy is not None and cell.last_deploy.user == "jane.doe"
        assert controller.cell("invoice-service", "staging").last_deploy is None
        # The pod watch is a stream of its own: it may deliver the last readiness a moment later.
        pods = wait_for(
            lambda: (p := controller.pods("payment-service", "production")) and all(x.ready for x in p) and p
        )
        assert len(pods) == 3 and all(p.node == "sim-node-1" and p.track == "stable" for p in pods)


def test_a_pod_change_updates_only_its_row(context: DeployContext, sim: SimulatedCluster) -> None:
    changes: list[tuple[str, str]] = []
    with _controller(context, changes) as controller:
        wait_for(lambda: _healthy(controller))
        cluster = controller.target("payment-service", "production").cluster
        assert cluster is not None
        _quiet(changes)  # the simulated controller's own status writes have settled
        pod = controller.pods("payment-service", "production")[0].name
        cluster.delete("pods", "production", pod)
        wait_for(lambda: pod not in {p.name for p in controller.pods("payment-service", "production")})
        assert set(changes) == {("payment-service", "production")}
        # …and the ReplicaSet's replacement brings the row back to full health.
        wait_for(lambda: controller.cell("payment-service", "production").health is Health.HEALTHY)


def test_crash_loop_counts_restarts_and_degrades(context: DeployContext, sim: SimulatedCluster) -> None:
    sim.controller.set_fault("invoice-service", PodFault(crash_loop=True))
    with _controller(context) as controller:
        cell = wait_for(
            lambda: (c := controller.cell("invoice-service", "staging")).restarts_1h >= 2 and c,
            timeout=20,
        )
        assert cell.health in (Health.DOWN, Health.DEGRADED)
        assert cell.health.mark in ("✖", "!")
        assert cell.reason == "CrashLoopBackOff"
        assert controller.cell("payment-service", "staging").restarts_1h == 0


def test_an_unreachable_cluster_is_named_and_the_rest_shown(
    sim: SimulatedCluster, tmp_path: Path, context: DeployContext
) -> None:
    broken = unreachable_kubeconfig(tmp_path / "broken")
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    context.environments_section = environments(kubeconfig, broken=broken)
    with _controller(context) as controller:
        wait_for(lambda: controller.cell("payment-service", "staging").health is Health.HEALTHY)
        cell = controller.cell("payment-service", "production")
        assert cell.health is Health.UNREACHABLE and cell.health.mark == "?"
        assert "production is not reachable" in cell.error
        assert list(controller.unreachable()) == ["production"]


def test_idle_controller_sends_no_requests(context: DeployContext, sim: SimulatedCluster) -> None:
    with _controller(context) as controller:
        wait_for(lambda: _healthy(controller))
        assert controller.wait_synced()
        assert sim.api_server is not None
        time.sleep(0.5)  # the controller's last pod status writes reach the watches
        before = sim.api_server.request_count
        watches = sum(w.stats.watches for w in controller.watches)
        time.sleep(1.5)
        assert sim.api_server.request_count == before
        assert sum(w.stats.watches for w in controller.watches) == watches


def test_history_read_again_when_a_deploy_ends(context: DeployContext, tmp_path: Path) -> None:
    history: DeployHistory = context.history
    history.start(
        DeployRecord("d2", "deploy", "invoice-service", "staging", "staging", "invoice-service",
                     "omar", "v1.2.0", "v1.4.0", started_at=time.time())
    )  # fmt: skip
    with _controller(context) as controller:
        wait_for(lambda: _healthy(controller))
        assert controller.deploys_in_progress() == [("invoice-service", "staging")]
        history.finish("d2", Outcome.ROLLED_BACK, "v1.2.0", "error rate 7 %")
        assert controller.refresh_history() == [("invoice-service", "staging")]
        record = controller.cell("invoice-service", "staging").last_deploy
        assert record is not None and record.outcome == Outcome.ROLLED_BACK
        cluster: Cluster | None = controller.target("invoice-service", "staging").cluster
        assert cluster is not None


class _UnreachableHistory:
    """A history store that does not answer (a PostgreSQL that is down)."""

    def records(
        self, service: str | None = None, environment: str | None = None, *, limit: int = 100
    ) -> list:
        raise ConnectionError("connection to server at 10.0.0.5:5432 refused")


def test_live_cells_without_the_history_say_why(context: DeployContext) -> None:
    services = status_services(status_catalog().entities)
    targets = targets_for(context, services)
    with StatusController(targets, history=_UnreachableHistory()) as controller:
        wait_for(lambda: _healthy(controller))
        assert controller.cell("payment-service", "production").last_deploy is None
        assert "10.0.0.5:5432 refused" in controller.history_error


def test_a_cluster_that_goes_away_is_marked_and_recovers(
    sim: SimulatedCluster, tmp_path: Path, context: DeployContext, link: ClusterLink
) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    environments_section = environments(kubeconfig)
    environments_section["production"]["kubeconfig"] = str(
        linked_kubeconfig(sim, link, tmp_path / "production-kubeconfig")
    )
    context.environments_section = environments_section
    changes: list[tuple[str, str]] = []
    with _controller(context, changes) as controller:
        wait_for(lambda: _healthy(controller))
        assert controller.wait_synced()
        cut_at = time.time()
        link.cut()
        # Every production cell says so, with why and since when, and is announced; staging is live.
        unreachable = Health.UNREACHABLE
        cell = wait_for(
            lambda: (c := controller.cell("payment-service", "production")).health is unreachable and c
        )
        assert cell.health.mark == "?"
        # One line in words: which cluster and what happened (not the driver's retry and URL text).
        assert cell.error.startswith(f"cannot reach the cluster simulated ({link.url}): ")
        assert "\n" not in cell.error and "Pool" not in cell.error and len(cell.error) < 120
        assert cell.since is not None and cell.since >= cut_at
        assert ("invoice-service", "production") in changes
        assert controller.cell("invoice-service", "production").health is Health.UNREACHABLE
        assert controller.cell("payment-service", "staging").health is Health.HEALTHY
        error, since = controller.outages()["production"]
        assert error == cell.error and since == cell.since
        assert list(controller.unreachable()) == ["production"]
        # It answers again: the watches resume by themselves and the cells are live once more.
        link.restore()
        wait_for(lambda: _healthy(controller), timeout=20)
        assert controller.outages() == {}
        # What changed meanwhile reaches the view too (the watch resumed where it stopped).
        cluster = controller.target("payment-service", "production").cluster
        assert cluster is not None
        cluster.patch("deployments", "production", "payment-service", {"spec": {"replicas": 4}})
        wait_for(lambda: controller.cell("payment-service", "production").desired == 4)


def test_reading_the_cells_works_out_no_pod_or_deployment_again(
    context: DeployContext, sim: SimulatedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list reads every cell per filter keystroke and every 30 s: what a pod or a Deployment
    says is worked out once per watch event (on the watch's thread), not once per read."""
    import backends.status.controller as controller_module

    reader = threading.current_thread()
    worked_out_here: list[str] = []

    def counted(name: str) -> object:
        original = getattr(controller_module, name)

        def count(obj: object, *args: object) -> object:
            if threading.current_thread() is reader:
                worked_out_here.append(name)
            return original(obj, *args)

        return count

    for name in ("pod_status", "workload_status"):
        monkeypatch.setattr(controller_module, name, counted(name))
    with _controller(context) as controller:
        wait_for(lambda: _healthy(controller))
        assert len(controller.cells()) == 4
        assert worked_out_here == []


def test_a_deleted_deployment_says_not_deployed(context: DeployContext, sim: SimulatedCluster) -> None:
    with _controller(context) as controller:
        wait_for(lambda: _healthy(controller))
        cluster = controller.target("invoice-service", "staging").cluster
        assert cluster is not None
        cluster.delete("deployments", "staging", "invoice-service")
        cell = wait_for(
            lambda: (c := controller.cell("invoice-service", "staging")).health is Health.ABSENT and c
        )
        assert (cell.reason, cell.version, cell.health.mark) == ("not deployed", "", "–")
        assert controller.cell("invoice-service", "production").health is Health.HEALTHY
