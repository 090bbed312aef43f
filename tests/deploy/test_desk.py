"""Issue 13: the deploy screen's decisions without a terminal (backends/deploy/desk.py, board.py).

Which keys apply, where ``w`` goes, what comes after a healthy deploy, what a confirmation asks, and
how a followed run's events fold into its model — decided by the desk and its board model, read by
the screen. The followed run here is a scripted stand-in for a runner's run (the desk reads it on
the follower's own thread, as it reads a real one); the workspace is the demo's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from backends.deploy.desk import DeployDesk, RunQuestion
from backends.deploy.events import DeployFinished, DeployStarted, Outcome, Paused, Resumed
from backends.deploy.history import DeployRecord
from backends.deploy.reducer import RunKind, RunModel
from backends.deploy.run import InterruptedDeploy
from backends.workspace import load_demo_workspace

from .conftest import SERVICE, demo_catalog


class ScriptedRun:
    """A run whose events are given: what a runner's run looks like to the desk."""

    def __init__(self, *events: Any) -> None:
        self.deploy_id = "run-1"
        self.script = list(events)
        self.release = threading.Event()  # the events after a Paused wait for a decision
        self.asked: list[str] = []

    def events(self) -> Iterator[Any]:
        for event in self.script:
            yield event
            if isinstance(event, Paused):
                self.release.wait(30)

    def detach(self) -> None: ...
    def promote(self, *, full: bool = False) -> None:
        self.asked.append("promote")
        self.release.set()

    def pause(self, reason: str = "") -> None:
        self.asked.append("pause")

    def resume(self) -> None:
        self.asked.append("resume")

    def abort(self, reason: str = "") -> None:
        self.asked.append("abort")

    def rollback(self, reason: str = "") -> None:
        self.asked.append("rollback")


class Listener:
    """What the screen does with the follower's news, minus the drawing."""

    def __init__(self) -> None:
        self.desk: DeployDesk[RunModel] | None = None
        self.ended = threading.Event()

    def run_created(self, run: Any, generation: int) -> None:
        assert self.desk is not None
        self.desk.follower.created(run, generation)

    def events_ready(self) -> None: ...

    def run_refused(self, error: str, generation: int) -> None: ...
    def run_ended(self, generation: int) -> None:
        assert self.desk is not None
        self.desk.follower.ended(generation)
        self.ended.set()


@pytest.fixture
def desk() -> Iterator[DeployDesk[RunModel]]:
    listener = Listener()
    made = DeployDesk(load_demo_workspace(), demo_catalog(), listener, model=RunModel)
    listener.desk = made
    made.set_services(demo_catalog().entities)
    yield made
    made.close()


def _listener(desk: DeployDesk[RunModel]) -> Listener:
    listener = desk.follower.listener
    assert isinstance(listener, Listener)
    return listener


def _record(service: str, env: str, deploy_id: str = "d1") -> DeployRecord:
    return DeployRecord(deploy_id, "deploy", service, env, env, service, "omar", "v1", "v2", 0.0)


def _stable(version: str) -> SimpleNamespace:
    return SimpleNamespace(version=version, ready=4, desired=4)


def _wait_for(condition: Any, what: str) -> None:
    for _ in range(3000):  # 30 s: generous for a loaded CI machine; a passing test never waits it
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_board_model_rows_live_runs_and_interrupted_deploys(desk: DeployDesk[RunModel]) -> None:
    board = desk.board
    assert board.services == [SERVICE]
    board.cells = {(SERVICE, "production"): (_stable("v2.3.0"), None)}
    rows = board.rows(desk.environments, lambda stable, _c: "—" if stable is None else stable.version)
    assert (
        rows == [(SERVICE, "—", "v2.3.0")] and board.service_at(0) == SERVICE and board.service_at(1) is None
    )
    assert board.running_environment(SERVICE, desk.environments) == "production"  # where it runs
    assert board.set_live_runs({(SERVICE, "staging"): _record(SERVICE, "staging")}) is True
    assert (
        board.set_live_runs({(SERVICE, "staging"): _record(SERVICE, "staging", "d2")}) is False
    )  # same marks
    interrupted = InterruptedDeploy(record=_record(SERVICE, "production"), last_step=0, stable_replicas=4)
    board.interrupted = [interrupted]
    panel = board.interrupted_panel()
    assert panel[0].startswith(f"{SERVICE} in production: v1 → v2 by omar, stopped after step 1 passed")
    assert panel[-1] == "r resumes it · x aborts it (stable restored, canary removed)"
    assert desk.allows("resume_interrupted", "board") and not desk.allows("resume_interrupted", "watch")
    board.forget_interrupted(SERVICE, "production")
    assert board.interrupted_panel() == [] and not desk.allows("abort_interrupted", "board")


def test_w_attaches_to_a_running_deploy_else_watches_where_the_service_runs(
    desk: DeployDesk[RunModel],
) -> None:
    desk.board.cells = {(SERVICE, "production"): (_stable("v2.3.0"), None)}
    choice = desk.watch_choice(SERVICE, "board")
    assert choice is not None and (choice.how, choice.service, choice.environment) == (
        "watch-only",
        SERVICE,
        "production",
    )
    assert desk.row_chosen(SERVICE) == "deploy"
    running = _record(SERVICE, "staging")
    desk.board.set_live_runs({(SERVICE, "staging"): running})
    choice = desk.watch_choice(SERVICE, "board")
    assert choice is not None and choice.how == "attach" and choice.record is running
    assert desk.row_chosen(SERVICE) == "watch"  # enter on its row attaches, never deploys again
    assert desk.watch_choice(None, "board") is None
    desk.watch_only(SERVICE, "staging")
    assert desk.next_environment() == (SERVICE, "production")
    desk.watch_only(SERVICE, "production")
    assert desk.next_environment() == (SERVICE, "staging")  # round the list


def test_questions_ask_production_for_the_service_name(desk: DeployDesk[RunModel]) -> None:
    desk.board.cells = {(SERVICE, "production"): (_stable("v2.3.0"), None)}
    production = desk.deploy_question(SERVICE, "production", "v2.3.1")
    assert production.typed == SERVICE and production.kind is RunKind.DEPLOY
    assert production.body.splitlines()[:2] == [f"{SERVICE} in production", "v2.3.0 (4/4) → v2.3.1"]
    assert desk.deploy_question(SERVICE, "staging", "v2.3.1").typed is None
    assert (
        desk.submission_problem(SERVICE, "production", "v2.3.0")
        == f"{SERVICE} already runs v2.3.0 in production."
    )
    assert desk.submission_problem(SERVICE, "production", "v2.3.1") is None
    assert desk.rollback_question() is None  # nothing watched: nothing to roll back
    desk.watch_only(SERVICE, "staging")
    back = desk.rollback_question()
    assert back is not None and back.kind is RunKind.ROLLBACK and "its last good version" in back.body
    assert desk.allows("rollback", "watch") and not desk.allows("promote", "watch")  # no run to promote
    assert desk.scale_question(SERVICE, "production", 6).title == f"Scale {SERVICE} in production to 6 pods?"


def test_a_followed_run_that_waits_for_a_decision_then_offers_the_next_environment(
    desk: DeployDesk[RunModel],
) -> None:
    listener = _listener(desk)
    run = ScriptedRun(
        DeployStarted("run-1", SERVICE, "staging", "v2.3.0", "v2.3.1", "jane.doe", "staging", (50, 100)),
        Paused("run-1", reason="no data", needs_decision=True),
        Resumed("run-1", by="promote"),
        DeployFinished("run-1", outcome=Outcome.SUCCEEDED, version="v2.3.1"),
    )
    question = RunQuestion("Deploy?", "", SERVICE, "staging", lambda _engine: run, version="v2.3.1")
    assert desk.follow(question)
    state = desk.state
    assert desk.target == (SERVICE, "staging") and state is not None
    asked: list[bool] = []

    def folded() -> bool:
        asked.append(desk.apply_events()[1])
        return state.needs_decision and desk.run is run

    _wait_for(folded, "the decision asked for")
    assert any(asked)  # said once, when it began to wait
    assert desk.allows("promote", "watch") and desk.allows("pause_resume", "watch")
    assert desk.pause_or_resume() == "The analysis is inconclusive: promote (p) or abort (a)."
    assert not desk.allows("promote_next", "watch")  # not over yet
    what = desk.quit_question()
    assert what is not None and what[0] == f"The deploy of {SERVICE} to staging"
    run.promote()
    assert listener.ended.wait(30)
    desk.apply_events()
    assert state.succeeded and not desk.driving
    offer = desk.promotion(watching=True)
    assert offer is not None and (offer.environment, offer.version) == ("production", "v2.3.1")
    assert desk.allows("promote_next", "watch") and not desk.allows("promote", "watch")
    assert desk.quit_question() is None  # nothing runs any more
    desk.readonly = True
    assert desk.promotion(watching=True) is None  # read-only: no change is offered
