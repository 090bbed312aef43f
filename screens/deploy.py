"""The deploy mode: what runs where, then pick → confirm → watch a canary deploy live.

Three views in one screen (a ContentSwitcher), so ``esc`` walks back without losing a running
deploy: the status board (:mod:`screens.deploy_board`), the new-deploy form
(:mod:`screens.deploy_new`) and the watch view (:mod:`screens.deploy_follow`). Every deploy,
rollback, resume and abort runs in a detached runner process (:mod:`backends.deploy.attach`): this
screen only watches and steers it, so closing the console never stops a deploy. What the keys do,
and everything the views show, is decided by one :class:`~backends.deploy.desk.DeployDesk`; the
screen composes the views, routes keys and messages to them, and asks before a change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import ContentSwitcher

from backends.deploy.desk import DeployDesk, RunQuestion, View
from screens.base import ConsoleScreen, mutating
from screens.deploy_board import BoardView
from screens.deploy_confirm import ConfirmDeploy
from screens.deploy_follow import FollowerPosts, LiveWatchView
from screens.deploy_new import NewDeploy
from screens.deploy_view import Clock, RunState
from widgets.virtual_table import VirtualTable

if TYPE_CHECKING:
    from backends.catalog import Catalog
    from backends.catalog.model import Entity
    from backends.deploy.attach import RemoteRun
    from backends.deploy.history import DeployRecord
    from backends.deploy.journey import DeployOffer
    from backends.deploy.live import LiveBoard
    from backends.deploy.session import DeploySession


class _LiveCatalog:
    """The engine's catalog, read from the app at call time (it loads, and reloads, later)."""

    def __init__(self, screen: DeployScreen) -> None:
        self._screen = screen

    def get(self, ref: str, default_kind: str | None = "Component") -> Entity | None:
        catalog = self._screen.ctx.catalog
        return None if catalog is None else catalog.get(ref, default_kind=default_kind or "Component")


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
    DEFAULT_CSS = "DeployScreen #views { height: 1fr; }"

    # Which view is shown decides which keys apply: the footer follows it on its own.
    view: reactive[View] = reactive("board", bindings=True, init=False)

    # Tests speed the simulated cluster up and freeze the clock; the app never changes these.
    SESSION_TIME_SCALE: ClassVar[float | None] = None
    clock: ClassVar[Clock] = Clock()

    def __init__(self) -> None:
        super().__init__()
        self.desk: DeployDesk[RunState] | None = None
        self._catalog_seen = False

    def compose_body(self) -> ComposeResult:
        environments = [str(name) for name in self.ctx.workspace.section("environments")]
        with ContentSwitcher(initial="board-view", id="views"):
            yield BoardView(environments, id="board-view")
            yield NewDeploy(id="form-view")
            yield LiveWatchView(self.clock, id="watch-view")

    def on_mount(self) -> None:
        self.desk = DeployDesk(
            self.ctx.workspace,
            _LiveCatalog(self),
            FollowerPosts(self.watch_view),
            model=RunState,
            time_scale=self.SESSION_TIME_SCALE,
            readonly=self.ctx.readonly,
        )
        self.board_view.desk = self.form.desk = self.watch_view.desk = self.desk
        self.form.ctx = self.ctx
        self.ctx.quit_guard = self
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        self.board_view.table.focus()
        if self.ctx.catalog is not None:
            self._on_catalog(self.ctx.catalog)

    def on_unmount(self) -> None:
        # A running deploy goes on in its runner: this screen only stops following it.
        if self.ctx.quit_guard is self:
            self.ctx.quit_guard = None
        if self.desk is not None:
            self.desk.close()

    def _on_catalog(self, catalog: Catalog) -> None:
        self._desk.set_services(catalog.entities)
        if not self._catalog_seen:  # the board watches the services of the first catalog
            self._catalog_seen = True
            self.board_view.start()
        self.form.services_loaded()

    # -- the views, and what tests and the app read of them --------------------------------------------
    @property
    def board_view(self) -> BoardView:
        return self.query_one(BoardView)

    @property
    def form(self) -> NewDeploy:
        return self.query_one(NewDeploy)

    @property
    def watch_view(self) -> LiveWatchView:
        return self.query_one(LiveWatchView)

    @property
    def _desk(self) -> DeployDesk[RunState]:
        assert self.desk is not None
        return self.desk

    @property
    def session(self) -> DeploySession:
        return self._desk.session

    @property
    def board(self) -> LiveBoard | None:
        """The board's watches, once started."""
        return self._desk.live_board

    @property
    def state(self) -> RunState | None:
        """The followed run's model; None while watching without a run."""
        return self._desk.state

    @property
    def run(self) -> RemoteRun | None:
        return self._desk.run

    @property
    def driving(self) -> bool:
        return self._desk.driving

    def _show(self, view: View) -> None:
        self.view = view
        self.query_one("#views", ContentSwitcher).current = f"{view}-view"
        if view == "form":
            self.form.refresh_lists()
        if view == "board":
            self.board_view.table.focus()
        elif view == "watch":
            self.watch_view.focus_tree()

    def on_board_view_redrawn(self, _message: BoardView.Redrawn) -> None:
        if self.view == "form":
            self.form.refresh_lists()

    def on_live_watch_view_run_over(self, _message: LiveWatchView.RunOver) -> None:
        self.board_view.poll_live_runs()
        self.board_view.refresh_interrupted()

    @on(VirtualTable.Selected, "#board")
    def _board_selected(self, event: VirtualTable.Selected) -> None:
        service = self._desk.board.service_at(event.index)
        if service is None:
            return
        if self._desk.row_chosen(service) == "watch":
            self.action_watch()  # a running deploy is watched, not started again
        else:
            self.preselect(service)

    # -- starting changes -----------------------------------------------------------------------------
    @mutating("deploying")
    def preselect(self, service: str) -> None:
        """Open the deploy form with ``service`` chosen (``:deploy payment-service``)."""
        self._show("form")
        self.form.open_for(service)

    @mutating("deploying")
    def offer(self, offer: DeployOffer) -> None:
        """The deploy form with service, environment and version filled in: enter asks to confirm."""
        self._show("form")
        self.form.open_offer(offer)

    @mutating("deploying")
    def action_new_deploy(self) -> None:
        target = self._desk.target
        watched = target[0] if self.view == "watch" and target is not None else None
        self._show("form")
        self.form.reset()
        if watched is not None:
            self.form.preselect(watched)  # from a watch view: most likely the same service again

    def promotion(self) -> DeployOffer | None:
        """After a healthy deploy: the same version to the next environment (staging → production)."""
        return self._desk.promotion(self.view == "watch")

    @mutating("deploying")
    def action_promote_next(self) -> None:
        offer = self.promotion()
        if offer is not None:
            self.offer(offer)

    def on_new_deploy_run_asked(self, message: NewDeploy.RunAsked) -> None:
        self.confirm(message.question)

    def confirm(self, question: RunQuestion | None) -> None:
        """Ask (production: the service's name typed), then start the run and watch it."""
        if question is None:
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self.start_run(question)

        self.app.push_screen(
            ConfirmDeploy(question.title, question.body, type_to_confirm=question.typed), answered
        )

    @mutating("deploying")
    def start_run(self, question: RunQuestion) -> None:
        """Start the (confirmed) run in a runner and watch it."""
        self._show("watch")
        self.watch_view.follow(question)
        self.board_view.show_interrupted()  # a resumed or aborted one is no longer interrupted

    def attach_run(self, record: DeployRecord) -> None:
        """Watch (and steer) a deploy running in a runner, wherever it was started."""
        self._show("watch")
        self.watch_view.follow(record=record)

    # -- keys -------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True if self.desk is None else self.desk.allows(action, self.view)

    def action_back(self) -> None:
        target = self._desk.target
        if self.view == "watch" and target is not None:
            # Land on the row just watched: its new state is right there, and w goes back to it.
            self.board_view.move_to(target[0])
        if self.view in ("form", "watch"):
            self._show("board")

    def action_watch(self) -> None:
        choice = self._desk.watch_choice(self.board_view.highlighted, self.view)
        if choice is None:
            return
        if choice.how == "attach" and choice.record is not None:
            self.attach_run(choice.record)
        elif choice.how == "show":
            self._show("watch")
        else:
            self._watch_only(choice.service, choice.environment)

    def _watch_only(self, service: str, env: str) -> None:
        self._show("watch")
        self.watch_view.watch_only(service, env)

    def action_next_environment(self) -> None:
        following = self._desk.next_environment()
        if following is not None:
            self._watch_only(*following)

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
        refusal = self._desk.pause_or_resume()
        if refusal is not None:
            self.notify(refusal, severity="warning")

    @mutating("aborting a deploy")
    def action_abort(self) -> None:
        if self.run is not None:
            self.run.abort()

    @mutating("rolling back")
    def action_rollback(self) -> None:
        if self._desk.running and self.run is not None:
            self.run.rollback()  # during the deploy: stop now and restore the stable
        else:
            self.confirm(self._desk.rollback_question())

    @mutating("resuming a deploy")
    def action_resume_interrupted(self) -> None:
        self.confirm(self._desk.recovery_question("resume"))

    @mutating("aborting a deploy")
    def action_abort_interrupted(self) -> None:
        self.confirm(self._desk.recovery_question("abort"))

    # -- quitting while a deploy runs -------------------------------------------------------------------
    def confirm_quit(self) -> bool:
        """Before the app quits: if a deploy followed here still runs, ask what to do with it.
        True when the question was asked (the app then waits for the answer)."""
        from screens.quit_confirm import QuitChoice, QuitWhileDeploying

        question, run = self._desk.quit_question(), self.run
        if question is None or run is None:
            return False
        if isinstance(self.app.screen, QuitWhileDeploying):
            return True  # already asking
        readonly = self.ctx.readonly

        def answered(choice: QuitChoice | None) -> None:
            if choice == "abort" and not readonly:
                run.abort(f"aborted by {self.ctx.identity} on quitting the console")
            if choice is not None:
                self.app.exit()

        self.app.push_screen(QuitWhileDeploying(*question, can_abort=not readonly), answered)
        return True
