"""The deploy mode's controller, without a terminal: what the deploy screen decides and owns.

One :class:`DeployDesk` per deploy screen holds the deploy session (engine, simulated cluster),
the detached engine every change starts in, the :class:`~backends.deploy.follow.RunFollower` of the
run watched, the board's :class:`~backends.deploy.board.BoardModel`, the live rollout watches, and
the model of the followed run. It decides what the keys do — which apply now, where ``w`` goes,
what comes after a healthy deploy, what a confirmation says — and the screen only draws its
answers. Blocking calls (``start_board``, ``start_rollout``, ``versions_for`` …) are made from the
UI's thread workers; everything else runs on the UI's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from backends.deploy.board import BoardModel, running_version
from backends.deploy.reducer import LogEntry, Phase, RunKind, RunModel, run_kind

if TYPE_CHECKING:
    from backends.catalog.model import Entity
    from backends.deploy.attach import DetachedEngine, RemoteRun
    from backends.deploy.engine import DeployEngine
    from backends.deploy.follow import FollowerListener, RunFollower
    from backends.deploy.history import DeployRecord
    from backends.deploy.journey import DeployOffer, LifecycleFix, LifecycleRefusal
    from backends.deploy.live import LiveBoard, LiveRollout
    from backends.deploy.prechecks import CatalogLike
    from backends.deploy.session import DeploySession
    from backends.workspace import Workspace

View = Literal["board", "form", "watch"]
Model = TypeVar("Model", bound=RunModel)
MakeRun = Callable[["DetachedEngine"], "RemoteRun"]

# Which keys make sense in which view (the rest are hidden from the footer).
VIEW_ACTIONS: dict[str, set[str]] = {
    "new_deploy": {"board", "watch"},
    "promote_next": {"watch"},
    "watch": {"board"},
    "resume_interrupted": {"board"},
    "abort_interrupted": {"board"},
    "promote": {"watch"},
    "promote_full": {"watch"},
    "pause_resume": {"watch"},
    "abort": {"watch"},
    "rollback": {"watch"},
    "toggle_pods": {"watch"},
    "next_environment": {"watch"},
    "copy_log": {"watch"},
    "back": {"form", "watch"},
}


@dataclass(frozen=True)
class RunQuestion:
    """A change to confirm before it starts: what the dialog says, and the run it starts.
    ``typed`` is the word production asks to be typed (the service), None elsewhere."""

    title: str
    body: str
    service: str
    environment: str
    make_run: MakeRun
    kind: RunKind = RunKind.DEPLOY
    version: str = ""
    typed: str | None = None


@dataclass(frozen=True, slots=True)
class WatchChoice:
    """Where ``w`` goes: attach to a running deploy, show the followed run, or watch a service."""

    how: Literal["attach", "show", "watch-only"]
    record: DeployRecord | None = None
    service: str = ""
    environment: str = ""


class DeployDesk(Generic[Model]):
    """The deploy screen's state and decisions (see the module docstring)."""

    def __init__(
        self,
        workspace: Workspace,
        catalog: CatalogLike,
        listener: FollowerListener,
        *,
        model: Callable[..., Model],
        time_scale: float | None = None,
        readonly: bool = False,
    ) -> None:
        from backends.deploy.attach import DetachedEngine
        from backends.deploy.follow import RunFollower
        from backends.deploy.session import open_deploy

        self.workspace = workspace
        self.readonly = readonly
        self._model = model
        self.session: DeploySession = open_deploy(workspace, catalog=catalog, time_scale=time_scale)
        self.detached: DetachedEngine = DetachedEngine(
            self.session.engine,
            None if workspace.is_demo else str(workspace.root),
            deploy=workspace.section("deploy"),
        )
        self.follower: RunFollower = RunFollower(self.detached, listener)
        self.board = BoardModel()
        self.services: list[Entity] = []  # the catalog's deployable services
        self.live_board: LiveBoard | None = None
        self.rollout: LiveRollout | None = None
        self.state: Model | None = None  # the run followed here; None while watching without one
        self.target: tuple[str, str] | None = None  # (service, environment) the watch view shows
        self.closing = False

    # -- what there is ----------------------------------------------------------------------------
    @property
    def engine(self) -> DeployEngine:
        return self.session.engine

    @property
    def environments(self) -> list[str]:
        """The workspace's environments, in config order (staging → production)."""
        return [str(name) for name in self.workspace.section("environments")]

    def is_production(self, environment: str) -> bool:
        raw = self.workspace.section("environments").get(environment)
        return isinstance(raw, dict) and bool(raw.get("production"))

    @property
    def run(self) -> RemoteRun | None:
        """The run followed here, once its runner started."""
        return self.follower.run

    @property
    def driving(self) -> bool:
        """A thread is reading the followed run's events."""
        return self.follower.driving

    @property
    def running(self) -> bool:
        """The followed run is steerable: started, and not finished."""
        return self.run is not None and self.state is not None and not self.state.finished

    def close(self) -> None:
        """The screen went away: stop following (runs go on in their runners) and watching."""
        self.closing = True
        self.follower.close()
        if self.rollout is not None:
            self.rollout.stop()
        if self.live_board is not None:
            self.live_board.stop()
        self.session.close()

    # -- the board (start_board and the finds run in workers) ---------------------------------------
    def set_services(self, entities: Sequence[Entity]) -> None:
        from backends.deploy.live import deployable_services

        self.services = deployable_services(entities)
        self.board.services = [entity.name for entity in self.services]

    def start_board(self, on_change: Callable[[str, str], object]) -> LiveBoard | None:
        """Watch every service × environment (blocking); None when the screen went away meanwhile."""
        from backends.deploy.live import start_board

        try:
            live = start_board(self.session.context, self.services, on_change)
        finally:
            if self.closing:
                # The screen went away while the cluster was starting: close what started late.
                self.session.close()
        if self.closing:
            live.stop()
            return None
        return live

    def board_started(self, live: LiveBoard) -> bool:
        """Keep the started board (False: the screen is closing, and it was stopped)."""
        if self.closing:
            live.stop()
            return False
        self.live_board = live
        self.board.errors = live.errors
        self.board_changed()
        return True

    def board_changed(self) -> None:
        """A watch saw a change: take the caches' snapshot."""
        live = self.live_board
        self.board.cells = live.board.snapshot() if live is not None and live.board is not None else {}

    @property
    def board_live(self) -> bool:
        """The board watches a cluster (so interrupted deploys can be looked for)."""
        return self.live_board is not None and self.live_board.board is not None

    def find_live_runs(self) -> dict[tuple[str, str], DeployRecord]:
        """Deploys running now in runners — any account's, any host's (through the history store)."""
        from backends.deploy.attach import live_records

        runs: dict[tuple[str, str], DeployRecord] = {}
        for record in live_records(self.detached):
            runs.setdefault((record.service, record.environment), record)
        return runs

    def live_run_of(self, service: str) -> DeployRecord | None:
        """The running deploy of ``service`` to attach to: the environment on screen first."""
        record: DeployRecord | None = self.board.live_run(service, self.environments, self.target)
        return record

    def row_chosen(self, service: str) -> Literal["watch", "deploy"]:
        """Enter on a board row: a running deploy is watched, not started again (nor in read-only)."""
        return "watch" if self.live_run_of(service) is not None or self.readonly else "deploy"

    # -- the form -----------------------------------------------------------------------------------
    def form_data(self) -> tuple[list[str], list[tuple[str, bool]], dict[tuple[str, str], str]]:
        """The form's lists: services, (environment, production?), and what runs where in words."""
        running = {key: running_version(stable) for key, stable in self.board.stables.items() if stable}
        environments = [(env, self.is_production(env)) for env in self.environments]
        return [entity.name for entity in self.services], environments, running

    def versions_for(self, service: str, environment: str | None) -> list[str]:
        """The versions a deploy of ``service`` to ``environment`` may pick (blocking: the registry)."""
        from backends.deploy.journey import suggested_versions

        env = None
        if environment is not None:
            try:
                env = self.engine.context.environment(environment)
            except Exception:  # noqa: BLE001 — a bad environment is the pre-checks' to report
                env = None
        return suggested_versions(self.workspace, self._entity(service), env)

    def submission_problem(self, service: str, environment: str, version: str) -> str | None:
        """Why the form's deploy makes no sense before asking anyone (the same version runs)."""
        stable = self.board.stable(service, environment)
        if stable is not None and stable.version == version:
            return f"{service} already runs {version} in {environment}."
        return None

    def lifecycle_refusal(self, service: str, environment: str) -> LifecycleRefusal | None:
        """Why ``environment`` refuses the service's catalog lifecycle (with the fix), or None."""
        from backends.deploy.journey import lifecycle_refusal

        entity = self._entity(service)
        if entity is None:
            return None  # the engine's pre-checks say what is wrong
        try:
            env = self.engine.context.environment(environment)
        except Exception:  # noqa: BLE001 — an unknown environment is the pre-checks' to report
            return None
        return lifecycle_refusal(entity, env)

    def fix_lifecycle(self, refusal: LifecycleRefusal, catalog: Any, user: str) -> LifecycleFix:
        """Promote the refused lifecycle (blocking: a commit); raises with a sentence when it cannot."""
        from backends.deploy.journey import promote_lifecycle

        return promote_lifecycle(self.workspace, catalog, refusal, user=user)

    def _entity(self, service: str) -> Entity | None:
        return self.session.context.catalog.get(service, default_kind="Component")

    # -- questions before a change ------------------------------------------------------------------
    def _question(
        self, title: str, body: str, service: str, env: str, make_run: MakeRun, **kwargs: Any
    ) -> RunQuestion:
        typed = service if self.is_production(env) else None
        return RunQuestion(title, body, service, env, make_run, typed=typed, **kwargs)

    def deploy_question(self, service: str, env: str, version: str) -> RunQuestion:
        stable = self.board.stable(service, env)
        body = (
            f"{service} in {env}\n{running_version(stable)} → {version}\n"
            "Canary with analysis; rolled back automatically on failure."
        )
        return self._question(
            f"Deploy {service} {version} to {env}?",
            body,
            service,
            env,
            lambda engine: engine.deploy(service, env, version),
            kind=RunKind.DEPLOY,
            version=version,
        )

    def rollback_question(
        self, service: str | None = None, env: str | None = None, to: str | None = None
    ) -> RunQuestion | None:
        """A rollback of ``service`` in ``env`` (by default the watched one; ``b`` without a running
        deploy) to ``to``, or to its last good version."""
        if service is None or env is None:
            if self.target is None:
                return None
            service, env = self.target
        return self._question(
            f"Roll {service} back in {env}?",
            f"{service} in {env} goes back to {to or 'its last good version (within 72 h)'}; no canary.",
            service,
            env,
            lambda engine: engine.rollback(service, env, to),
            kind=RunKind.ROLLBACK,
        )

    def scale_question(self, service: str, env: str, replicas: int) -> RunQuestion:
        return self._question(
            f"Scale {service} in {env} to {replicas} pods?",
            f"{service} in {env} runs {replicas} pods.",
            service,
            env,
            lambda engine: engine.scale(service, env, replicas),
            kind=RunKind.SCALE,
        )

    def recovery_question(self, how: Literal["resume", "abort"]) -> RunQuestion | None:
        """``r`` / ``x`` on the board: the first interrupted deploy resumed or aborted."""
        if not self.board.interrupted:
            return None
        record = self.board.interrupted[0].record
        deploy_id = record.id
        verb = "Resume" if how == "resume" else "Abort"
        body = f"{record.service} in {record.environment}: {record.from_version} → {record.to_version}\n" + (
            "Continues from the step after the last one completed."
            if how == "resume"
            else "Restores the stable Deployment and removes the canary."
        )

        def make(engine: DetachedEngine) -> RemoteRun:
            return engine.resume(deploy_id) if how == "resume" else engine.abort(deploy_id)

        return self._question(
            f"{verb} the interrupted deploy of {record.service}?",
            body,
            record.service,
            record.environment,
            make,
            kind=RunKind.DEPLOY if how == "resume" else RunKind.ABORT,
            version=record.to_version,
        )

    def quit_question(self) -> tuple[str, str] | None:
        """Before the app quits while a deploy followed here runs: what to ask about (what, how to
        attach again); None when nothing runs."""
        state = self.state
        if self.run is None or state is None or state.finished or not self.driving:
            return None
        what = f"The {state.kind} of {state.service} to {state.environment}"
        hint = f"`idp-console deploy {state.service} --env {state.environment} --attach`"
        return what, hint

    # -- following a run ----------------------------------------------------------------------------
    def follow(self, question: RunQuestion | None = None, *, record: DeployRecord | None = None) -> bool:
        """Start (``question``, confirmed) or attach to (``record``) a run and follow it; False when
        that run is followed already."""
        if record is not None:
            from backends.deploy.attach import attach_anywhere

            if self.run is not None and self.run.deploy_id == record.id and self.driving:
                return False
            service, env, kind, version = (
                record.service,
                record.environment,
                run_kind(record.kind),
                record.to_version,
            )

            def make(engine: DetachedEngine) -> RemoteRun:
                return attach_anywhere(engine, record)

            make_run: MakeRun = make
        else:
            assert question is not None
            service, env, kind, version = (
                question.service,
                question.environment,
                question.kind,
                question.version,
            )
            make_run = question.make_run
            # Whatever was interrupted there is now being resumed or aborted (or refused, then found again).
            self.board.forget_interrupted(service, env)
        self.follower.detach()  # from the run watched before, if any: it goes on in its runner
        self.state = self._model(service, env, to_version=version, kind=kind)
        self.target = (service, env)
        self.follower.start(make_run)
        return True

    def watch_only(self, service: str, env: str) -> None:
        """Watch ``service`` in ``env`` live, without a run (the one followed before goes on)."""
        self.follower.detach()
        self.state, self.target = None, (service, env)

    def refused(self, error: str, generation: int, at: float) -> LogEntry | None:
        """The run could not start (or its runner was lost): the log line, None when stale."""
        state = self.state
        if not self.follower.is_current(generation) or state is None:
            return None
        state.phase, state.outcome, state.reason = Phase.FAILED, "failed", error
        return LogEntry(at, error, "error")

    def apply_events(self) -> tuple[list[LogEntry], bool, bool]:
        """Fold the events read since the last call into the model: their log lines, whether the
        run now waits for a person's decision (it did not before), and whether anything arrived."""
        events = self.follower.drain()
        entries: list[LogEntry] = []
        asked = False
        state = self.state
        if state is None:
            return entries, asked, bool(events)
        for event in events:
            asked_before = state.needs_decision
            entry = state.apply(event)
            if entry is not None:
                entries.append(entry)
            asked = asked or (state.needs_decision and not asked_before)
        return entries, asked, bool(events)

    def controls(self) -> tuple[object, ...]:
        """What decides which keys apply while watching: it changes with the phase only."""
        state = self.state
        return (state.phase if state else "", state.finished if state else False, self.driving, self.run)

    def promotion(self, watching: bool) -> DeployOffer | None:
        """After a healthy deploy: the same version to the next environment (staging → production)."""
        from backends.deploy.journey import DeployOffer, next_environment

        state = self.state
        if not watching or state is None or self.driving or self.readonly:
            return None
        if state.kind is not RunKind.DEPLOY or not state.succeeded or not state.to_version:
            return None
        following = next_environment(self.environments, state.environment)
        if following is None:
            return None
        return DeployOffer(state.service, following, state.to_version)

    def pause_or_resume(self) -> str | None:
        """``space``: pause or resume the followed run; the reason when neither applies."""
        run, state = self.run, self.state
        if run is None or state is None:
            return None
        if state.needs_decision:
            return "The analysis is inconclusive: promote (p) or abort (a)."
        if state.paused:
            run.resume()
        else:
            run.pause()
        return None

    # -- the rollout tree's watches -----------------------------------------------------------------
    def rollout_wanted(self, service: str, env: str) -> bool:
        """Point the tree at ``service`` in ``env``: True when new watches must start (the old ones,
        which would go on redrawing another service's tree, are stopped)."""
        live = self.rollout
        if live is not None and (live.service, live.environment) == (service, env):
            return False
        if live is not None:
            live.stop()
            self.rollout = None
        return True

    def start_rollout(self, service: str, env: str, on_change: Callable[[], object]) -> LiveRollout:
        """Watch one service's Deployments, ReplicaSets and pods (blocking)."""
        from backends.deploy.live import LiveRollout

        return LiveRollout(self.session.context, service, env, on_change).start()

    def rollout_started(self, live: LiveRollout) -> bool:
        """Keep the started watches, unless the user moved on (or left) while they connected."""
        if self.closing or (live.service, live.environment) != self.target:
            live.stop()
            return False
        if self.rollout is not None:
            self.rollout.stop()
        self.rollout = live
        return True

    # -- keys ---------------------------------------------------------------------------------------
    def allows(self, action: str, view: View) -> bool:
        """Whether a key's action applies now (the footer shows only those)."""
        views = VIEW_ACTIONS.get(action)
        if views is not None and view not in views:
            return False
        if action in ("resume_interrupted", "abort_interrupted"):
            return bool(self.board.interrupted)
        if action == "next_environment":
            return not self.driving
        if action in ("promote", "promote_full", "pause_resume", "abort"):
            return self.running
        if action == "new_deploy":
            return view == "board" or not self.driving
        if action == "promote_next":
            return self.promotion(view == "watch") is not None
        if action == "rollback":
            return self.target is not None and (
                self.state is None or self.state.kind in (RunKind.DEPLOY, RunKind.ROLLBACK)
            )
        return True

    def watch_choice(self, highlighted: str | None, view: View) -> WatchChoice | None:
        """``w``: a deploy running for the highlighted service (attached, wherever it was started);
        else the one followed here; else the highlighted service, live, without a deploy."""
        live = self.live_run_of(highlighted) if highlighted is not None else None
        if live is not None and view == "board":
            return WatchChoice("attach", record=live)
        if self.state is not None and (self.driving or highlighted in (None, self.state.service)):
            return WatchChoice("show")
        if highlighted is None:
            return None
        env = self.board.running_environment(highlighted, self.environments)
        return WatchChoice("watch-only", service=highlighted, environment=env)

    def next_environment(self) -> tuple[str, str] | None:
        """``e``: the watched service in the next environment (round the list), when no run is read."""
        if self.target is None or self.driving:
            return None
        environments = self.environments
        service, env = self.target
        if env in environments:
            env = environments[(environments.index(env) + 1) % len(environments)]
        return service, env
