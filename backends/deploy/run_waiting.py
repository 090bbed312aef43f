"""How a run watches the cluster and waits on it, and the writes every kind of run makes.

The run learns about the cluster from watches (a change wakes it at once), never by polling; a
wait honours the controls (an abort raises, a pause stops the clock) and emits progress as the
replica counts change.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Generator
from typing import Any

from backends.deploy import canary as cn
from backends.deploy.analysis import pod_health
from backends.deploy.config import format_duration
from backends.deploy.events import (
    DeployEvent,
    LogLine,
    Outcome,
    Paused,
    Resumed,
    RolloutProgress,
    Stage,
    StageFinished,
)
from backends.deploy.run_state import RunState, Steps, _generation, _Stop
from backends.kube.rollout import progress_deadline_exceeded, rollout_status
from backends.kube.watch import ResourceWatch


class WatchingRun(RunState):
    """The watches on the service's Deployments and canary pods, waiting on them, and the writes
    (replicas, route weight, annotations, the canary's removal) the kinds of run share."""

    deployments: ResourceWatch  # set by _start_watches, once the pre-checks passed
    pods: ResourceWatch

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

    def _await_a_decision(self, reason: str) -> Generator[DeployEvent, None, float]:
        """An inconclusive analysis never passes silently: pause until a person promotes (accepts)
        or aborts."""
        with self._wake:
            self._paused, self._needs_decision, self._skip = True, True, False
            self._pause_reason = reason
        return (yield from self._honour_controls())

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

    # -- the writes every kind makes --------------------------------------------------------------
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

    def _shift_route(self, weight: int) -> None:
        """Set the canary's exact share on the route (0: everything back on the stable)."""
        assert self.route is not None
        self.route.set_weight(weight)
        self._route_weight = weight
        with self._wake:
            self._poke()  # a progress line with the new share

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

    def _annotate_stable(self, outcome: Outcome, version: str, previous: str | None = None) -> None:
        target = self.target
        assert target is not None
        target.cluster.update(
            "deployments",
            target.namespace,
            target.stable_name,
            lambda d: self._annotate(d, outcome, version=version, previous=previous),
        )
