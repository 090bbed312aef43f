"""The deploy mode: what runs where, then pick → confirm → watch a canary deploy live.

Three views in one screen (a ContentSwitcher), so ``esc`` walks back without losing a running
deploy: the status board (services × environments, kept current by Deployment watches), the deploy
form (service with a fuzzy filter, environment with what it runs now, version), and the watch view
(the rollout tree, the canary steps with their analysis, the event log). Every deploy, rollback,
resume and abort runs in a detached runner process (:mod:`backends.deploy.attach`): this screen only
watches and steers it, so closing the console never stops a deploy. A thread follows the run's
events and only posts them; watch threads post a message that coalesces bursts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import ContentSwitcher, Static

from backends.deploy.board import LIVE_MARK, board_rows, interrupted_line, live_run_of
from backends.deploy.reducer import LogEntry, Phase, RunKind, run_kind
from screens.base import ConsoleScreen, mutating
from screens.deploy_confirm import ConfirmDeploy
from screens.deploy_view import Clock, RunState, board_cell, rollout_tree, running_version
from screens.deploy_watch import WatchView
from widgets.deploy_form import DeployForm, EnvironmentChoice
from widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from backends.catalog import Catalog
    from backends.catalog.model import Entity
    from backends.deploy.attach import DetachedEngine, RemoteRun
    from backends.deploy.engine import DeployEngine
    from backends.deploy.events import DeployEvent
    from backends.deploy.follow import RunFollower
    from backends.deploy.history import DeployRecord
    from backends.deploy.journey import DeployOffer, LifecycleRefusal
    from backends.deploy.run import InterruptedDeploy
    from backends.deploy.session import DeploySession
    from screens.deploy_live import LiveBoard, LiveRollout

View = Literal["board", "form", "watch"]
LIVE_RUNS_POLL = 2.0  # seconds between looks for deploys running in runners (a socket probe each)


# -- messages from workers and watch threads ---------------------------------------------------


@dataclass
class BoardStarted(Message):
    live: LiveBoard


class BoardChanged(Message):
    """A Deployment changed somewhere on the board; only the latest of a burst is handled."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BoardChanged)


@dataclass
class BoardFailed(Message):
    error: str


@dataclass
class InterruptedFound(Message):
    items: list[InterruptedDeploy]


@dataclass
class RolloutWatchStarted(Message):
    live: LiveRollout


@dataclass
class RolloutWatchFailed(Message):
    service: str
    environment: str
    error: str


class RolloutChanged(Message):
    """A pod, ReplicaSet or Deployment of the watched rollout changed (coalesced like BoardChanged)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RolloutChanged)


@dataclass
class RunCreated(Message):
    run: RemoteRun
    generation: int


@dataclass
class LiveRunsFound(Message):
    """Deploys running now in a runner (started here, by another console or by the CLI)."""

    runs: dict[tuple[str, str], DeployRecord]


class RunEventsReady(Message):
    """Engine events wait in the screen's inbox; a burst is drained by one handler, one redraw."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunEventsReady)


@dataclass
class RunRefused(Message):
    error: str
    generation: int


@dataclass
class VersionsFound(Message):
    """A service's versions in the registry repository an environment deploys from, newest first
    (for the form's version field)."""

    service: str
    environment: str | None
    versions: list[str]


@dataclass
class LifecyclePromoted(Message):
    """The lifecycle fix went through: the deploy it unblocked asks for confirmation next."""

    summary: str
    service: str
    environment: str
    version: str


@dataclass
class LifecycleFixFailed(Message):
    error: str


@dataclass
class RunEnded(Message):
    """The thread stopped following the run (it finished, or this screen detached from it)."""

    generation: int


class _FollowerPosts:
    """The run follower's news, as messages to the screen (its thread must never draw)."""

    def __init__(self, screen: DeployScreen) -> None:
        self._screen = screen

    def run_created(self, run: RemoteRun, generation: int) -> None:
        self._screen.post_message(RunCreated(run, generation))

    def events_ready(self) -> None:
        self._screen.post_message(RunEventsReady())

    def run_refused(self, error: str, generation: int) -> None:
        self._screen.post_message(RunRefused(error, generation))

    def run_ended(self, generation: int) -> None:
        self._screen.post_message(RunEnded(generation))


class _LiveCatalog:
    """The engine's catalog, read from the app at call time (it loads, and reloads, later)."""

    def __init__(self, screen: DeployScreen) -> None:
        self._screen = screen

    def get(self, ref: str, default_kind: str | None = "Component") -> Entity | None:
        catalog = self._screen.ctx.catalog
        if catalog is None:
            return None
        return catalog.get(ref, default_kind=default_kind or "Component")


class DeployScreen(ConsoleScreen):
    MODE = "deploy"
    HELP = (
        "What runs where, and canary deploys watched live. The board lists every service × "
        "environment (version, ready/total, a canary when one runs); enter or n starts a deploy: "
        "type to filter services, pick the environment, type the version, confirm (production asks "
        "for the service name). While it runs: p promotes (ends the bake, or accepts an inconclusive "
        "analysis), P promotes fully, space pauses/resumes, a aborts, b rolls back; o folds pods. "
        "esc goes back to the board; w returns to the running deploy, or watches the highlighted "
        "service live without deploying (e: next environment, b: roll it back). Deploys run in "
        "their own runner: quitting never stops one. ▶ on the board marks a deploy running now "
        "(from here, another console or the CLI): w or enter attaches to it, with the same keys. "
        "Once a deploy finished healthy, p offers the same version to the next environment (a "
        "lifecycle it refuses is explained, with the fix), and n starts another deploy."
    )
    BINDINGS: ClassVar = [
        Binding("n", "new_deploy", "Deploy", id="deploy.new"),
        Binding("w", "watch", "Watch", id="deploy.watch"),
        Binding("r", "resume_interrupted", "Resume interrupted", id="deploy.resume_interrupted"),
        Binding("x", "abort_interrupted", "Abort interrupted", id="deploy.abort_interrupted"),
        Binding("p", "promote", "Promote", id="deploy.promote"),
        # The same key once a deploy finished healthy: the next environment (staging → production).
        Binding("p", "promote_next", "Promote to next env", id="deploy.promote_next"),
        Binding("P", "promote_full", "Promote fully", id="deploy.promote_full"),
        Binding("space", "pause_resume", "Pause/resume", id="deploy.pause_resume"),
        Binding("a", "abort", "Abort", id="deploy.abort"),
        Binding("b", "rollback", "Roll back", id="deploy.rollback"),
        Binding("o", "toggle_pods", "Pods", id="deploy.toggle_pods"),
        Binding("e", "next_environment", "Environment", id="deploy.next_environment"),
        Binding("y", "copy_log", "Copy log", show=False, id="deploy.copy_log"),
        Binding("escape", "back", "Back", id="deploy.back"),
    ]
    # Which bindings make sense in which view (check_action hides the rest from the footer).
    VIEW_ACTIONS: ClassVar[dict[str, set[View]]] = {
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
    DEFAULT_CSS = """
    DeployScreen #views { height: 1fr; }
    DeployScreen .title { height: 1; padding: 0 1; text-style: bold; background: $panel; }
    DeployScreen .hint { height: auto; padding: 0 1; color: $text-muted; }
    DeployScreen #board-errors { height: auto; padding: 0 1; color: $error; text-style: bold; display: none; }
    DeployScreen #board-errors.-shown { display: block; }
    DeployScreen #interrupted { height: auto; padding: 0 1; border: heavy $warning; display: none; }
    DeployScreen #interrupted.-shown { display: block; }
    DeployScreen #board { height: 1fr; }
    """

    # Which view is shown decides which keys apply: the footer follows it on its own.
    view: reactive[View] = reactive("board", bindings=True, init=False)

    # Tests speed the simulated cluster up and freeze the clock; the app never changes these.
    SESSION_TIME_SCALE: ClassVar[float | None] = None
    clock: ClassVar[Clock] = Clock()

    def __init__(self) -> None:
        super().__init__()
        self.session: DeploySession | None = None
        self.services: list[Entity] = []
        self.versions: dict[tuple[str, str], Any] = {}  # (service, env) → stable WorkloadStatus
        self.board: LiveBoard | None = None
        self.live: LiveRollout | None = None
        self.interrupted: list[InterruptedDeploy] = []
        self.detached: DetachedEngine | None = None  # starts every change in a runner process
        self.follower: RunFollower | None = None  # the run watched here, read on its own thread
        self.state: RunState | None = None  # None while watching without a run from here
        self.target: tuple[str, str] | None = None  # (service, environment) the watch view shows
        self._board_rows: list[str] = []
        self._pending_service: str | None = None
        self._pending_offer: DeployOffer | None = None
        self._closing = False
        self._catalog_seen = False
        self._bindings_key: tuple[object, ...] = ()
        self.live_runs: dict[tuple[str, str], DeployRecord] = {}  # (service, env) → running deploy

    # -- layout -------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        environments = self._environment_names()
        columns = [Column("service", "SERVICE", 24)] + [Column(env, env.upper(), 30) for env in environments]
        with ContentSwitcher(initial="board-view", id="views"):
            with Vertical(id="board-view"):
                yield Static("Services × environments — live from the cluster", classes="title")
                yield Static("", id="board-errors")
                yield Static("", id="interrupted")
                yield VirtualTable(columns, empty_text="Connecting to the cluster…", id="board")
                yield Static(
                    "enter deploys the highlighted service · n deploys any · w watches · "
                    f"{LIVE_MARK.strip()} running now: enter or w attaches",
                    classes="hint",
                )
            yield DeployForm(id="form-view")
            yield WatchView(id="watch-view")

    def _environment_names(self) -> list[str]:
        environments = self.ctx.workspace.section("environments")
        return [str(name) for name in environments]

    def on_mount(self) -> None:
        from backends.deploy.attach import DetachedEngine
        from backends.deploy.follow import RunFollower
        from backends.deploy.session import open_deploy

        workspace = self.ctx.workspace
        self.session = open_deploy(workspace, catalog=_LiveCatalog(self), time_scale=self.SESSION_TIME_SCALE)
        self.detached = DetachedEngine(
            self.session.engine,
            None if workspace.is_demo else str(workspace.root),
            deploy=workspace.section("deploy"),
        )
        self.follower = RunFollower(self.detached, _FollowerPosts(self))
        self.ctx.quit_guard = self
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        self.query_one("#board", VirtualTable).focus()
        # Pod ages move on without any cluster event: repaint them from the watch cache (no request).
        self.set_interval(1.0, self._tick_ages)
        # Runs started elsewhere (another console, the CLI) appear on the board within seconds.
        self.set_interval(LIVE_RUNS_POLL, self._poll_live_runs)
        if self.ctx.catalog is not None:
            self._on_catalog(self.ctx.catalog)

    def _tick_ages(self) -> None:
        if self.view == "watch" and self.is_current:
            self._redraw_tree()

    def on_unmount(self) -> None:
        # A running deploy goes on in its runner: this screen only stops following it.
        self._closing = True
        if self.ctx.quit_guard is self:
            self.ctx.quit_guard = None
        if self.follower is not None:
            self.follower.close()
        if self.live is not None:
            self.live.stop()
        if self.board is not None:
            self.board.stop()
        if self.session is not None:
            self.session.close()

    @property
    def run(self) -> RemoteRun | None:
        """The run followed here, once its runner started."""
        return self.follower.run if self.follower is not None else None

    @property
    def driving(self) -> bool:
        """A thread is reading the followed run's events."""
        return self.follower is not None and self.follower.driving

    def _detach(self) -> None:
        """Stop following the current run; it goes on in its runner (a paused one too)."""
        if self.follower is not None:
            self.follower.detach()

    @property
    def engine(self) -> DeployEngine:
        assert self.session is not None
        return self.session.engine

    # -- catalog and board --------------------------------------------------------------------
    def _on_catalog(self, catalog: Catalog) -> None:
        from screens.deploy_live import deployable_services

        self.services = deployable_services(catalog.entities)
        self._refresh_form()
        if not self._catalog_seen:
            self._catalog_seen = True
            self._start_board()
        if self._pending_service is not None:
            service, self._pending_service = self._pending_service, None
            self.preselect(service)
        if self._pending_offer is not None:
            offer, self._pending_offer = self._pending_offer, None
            self.offer(offer)

    @work(thread=True, exclusive=True, group="deploy-board", name="deploy status board", exit_on_error=False)
    def _start_board(self) -> None:
        from screens.deploy_live import start_board

        assert self.session is not None
        try:
            live = start_board(
                self.session.context, self.services, lambda _s, _e: self.post_message(BoardChanged())
            )
        except Exception as error:  # noqa: BLE001 — shown on the board, whatever it is
            self.post_message(BoardFailed(str(error) or type(error).__name__))
            return
        finally:
            if self._closing:
                # The screen went away while the cluster was starting: close what started late.
                self.session.close()
        if self._closing:
            live.stop()
            return
        self.post_message(BoardStarted(live))
        if live.board is None:
            return
        try:
            found = self.engine.find_interrupted()
        except Exception as error:  # noqa: BLE001
            self.post_message(BoardFailed(f"could not read interrupted deploys: {error}"))
            return
        self.post_message(InterruptedFound(found))

    def on_board_started(self, message: BoardStarted) -> None:
        if self._closing:
            message.live.stop()
            return
        self.board = message.live
        errors = self.query_one("#board-errors", Static)
        if message.live.errors:
            lines = [f"✖ {env}: {error}" for env, error in message.live.errors.items()]
            errors.update(Text("\n".join(lines)))
            errors.add_class("-shown")
        table = self.query_one("#board", VirtualTable)
        table.empty_text = (
            "No deployable services in the catalog."
            if message.live.environments
            else "No environments configured: add an environments: section to idp-console.yaml."
        )
        self._refresh_board()

    def on_board_failed(self, message: BoardFailed) -> None:
        errors = self.query_one("#board-errors", Static)
        errors.update(Text(f"✖ {message.error}"))
        errors.add_class("-shown")
        self.query_one("#board", VirtualTable).empty_text = "The cluster could not be read."
        self.query_one("#board", VirtualTable).refresh()

    def on_board_changed(self, _message: BoardChanged) -> None:
        self._refresh_board()

    def _refresh_board(self) -> None:
        live = self.board
        if live is None or live.board is None:
            cells: dict[tuple[str, str], Any] = {}
        else:
            cells = live.board.snapshot()
        self.versions = {key: stable for key, (stable, _canary) in cells.items()}
        rows = board_rows(
            [entity.name for entity in self.services],
            self._environment_names(),
            cells,
            errors=live.errors if live is not None else (),
            live=self.live_runs,
            cell=board_cell,
        )
        self._board_rows = [row[0] for row in rows]
        self.query_one("#board", VirtualTable).set_rows(rows, keep_cursor=True)
        if self.view == "form":
            self._refresh_form()

    def on_interrupted_found(self, message: InterruptedFound) -> None:
        self.interrupted = message.items
        self._show_interrupted()

    def _show_interrupted(self) -> None:
        panel = self.query_one("#interrupted", Static)
        if not self.interrupted:
            panel.remove_class("-shown")
            self.refresh_bindings()
            return
        text = Text("⚠ Deploys interrupted in an earlier run\n", style="bold yellow")
        for item in self.interrupted:
            text.append(f"  {interrupted_line(item)}\n")
        which = "it" if len(self.interrupted) == 1 else "the first"
        text.append(f"  r resumes {which} · x aborts {which} (stable restored, canary removed)", style="dim")
        panel.update(text)
        panel.add_class("-shown")
        self.refresh_bindings()

    @on(VirtualTable.Selected, "#board")
    def _board_selected(self, event: VirtualTable.Selected) -> None:
        if event.index >= len(self._board_rows):
            return
        service = self._board_rows[event.index]
        if self._live_run_of(service) is not None or self.ctx.readonly:
            self.action_watch()  # a running deploy is watched, not started again
        else:
            self.preselect(service)

    # -- deploys running in runners -----------------------------------------------------------
    def _poll_live_runs(self) -> None:
        if self._closing or self.session is None or not self.is_current:
            return
        self._find_live_runs()

    @work(
        thread=True,
        exclusive=True,
        group="deploy-live-runs",
        name="find running deploys",
        exit_on_error=False,
    )
    def _find_live_runs(self) -> None:
        from backends.deploy.attach import live_records

        runs: dict[tuple[str, str], DeployRecord] = {}
        if self.detached is not None:  # any account's, any host's: through the history store
            for record in live_records(self.detached):
                runs.setdefault((record.service, record.environment), record)
        self.post_message(LiveRunsFound(runs))

    def on_live_runs_found(self, message: LiveRunsFound) -> None:
        if message.runs.keys() == self.live_runs.keys():
            self.live_runs = message.runs
            return
        self.live_runs = message.runs
        self._refresh_board()

    def _live_run_of(self, service: str) -> DeployRecord | None:
        """The running deploy of ``service`` to attach to: the environment on screen first."""
        return live_run_of(service, self.live_runs, self._environment_names(), self.target)

    # -- the form -----------------------------------------------------------------------------
    @property
    def form(self) -> DeployForm:
        return self.query_one(DeployForm)

    def _refresh_form(self) -> None:
        section = self.ctx.workspace.section("environments")
        environments = [
            EnvironmentChoice(
                env, isinstance(section.get(env), dict) and bool(section[env].get("production"))
            )
            for env in self._environment_names()
        ]
        running = {key: running_version(stable) for key, stable in self.versions.items() if stable}
        self.form.set_data([e.name for e in self.services], environments, running)

    @mutating("deploying")
    def preselect(self, service: str) -> None:
        """Open the deploy form with ``service`` chosen (``:deploy payment-service``)."""
        self._show("form")
        if not self.services:
            self._pending_service = service  # the catalog is still loading
            return
        self.form.preselect(service)

    @mutating("deploying")
    def action_new_deploy(self) -> None:
        watched = self.target[0] if self.view == "watch" and self.target is not None else None
        self._show("form")
        self.form.reset()
        if watched is not None:
            self.form.preselect(watched)  # from a watch view: most likely the same service again

    # -- the journey: what comes next -------------------------------------------------------------
    def promotion(self) -> DeployOffer | None:
        """After a healthy deploy: the same version to the next environment (staging → production)."""
        from backends.deploy.journey import DeployOffer, next_environment

        state = self.state
        if self.view != "watch" or state is None or self.driving or self.ctx.readonly:
            return None
        if state.kind is not RunKind.DEPLOY or not state.succeeded or not state.to_version:
            return None
        following = next_environment(self._environment_names(), state.environment)
        if following is None:
            return None
        return DeployOffer(state.service, following, state.to_version)

    @mutating("deploying")
    def action_promote_next(self) -> None:
        offer = self.promotion()
        if offer is not None:
            self.offer(offer)

    @mutating("deploying")
    def offer(self, offer: DeployOffer) -> None:
        """The deploy form with service, environment and version filled in: enter asks to confirm."""
        self._show("form")
        if not self.services:
            self._pending_offer = offer  # the catalog is still loading
            return
        self.form.offer(offer.service, offer.environment, offer.version)

    @on(DeployForm.VersionsWanted)
    def _versions_wanted(self, event: DeployForm.VersionsWanted) -> None:
        self._find_versions(event.service, event.environment)

    @work(thread=True, exclusive=True, group="deploy-versions", name="registry tags", exit_on_error=False)
    def _find_versions(self, service: str, env: str | None) -> None:
        from backends.deploy.journey import suggested_versions

        catalog = self.ctx.catalog
        entity = catalog.get(service, default_kind="Component") if catalog is not None else None
        environment = None
        if env is not None and self.session is not None:
            try:
                environment = self.engine.context.environment(env)
            except Exception:  # noqa: BLE001 — a bad environment is the pre-checks' to report
                environment = None
        versions = suggested_versions(self.ctx.workspace, entity, environment)
        self.post_message(VersionsFound(service, env, versions))

    def on_versions_found(self, message: VersionsFound) -> None:
        if (self.form.service, self.form.environment) == (message.service, message.environment):
            self.form.set_versions(message.versions)

    def _lifecycle_refusal(self, service: str, env: str) -> LifecycleRefusal | None:
        from backends.deploy.journey import lifecycle_refusal

        catalog = self.ctx.catalog
        entity = catalog.get(service, default_kind="Component") if catalog is not None else None
        if entity is None or self.session is None:
            return None  # the engine's pre-checks say what is wrong
        try:
            environment = self.engine.context.environment(env)
        except Exception:  # noqa: BLE001 — an unknown environment is the pre-checks' to report
            return None
        return lifecycle_refusal(entity, environment)

    def _offer_lifecycle_fix(self, refusal: LifecycleRefusal, version: str) -> None:
        """Say why the environment refuses the service and offer the fix; the deploy goes on after."""

        def answered(ok: bool | None) -> None:
            if ok:
                self.form.show_error(f"Promoting {refusal.service} to {refusal.target}…")
                self._fix_lifecycle(refusal, version)
            else:
                self.form.show_error(f"Not deployed: {refusal.reason}.")

        body = f"{refusal.reason}.\n\n{refusal.fix}\nThen the deploy to {refusal.environment} goes on."
        title = f"{refusal.environment} does not accept {refusal.service} yet"
        self.app.push_screen(ConfirmDeploy(title, body, ok_label=f"Promote to {refusal.target}"), answered)

    @work(
        thread=True, exclusive=True, group="deploy-lifecycle", name="promote lifecycle", exit_on_error=False
    )
    def _fix_lifecycle(self, refusal: LifecycleRefusal, version: str) -> None:
        from backends.deploy.journey import promote_lifecycle

        try:
            fix = promote_lifecycle(self.ctx.workspace, self.ctx.catalog, refusal, user=self.ctx.identity)
        except Exception as error:  # noqa: BLE001 — any failure is shown in the form, one line
            self.post_message(LifecycleFixFailed(str(error) or type(error).__name__))
            return
        if not fix.applied:  # a change request: the deploy waits for its merge
            self.post_message(LifecycleFixFailed(f"{fix.summary}; deploy once it is merged"))
            return
        self.post_message(LifecyclePromoted(fix.summary, refusal.service, refusal.environment, version))

    def on_lifecycle_fix_failed(self, message: LifecycleFixFailed) -> None:
        self.form.show_error(f"Not deployed: {message.error}")

    def on_lifecycle_promoted(self, message: LifecyclePromoted) -> None:
        self.notify(message.summary, title="Lifecycle promoted", timeout=6, markup=False)
        self.form.show_error("")
        catalog = self.ctx.catalog
        if catalog is not None:
            self.ctx.catalog_signal.publish(catalog)  # the catalog screen shows the new lifecycle
        self._confirm_deploy(message.service, message.environment, message.version)

    @on(DeployForm.Submitted)
    def _form_submitted(self, event: DeployForm.Submitted) -> None:
        service, env, version = event.service, event.environment, event.version
        stable = self.versions.get((service, env))
        if stable is not None and stable.version == version:
            self.form.show_error(f"{service} already runs {version} in {env}.")
            return
        refusal = self._lifecycle_refusal(service, env)
        if refusal is not None:
            self._offer_lifecycle_fix(refusal, version)
            return
        self._confirm_deploy(service, env, version)

    def _confirm_deploy(self, service: str, env: str, version: str) -> None:
        stable = self.versions.get((service, env))
        body = (
            f"{service} in {env}\n{running_version(stable)} → {version}\n"
            "Canary with analysis; rolled back automatically on failure."
        )
        self._confirm(
            f"Deploy {service} {version} to {env}?",
            body,
            env,
            service,
            lambda engine: engine.deploy(service, env, version),
            kind=RunKind.DEPLOY,
            version=version,
        )

    # -- confirm and run ----------------------------------------------------------------------
    def _is_production(self, env: str) -> bool:
        raw = self.ctx.workspace.section("environments").get(env)
        return isinstance(raw, dict) and bool(raw.get("production"))

    def _confirm(
        self,
        title: str,
        body: str,
        env: str,
        service: str,
        make_run: Callable[[DetachedEngine], RemoteRun],
        *,
        kind: RunKind,
        version: str = "",
    ) -> None:
        typed = service if self._is_production(env) else None

        def answered(ok: bool | None) -> None:
            if ok:
                self.start_run(service, env, make_run, kind=kind, version=version)

        self.app.push_screen(ConfirmDeploy(title, body, type_to_confirm=typed), answered)

    @mutating("deploying")
    def start_run(
        self,
        service: str,
        env: str,
        make_run: Callable[[DetachedEngine], RemoteRun],
        *,
        kind: RunKind = RunKind.DEPLOY,
        version: str = "",
    ) -> None:
        """Start ``make_run(detached engine)`` in a runner and watch it (already confirmed)."""
        # Whatever was interrupted here is now being resumed or aborted (or refused, then found again).
        self.interrupted = [
            i for i in self.interrupted if (i.record.service, i.record.environment) != (service, env)
        ]
        self._show_interrupted()
        self._follow_run(service, env, make_run, kind=kind, version=version)

    def attach_run(self, record: DeployRecord) -> None:
        """Watch (and steer) a deploy running in a runner, wherever it was started."""
        from backends.deploy.attach import attach_anywhere

        if self.run is not None and self.run.deploy_id == record.id and self.driving:
            self._show("watch")
            return
        self._follow_run(
            record.service,
            record.environment,
            lambda engine: attach_anywhere(engine, record),
            kind=run_kind(record.kind),
            version=record.to_version,
        )

    def _follow_run(
        self,
        service: str,
        env: str,
        make_run: Callable[[DetachedEngine], RemoteRun],
        *,
        kind: RunKind,
        version: str,
    ) -> None:
        self._detach()  # from the run watched before, if any: it goes on in its runner
        self.state = RunState(service, env, to_version=version, kind=run_kind(kind))
        self.target = (service, env)
        self.watch_view.clear_log()
        self._show("watch")
        self._redraw_run()
        self._follow(service, env)
        assert self.follower is not None
        self.follower.start(make_run)  # the run watched before, if any, goes on in its runner
        self._redraw_run()

    def _follow(self, service: str, env: str) -> None:
        """Point the tree at ``service`` in ``env`` (new watches unless they already are)."""
        if self.live is not None and (self.live.service, self.live.environment) == (service, env):
            self._redraw_tree()
            return
        from widgets.rollout_tree import RolloutTreeData

        if self.live is not None:
            # The old service's watches would go on redrawing its tree over the new one's.
            self.live.stop()
            self.live = None
        waiting = RolloutTreeData(service, env, "…", note="connecting to the cluster…")
        self.watch_view.show_tree(waiting)
        self._watch_rollout(service, env)

    def on_run_created(self, message: RunCreated) -> None:
        if self.follower is not None and self.follower.created(message.run, message.generation):
            self.refresh_bindings()

    def on_run_refused(self, message: RunRefused) -> None:
        state = self.state
        if self.follower is None or not self.follower.is_current(message.generation) or state is None:
            return
        state.phase, state.outcome, state.reason = Phase.FAILED, "failed", message.error
        self.watch_view.log_entry(LogEntry(self.clock.now(), message.error, "error"), self.clock)
        self._redraw_run()

    def on_run_events_ready(self, _message: RunEventsReady) -> None:
        self._drain()

    def _drain(self) -> None:
        events = self.follower.drain() if self.follower is not None else []
        for event in events:
            self._apply_event(event)
        if events:
            self._redraw_run()

    def _apply_event(self, event: DeployEvent) -> None:
        state = self.state
        if state is None:
            return
        asked_before = state.needs_decision
        entry = state.apply(event)
        if entry is not None:
            self.watch_view.log_entry(entry, self.clock)
        if state.needs_decision and not asked_before:
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

    def on_run_ended(self, message: RunEnded) -> None:
        if self.follower is None or not self.follower.is_current(message.generation):
            return
        self._drain()
        self.follower.ended(message.generation)
        self._redraw_run()  # what comes next (the next environment) shows once the run is over
        self.refresh_bindings()
        self._poll_live_runs()
        if self.board is None or self.board.board is None:
            return
        # A finished deploy leaves nothing interrupted; a failed rollback may. Ask again.
        self._refresh_interrupted()

    @work(
        thread=True,
        exclusive=True,
        group="deploy-interrupted",
        name="find interrupted deploys",
        exit_on_error=False,
    )
    def _refresh_interrupted(self) -> None:
        self.post_message(InterruptedFound(self.engine.find_interrupted()))

    @property
    def watch_view(self) -> WatchView:
        return self.query_one(WatchView)

    def _redraw_run(self) -> None:
        state = self.state
        if state is None:
            if self.target is not None:
                self.watch_view.show_watch_only(*self.target)
        else:
            self.watch_view.show_run(state)
            promotion = self.promotion()
            self.watch_view.show_offer(
                f"✔ {promotion.service} {promotion.version} is healthy in {state.environment} · "
                f"p promotes it to {promotion.environment} · n deploys again"
                if promotion is not None
                else None
            )
        # Which keys apply changes with the phase only; refreshing them per event is wasted work.
        bindings_key = (
            state.phase if state else "",
            state.finished if state else False,
            self.driving,
            self.run,
        )
        if bindings_key != self._bindings_key:
            self._bindings_key = bindings_key
            self.refresh_bindings()

    # -- the live rollout tree ----------------------------------------------------------------
    @work(thread=True, exclusive=True, group="deploy-live", name="watch rollout", exit_on_error=False)
    def _watch_rollout(self, service: str, env: str) -> None:
        from screens.deploy_live import LiveRollout

        assert self.session is not None
        try:
            live = LiveRollout(
                self.session.context, service, env, lambda: self.post_message(RolloutChanged())
            )
            live.start()
        except Exception as error:  # noqa: BLE001 — shown in the tree, whatever it is
            self.post_message(RolloutWatchFailed(service, env, str(error) or type(error).__name__))
            return
        self.post_message(RolloutWatchStarted(live))

    def on_rollout_watch_started(self, message: RolloutWatchStarted) -> None:
        live = message.live
        if self._closing or (live.service, live.environment) != self.target:
            live.stop()  # the user moved on (or left) while it was connecting
            return
        if self.live is not None:
            self.live.stop()
        self.live = live
        self._redraw_tree()

    def on_rollout_watch_failed(self, message: RolloutWatchFailed) -> None:
        from widgets.rollout_tree import RolloutTreeData

        data = RolloutTreeData(message.service, message.environment, "?", note=f"✖ {message.error}")
        self.watch_view.show_tree(data)

    def on_rollout_changed(self, _message: RolloutChanged) -> None:
        self._redraw_tree()

    def _redraw_tree(self) -> None:
        live = self.live
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
        self.watch_view.show_tree(data)

    # -- views and actions --------------------------------------------------------------------
    def _show(self, view: View) -> None:
        self.view = view
        self.query_one("#views", ContentSwitcher).current = f"{view}-view"
        if view == "form":
            self._refresh_form()
        if view == "board":
            self.query_one("#board", VirtualTable).focus()
        elif view == "watch":
            self.watch_view.focus_tree()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        views = self.VIEW_ACTIONS.get(action)
        if views is not None and self.view not in views:
            return False
        running = self.run is not None and self.state is not None and not self.state.finished
        if action in ("resume_interrupted", "abort_interrupted"):
            return bool(self.interrupted)
        if action == "next_environment":
            return not self.driving
        if action in ("promote", "promote_full", "pause_resume", "abort"):
            return running
        if action == "new_deploy":
            return self.view == "board" or not self.driving
        if action == "promote_next":
            return self.promotion() is not None
        if action == "rollback":
            return self.target is not None and (
                self.state is None or self.state.kind in (RunKind.DEPLOY, RunKind.ROLLBACK)
            )
        return True

    def action_back(self) -> None:
        if self.view == "watch" and self.target is not None and self.target[0] in self._board_rows:
            # Land on the row just watched: its new state is right there, and w goes back to it.
            self.query_one("#board", VirtualTable).move_cursor(self._board_rows.index(self.target[0]))
        if self.view in ("form", "watch"):
            self._show("board")

    def action_watch(self) -> None:
        """A deploy running for the highlighted service (attached, wherever it was started); else the
        one followed here; else the highlighted service, live, without a deploy."""
        table = self.query_one("#board", VirtualTable)
        highlighted = self._board_rows[table.cursor_row] if table.cursor_row < len(self._board_rows) else None
        live = self._live_run_of(highlighted) if highlighted is not None else None
        if live is not None and self.view == "board":
            self.attach_run(live)
            return
        if self.state is not None and (self.driving or highlighted in (None, self.state.service)):
            self._show("watch")
            return
        if highlighted is None:
            return
        environments = self._environment_names()
        running = [env for env in environments if self.versions.get((highlighted, env)) is not None]
        env = (running or environments or [""])[0]
        self._watch_only(highlighted, env)

    def _watch_only(self, service: str, env: str) -> None:
        self._detach()
        self.state, self.target = None, (service, env)
        self.watch_view.clear_log()
        self._show("watch")
        self._redraw_run()
        self._follow(service, env)

    def action_next_environment(self) -> None:
        if self.target is None or self.driving:
            return
        environments = self._environment_names()
        service, env = self.target
        following = (
            environments[(environments.index(env) + 1) % len(environments)] if env in environments else env
        )
        self._watch_only(service, following)

    def action_copy_log(self) -> None:
        # OSC 52: reaches the user's clipboard over SSH too (pasting into a ticket or a chat).
        text = self.watch_view.log_text()
        if text:
            self.app.copy_to_clipboard(text)
            self.notify(f"Copied {text.count(chr(10)) + 1} log lines", timeout=3)

    def action_toggle_pods(self) -> None:
        tree = self.watch_view.rollout_tree
        tree.show_pods = not tree.show_pods

    @mutating("promoting a deploy")
    def action_promote(self) -> None:
        if self.run is not None:
            self.run.promote()

    @mutating("promoting a deploy")
    def action_promote_full(self) -> None:
        if self.run is not None:
            self.run.promote(full=True)

    @mutating("pausing a deploy")
    def action_pause_resume(self) -> None:
        if self.run is None or self.state is None:
            return
        if self.state.needs_decision:
            self.notify("The analysis is inconclusive: promote (p) or abort (a).", severity="warning")
        elif self.state.paused:
            self.run.resume()
        else:
            self.run.pause()

    @mutating("aborting a deploy")
    def action_abort(self) -> None:
        if self.run is not None:
            self.run.abort()

    @mutating("rolling back")
    def action_rollback(self) -> None:
        state = self.state
        if self.target is None:
            return
        if self.run is not None and state is not None and not state.finished:
            self.run.rollback()  # during the deploy: stop now and restore the stable
            return
        service, env = self.target
        self._confirm(
            f"Roll {service} back in {env}?",
            f"{service} in {env} goes back to its last good version (within 72 h); no canary.",
            env,
            service,
            lambda engine: engine.rollback(service, env),
            kind=RunKind.ROLLBACK,
        )

    @mutating("resuming a deploy")
    def action_resume_interrupted(self) -> None:
        self._recover("resume")

    @mutating("aborting a deploy")
    def action_abort_interrupted(self) -> None:
        self._recover("abort")

    def _recover(self, how: Literal["resume", "abort"]) -> None:
        if not self.interrupted:
            return
        record = self.interrupted[0].record
        deploy_id = record.id
        verb = "Resume" if how == "resume" else "Abort"
        body = f"{record.service} in {record.environment}: {record.from_version} → {record.to_version}\n" + (
            "Continues from the step after the last one completed."
            if how == "resume"
            else "Restores the stable Deployment and removes the canary."
        )

        def make(engine: DetachedEngine) -> RemoteRun:
            return engine.resume(deploy_id) if how == "resume" else engine.abort(deploy_id)

        self._confirm(
            f"{verb} the interrupted deploy of {record.service}?",
            body,
            record.environment,
            record.service,
            make,
            kind=RunKind.DEPLOY if how == "resume" else RunKind.ABORT,
            version=record.to_version,
        )

    # -- quitting while a deploy runs ---------------------------------------------------------
    def confirm_quit(self) -> bool:
        """Before the app quits: if a deploy followed here still runs, ask what to do with it.
        True when the question was asked (the app then waits for the answer)."""
        from screens.quit_confirm import QuitChoice, QuitWhileDeploying

        state, run = self.state, self.run
        if run is None or state is None or state.finished or not self.driving:
            return False
        if isinstance(self.app.screen, QuitWhileDeploying):
            return True  # already asking
        readonly = self.ctx.readonly

        def answered(choice: QuitChoice | None) -> None:
            if choice == "abort" and not readonly:
                run.abort(f"aborted by {self.ctx.identity} on quitting the console")
            if choice is not None:
                self.app.exit()

        what = f"The {state.kind} of {state.service} to {state.environment}"
        hint = f"`idp-console deploy {state.service} --env {state.environment} --attach`"
        self.app.push_screen(QuitWhileDeploying(what, hint, can_abort=not readonly), answered)
        return True
