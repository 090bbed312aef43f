"""One deploy, rollback or scale, run step by step as a stream of events, steerable from any thread.

``DeployRun.events()`` does the work in the thread that iterates it and yields each event the
moment it happens; ``promote()``, ``pause()``, ``resume()``, ``abort()`` and ``rollback()`` may be
called from any other thread (the TUI's) and take effect at the next wake-up, which is at most a
fraction of a second away. The run learns about the cluster from watches (a change wakes it at
once), never by polling.

Canary strategy, per step: scale the canary up to its share, wait for its pods to be ready, only
then scale the stable down (capacity never dips); then bake — watch the canary for restarts,
crash loops and the progress deadline — and analyse (the error rate from Prometheus). Any failure
restores the stable Deployment and removes the canary. After the last step the stable Deployment
gets the new version and the canary is removed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backends.deploy import canary as cn
from backends.deploy.analysis import BAD_WAITING_REASONS, error_rate_check, health_checks, pod_health
from backends.deploy.config import format_duration
from backends.deploy.events import (
    IMAGE_UNCHECKED,
    AnalysisResult,
    DeployEvent,
    DeployFinished,
    DeployStarted,
    LogLine,
    Outcome,
    Paused,
    Resumed,
    RolloutProgress,
    Stage,
    StageFinished,
    StageStarted,
    Verdict,
)
from backends.deploy.history import ROLLBACK_WINDOW_HOURS, DeployHistory, DeployRecord
from backends.deploy.lease import DeployLease, LeaseHeld, LeaseLost, canonical_service
from backends.deploy.prechecks import DeployRefused, DeployTarget, check_version, lease_refusal
from backends.deploy.provision import first_rollout
from backends.deploy.reducer import RunKind
from backends.deploy.traffic import RouteTraffic, describe_split, routed_canary_pods
from backends.deploy.weights import split_replicas
from backends.history.errors import HistoryError
from backends.kube.cluster import ClusterError, Conflict
from backends.kube.rollout import progress_deadline_exceeded, rollout_status
from backends.kube.watch import ResourceWatch
from backends.registry import ResolvedImage

if TYPE_CHECKING:
    from backends.deploy.engine import DeployContext

log = logging.getLogger(__name__)
Steps = Generator[DeployEvent, None, None]

# Deploys running in this process, so find_interrupted() never offers to resume a live one.
ACTIVE_RUNS: set[str] = set()


def _generation(obj: dict[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


def _running_image(deployment: dict[str, Any], version: str) -> str | None:
    """The image the service's container runs ``version`` with, exactly as it is written."""
    for container in cn.containers(deployment):
        image = str(container.get("image", ""))
        if cn.image_tag(image) == version:
            return image
    return None


def new_deploy_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class _Stop(Exception):
    """Leave the happy path: roll back with ``outcome`` because of ``reason``."""

    def __init__(self, reason: str, outcome: Outcome = Outcome.ROLLED_BACK) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class InterruptedDeploy:
    """A deploy that started and never finished, and where it stopped (history + cluster state)."""

    record: DeployRecord
    last_step: int  # index of the last canary step whose check passed, -1 if none
    stable_replicas: int | None  # the stable's size before the deploy, from the canary's annotation
    canary_present: bool = False
    stable_version: str = ""  # what the stable Deployment runs now
    canary_replicas: int = 0
    promoting: bool = False  # it died promoting: resuming finishes the promote
    rollback_outcome: str = ""  # it died rolling back (or aborting): resuming finishes the rollback
    rollback_reason: str = ""
    replicas: int | None = None  # an interrupted ``scale``: the size it was setting
    route_weight: int | None = None  # the canary's share on the environment's HTTPRoute, if it has one
    image: str = ""  # what its registry check recorded when it started (DeployFacts.image)
    from_image: str = ""  # the stable's image before it started (DeployFacts.from_image)


def healthy_rollback_version(
    history: DeployHistory, service: str, environment: str, stable: dict[str, Any]
) -> str | None:
    """Where ``rollback`` without ``--to`` goes: the last version that finished healthy here.

    The local history first; without one (another host deployed, or a fresh state dir), the
    stable Deployment's own success-only annotation — unless the history knows that version failed.
    """
    current = cn.deployed_version(stable)
    found = history.rollback_target(service, environment, current)
    if found:
        return found
    noted = cn.healthy_previous(stable)
    if noted and history.failure(service, environment, noted) is None:
        return noted
    return None


class DeployRun:
    """A deploy, a rollback, a scale, or the abort of an interrupted run (:class:`RunKind`)."""

    def __init__(
        self,
        context: DeployContext,
        *,
        kind: RunKind | str,
        service: str,
        environment: str,
        version: str = "",
        replicas: int | None = None,
        commit_sha: str | None = None,
        commit_time: float | None = None,
        resume: InterruptedDeploy | None = None,
        force: bool = False,
        skip_image_check: bool = False,
    ) -> None:
        self.context = context
        self.skip_image_check = skip_image_check  # --skip-image-check: for emergencies, recorded
        self.force = force  # rollback --to a version that failed here: the user insists
        self.kind = RunKind(kind)  # an unknown kind is a caller's bug: ValueError
        self.service = service
        self.environment_name = environment
        self.version = version
        self.replicas = replicas
        self.commit_sha = commit_sha
        self.commit_time = commit_time
        self.resume_point = resume
        self.deploy_id = resume.record.id if resume else new_deploy_id()
        self.user = context.user
        # filled by the pre-checks
        self.target: DeployTarget | None = None
        self.from_version = resume.record.from_version if resume else ""
        self.total = 0  # the stable's replicas before the deploy: what the service should run
        self.lease: DeployLease | None = None
        self.outcome: Outcome | None = None
        self.current_step: int | None = None
        self.weight = 0
        self.route: RouteTraffic | None = None  # the HTTPRoute that carries the weights, if configured
        self._route_weight = 0  # the canary weight last written on it
        # controls (any thread)
        self._wake = threading.Condition()
        self._changes = 0  # bumped by every watch event and control call
        self._paused = False
        self._pause_reason = ""
        self._needs_decision = False
        self._skip = False  # promote: end the current bake now
        self._resumed_by = ""
        self._paused_total = 0.0  # seconds spent paused, so bakes and deadlines exclude them
        self._promote_full = False
        self._stop_request: _Stop | None = None
        # bookkeeping
        self._recorded = False
        self._pending: list[DeployEvent] = []
        self._watches: list[ResourceWatch] = []
        self._last_progress: tuple | None = None
        self._finished = False
        self._lease_taken = False
        self._refused_after_lease = False
        self._forced = ""  # rollback --to --force: the refusal the user overrode (recorded)
        self._image_checked = False  # the pre-checks asked the registry about self.version already
        # The stable's image before this run, exactly (its digest when pinned, its repository): what
        # a rollback or a roll-forward to the version it ran puts back — the image that ran, never
        # that version's tag in whatever repository the new image came from.
        self._from_image: str | None = None
        # The same as the first run of an interrupted one recorded it: by the time it is resumed or
        # aborted the stable may already run the version it was going to (killed after switching).
        self._first_image = resume.from_image if resume else ""
        # What this run last wrote on the stable (replicas, and the generation that write made), so
        # a size someone else set meanwhile (kubectl scale) is told apart from our own; None: not
        # watching (outside the canary steps, the engine's own writes decide the size).
        self._stable_written: tuple[int, int] | None = None

    # -- controls (thread-safe) -------------------------------------------------------------------
    def promote(self, *, full: bool = False) -> None:
        """Go on: accept an inconclusive analysis or end a pause; otherwise end the current (or next)
        bake early. ``full`` skips the remaining steps and promotes straight away."""
        with self._wake:
            if self._paused:
                self._paused = False
                self._needs_decision = False
                self._resumed_by = "promote"
            else:
                self._skip = True
            self._promote_full = self._promote_full or full
            self._poke()

    def pause(self, reason: str = "paused by user") -> None:
        """Hold at the current point (the bake clock stops) until resume/promote/abort."""
        with self._wake:
            if not self._paused:
                self._paused = True
                self._pause_reason = reason
            self._poke()

    def resume(self) -> None:
        """Continue after :meth:`pause`. An inconclusive analysis needs promote or abort instead."""
        with self._wake:
            if self._paused and not self._needs_decision:
                self._paused = False
                self._resumed_by = "resume"
            self._poke()

    def abort(self, reason: str = "aborted by user") -> None:
        """Stop and roll back (stable restored, canary removed); outcome ``aborted``."""
        with self._wake:
            self._stop_request = self._stop_request or _Stop(reason, Outcome.ABORTED)
            self._poke()

    def rollback(self, reason: str = "rollback requested by user") -> None:
        """Stop and roll back; outcome ``rolled-back``."""
        with self._wake:
            self._stop_request = self._stop_request or _Stop(reason, Outcome.ROLLED_BACK)
            self._poke()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def waiting_for_decision(self) -> bool:
        return self._paused and self._needs_decision

    def _poke(self) -> None:
        self._changes += 1
        self._wake.notify_all()

    def _on_watch(self, _kind: str, _obj: dict[str, Any]) -> None:
        with self._wake:
            self._poke()

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

    def _emit(self, event: DeployEvent) -> DeployEvent:
        if self._recorded:
            self.context.history.append(event)
        else:
            self._pending.append(event)
        return event

    def _record_start(self, stable_name: str, namespace: str) -> None:
        if self._recorded:
            return
        if self.resume_point is None:
            self.context.history.start(
                DeployRecord(
                    id=self.deploy_id,
                    kind=self.kind,
                    service=self.service,
                    environment=self.environment_name,
                    namespace=namespace,
                    deployment=stable_name,
                    user=self.user,
                    from_version=self.from_version,
                    to_version=self.version,
                    started_at=time.time(),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    commit_sha=self.commit_sha,
                    commit_time=self.commit_time,
                )
            )
        self._recorded = True
        for event in self._pending:
            self.context.history.append(event)
        self._pending.clear()

    def _read_commit(self, entity: Any) -> None:
        from backends.deploy.commit_time import deployed_commit

        found = deployed_commit(entity, self.version, self.commit_sha)
        if found is not None:
            self.commit_sha, self.commit_time = found.sha, found.time

    def _finish(self, outcome: Outcome, reason: str, version: str) -> DeployEvent:
        self.outcome = outcome
        self._finished = True
        event = self._emit(DeployFinished(self.deploy_id, outcome=outcome, reason=reason, version=version))
        self.context.history.finish(self.deploy_id, outcome, version, reason)
        return event

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
                steps=tuple(s.weight for s in target.settings.steps) if self.kind is RunKind.DEPLOY else (),
                bakes=tuple(s.bake for s in target.settings.steps) if self.kind is RunKind.DEPLOY else (),
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
        if self.kind in (RunKind.DEPLOY, RunKind.ROLLBACK) and target.image is not None:
            yield self._emit(self._image_line(target.image))
        if self.kind is RunKind.DEPLOY:
            for warning in self._topology_warnings(stable):
                yield self._emit(LogLine(self.deploy_id, message=warning, level="warning"))
        self._start_watches(stable)
        handler = {
            RunKind.DEPLOY: self._deploy if target.provisioned is None else lambda: first_rollout(self),
            RunKind.ROLLBACK: self._rollback_to,
            RunKind.SCALE: self._scale,
            RunKind.ABORT: None,
        }[self.kind]
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
            if handler is None:
                raise _Stop(f"interrupted deploy {self.deploy_id} aborted", Outcome.ABORTED)
            yield from handler()
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
        check = self.kind is not RunKind.ABORT
        first = self.kind is RunKind.DEPLOY and self.resume_point is None  # may create a missing workload
        # rollback --to VERSION: a tag the registry lacks is refused before the cluster is asked.
        rollback_to = self.kind is RunKind.ROLLBACK and self.resume_point is None and bool(self.version)
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
        if self.kind is RunKind.DEPLOY and self.resume_point is None and self.commit_time is None:
            self._read_commit(target.entity)  # the lead time's start, when CI gave none
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
        if self.kind is RunKind.DEPLOY and self.resume_point is None:
            if not self.version:
                raise DeployRefused("no version given")
            if self.version == current and target.provisioned is None:
                raise DeployRefused(f"{self.service} already runs {current} in {self.environment_name}")
        if self.kind is RunKind.ROLLBACK and self.resume_point is None:
            # A resumed rollback keeps the target it chose (and was allowed) when it started.
            self._choose_rollback_version(stable, current)
        route = target.environment.route_for(self.service)
        if route and self.kind is not RunKind.SCALE:
            # Refused here if the route is missing or does not carry the service: no silent pod share.
            self.route = RouteTraffic(target.cluster, target.namespace, route, stable)
            self.route.check()
        if self.kind is RunKind.SCALE:
            if self.replicas is None or self.replicas < 0:
                raise DeployRefused("replicas must be 0 or more")
            self.version = current
        self._check_image(existing)
        return stable

    def _check_image(self, canary: dict[str, Any] | None) -> None:
        """The registry check of the version this run puts on the cluster, where the pre-checks
        could not make it before the cluster was asked: a rollback's target found in the history,
        and a resumed deploy or rollback — which pins the digest recorded when it started (or its
        canary's), and asks the registry again only when neither says."""
        target = self.target
        assert target is not None
        if self.kind not in (RunKind.DEPLOY, RunKind.ROLLBACK) or self._image_checked:
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

    def _topology_warnings(self, stable: dict[str, Any]) -> list[str]:
        """Ways the Deployment/Service layout would make the canary's weight a lie."""
        target = self.target
        assert target is not None
        warnings = []
        selector = (stable.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        if cn.TRACK not in selector:
            warnings.append(
                f"the selector of {target.stable_name} has no '{cn.TRACK}' label, so it also matches the "
                f"canary's pods; give it (and its pod labels) {cn.TRACK}: stable"
            )
        labels = ((stable.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        try:
            services, _ = target.cluster.list("services", target.namespace)
        except ClusterError:
            return warnings
        serving = [
            svc
            for svc in services
            if (sel := (svc.get("spec") or {}).get("selector") or {})
            and all(labels.get(k) == v for k, v in sel.items() if k != cn.TRACK)
        ]
        if not serving:
            warnings.append(f"no Service in {target.namespace} selects {target.stable_name}'s pods")
        for svc in serving:
            if cn.TRACK in svc["spec"]["selector"]:
                warnings.append(
                    f"Service {svc['metadata']['name']} selects {cn.TRACK}="
                    f"{svc['spec']['selector'][cn.TRACK]} only: the canary gets no traffic from it"
                )
        return warnings

    def _choose_rollback_version(self, stable: dict[str, Any], current: str) -> None:
        history, env = self.context.history, self.environment_name
        if self.version:
            if self.version == current:
                raise DeployRefused(f"{self.service} already runs {current} in {env}")
            refusal = self._rollback_refusal(stable)
            if refusal and not self.force:
                raise DeployRefused(f"{refusal}; roll back to it anyway with --force")
            self._forced = refusal
            return
        found = healthy_rollback_version(history, self.service, env, stable)
        if not found or found == current:
            raise DeployRefused(
                f"no version of {self.service} that finished healthy in {env} within 72 h "
                "to roll back to; name one with --to VERSION"
            )
        self.version = found

    def _rollback_refusal(self, stable: dict[str, Any]) -> str:
        """Why ``rollback --to VERSION`` is not a known way back ("" when it is): only a version that
        ran healthy in this environment within the window is, and never one whose last word is a
        failure."""
        history, env, version = self.context.history, self.environment_name, self.version
        since = time.time() - ROLLBACK_WINDOW_HOURS * 3600
        for verdict in history.verdicts(self.service, env):
            if verdict.version != version:
                continue
            record = verdict.record
            if not verdict.healthy:
                why = f"{record.outcome or 'rolling back'}" + (f": {record.reason}" if record.reason else "")
                return f"{version} failed in {env} (deploy {record.id}, {why})"
            if (record.finished_at or 0) >= since:
                return ""
            break
        if cn.healthy_previous(stable) == version:
            return ""  # the Deployment's own success-only note (another host deployed it)
        return (
            f"{version} has not run healthy in {env} within {ROLLBACK_WINDOW_HOURS:g} h "
            "(no successful deploy or rollback of it in the history)"
        )

    # -- watching ---------------------------------------------------------------------------------
    def _start_watches(self, stable: dict[str, Any]) -> None:
        target = self.target
        assert target is not None
        selector = dict((stable.get("spec") or {}).get("selector", {}).get("matchLabels") or {})
        selector[cn.TRACK] = "canary"
        pod_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        self.deployments = ResourceWatch(
            target.cluster, "deployments", target.namespace, listener=self._on_watch
        )
        self.pods = ResourceWatch(
            target.cluster, "pods", target.namespace, label_selector=pod_selector, listener=self._on_watch
        )
        self._watches = [self.deployments.start(), self.pods.start()]
        for watch in self._watches:
            watch.synced.wait(timeout=30)

    def _stable(self) -> dict[str, Any] | None:
        assert self.target is not None
        return self.deployments.get(self.target.stable_name)

    def _canary(self) -> dict[str, Any] | None:
        assert self.target is not None
        return self.deployments.get(self.target.canary_name)

    def _canary_pods(self) -> list[dict[str, Any]]:
        return list(self.pods.objects().values())

    # -- waiting ----------------------------------------------------------------------------------
    def _wait(
        self,
        until: Callable[[], bool],
        *,
        timeout: float,
        what: str,
        watch_canary: bool = True,
        wake_by: Callable[[], float] | None = None,
    ) -> Generator[DeployEvent, None, None]:
        """Yield progress until ``until()``; raise _Stop on abort, canary failure or timeout.

        Time spent paused does not count against ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            paused_for = yield from self._honour_controls()
            deadline += paused_for
            progress = self._progress()
            if progress is not None:
                yield self._emit(progress)
            if watch_canary:
                problem = self._canary_problem()
                if problem:
                    raise _Stop(problem)
            yield from self._notice_manual_scale()
            with self._wake:
                seen = self._changes
            if until():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Stop(f"{what} did not happen within {format_duration(round(timeout, 1))}")
            self._renew_lease()
            # Sleep until something changes (a watch event or a control call wakes us at once),
            # or until the clock matters: the deadline, the end of a bake, a lease renewal.
            sleep = min(remaining, 1.0)
            if wake_by is not None:
                sleep = min(sleep, max(0.0, wake_by() - time.monotonic()))
            with self._wake:
                if self._changes == seen and sleep > 0:
                    self._wake.wait(sleep)

    def _honour_controls(self) -> Generator[DeployEvent, None, float]:
        """Raise on abort; while paused, keep emitting progress and renewing the lease."""
        with self._wake:
            if self._stop_request is not None:
                raise self._stop_request
            if not self._paused:
                return 0.0
            reason, decision = self._pause_reason, self._needs_decision
        began = time.monotonic()
        yield self._emit(
            Paused(self.deploy_id, reason=reason, step=self.current_step, needs_decision=decision)
        )
        while True:
            with self._wake:
                if self._stop_request is not None:
                    raise self._stop_request
                if not self._paused:
                    break
                self._wake.wait(1.0)
            progress = self._progress()
            if progress is not None:
                yield self._emit(progress)
            self._renew_lease()
        yield self._emit(Resumed(self.deploy_id, by=self._resumed_by))
        paused_for = time.monotonic() - began
        self._paused_total += paused_for
        return paused_for

    def _renew_lease(self) -> None:
        """Stop (LeaseLost) as soon as the lease is not ours: the renewer thread keeps it fresh."""
        assert self.lease is not None
        self.lease.check()

    def _lease_lost(self, lost: LeaseLost) -> Steps:
        """Touch nothing more: whoever holds the lease now may be changing this service."""
        again = f"idp-console deploy {self.service} --env {self.environment_name} --resume | --abort"
        message = f"{lost}; stopped without changing the cluster any further — resume or abort it ({again})"
        yield self._emit(LogLine(self.deploy_id, message=message, level="error"))
        # No outcome recorded: the deploy stays visible to find_interrupted() for a later resume or abort.
        yield self._emit(
            DeployFinished(self.deploy_id, outcome=Outcome.INTERRUPTED, reason=str(lost), version="")
        )

    def _progress(self) -> RolloutProgress | None:
        """A progress event when the replica counts changed since the last one."""
        stable, canary = self._stable(), self._canary()
        stable_desired = cn.desired_replicas(stable) if stable else 0
        stable_ready = cn.ready_replicas(stable) if stable else 0
        canary_desired = cn.desired_replicas(canary) if canary else 0
        canary_ready = cn.ready_replicas(canary) if canary else 0
        restarts = pod_health(self._canary_pods()).restarts if canary else 0
        key = (
            self.weight,
            self._route_weight,
            stable_desired,
            stable_ready,
            canary_desired,
            canary_ready,
            restarts,
            self.current_step,
        )
        if key == self._last_progress:
            return None
        self._last_progress = key
        serving = stable_ready + canary_ready
        if self.route is not None:
            actual = float(self._route_weight)  # the route decides, not the pod counts
        else:
            actual = round(100.0 * canary_ready / serving, 1) if serving else 0.0
        return RolloutProgress(
            self.deploy_id,
            weight=self.weight,
            actual_weight=actual,
            stable_desired=stable_desired,
            stable_ready=stable_ready,
            canary_desired=canary_desired,
            canary_ready=canary_ready,
            canary_restarts=restarts,
            step=self.current_step,
        )

    def _canary_problem(self) -> str | None:
        """A reason to fail now: the canary crash-loops, cannot pull, restarts or missed its deadline."""
        canary = self._canary()
        if canary is None:
            return None
        if progress_deadline_exceeded(canary):
            return f"{self.target.canary_name if self.target else 'canary'} exceeded its progress deadline"
        health = pod_health(self._canary_pods())
        if health.problems:
            return "canary pods failing: " + "; ".join(health.problems[:2])
        if health.restarts:
            return f"canary containers restarted {health.restarts} times"
        return None

    # -- deploy -----------------------------------------------------------------------------------
    def _deploy(self) -> Steps:
        target = self.target
        assert target is not None
        steps = target.settings.steps
        first = 0
        point = self.resume_point
        if point is not None:
            # After the last step whose check passed: the step in flight is shifted, baked and
            # analysed again from its start. A promote that had begun is finished.
            first = len(steps) if point.promoting else point.last_step + 1
            where = "the promote" if first >= len(steps) else f"step {first + 1} ({steps[first].weight}%)"
            yield self._emit(LogLine(self.deploy_id, message=f"resuming {self.deploy_id} at {where}"))
        if first < len(steps):
            yield from self._update_stage()
        stable = self._stable() or {}
        self._stable_written = (cn.desired_replicas(stable), _generation(stable))
        for index in range(first, len(steps)):
            if self._promote_full:
                break
            yield from self._canary_step(index)
        self._stable_written = None  # from here the engine sets the size it was given
        yield from self._promote()

    def _update_stage(self) -> Steps:
        target = self.target
        assert target is not None
        began = time.monotonic()
        yield self._emit(
            StageStarted(self.deploy_id, stage=Stage.UPDATE, detail=f"{target.canary_name} {self.version}")
        )
        if self.route is not None:
            self.route.prepare()  # the stable and canary Services the route's weights point at
        if target.cluster.find("deployments", target.namespace, target.canary_name) is None:
            stable = target.cluster.get("deployments", target.namespace, target.stable_name)
            body = cn.canary_manifest(
                stable,
                version=self.version,
                replicas=0,
                deploy_id=self.deploy_id,
                stable_replicas=self.total,
                image=self._pinned(self.version),
            )
            body["metadata"]["annotations"][cn.A_DEPLOYED_BY] = self.user
            try:
                target.cluster.create("deployments", target.namespace, body)
            except Conflict:
                # A create retried after a timeout finds its own first attempt; anyone else's is an error.
                existing = target.cluster.get("deployments", target.namespace, target.canary_name)
                if cn.annotations(existing).get(cn.A_DEPLOY_ID) != self.deploy_id:
                    raise
        yield from self._wait(lambda: self._canary() is not None, timeout=30, what="the canary to appear")
        yield self._stage_done(Stage.UPDATE, began, f"{target.canary_name} created with {self.version}")

    def _set_replicas(
        self, name: str, replicas: int, extra: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        target = self.target
        assert target is not None

        def change(deployment: dict[str, Any]) -> None:
            deployment.setdefault("spec", {})["replicas"] = replicas
            if extra is not None:
                extra(deployment)

        written = target.cluster.update("deployments", target.namespace, name, change)
        if name == target.stable_name and self._stable_written is not None:
            self._stable_written = (replicas, _generation(written))

    def _notice_manual_scale(self) -> Steps:
        """Someone else changed the stable's size during the canary (``kubectl scale``, an HPA):
        take their number as the service's new size — the next steps split it and the promote
        (or a rollback) keeps it — instead of silently putting ours back."""
        target, written, stable = self.target, self._stable_written, self._stable()
        if target is None or written is None or stable is None:
            return
        replicas, generation = written
        observed = cn.desired_replicas(stable)
        # A newer generation than our own write, with another size: not us (the watch may still
        # show the object from before our write, which has an older generation).
        if _generation(stable) <= generation or observed == replicas:
            return
        before = self.total
        self.total = (
            observed if self.route is not None else observed + cn.desired_replicas(self._canary() or {})
        )
        self._stable_written = (observed, _generation(stable))
        if self._canary() is not None:

            def note(deployment: dict[str, Any]) -> None:
                notes = deployment["metadata"].setdefault("annotations", {})
                notes[cn.A_STABLE_REPLICAS] = str(self.total)  # what a resume or an abort restores

            target.cluster.update("deployments", target.namespace, target.canary_name, note)
        message = (
            f"{target.stable_name} was scaled from {replicas} to {observed} pods by someone else during "
            f"the deploy: respected — the service now runs {self.total} pods in total (was {before}); "
            "the next steps and the promote use that size"
        )
        yield self._emit(LogLine(self.deploy_id, message=message, level="warning"))

    def _stage_done(self, stage: Stage, began: float, detail: str) -> DeployEvent:
        """The event for ``stage`` having finished well, timed from ``began``."""
        return self._emit(
            StageFinished(
                self.deploy_id, stage=stage, ok=True, detail=detail, duration=time.monotonic() - began
            )
        )

    def _wait_for_stable(self, replicas: int, version: str | None, what: str) -> Steps:
        """Wait (within the progress deadline) until the stable Deployment has rolled out."""
        target = self.target
        assert target is not None
        yield from self._wait(
            lambda: self._settled(self._stable(), replicas, version),
            timeout=target.settings.progress_deadline,
            what=what,
            watch_canary=False,
        )

    def _settled(self, deployment: dict[str, Any] | None, replicas: int, version: str | None = None) -> bool:
        """The Deployment has rolled out to exactly ``replicas`` ready pods (of ``version``)."""
        if deployment is None:
            return False
        if cn.desired_replicas(deployment) != replicas:
            return False
        if version is not None and cn.deployed_version(deployment) != version:
            return False
        status = deployment.get("status") or {}
        return (
            rollout_status(deployment).done
            and int(status.get("replicas") or 0) == replicas
            and cn.ready_replicas(deployment) >= replicas
        )

    def _canary_step(self, index: int) -> Steps:
        target = self.target
        assert target is not None
        step = target.settings.steps[index]
        self.current_step, self.weight = index, step.weight
        began = time.monotonic()
        planned_for = self.total
        if self.route is not None:
            # Exact weights on the route: the stable keeps its size, the canary runs its share.
            canary_pods, stable_pods = routed_canary_pods(self.total, step.weight), self.total
            share = f"{step.weight}% of requests on HTTPRoute {self.route.route}"
            detail = f"{share}: {canary_pods} canary / {stable_pods} stable pods"
        else:
            split = split_replicas(self.total, step.weight, target.settings.max_surge)
            canary_pods, stable_pods = split.canary, split.stable
            share = describe_split(step.weight, split)
            detail = f"{share}: {split.canary} canary / {split.stable} stable pods"
        yield self._emit(StageStarted(self.deploy_id, stage=Stage.CANARY, step=index, detail=detail))
        deadline = target.settings.progress_deadline
        # Canary up first, and only when its pods are ready, stable down: capacity never dips.
        self._set_replicas(target.canary_name, canary_pods)
        yield from self._wait(
            lambda: self._settled(self._canary(), canary_pods),
            timeout=deadline,
            what=f"{canary_pods} ready canary pods",
        )
        if self.route is not None:
            self._shift_route(step.weight)
        if self.total == planned_for:
            self._set_replicas(target.stable_name, stable_pods)
        # else someone scaled the stable while the canary came up: their size stands this step

        def stable_size() -> int:  # ours, or the size someone else set meanwhile
            return self._stable_written[0] if self._stable_written is not None else stable_pods

        yield from self._wait(
            lambda: self._settled(self._stable(), stable_size()),
            timeout=deadline,
            what=f"stable scaled to {stable_pods}",
        )
        self._note_on_canary(cn.A_STEP, index)
        # Routed is not passed: the step counts only once its check below has passed.
        yield self._emit(
            StageFinished(
                self.deploy_id,
                stage=Stage.CANARY,
                ok=True,
                step=index,
                detail=f"{share} routed to {self.version}",
                duration=time.monotonic() - began,
            )
        )
        if (yield from self._analyse(index, canary_pods)):
            # Recorded in the history (by the event) and on the canary before the next step begins.
            self._note_on_canary(cn.A_PASSED_STEP, index)

    def _shift_route(self, weight: int) -> None:
        """Set the canary's exact share on the route (0: everything back on the stable)."""
        assert self.route is not None
        self.route.set_weight(weight)
        self._route_weight = weight
        with self._wake:
            self._poke()  # a progress line with the new share

    def _note_on_canary(self, key: str, index: int) -> None:
        target = self.target
        assert target is not None

        def note(deployment: dict[str, Any]) -> None:
            deployment["metadata"].setdefault("annotations", {})[key] = str(index)

        target.cluster.update("deployments", target.namespace, target.canary_name, note)

    def _bake(self, seconds: float) -> Steps:
        """Watch the canary for ``seconds`` (pauses extend it; promote ends it)."""
        end = time.monotonic() + seconds
        paused_before = self._paused_total

        def finishes_at() -> float:
            return end + (self._paused_total - paused_before)

        def baked() -> bool:
            return self._skip or time.monotonic() >= finishes_at()

        yield from self._wait(baked, timeout=seconds + 60, what="the bake", wake_by=finishes_at)
        with self._wake:
            self._skip = False

    def _catch_up_pods(self, want: int) -> Steps:
        """Let the pod watch catch up with the Deployment's status (it may trail it by a moment on
        another stream) before the pods are judged: with no bake, the check follows at once."""
        give_up = time.monotonic() + 5.0
        yield from self._wait(
            lambda: time.monotonic() >= give_up or pod_health(self._canary_pods()).ready >= want,
            timeout=10.0,
            what="the canary pods",
            wake_by=lambda: give_up,
        )

    def _analyse(self, index: int, canary_pods: int) -> Generator[DeployEvent, None, bool]:
        """The step's check: bake, health checks, and the error rate where the step has analysis.

        Every step has one, so "passed" means the same everywhere: its ANALYSIS stage finished ok.
        Returns False when a full promote cut it short (then nothing about the step was proven).
        """
        target = self.target
        assert target is not None
        step = target.settings.steps[index]
        bake = step.bake if step.weight < 100 else 0.0
        began = time.monotonic()
        yield self._emit(
            StageStarted(
                self.deploy_id,
                stage=Stage.ANALYSIS,
                step=index,
                detail=f"bake {format_duration(bake)}" if bake else "health checks",
            )
        )
        try:
            yield from self._bake(bake)
            yield from self._catch_up_pods(canary_pods)
        except _Stop as stop:
            if stop.outcome is Outcome.ROLLED_BACK and self._stop_request is None:
                yield self._emit(
                    AnalysisResult(
                        self.deploy_id, step=index, check="health", verdict=Verdict.FAILED, detail=stop.reason
                    )
                )
                yield self._emit(
                    StageFinished(
                        self.deploy_id, stage=Stage.ANALYSIS, ok=False, step=index, detail=stop.reason
                    )
                )
            raise
        if self._promote_full:
            return False
        checks = health_checks(self._canary(), self._canary_pods(), canary_pods)
        analysis = target.settings.analysis
        query = analysis.render(
            {
                "service": self.service,
                "namespace": target.namespace,
                "environment": self.environment_name,
                "deployment": target.stable_name,
                "canary": target.canary_name,
                "version": self.version,
                "track": "canary",
            }
        )
        if step.analysis:
            checks.append(error_rate_check(target.prometheus, query, analysis.threshold))
        for check in checks:
            yield self._emit(
                AnalysisResult(
                    self.deploy_id,
                    step=index,
                    check=check.name,
                    verdict=check.verdict,
                    detail=check.detail,
                    value=check.value,
                    threshold=check.threshold,
                )
            )
        failed = [c for c in checks if c.verdict is Verdict.FAILED]
        if failed:
            reason = f"{failed[0].detail} at {step.weight}%"
            yield self._emit(
                StageFinished(self.deploy_id, stage=Stage.ANALYSIS, ok=False, step=index, detail=reason)
            )
            raise _Stop(reason)
        unsure = [c for c in checks if c.verdict is Verdict.INCONCLUSIVE]
        if unsure:
            # Never pass silently: wait for a person to promote (accept) or abort.
            with self._wake:
                self._paused, self._needs_decision, self._skip = True, True, False
                self._pause_reason = f"analysis inconclusive at {step.weight}%: {unsure[0].detail}"
            yield from self._honour_controls()
        yield self._emit(
            StageFinished(
                self.deploy_id,
                stage=Stage.ANALYSIS,
                ok=True,
                step=index,
                detail=(
                    f"health checks passing ({format_duration(bake)}); "
                    + (
                        "error rate accepted by user"
                        if unsure
                        else "error rate within threshold"
                        if step.analysis
                        else f"no error-rate analysis at {step.weight}%"
                    )
                ),
                duration=time.monotonic() - began,
            )
        )
        return True

    def _promote(self) -> Steps:
        target = self.target
        assert target is not None
        began = time.monotonic()
        self.current_step = None
        yield self._emit(
            StageStarted(self.deploy_id, stage=Stage.PROMOTE, detail=f"{target.stable_name} → {self.version}")
        )
        old, new = self.from_version, self.version
        image = self._pinned(new)  # the digest the canary ran: exactly what was checked and baked

        def promote(deployment: dict[str, Any]) -> None:
            cn.set_version(deployment, old, new, image)
            deployment["spec"]["replicas"] = self.total
            self._annotate(deployment, Outcome.SUCCEEDED, version=new, previous=old)

        target.cluster.update("deployments", target.namespace, target.stable_name, promote)
        yield from self._wait_for_stable(self.total, new, f"{target.stable_name} to roll out {new}")
        if self.route is not None:
            self._shift_route(0)  # the stable runs the new version now: all of it goes there
        if self._canary() is not None:  # a resumed promote may find it gone already
            yield from self._remove_canary()
        yield self._stage_done(
            Stage.PROMOTE, began, f"{target.stable_name} runs {new} on {self.total} pods; canary removed"
        )
        yield self._finish(Outcome.SUCCEEDED, "", new)

    def _annotate(
        self, deployment: dict[str, Any], outcome: Outcome, *, version: str, previous: str | None = None
    ) -> None:
        """Record the deploy on the Deployment itself, so other tools (and other machines) see it.

        ``previous`` is given on success only: the previous-version pair then says what ran healthy
        before ``version``. A rollback never writes it, so it can never name the failed version.
        """
        notes = deployment["metadata"].setdefault("annotations", {})
        notes.update(
            {
                cn.A_VERSION: version,
                cn.A_DEPLOY_ID: self.deploy_id,
                cn.A_DEPLOYED_BY: self.user,
                cn.A_DEPLOYED_AT: dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                cn.A_OUTCOME: str(outcome),
            }
        )
        if previous is None:
            return
        notes[cn.A_PREVIOUS], notes[cn.A_PREVIOUS_OF] = previous, version
        if self.commit_sha:
            notes[cn.A_COMMIT] = self.commit_sha
        else:
            notes.pop(cn.A_COMMIT, None)  # the commit of a version that no longer runs

    def _remove_canary(self) -> Steps:
        target = self.target
        assert target is not None
        target.cluster.delete("deployments", target.namespace, target.canary_name)
        yield from self._wait(
            lambda: self._canary() is None, timeout=60, what="the canary to be removed", watch_canary=False
        )

    # -- rollback ---------------------------------------------------------------------------------
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
            if self.kind in (RunKind.DEPLOY, RunKind.ABORT):
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
                + ("; canary removed" if self.kind in (RunKind.DEPLOY, RunKind.ABORT) else ""),
                duration=time.monotonic() - began,
            )
        )
        yield self._finish(stop.outcome, stop.reason, old)

    # -- rollback command and scale ---------------------------------------------------------------
    def _rollback_to(self) -> Steps:
        """``idp-console rollback``: the stable goes straight to an earlier version, no canary; then
        its health is verified (pods, restarts, error rate) before it counts, and a version that
        fails is left again: the stable rolls forward to the version it ran before."""
        target = self.target
        assert target is not None
        began = time.monotonic()
        old, new = self.from_version, self.version
        yield self._emit(StageStarted(self.deploy_id, stage=Stage.ROLLBACK, detail=f"{old} → {new}"))
        if self._forced:
            message = f"rollback to {new} forced by {self.user} (--force): {self._forced}"
            yield self._emit(LogLine(self.deploy_id, message=message, level="warning"))

        image = self._pinned(new)  # the digest the registry check resolved for the version

        def back(deployment: dict[str, Any]) -> None:
            cn.set_version(deployment, old, new, image)

        if self.route is not None and self._canary() is not None:
            self._shift_route(0)
        target.cluster.update("deployments", target.namespace, target.stable_name, back)
        if self._canary() is not None:
            yield from self._remove_canary()
        try:
            yield from self._wait_for_stable(self.total, new, f"{target.stable_name} to roll out {new}")
            yield from self._verify_stable(new)
        except _Stop as stop:
            yield from self._roll_forward(stop.reason, old, new)
            return
        # Only once the version is known healthy: "previous" is never written for one that was not.
        self._annotate_stable(Outcome.SUCCEEDED, new, previous=old)
        yield self._stage_done(
            Stage.ROLLBACK, began, f"{target.stable_name} runs {new} on {self.total} pods, verified healthy"
        )
        yield self._finish(Outcome.SUCCEEDED, "", new)

    def _annotate_stable(self, outcome: Outcome, version: str, previous: str | None = None) -> None:
        target = self.target
        assert target is not None
        target.cluster.update(
            "deployments",
            target.namespace,
            target.stable_name,
            lambda d: self._annotate(d, outcome, version=version, previous=previous),
        )

    def _verify_stable(self, version: str) -> Steps:
        """Bake the stable on ``version`` and check it as a canary step is checked; _Stop if not healthy.

        An error rate without data pauses and asks (promote accepts it, abort rolls forward)."""
        target = self.target
        assert target is not None
        bake = target.settings.steps[0].bake if target.settings.steps else 0.0
        yield self._emit(
            StageStarted(
                self.deploy_id, stage=Stage.ANALYSIS, detail=f"verify {version}: bake {format_duration(bake)}"
            )
        )
        yield from self._bake(bake)
        stable = self._stable()
        selector = ",".join(
            f"{k}={v}"
            for k, v in sorted(
                ((stable or {}).get("spec") or {}).get("selector", {}).get("matchLabels", {}).items()
            )
        )
        pods, _ = target.cluster.list("pods", target.namespace, label_selector=selector or None)
        pods = [
            p
            for p in pods
            if version
            in {cn.image_tag(str(c.get("image", ""))) for c in (p.get("spec") or {}).get("containers") or []}
        ]
        checks = health_checks(stable, pods, self.total)
        query = target.settings.analysis.render(
            {
                "service": self.service,
                "namespace": target.namespace,
                "environment": self.environment_name,
                "deployment": target.stable_name,
                "canary": target.canary_name,
                "version": version,
                "track": "stable",
            }
        ).replace('track="canary"', 'track="stable"')  # the default query names the canary's track
        checks.append(error_rate_check(target.prometheus, query, target.settings.analysis.threshold))
        for check in checks:
            yield self._emit(
                AnalysisResult(
                    self.deploy_id,
                    step=-1,  # not a canary step: the rollback's own verification
                    check=check.name,
                    verdict=check.verdict,
                    detail=check.detail.replace("canary pods", "pods"),
                    value=check.value,
                    threshold=check.threshold,
                )
            )
        failed = [c for c in checks if c.verdict is Verdict.FAILED]
        if failed:
            reason = f"{version} failed its health check: {failed[0].detail.replace('canary pods', 'pods')}"
            yield self._emit(StageFinished(self.deploy_id, stage=Stage.ANALYSIS, ok=False, detail=reason))
            raise _Stop(reason, Outcome.FAILED)
        unsure = [c for c in checks if c.verdict is Verdict.INCONCLUSIVE]
        if unsure:
            with self._wake:
                self._paused, self._needs_decision, self._skip = True, True, False
                self._pause_reason = f"verifying {version}: {unsure[0].detail}"
            yield from self._honour_controls()
        yield self._emit(
            StageFinished(self.deploy_id, stage=Stage.ANALYSIS, ok=True, detail=f"{version} verified healthy")
        )

    def _roll_forward(self, reason: str, old: str, new: str) -> Steps:
        """The version rolled back to failed: put back the one that ran before (``old``)."""
        target = self.target
        assert target is not None
        with self._wake:  # a second abort must not interrupt putting the service back
            self._stop_request, self._paused = None, False
        message = f"{reason}; rolling forward to {old}, which ran before"
        yield self._emit(LogLine(self.deploy_id, message=message, level="warning"))
        try:
            target.cluster.update(
                "deployments",
                target.namespace,
                target.stable_name,
                lambda d: cn.set_version(d, new, old, self._kept_image(old)),
            )
            yield from self._wait_for_stable(self.total, old, f"{target.stable_name} to return to {old}")
            self._annotate_stable(Outcome.FAILED, old)
        except (ClusterError, _Stop) as error:
            detail = f"{reason}; rolling forward to {old} did not complete: {error}"
            yield self._emit(StageFinished(self.deploy_id, stage=Stage.ROLLBACK, ok=False, detail=detail))
            yield self._finish(Outcome.FAILED, detail, new)
            return
        detail = f"{reason}; rolled forward to {old} ({self.total} pods ready)"
        yield self._emit(StageFinished(self.deploy_id, stage=Stage.ROLLBACK, ok=False, detail=detail))
        yield self._finish(Outcome.FAILED, detail, old)

    def _scale(self) -> Steps:
        target = self.target
        assert target is not None and self.replicas is not None
        began = time.monotonic()
        replicas = self.replicas
        yield self._emit(StageStarted(self.deploy_id, stage=Stage.SCALE, detail=f"{self.total} → {replicas}"))
        self._set_replicas(target.stable_name, replicas)
        try:
            yield from self._wait_for_stable(replicas, None, f"{replicas} ready pods")
        except _Stop as stop:
            yield self._emit(StageFinished(self.deploy_id, stage=Stage.SCALE, ok=False, detail=stop.reason))
            yield self._finish(Outcome.FAILED, stop.reason, self.version)
            return
        yield self._stage_done(Stage.SCALE, began, f"{self.total} → {replicas} pods, all ready")
        yield self._finish(Outcome.SUCCEEDED, "", self.version)


__all__ = ["ACTIVE_RUNS", "BAD_WAITING_REASONS", "DeployRun", "InterruptedDeploy", "new_deploy_id"]
