"""Issue 13: following a run from a UI, without one (backends/deploy/follow.py): news of a run the
user moved away from is stale, a refusal and a lost runner are one line each, events keep order."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from backends.deploy.follow import RunFollower
from backends.deploy.prechecks import DeployRefused


class Listener:
    """Records what the reading thread says, in order."""

    def __init__(self) -> None:
        self.said: queue.Queue[tuple[Any, ...]] = queue.Queue()

    def run_created(self, run: Any, generation: int) -> None:
        self.said.put(("created", run, generation))

    def events_ready(self) -> None:
        self.said.put(("events",))

    def run_refused(self, error: str, generation: int) -> None:
        self.said.put(("refused", error, generation))

    def run_ended(self, generation: int) -> None:
        self.said.put(("ended", generation))

    def next(self, what: str) -> tuple[Any, ...]:
        while True:
            item = self.said.get(timeout=10)
            if item[0] == what:
                return item


class ScriptedRun:
    """A run whose events are handed over one by one by the test (``feed``; None ends it)."""

    def __init__(self, deploy_id: str, fail: Exception | None = None) -> None:
        self.deploy_id = deploy_id
        self.fail = fail
        self.detached = threading.Event()
        self._events: queue.Queue[object] = queue.Queue()

    def feed(self, event: object) -> None:
        self._events.put(event)

    def events(self) -> Iterator[object]:
        while (event := self._events.get(timeout=10)) is not None:
            yield event
        if self.fail is not None:
            raise self.fail

    def detach(self) -> None:
        self.detached.set()


def test_events_arrive_in_order_and_the_end_is_reported() -> None:
    listener = Listener()
    follower = RunFollower(engine=None, listener=listener)  # type: ignore[arg-type]
    run = ScriptedRun("d1")
    generation = follower.start(lambda _engine: run)  # type: ignore[arg-type,return-value]
    _, created, created_generation = listener.next("created")
    assert created is run and created_generation == generation
    assert follower.created(run, generation)  # type: ignore[arg-type]
    for event in ("a", "b", "c"):
        run.feed(event)
    run.feed(None)
    assert listener.next("ended") == ("ended", generation)
    assert follower.drain() == ["a", "b", "c"]
    assert follower.ended(generation) and not follower.driving


def test_a_run_left_behind_is_stale_and_let_go() -> None:
    listener = Listener()
    follower = RunFollower(engine=None, listener=listener)  # type: ignore[arg-type]
    first, second = ScriptedRun("d1"), ScriptedRun("d2")
    old = follower.start(lambda _engine: first)  # type: ignore[arg-type,return-value]
    listener.next("created")
    new = follower.start(lambda _engine: second)  # type: ignore[arg-type,return-value]
    assert new != old and not follower.is_current(old)
    assert not follower.created(first, old)  # type: ignore[arg-type]
    assert first.detached.is_set()  # the old run goes on in its runner, without us
    assert not follower.ended(old)
    first.feed(None)
    second.feed(None)
    follower.close()


def test_a_refusal_and_a_lost_runner_are_one_line_each() -> None:
    listener = Listener()
    follower = RunFollower(engine=None, listener=listener)  # type: ignore[arg-type]

    def refuse(_engine: object) -> Any:
        raise DeployRefused("orders-api has lifecycle 'experimental'; production accepts only production")

    generation = follower.start(refuse)
    assert listener.next("refused") == (
        "refused",
        "orders-api has lifecycle 'experimental'; production accepts only production",
        generation,
    )
    assert listener.next("ended") == ("ended", generation)

    crashing = ScriptedRun("d2", fail=ConnectionResetError("connection reset"))
    generation = follower.start(lambda _engine: crashing)  # type: ignore[arg-type,return-value]
    crashing.feed(None)
    assert listener.next("refused") == ("refused", "lost the deploy's runner: connection reset", generation)
    follower.close()
