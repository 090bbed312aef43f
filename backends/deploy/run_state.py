"""The state every run shares: what it was asked, the thread-safe controls, the history it records.

:class:`RunState` holds a run's fields and the calls any thread may make on it (``promote``,
``pause``, ``resume``, ``abort``, ``rollback``); events are recorded in the deploy history — held
back until the run knows what it deploys (a refused pre-check leaves no deploy in the history).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from backends.deploy import canary as cn
from backends.deploy.events import DeployEvent, DeployFinished, LogLine, Outcome
from backends.deploy.history import DeployRecord
from backends.deploy.lease import DeployLease, LeaseLost
from backends.deploy.prechecks import DeployTarget
from backends.deploy.reducer import RunKind
from backends.deploy.traffic import RouteTraffic
from backends.kube.watch import ResourceWatch

if TYPE_CHECKING:
    from backends.deploy.engine import DeployContext

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


class RunState:
    """A run's fields, its controls (thread-safe) and its history records; the kind is its class's."""

    kind: ClassVar[RunKind]

    def __init__(
        self,
        context: DeployContext,
        *,
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
        self._last_progress: tuple[object, ...] | None = None
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

    # -- the history ------------------------------------------------------------------------------
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

    def _finish(self, outcome: Outcome, reason: str, version: str) -> DeployEvent:
        self.outcome = outcome
        self._finished = True
        event = self._emit(DeployFinished(self.deploy_id, outcome=outcome, reason=reason, version=version))
        self.context.history.finish(self.deploy_id, outcome, version, reason)
        return event

    # -- the lease --------------------------------------------------------------------------------
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
