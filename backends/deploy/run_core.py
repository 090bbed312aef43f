"""The shared core of every run: pre-checks, lease, history, the stream of events and the way back.

:class:`DeployRun` runs the lifecycle every kind shares — pre-checks (the history can record, the
service resolves, the lease is ours, no other deploy's canary is in the way), the start recorded,
the kind's own steps, and on any failure or abort the way back (stable restored, canary removed)
— and asks its kind, through the hooks below, only for what differs. The kinds: canary deploy
(:mod:`backends.deploy.run_canary`), rollback (:mod:`~backends.deploy.run_rollback`), scale
(:mod:`~backends.deploy.run_scale`) and the abort of an interrupted run (:mod:`~backends.deploy.run_abort`).
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Generator, Sequence
from typing import Any, ClassVar

from backends.deploy import canary as cn
from backends.deploy.config import CanaryStep
from backends.deploy.events import (
    IMAGE_UNCHECKED,
    DeployEvent,
    DeployFinished,
    DeployStarted,
    LogLine,
    Outcome,
    Stage,
    StageFinished,
    StageStarted,
)
from backends.deploy.lease import DeployLease, LeaseHeld, LeaseLost, canonical_service
from backends.deploy.prechecks import DeployRefused, DeployTarget, check_version, lease_refusal
from backends.deploy.run_state import ACTIVE_RUNS, Steps, _running_image, _Stop
from backends.deploy.run_waiting import WatchingRun
from backends.deploy.traffic import RouteTraffic
from backends.history.errors import HistoryError
from backends.kube.cluster import ClusterError
from backends.registry import ResolvedImage

# The name this logger always had, before the run was split by kind: log filters keep working.
log = logging.getLogger("backends.deploy.run")


class DeployRun(WatchingRun):
    """A deploy, a rollback, a scale, or the abort of an interrupted run (:class:`RunKind`).

    Made by :func:`backends.deploy.run.run_for`, which picks the kind's class.
    """

    # -- what a kind says about itself ------------------------------------------------------------
    checks_permissions: ClassVar[bool] = True  # an abort must always be possible, whatever the catalog says
    checks_image: ClassVar[bool] = False  # it puts ``version`` on the cluster: the registry is asked
    routes_traffic: ClassVar[bool] = True  # an environment's HTTPRoute carries its weights
    owns_canary: ClassVar[bool] = False  # the way back removes a canary it made (or found)

    # -- what a kind supplies (hooks) -------------------------------------------------------------
    @abstractmethod
    def _steps(self) -> Steps:
        """The kind's own work, once the pre-checks passed and the watches run; _Stop to go back."""

    def _creates_workload(self) -> bool:
        """The pre-checks may create a workload the environment lacks (a first deploy)."""
        return False

    def _checks_named_version(self) -> bool:
        """The pre-checks ask the registry for ``version`` before the cluster is asked anything."""
        return False

    def _on_resolved(self, target: DeployTarget) -> None:
        """Called once the service resolved, before the lease is taken."""

    def _check_request(self, stable: dict[str, Any], current: str) -> None:
        """Refuse (DeployRefused) what this kind cannot do from here; the stable runs ``current``."""

    def _canary_steps(self) -> Sequence[CanaryStep]:
        """The steps the run plans, announced when it starts (none but a canary deploy's)."""
        return ()

    def _warnings(self, stable: dict[str, Any]) -> list[str]:
        """Warnings logged when the run starts."""
        return []

    # -- the stream -------------------------------------------------------------------------------
    def events(self) -> Generator[DeployEvent, None, None]:
        """Run it, yielding every event as it happens. Stopping the iteration early leaves the
        deploy interrupted (resumable), exactly like a killed process."""
        ACTIVE_RUNS.add(self.deploy_id)
        try:
            yield from self._run()
        finally:
            ACTIVE_RUNS.discard(self.deploy_id)
            for watch in self._watches:
                watch.stop()
            if self.lease is not None:
                self.lease.stop_renewing()
            if (self._finished or self._refused_after_lease) and self.lease is not None:
                try:
                    self.lease.release()
                except ClusterError as error:
                    log.warning("could not release the deploy lease: %s", error)

    def _run(self) -> Steps:
        started = time.monotonic()
        yield self._emit(StageStarted(self.deploy_id, stage=Stage.PRECHECKS))
        try:
            stable = self._prechecks()
        except (DeployRefused, LeaseHeld, ClusterError) as error:
            if isinstance(error, LeaseHeld):
                reason = lease_refusal(error, self.service, self.environment_name)
            else:
                reason = str(error)
            yield self._emit(StageFinished(self.deploy_id, stage=Stage.PRECHECKS, ok=False, detail=reason))
            if self.resume_point is not None:
                # A refused resume/abort changes nothing: the deploy stays interrupted, to try again
                # (and a lease it took before being refused is given back).
                self._refused_after_lease = self._lease_taken
                self._record_start("", "")
                yield self._emit(
                    DeployFinished(self.deploy_id, outcome=Outcome.INTERRUPTED, reason=reason, version="")
                )
                return
            # A refusal changed nothing, so the history keeps no deploy for it. Finished all the
            # same: a lease taken before the refusal is released.
            self.outcome, self._finished = Outcome.FAILED, True
            yield DeployFinished(
                self.deploy_id, outcome=Outcome.FAILED, reason=reason, version=self.from_version
            )
            return
        assert self.target is not None
        target = self.target
        self._record_start(target.stable_name, target.namespace)
        yield self._emit(
            DeployStarted(
                self.deploy_id,
                service=self.service,
                environment=self.environment_name,
                from_version=self.from_version,
                to_version=self.version,
                user=self.user,
                namespace=target.namespace,
                steps=tuple(s.weight for s in self._canary_steps()),
                bakes=tuple(s.bake for s in self._canary_steps()),
                kind=self.kind,
                from_image=self._kept_image(self.from_version) or "",
            )
        )
        yield self._emit(
            StageFinished(
                self.deploy_id,
                stage=Stage.PRECHECKS,
                ok=True,
                detail=f"{target.stable_name} in {target.namespace} ({target.cluster.name}) runs "
                f"{self.from_version} on {self.total} pods",
                duration=time.monotonic() - started,
            )
        )
        if self.checks_image and target.image is not None:
            yield self._emit(self._image_line(target.image))
        for warning in self._warnings(stable):
            yield self._emit(LogLine(self.deploy_id, message=warning, level="warning"))
        self._start_watches(stable)
        try:
            unfinished = self._unfinished_rollback()
            if unfinished is not None:
                # Never forward again: the version it was rolling back from failed (or was aborted).
                message = (
                    f"finishing the rollback of {self.deploy_id} that was interrupted ({unfinished.outcome}: "
                    f"{unfinished.reason}); {self.version} is not promoted"
                )
                yield self._emit(LogLine(self.deploy_id, message=message, level="warning"))
                raise unfinished
            yield from self._steps()
        except _Stop as stop:
            yield from self._roll_back(stop)
        except LeaseLost as lost:
            yield from self._lease_lost(lost)
        except ClusterError as error:
            yield from self._roll_back(_Stop(f"cluster error: {error}"))

    def _unfinished_rollback(self) -> _Stop | None:
        """The rollback an interrupted deploy had begun, to be finished with its own outcome and reason."""
        point = self.resume_point
        if point is None or not point.rollback_outcome:
            return None
        return _Stop(point.rollback_reason or "rollback interrupted", Outcome(point.rollback_outcome))

    # -- pre-checks -------------------------------------------------------------------------------
    def _prechecks(self) -> dict[str, Any]:
        context = self.context
        try:  # the audit trail is a guardrail: a deploy that cannot record itself does not start
            context.history.ping()
        except HistoryError as error:
            raise DeployRefused(
                f"{error} — nothing was changed; a deploy starts only once it can be recorded"
            ) from None
        if self.version and self.resume_point is None:
            check_version(self.version)  # deploy VERSION / rollback --to VERSION, before any API call
        environment = context.environment(self.environment_name)
        # Aborting an interrupted deploy must always be possible, whatever the catalog says now.
        check = self.checks_permissions
        first = self._creates_workload()  # may create a missing workload
        # rollback --to VERSION: a tag the registry lacks is refused before the cluster is asked.
        rollback_to = self._checks_named_version()
        self.target, stable = context.resolve(
            self.service,
            environment,
            check_permissions=check,
            version=self.version if first else None,
            commit=self.commit_sha if first else None,
            skip_image_check=self.skip_image_check,
            image_version=self.version if rollback_to else None,
        )
        self._image_checked = first or rollback_to
        target = self.target
        # From here on the catalog's name, not the words typed (`component:default/x` is `x`): the
        # lease, the analysis query, the history and the messages all speak of the same service.
        self.service = target.service
        self._on_resolved(target)
        current = cn.deployed_version(stable)
        self._from_image = _running_image(stable, current)
        if self.resume_point is None:
            self.from_version = current if target.provisioned is None else ""  # a first deploy: none before
        self.total = cn.desired_replicas(stable)
        # The lease first: a concurrent deploy is refused naming who holds it.
        # Named after the catalog entity, not the words typed: `component:default/x` is `x`.
        self.lease = DeployLease(
            target.cluster,
            target.namespace,
            canonical_service(target.entity.ref.canonical),
            self.environment_name,
            self.deploy_id,
            self.user,
            seconds=target.settings.lease_seconds,
        )
        self.lease.acquire(take_over_from=self.resume_point.record.id if self.resume_point else None)
        self._lease_taken = True
        if self.resume_point is not None:
            # Checked again now that we hold the lease: another adopter (or a person) may have finished
            # this deploy between our look at it and our taking the lease. Two never both act.
            record = context.history.get(self.resume_point.record.id)
            if record is not None and record.outcome is not None:
                raise DeployRefused(
                    f"deploy {record.id} has already finished ({record.outcome}); nothing to do"
                )
        # Renewed by its own thread; every write from here on is refused once the lease is lost.
        self.lease.start_renewing()
        target.cluster = self.lease.fenced(target.cluster)
        existing = target.cluster.find("deployments", target.namespace, target.canary_name)
        if self.resume_point is not None:
            self.version = self.resume_point.record.to_version
            if self.resume_point.stable_replicas is not None:
                self.total = self.resume_point.stable_replicas
            elif existing is not None:
                self.total = int(cn.annotations(existing).get(cn.A_STABLE_REPLICAS) or self.total)
        elif existing is not None:
            owner = cn.annotations(existing).get(cn.A_DEPLOY_ID, "?")
            raise DeployRefused(
                f"{target.canary_name} from unfinished deploy {owner} is still in {target.namespace}: "
                f"resume or abort it first (idp-console deploy {self.service} --env {self.environment_name} "
                "--resume | --abort)"
            )
        self._check_request(stable, current)
        route = target.environment.route_for(self.service)
        if route and self.routes_traffic:
            # Refused here if the route is missing or does not carry the service: no silent pod share.
            self.route = RouteTraffic(target.cluster, target.namespace, route, stable)
            self.route.check()
        self._check_image(existing)
        return stable

    def _check_image(self, canary: dict[str, Any] | None) -> None:
        """The registry check of the version this run puts on the cluster, where the pre-checks
        could not make it before the cluster was asked: a rollback's target found in the history,
        and a resumed deploy or rollback — which pins the digest recorded when it started (or its
        canary's), and asks the registry again only when neither says."""
        target = self.target
        assert target is not None
        if not self.checks_image or self._image_checked:
            return
        point = self.resume_point
        recorded = point.image if point is not None else ""
        if recorded == IMAGE_UNCHECKED and not self.skip_image_check:
            target.image = (
                "image check skipped (--skip-image-check) when it started: the version is deployed "
                "by tag, unverified"
            )
            return
        pinned = ResolvedImage.parse(recorded) if recorded else None
        if (
            pinned is None
            and canary is not None
            and cn.annotations(canary).get(cn.A_DEPLOY_ID) == self.deploy_id
        ):
            pinned = ResolvedImage.parse(cn.service_image(canary, self.version) or "")
        if pinned is not None and pinned.tag == self.version:
            target.image = pinned
            return
        target.image = self.context.check_image(
            target.entity, target.environment, self.version, skip=self.skip_image_check
        )

    def _image_line(self, image: Any) -> LogLine:
        """What the registry check did, in the deploy's events and history: the digest the
        Deployment is pinned to, or that the check was skipped (and by whom)."""
        if isinstance(image, str):
            message = f"{image} — by {self.user}"
            return LogLine(self.deploy_id, message=message, level="warning", image=IMAGE_UNCHECKED)
        message = f"Image {image.tag} found: {image.digest} ({image.repository}); pinned to it"
        return LogLine(self.deploy_id, message=message, image=image.reference)

    def _pinned(self, version: str) -> str | None:
        """The image reference to run ``version`` with: what the registry check resolved, else the
        canary's pinned image (a resumed deploy checked the registry when it started)."""
        image = self.target.image if self.target is not None else None
        if image is not None and not isinstance(image, str) and image.tag == version:
            return str(image.reference)
        canary = self._canary() if hasattr(self, "deployments") else None
        return cn.service_image(canary, version) if canary is not None else None

    def _kept_image(self, version: str) -> str | None:
        """The stable's own image from before the deploy (as its first run recorded it, else as
        this run found it), if it ran ``version``."""
        for image in (self._first_image, self._from_image):
            if image and version and cn.image_tag(image) == version:
                return image
        return None

    # -- the way back -----------------------------------------------------------------------------
    def _roll_back(self, stop: _Stop) -> Steps:
        """Stable back to the old version at full size, then the canary removed."""
        target = self.target
        assert target is not None
        self._stable_written = None  # the rollback puts back the size: no more noticing
        # Controls are spent: a second abort during the rollback must not interrupt it.
        with self._wake:
            self._stop_request = None
            self._paused = False
        began = time.monotonic()
        # A first deploy has no earlier version (backends.deploy.provision): it stays on its own.
        old = self.from_version or self.version
        # Recorded with its outcome before the first write: if this process dies from here on, the
        # deploy is finished as this rollback, never resumed as a deploy (history.read_facts).
        yield self._emit(
            StageStarted(self.deploy_id, stage=Stage.ROLLBACK, detail=stop.reason, outcome=str(stop.outcome))
        )
        try:
            if self.route is not None:
                # Traffic first: whatever happens next, nobody's requests stay on the failed version.
                self._shift_route(0)
                yield self._emit(
                    LogLine(self.deploy_id, message=f"HTTPRoute {self.route.route}: 100% to {old}")
                )

            def restore(deployment: dict[str, Any]) -> None:
                cn.set_version(deployment, cn.deployed_version(deployment), old, self._kept_image(old))
                deployment["spec"]["replicas"] = self.total
                self._annotate(deployment, stop.outcome, version=old)

            target.cluster.update("deployments", target.namespace, target.stable_name, restore)
            yield from self._wait_for_stable(self.total, old, f"{target.stable_name} to return to {old}")
            if self.owns_canary:
                yield from self._remove_canary()
        except (ClusterError, _Stop) as error:
            reason = f"{stop.reason}; rollback incomplete: {error}"
            yield self._emit(StageFinished(self.deploy_id, stage=Stage.ROLLBACK, ok=False, detail=reason))
            # No outcome recorded: the deploy stays visible to find_interrupted() for a later abort.
            yield self._emit(
                DeployFinished(self.deploy_id, outcome=Outcome.INTERRUPTED, reason=reason, version="")
            )
            return
        yield self._emit(
            StageFinished(
                self.deploy_id,
                stage=Stage.ROLLBACK,
                ok=True,
                detail=f"{target.stable_name} back on {old} with {self.total} pods"
                + ("; canary removed" if self.owns_canary else ""),
                duration=time.monotonic() - began,
            )
        )
        yield self._finish(stop.outcome, stop.reason, old)
