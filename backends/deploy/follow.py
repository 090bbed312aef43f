"""Following one run at a time from a UI, without the UI: start it in its runner, read its events on
a thread, hand them over in bursts, and forget a run the user moved away from.

Every deploy, rollback, resume and abort runs in a detached runner (:mod:`backends.deploy.attach`);
a console only watches and steers it. :class:`RunFollower` owns that watching: the reading thread,
the inbox it fills, and the *generation* that tells a current run's news from a stale one (the user
started another run, or left, while an old thread still had something to say). The UI gets plain
callbacks from the thread and does its drawing on its own loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from backends.deploy.attach import DetachedEngine, RemoteRun
    from backends.deploy.events import DeployEvent

MakeRun = Callable[["DetachedEngine"], "RemoteRun"]


class FollowerListener(Protocol):
    """What the reading thread tells its UI (called on that thread: post, never draw)."""

    def run_created(self, run: RemoteRun, generation: int) -> None: ...
    def events_ready(self) -> None: ...
    def run_refused(self, error: str, generation: int) -> None: ...
    def run_ended(self, generation: int) -> None: ...


class RunFollower:
    """The run a console follows: at most one, read on its own daemon thread."""

    def __init__(self, engine: DetachedEngine, listener: FollowerListener) -> None:
        self.engine = engine
        self.listener = listener
        self.run: RemoteRun | None = None
        self.driving = False  # a thread is reading a run's events
        self.generation = 0  # which run is followed; news of an older one is stale
        self.closing = False
        self._inbox: deque[DeployEvent] = deque()
        self._thread: threading.Thread | None = None

    def start(self, make_run: MakeRun) -> int:
        """Follow ``make_run(engine)`` from now on (the run followed before goes on without us)."""
        self.detach()
        self.generation += 1
        self._inbox = deque()
        self.driving = True
        # Its own daemon thread rather than a UI worker: those run on the loop's executor, which the
        # interpreter joins at exit, and a paused run sends nothing that would end the read.
        # Leaving only detaches: the run is its runner's, not this console's.
        self._thread = threading.Thread(
            target=self._read, args=(make_run, self.generation, self._inbox), name="deploy run", daemon=True
        )
        self._thread.start()
        return self.generation

    def detach(self) -> None:
        """Stop following; the run goes on in its runner (a paused one too)."""
        run, thread = self.run, self._thread
        self.generation += 1  # whatever the old thread still says is stale from now on
        self.run, self.driving, self._thread = None, False, None
        if run is not None:
            run.detach()
        if thread is not None:
            thread.join(timeout=1)

    def close(self) -> None:
        self.closing = True
        self.detach()

    def is_current(self, generation: int) -> bool:
        return generation == self.generation

    def created(self, run: RemoteRun, generation: int) -> bool:
        """The runner started: keep its handle, or let go of a stale one. True if current."""
        if not self.is_current(generation):
            run.detach()
            return False
        self.run = run
        return True

    def ended(self, generation: int) -> bool:
        """The thread stopped reading. True if it was the current run's."""
        if not self.is_current(generation):
            return False
        self.driving = False
        return True

    def drain(self) -> list[DeployEvent]:
        """The events read since the last call, in order."""
        events = []
        while self._inbox:
            events.append(self._inbox.popleft())
        return events

    def _read(self, make_run: MakeRun, generation: int, inbox: deque[DeployEvent]) -> None:
        """On the run's thread: start or attach, then read events until the run ends or we leave."""
        from backends.deploy.attach import RunnerError
        from backends.deploy.prechecks import DeployRefused

        listener = self.listener
        try:
            run = make_run(self.engine)
        except Exception as error:  # noqa: BLE001 — refused, or the runner could not start
            known = isinstance(error, DeployRefused | RunnerError)
            listener.run_refused(str(error) if known else f"could not start: {error}", generation)
            listener.run_ended(generation)
            return
        if not self.is_current(generation) or self.closing:
            return  # the user moved on while the runner started: the run goes on without us
        listener.run_created(run, generation)
        events = run.events()
        try:
            for event in events:
                inbox.append(event)  # deque.append is atomic: no lock between threads
                listener.events_ready()
        except RunnerError as error:
            listener.run_refused(
                f"{error}; it is interrupted: r resumes it, x aborts it (or an idp-console agent adopts it)",
                generation,
            )
        except Exception as error:  # noqa: BLE001 — a crash must reach the UI, not die with the thread
            listener.run_refused(f"lost the deploy's runner: {error}", generation)
        finally:
            events.close()
            listener.run_ended(generation)
