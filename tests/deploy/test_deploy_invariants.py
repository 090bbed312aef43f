"""The deploy guardrails as properties (issue 8): random interleavings of kills, analysis outcomes and
resume / abort / rollback against the simulated cluster over real HTTP.

Whatever happens: a version whose check failed is never the stable version afterwards; every deploy
ends with exactly one recorded outcome; a canary never exists without a live or resumable owner.
A kill is stopping the iteration of ``run.events()`` (documented as equivalent to a killed process).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backends.deploy import canary as cn
from backends.deploy.engine import DeployEngine
from backends.deploy.events import (
    AnalysisResult,
    DeployFinished,
    Outcome,
    Paused,
    Stage,
    StageFinished,
    StageStarted,
    Verdict,
)
from backends.deploy.run import DeployRun
from backends.kube.sim.cluster import SimulatedCluster

from .conftest import SERVICE, make_context

HEALTHY, FAILING = 0.002, 0.5
# What the canary does during one run: fine, fails the analysis of a step, or gives no data there
# (then a person promotes or aborts).
PLANS = ["ok", "fail@0", "fail@1", "nodata@0:promote", "nodata@1:abort"]
# Where the process dies: a named point (weight routed, bake begun, check passed, rollback begun or
# done, promote begun or done) or simply after the n-th stage/analysis event. Never: runs to the end.
KILLS = [
    *(f"{what}@{step}" for what in ("routed", "bake", "checked") for step in range(3)),
    "rollback",
    "rolled-back",
    "promote",
    "promoted",
    *(f"event#{n}" for n in (1, 4, 9, 14)),
]


@dataclass(frozen=True)
class Run:
    plan: str
    kill: str | None = None


def _kill_here(kill: str | None, event: object, counted: int) -> bool:
    if kill is None:
        return False
    if kill.startswith("event#"):
        return counted > int(kill[6:])
    what, _, step = kill.partition("@")
    stage = {
        "routed": Stage.CANARY,
        "bake": Stage.ANALYSIS,
        "checked": Stage.ANALYSIS,
        "rollback": Stage.ROLLBACK,
        "rolled-back": Stage.ROLLBACK,
        "promote": Stage.PROMOTE,
        "promoted": Stage.PROMOTE,
    }[what]
    kind = StageStarted if what in ("bake", "rollback", "promote") else StageFinished
    return (
        isinstance(event, kind)
        and event.stage is stage
        and (not step or event.step == int(step))
        and (kind is StageStarted or event.ok)
    )


@dataclass(frozen=True)
class Scenario:
    deploy: Run
    recoveries: tuple[tuple[str, Run], ...]  # ("resume" | "abort", how that run goes) while interrupted
    rollback_after: bool  # then `rollback` with no --to


runs = st.builds(Run, st.sampled_from(PLANS), st.one_of(st.none(), st.sampled_from(KILLS)))
scenarios = st.builds(
    Scenario,
    runs,
    st.lists(st.tuples(st.sampled_from(["resume", "abort"]), runs), max_size=2).map(tuple),
    st.booleans(),
)


class World:
    """One simulated cluster and one history, shared by every example of the property."""

    def __init__(self, sim: SimulatedCluster, tmp_path: Path) -> None:
        self.sim = sim
        context, _ = make_context(
            sim, tmp_path, deploy={"bake": "0.05s", "steps": [25, 50, 100], "progress_deadline": "10s"}
        )
        self.history = context.history
        self.engine = DeployEngine(context)
        self.cluster = context.cluster_for(context.environment("production"))
        self.versions = (f"v3.0.{n}" for n in itertools.count())

    def stable_version(self) -> str:
        return cn.deployed_version(self.cluster.get("deployments", "production", SERVICE))

    def canary(self) -> dict | None:
        return self.cluster.find("deployments", "production", f"{SERVICE}-canary")

    def drive(self, run: DeployRun, how: Run) -> bool:
        """Run with ``how``'s analysis plan; True if it was killed before its end."""
        fail_step, answer = _parse(how.plan)
        counted = 0
        events: Iterator = run.events()
        try:
            for event in events:
                if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS:
                    rate = HEALTHY
                    if fail_step == event.step:
                        rate = None if answer else FAILING
                    self.sim.set_error_rate(SERVICE, "canary", rate)
                if isinstance(event, Paused) and event.needs_decision:
                    run.promote() if answer == "promote" else run.abort("nobody trusts it")
                if isinstance(event, StageStarted | StageFinished | AnalysisResult):
                    counted += 1
                if _kill_here(how.kill, event, counted):
                    return True
            return False
        finally:
            events.close()
            self.sim.set_error_rate(SERVICE, "canary", HEALTHY)

    def check_owned_canary(self) -> None:
        canary = self.canary()
        if canary is None:
            return
        owner = cn.annotations(canary).get(cn.A_DEPLOY_ID)
        assert owner in {i.record.id for i in self.engine.find_interrupted()}, "a canary nobody can resume"

    def check_invariants(self) -> None:
        stable = self.stable_version()
        for record in self.history.records(SERVICE, "production", limit=1000):
            if record.kind != "deploy":
                continue
            events = self.history.events(record.id)
            failed_check = any(
                (isinstance(e, AnalysisResult) and e.verdict is Verdict.FAILED)
                or (isinstance(e, StageFinished) and e.stage is Stage.ANALYSIS and not e.ok)
                for e in events
            )
            if failed_check:
                assert stable != record.to_version, f"{record.to_version} failed its check yet runs"
                assert record.outcome is not Outcome.SUCCEEDED
            ends = [
                e for e in events if isinstance(e, DeployFinished) and e.outcome is not Outcome.INTERRUPTED
            ]
            assert record.outcome is not None and len(ends) == 1, (record.id, ends)
            assert ends[0].outcome is record.outcome
            if record.outcome is Outcome.SUCCEEDED and record.id == self._newest_deploy_id():
                assert stable == record.to_version
        assert self.canary() is None

    def _newest_deploy_id(self) -> str:
        return self.history.records(SERVICE, "production", limit=1)[0].id


def _parse(plan: str) -> tuple[int | None, str]:
    if plan == "ok":
        return None, ""
    kind, _, rest = plan.partition("@")
    step, _, answer = rest.partition(":")
    return int(step), answer if kind == "nodata" else ""


@pytest.fixture
def world(sim: SimulatedCluster, tmp_path: Path) -> World:
    return World(sim, tmp_path)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios)
# The issue's own interleavings, always tried: killed while rolling back a failed 50 % analysis;
# killed during the 50 % bake, then the resumed analysis fails.
@example(scenario=Scenario(Run("fail@1", "rollback"), (("resume", Run("ok")),), True))
@example(scenario=Scenario(Run("ok", "bake@1"), (("resume", Run("fail@1")),), False))
def test_failed_versions_never_stay_and_every_deploy_ends_once(world: World, scenario: Scenario) -> None:
    run = world.engine.deploy(SERVICE, "production", next(world.versions))
    interrupted = world.drive(run, scenario.deploy)
    pending = list(scenario.recoveries)
    while interrupted:
        world.check_owned_canary()
        found = world.engine.find_interrupted()
        if not found:
            break  # killed during its pre-checks: nothing had started
        how, plan = pending.pop(0) if pending else ("resume", Run("ok"))
        follow = world.engine.resume(run.deploy_id) if how == "resume" else world.engine.abort(run.deploy_id)
        interrupted = world.drive(follow, plan)
    assert world.engine.find_interrupted() == []
    if scenario.rollback_after:
        world.drive(world.engine.rollback(SERVICE, "production"), Run("ok"))
    world.check_invariants()
