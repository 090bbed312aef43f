"""``idp-console rollback``: the stable straight back to an earlier version, verified, or rolled forward.

No canary: the version rolled back to is one that ran healthy here (the last good one within
72 h, or ``--to`` one, refused if it failed here unless ``--force``), pinned to its registry digest;
once rolled out it is baked and checked like a canary step, and a version that fails is left
again — the stable rolls forward to what it ran before.
"""

from __future__ import annotations

import time
from typing import Any

from backends.deploy import canary as cn
from backends.deploy.analysis import error_rate_check, health_checks
from backends.deploy.config import format_duration
from backends.deploy.events import (
    AnalysisResult,
    LogLine,
    Outcome,
    Stage,
    StageFinished,
    StageStarted,
    Verdict,
)
from backends.deploy.history import ROLLBACK_WINDOW_HOURS, DeployHistory
from backends.deploy.prechecks import DeployRefused
from backends.deploy.reducer import RunKind
from backends.deploy.run_core import DeployRun
from backends.deploy.run_state import Steps, _Stop
from backends.kube.cluster import ClusterError


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


class Rollback(DeployRun):
    """A rollback, or the resume of an interrupted one (it keeps the target it chose when it started)."""

    kind = RunKind.ROLLBACK
    checks_image = True

    def _steps(self) -> Steps:
        yield from self._rollback_to()

    def _checks_named_version(self) -> bool:
        return self.resume_point is None and bool(self.version)

    def _check_request(self, stable: dict[str, Any], current: str) -> None:
        if self.resume_point is None:
            # A resumed rollback keeps the target it chose (and was allowed) when it started.
            self._choose_rollback_version(stable, current)

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

    # -- the rollback -----------------------------------------------------------------------------
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
            yield from self._await_a_decision(f"verifying {version}: {unsure[0].detail}")
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
