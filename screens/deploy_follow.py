"""The watch view kept live: the run the desk follows, and the rollout tree's watches.

:class:`LiveWatchView` is the :class:`~screens.deploy_watch.WatchView` wired to a
:class:`~backends.deploy.desk.DeployDesk`: the run follower's thread and the rollout watches' threads
post here (they never draw), the desk folds what they said into its model, and this view draws it —
the steps, the log, the tree (its pod ages ticking once a second), and what comes next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from screens.deploy_view import Clock, RunState, rollout_tree
from screens.deploy_watch import WatchView
from widgets.rollout_tree import RolloutTreeData

if TYPE_CHECKING:
    from backends.deploy.attach import RemoteRun
    from backends.deploy.desk import DeployDesk, RunQuestion
    from backends.deploy.history import DeployRecord
    from backends.deploy.live import LiveRollout


@dataclass
class RunCreated(Message):
    run: RemoteRun
    generation: int


class RunEventsReady(Message):
    """Engine events wait in the follower's inbox; a burst is drained by one handler, one redraw."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunEventsReady)


@dataclass
class RunRefused(Message):
    error: str
    generation: int


@dataclass
class RunEnded(Message):
    """The thread stopped following the run (it finished, or this view detached from it)."""

    generation: int


@dataclass
class RolloutWatchStarted(Message):
    live: LiveRollout


@dataclass
class RolloutWatchFailed(Message):
    service: str
    environment: str
    error: str


class RolloutChanged(Message):
    """A pod, ReplicaSet or Deployment of the watched rollout changed (coalesced)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RolloutChanged)


class FollowerPosts:
    """The run follower's news, as messages to the view (its thread must never draw)."""

    def __init__(self, view: LiveWatchView) -> None:
        self._view = view

    def run_created(self, run: RemoteRun, generation: int) -> None:
        self._view.post_message(RunCreated(run, generation))

    def events_ready(self) -> None:
        self._view.post_message(RunEventsReady())

    def run_refused(self, error: str, generation: int) -> None:
        self._view.post_message(RunRefused(error, generation))

    def run_ended(self, generation: int) -> None:
        self._view.post_message(RunEnded(generation))


class LiveWatchView(WatchView):
    """The watch view of the followed run (or of a service watched without one)."""

    class RunOver(Message):
        """The followed run ended: the board looks again for running and interrupted deploys."""

    # What decides which keys apply while watching (phase, finished, read, run): the footer follows.
    controls: reactive[tuple[object, ...]] = reactive((), bindings=True)

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.desk: DeployDesk[RunState] | None = None

    def on_mount(self) -> None:
        # Pod ages move on without any cluster event: repaint them from the watch cache (no request).
        self.set_interval(1.0, self._tick_ages)

    def _tick_ages(self) -> None:
        if self.display and self.screen.is_current:
            self.redraw_tree()

    # -- what is followed -------------------------------------------------------------------------
    def follow(self, question: RunQuestion | None = None, *, record: DeployRecord | None = None) -> None:
        """Start (a confirmed ``question``) or attach to (``record``) a run, and show it."""
        assert self.desk is not None
        if not self.desk.follow(question, record=record):
            return  # followed already
        self.clear_log()
        self.redraw()
        self._point_tree()

    def watch_only(self, service: str, env: str) -> None:
        """``service`` in ``env``, live from the cluster, without a run."""
        assert self.desk is not None
        self.desk.watch_only(service, env)
        self.clear_log()
        self.redraw()
        self._point_tree()

    def on_run_created(self, message: RunCreated) -> None:
        if self.desk is not None and self.desk.follower.created(message.run, message.generation):
            self.redraw()

    def on_run_refused(self, message: RunRefused) -> None:
        if self.desk is None:
            return
        entry = self.desk.refused(message.error, message.generation, self.clock.now())
        if entry is not None:
            self.log_entry(entry, self.clock)
            self.redraw()

    def on_run_events_ready(self, _message: RunEventsReady) -> None:
        self._drain()

    def _drain(self) -> None:
        if self.desk is None:
            return
        entries, asked, changed = self.desk.apply_events()
        for entry in entries:
            self.log_entry(entry, self.clock)
        state = self.desk.state
        if asked and state is not None:
            # The deploy waits for a person: say so even if they are looking at another mode.
            self.app.bell()
            self.app.notify(
                f"{state.service} in {state.environment}: {state.pause_reason}. "
                "Promote (p) or abort (a) on the deploy screen.",
                title="Deploy waits for you",
                severity="warning",
                timeout=15,
                markup=False,
            )
        if changed:
            self.redraw()

    def on_run_ended(self, message: RunEnded) -> None:
        desk = self.desk
        if desk is None or not desk.follower.is_current(message.generation):
            return
        self._drain()
        desk.follower.ended(message.generation)
        self.redraw()  # what comes next (the next environment) shows once the run is over
        self.post_message(self.RunOver())

    def redraw(self) -> None:
        desk = self.desk
        if desk is None:
            return
        state = desk.state
        if state is None:
            if desk.target is not None:
                self.show_watch_only(*desk.target)
        else:
            self.show_run(state)
            offer = desk.promotion(watching=self.display)
            self.show_offer(
                f"✔ {offer.service} {offer.version} is healthy in {state.environment} · "
                f"p promotes it to {offer.environment} · n deploys again"
                if offer is not None
                else None
            )
        self.controls = desk.controls()

    # -- the rollout tree ---------------------------------------------------------------------------
    def _point_tree(self) -> None:
        """The tree shows the watched target (new watches unless they already are)."""
        desk = self.desk
        assert desk is not None and desk.target is not None
        service, env = desk.target
        if not desk.rollout_wanted(service, env):
            self.redraw_tree()
            return
        self.show_tree(RolloutTreeData(service, env, "…", note="connecting to the cluster…"))
        self._watch_rollout(service, env)

    @work(thread=True, exclusive=True, group="deploy-live", name="watch rollout", exit_on_error=False)
    def _watch_rollout(self, service: str, env: str) -> None:
        assert self.desk is not None
        try:
            live = self.desk.start_rollout(service, env, lambda: self.post_message(RolloutChanged()))
        except Exception as error:  # noqa: BLE001 — shown in the tree, whatever it is
            self.post_message(RolloutWatchFailed(service, env, str(error) or type(error).__name__))
            return
        self.post_message(RolloutWatchStarted(live))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand failures to the app's one error handler.
        if event.state == WorkerState.ERROR:
            self.app.post_message(Worker.StateChanged(event.worker, event.state))

    def on_rollout_watch_started(self, message: RolloutWatchStarted) -> None:
        if self.desk is not None and self.desk.rollout_started(message.live):
            self.redraw_tree()

    def on_rollout_watch_failed(self, message: RolloutWatchFailed) -> None:
        self.show_tree(RolloutTreeData(message.service, message.environment, "?", note=f"✖ {message.error}"))

    def on_rollout_changed(self, _message: RolloutChanged) -> None:
        self.redraw_tree()

    def redraw_tree(self) -> None:
        live: Any = self.desk.rollout if self.desk is not None else None
        if live is None:
            return
        data = rollout_tree(
            service=live.service,
            environment=live.environment,
            namespace=live.namespace,
            cluster=live.cluster_name,
            stable_name=live.stable_name,
            deployments=live.deployments.objects(),
            replicasets=live.replicasets.objects(),
            pods=live.pods.objects(),
            clock=self.clock,
        )
        self.show_tree(data)
