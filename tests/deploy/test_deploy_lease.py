"""Deploy leases that cannot be lost silently (issue 8, findings 7 and 8), against the simulated
cluster over real HTTP: names from the canonical service, renewal independent of the deploy's own
API calls, a holder that stops writing once it lost the lease, takers that check the last renewal,
and releases that never delete somebody else's lease."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from backends.deploy import canary as cn
from backends.deploy.engine import DeployEngine
from backends.deploy.events import (
    DeployEvent,
    DeployFinished,
    LogLine,
    Outcome,
    Stage,
    StageFinished,
    StageStarted,
)
from backends.deploy.lease import DeployLease, LeaseHeld, LeaseLost, describe_holder, lease_name
from backends.kube.cluster import Conflict
from backends.kube.sim.resources import BY_KEY

from .conftest import OLD, SERVICE, Harness, collect, make_context

NEW = "v2.3.1"
LEASE = f"idp-console-deploy-{SERVICE}"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def finished(events: list[DeployEvent]) -> DeployFinished:
    last = events[-1]
    assert isinstance(last, DeployFinished), last
    return last


def refusal(events: list[DeployEvent]) -> str:
    checks = [e for e in events if isinstance(e, StageFinished) and e.stage is Stage.PRECHECKS]
    assert checks and not checks[0].ok, checks
    return checks[0].detail


class Background:
    """A deploy run in a thread; ``reached`` is set when ``until(event)`` first holds."""

    def __init__(self, run, until) -> None:
        self.run = run
        self.events: list[DeployEvent] = []
        self.reached = threading.Event()
        self._until = until
        self.thread = threading.Thread(target=self._go, daemon=True)
        self.thread.start()

    def _go(self) -> None:
        for event in self.run.events():
            self.events.append(event)
            if self._until(event):
                self.reached.set()
        self.reached.set()

    def join(self, timeout: float = 30) -> list[DeployEvent]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the deploy did not end"
        return self.events


def baking(event: DeployEvent) -> bool:
    return isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS


def stored_lease(harness: Harness) -> dict | None:
    # Straight from the simulation's store: readable while its HTTP API is stalled.
    assert harness.sim.store is not None
    return harness.sim.store.get(BY_KEY["coordination.k8s.io/v1/leases"], "production", LEASE)


def stored_version(harness: Harness, name: str) -> str | None:
    assert harness.sim.store is not None
    obj = harness.sim.store.get(BY_KEY["apps/v1/deployments"], "production", name)
    return obj["metadata"]["resourceVersion"] if obj else None


# -- names -----------------------------------------------------------------------------------------
def test_lease_names_are_valid_and_follow_the_canonical_service() -> None:
    assert lease_name("component:default/payment-service") == LEASE
    assert lease_name("Component:default/Payment-Service") == LEASE
    assert lease_name("payment-service") == LEASE
    odd = [
        "component:billing/payment-service",
        "Payment_Service",
        "payment.service",
        "x" * 63,
        "y" * 63,
        "a" * 40 + "-" + "b" * 22,
        "component:default/" + "z" * 80,
    ]
    names = [lease_name(s) for s in odd]
    for name in names:
        assert len(name) <= 63 and DNS_LABEL.match(name), name
    assert len(set(names + [LEASE])) == len(odd) + 1  # no two services share a lease


def test_deploy_by_entity_ref_holds_the_same_lease_as_by_name(harness: Harness, tmp_path: Path) -> None:
    context, _ = make_context(harness.sim, tmp_path / "other", deploy={"bake": "1s", "steps": [50, 100]})
    first = Background(
        DeployEngine(context).deploy("component:default/payment-service", "production", NEW), baking
    )
    assert first.reached.wait(30)
    lease = harness.cluster.find("leases", "production", LEASE)
    assert lease is not None and describe_holder(lease["spec"])["deploy"] == first.run.deploy_id
    second = collect(harness.engine.deploy(SERVICE, "production", "v2.3.2"))
    assert "in progress: held by jane.doe" in refusal(second)
    end = finished(first.join())
    assert end.outcome is Outcome.SUCCEEDED and end.version == NEW
    assert harness.cluster.find("leases", "production", LEASE) is None


# -- renewal -----------------------------------------------------------------------------------------
def test_a_stuck_api_call_does_not_stop_renewal(harness: Harness, tmp_path: Path) -> None:
    """The deploy's own PATCH hangs longer than the lease: the lease is still renewed meanwhile, so a
    second deploy is refused naming the holder (before: it took the lease over)."""
    settings = {"lease": "3s", "steps": [50, 100], "bake": "30s"}
    context, _ = make_context(harness.sim, tmp_path / "first", deploy=settings)
    harness.sim.faults.hang_next(1, method="PATCH", path=f"/deployments/{SERVICE}-canary$", seconds=5)
    first = Background(DeployEngine(context).deploy(SERVICE, "production", NEW), lambda e: False)
    deadline = time.monotonic() + 30
    while not any(hit.kind == "hang" for hit in harness.sim.faults.hits):
        assert time.monotonic() < deadline, "the deploy never reached its first canary write"
        time.sleep(0.05)
    time.sleep(3.5)  # longer than the lease: only a renewal made meanwhile keeps it
    second, _ = make_context(harness.sim, tmp_path / "second", deploy={"lease": "3s"})
    refused = collect(DeployEngine(second).deploy(SERVICE, "production", "v2.3.2"))
    assert "in progress: held by jane.doe" in refusal(refused)
    assert first.run.deploy_id in refusal(refused)
    first.run.abort("seen enough")
    assert finished(first.join()).outcome is Outcome.ABORTED  # still in charge: it rolls back
    stable = harness.deployment()
    assert stable is not None and cn.deployed_version(stable) == OLD


def test_a_holder_that_cannot_renew_stops_writing_and_says_so(harness: Harness, tmp_path: Path) -> None:
    """The API stalls for longer than the lease while a deploy bakes: the deploy stops before its
    lease could expire, changes nothing more, keeps the lease record (not deleted), and can be
    aborted afterwards."""
    context, _ = make_context(harness.sim, tmp_path / "first", deploy={"lease": "2s", "bake": "30s"})
    engine = DeployEngine(context)
    first = Background(engine.deploy(SERVICE, "production", NEW), baking)
    assert first.reached.wait(30)
    canary_before = stored_version(harness, f"{SERVICE}-canary")
    stable_before = stored_version(harness, SERVICE)
    harness.sim.faults.stall(4.0)
    events = first.join(timeout=15)
    end = finished(events)
    assert end.outcome is Outcome.INTERRUPTED and "lost the deploy lease" in end.reason
    errors = [e.message for e in events if isinstance(e, LogLine) and e.level == "error"]
    assert errors and "lost the deploy lease" in errors[0] and "--resume | --abort" in errors[0]
    time.sleep(4.5)  # the stall is over; nothing may have been written meanwhile by the lost holder
    assert stored_version(harness, f"{SERVICE}-canary") == canary_before
    assert stored_version(harness, SERVICE) == stable_before
    lease = stored_lease(harness)
    assert lease is not None and describe_holder(lease["spec"])["deploy"] == first.run.deploy_id
    assert context.history.get(first.run.deploy_id).outcome is None  # interrupted: resumable
    aborted = collect(engine.abort(first.run.deploy_id))
    assert finished(aborted).outcome is Outcome.ABORTED
    stable = harness.deployment()
    assert stable is not None and cn.deployed_version(stable) == OLD


# -- takers and releases -------------------------------------------------------------------------------
def _lease(harness: Harness, deploy_id: str, seconds: int = 2) -> DeployLease:
    return DeployLease(harness.cluster, "production", SERVICE, "production", deploy_id, "jane.doe", seconds)


def test_a_taker_waits_for_expiry_and_the_old_holder_never_deletes_it(harness: Harness) -> None:
    first = _lease(harness, "first", seconds=1)
    first.acquire()
    with pytest.raises(LeaseHeld, match="held by jane.doe"):
        _lease(harness, "second").acquire()
    # first never renews: its lease expires, also by the server's clock (whose Date is cut to the second)
    time.sleep(2.2)
    assert first.lost_reason() is not None  # and it knows, without asking the API
    with pytest.raises(LeaseLost):
        first.fenced(harness.cluster).patch(
            "deployments", "production", SERVICE, {"metadata": {"labels": {"x": "1"}}}
        )
    second = _lease(harness, "second", seconds=30)
    second.acquire()
    with pytest.raises(LeaseLost, match="taken over"):
        first.renew()
    first.release()
    lease = harness.cluster.find("leases", "production", LEASE)
    assert lease is not None and describe_holder(lease["spec"])["deploy"] == "second"
    second.release()
    assert harness.cluster.find("leases", "production", LEASE) is None


def test_release_is_conditional_on_the_version_read(harness: Harness) -> None:
    mine = _lease(harness, "mine", seconds=30)
    mine.acquire()
    lease = harness.cluster.get("leases", "production", LEASE)
    stale = lease["metadata"]["resourceVersion"]
    mine.renew()  # the lease changes after it was read
    with pytest.raises(Conflict):
        harness.cluster.delete("leases", "production", LEASE, preconditions={"resourceVersion": stale})
    assert harness.cluster.find("leases", "production", LEASE) is not None
    mine.release()
    assert harness.cluster.find("leases", "production", LEASE) is None


def test_two_processes_resuming_one_deploy_never_both_hold_its_lease(harness: Harness) -> None:
    """Two adopters take over the same interrupted deploy: the first gets the lease, the second is
    refused while the first lives (same deploy id, different holders); once it is gone, it may."""
    first = _lease(harness, "interrupted", seconds=30)
    first.acquire(take_over_from="interrupted")
    first.start_renewing()
    second = _lease(harness, "interrupted", seconds=30)
    try:
        with pytest.raises(LeaseHeld):
            second.acquire(take_over_from="interrupted")
    finally:
        first.stop_renewing()  # its run ended without finishing: an interrupted deploy again
    second.acquire(take_over_from="interrupted")
    with pytest.raises(LeaseLost, match="taken over"):
        first.renew()
    second.release()
    assert harness.cluster.find("leases", "production", LEASE) is None
