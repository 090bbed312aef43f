"""The new-deploy form, wired to the deploy desk: what it lists, the versions it suggests, and what
happens once it is filled in.

:class:`NewDeploy` is the plain :class:`~widgets.deploy_form.DeployForm` plus the deploy mode's
knowledge: it lists the catalog's services and what runs where, asks the registry for the versions
the chosen environment deploys from, refuses a version that already runs, explains an
environment that refuses the service's lifecycle (and applies the fix when asked), and finally asks
the screen to confirm the run (:class:`NewDeploy.RunAsked`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.message import Message
from textual.worker import Worker, WorkerState

from screens.deploy_confirm import ConfirmDeploy
from widgets.deploy_form import DeployForm, EnvironmentChoice

if TYPE_CHECKING:
    from backends.deploy.desk import DeployDesk, RunQuestion
    from backends.deploy.journey import DeployOffer, LifecycleRefusal
    from screens.context import ConsoleContext


@dataclass
class VersionsFound(Message):
    """A service's versions in the registry repository an environment deploys from, newest first."""

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


class NewDeploy(DeployForm):
    """The deploy form of the deploy mode (see the module docstring)."""

    @dataclass
    class RunAsked(Message):
        """A deploy the form wants started, once the person confirms it."""

        question: RunQuestion

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.desk: DeployDesk[Any] | None = None
        self.ctx: ConsoleContext | None = None
        self._pending: tuple[str, DeployOffer | None] | None = None  # asked for before the catalog came

    def refresh_lists(self) -> None:
        """Services, environments and what runs where, from the desk (the user's choices stay)."""
        if self.desk is None:
            return
        services, environments, running = self.desk.form_data()
        self.set_data(
            services, [EnvironmentChoice(name, production) for name, production in environments], running
        )

    def open_for(self, service: str) -> None:
        """``service`` chosen (``:deploy payment-service``); later if the catalog is still loading."""
        if self.desk is None or not self.desk.services:
            self._pending = (service, None)
            return
        self.preselect(service)

    def open_offer(self, offer: DeployOffer) -> None:
        """Service, environment and version filled in: enter asks to confirm."""
        if self.desk is None or not self.desk.services:
            self._pending = (offer.service, offer)
            return
        self.offer(offer.service, offer.environment, offer.version)

    def services_loaded(self) -> None:
        """The catalog arrived: list it, and open what was asked for meanwhile."""
        self.refresh_lists()
        pending, self._pending = self._pending, None
        if pending is not None:
            service, offer = pending
            self.open_offer(offer) if offer is not None else self.open_for(service)

    # -- versions ---------------------------------------------------------------------------------
    @on(DeployForm.VersionsWanted)
    def _versions_wanted(self, event: DeployForm.VersionsWanted) -> None:
        event.stop()
        self._find_versions(event.service, event.environment)

    @work(thread=True, exclusive=True, group="deploy-versions", name="registry tags", exit_on_error=False)
    def _find_versions(self, service: str, env: str | None) -> None:
        if self.desk is not None:
            self.post_message(VersionsFound(service, env, self.desk.versions_for(service, env)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand failures to the app's one error handler.
        if event.state == WorkerState.ERROR:
            self.app.post_message(Worker.StateChanged(event.worker, event.state))

    def on_versions_found(self, message: VersionsFound) -> None:
        if (self.service, self.environment) == (message.service, message.environment):
            self.set_versions(message.versions)

    # -- submitted ----------------------------------------------------------------------------------
    @on(DeployForm.Submitted)
    def _submitted(self, event: DeployForm.Submitted) -> None:
        event.stop()
        desk = self.desk
        if desk is None:
            return
        service, env, version = event.service, event.environment, event.version
        problem = desk.submission_problem(service, env, version)
        if problem is not None:
            self.show_error(problem)
            return
        refusal = desk.lifecycle_refusal(service, env)
        if refusal is not None:
            self._offer_lifecycle_fix(refusal, version)
            return
        self.post_message(self.RunAsked(desk.deploy_question(service, env, version)))

    def _offer_lifecycle_fix(self, refusal: LifecycleRefusal, version: str) -> None:
        """Say why the environment refuses the service and offer the fix; the deploy goes on after."""

        def answered(ok: bool | None) -> None:
            if ok:
                self.show_error(f"Promoting {refusal.service} to {refusal.target}…")
                self._fix_lifecycle(refusal, version)
            else:
                self.show_error(f"Not deployed: {refusal.reason}.")

        body = f"{refusal.reason}.\n\n{refusal.fix}\nThen the deploy to {refusal.environment} goes on."
        title = f"{refusal.environment} does not accept {refusal.service} yet"
        self.app.push_screen(ConfirmDeploy(title, body, ok_label=f"Promote to {refusal.target}"), answered)

    @work(
        thread=True, exclusive=True, group="deploy-lifecycle", name="promote lifecycle", exit_on_error=False
    )
    def _fix_lifecycle(self, refusal: LifecycleRefusal, version: str) -> None:
        assert self.desk is not None and self.ctx is not None
        try:
            fix = self.desk.fix_lifecycle(refusal, self.ctx.catalog, self.ctx.identity)
        except Exception as error:  # noqa: BLE001 — any failure is shown in the form, one line
            self.post_message(LifecycleFixFailed(str(error) or type(error).__name__))
            return
        if not fix.applied:  # a change request: the deploy waits for its merge
            self.post_message(LifecycleFixFailed(f"{fix.summary}; deploy once it is merged"))
            return
        self.post_message(LifecyclePromoted(fix.summary, refusal.service, refusal.environment, version))

    def on_lifecycle_fix_failed(self, message: LifecycleFixFailed) -> None:
        self.show_error(f"Not deployed: {message.error}")

    def on_lifecycle_promoted(self, message: LifecyclePromoted) -> None:
        assert self.desk is not None and self.ctx is not None
        self.notify(message.summary, title="Lifecycle promoted", timeout=6, markup=False)
        self.show_error("")
        catalog = self.ctx.catalog
        if catalog is not None:
            self.ctx.catalog_signal.publish(catalog)  # the catalog screen shows the new lifecycle
        self.post_message(
            self.RunAsked(self.desk.deploy_question(message.service, message.environment, message.version))
        )
