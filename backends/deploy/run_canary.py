"""A canary deploy: the new version beside the stable, step by step, baked and analysed, then promoted.

Per step: scale the canary up to its share, wait for its pods to be ready, only then scale the
stable down (capacity never dips); then bake — watch the canary for restarts, crash loops and the
progress deadline — and analyse (the error rate from Prometheus). Any failure restores the stable
Deployment and removes the canary. After the last step the stable Deployment gets the new version
and the canary is removed. A first deploy (the workload created by the pre-checks) only waits for
its pods (:func:`backends.deploy.provision.first_rollout`).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import Any

from backends.deploy import canary as cn
from backends.deploy.analysis import error_rate_check, health_checks, pod_health
from backends.deploy.config import CanaryStep, format_duration
from backends.deploy.events import (
    AnalysisResult,
    DeployEvent,
    LogLine,
    Outcome,
    Stage,
    StageFinished,
    StageStarted,
    Verdict,
)
from backends.deploy.prechecks import DeployRefused, DeployTarget
from backends.deploy.provision import first_rollout
from backends.deploy.reducer import RunKind
from backends.deploy.run_core import DeployRun
from backends.deploy.run_state import Steps, _generation, _Stop
from backends.deploy.traffic import describe_split, routed_canary_pods
from backends.deploy.weights import split_replicas
from backends.kube.cluster import ClusterError, Conflict


class CanaryDeploy(DeployRun):
    """``idp-console deploy``: a canary deploy, a first deploy, or the resume of an interrupted one."""

    kind = RunKind.DEPLOY
    checks_image = True
    owns_canary = True

    def _steps(self) -> Steps:
        target = self.target
        assert target is not None
        if target.provisioned is None:
            yield from self._deploy()
        else:
            yield from first_rollout(self)

    def _creates_workload(self) -> bool:
        return self.resume_point is None

    def _on_resolved(self, target: DeployTarget) -> None:
        if self.resume_point is None and self.commit_time is None:
            self._read_commit(target.entity)  # the lead time's start, when CI gave none

    def _check_request(self, stable: dict[str, Any], current: str) -> None:
        target = self.target
        assert target is not None
        if self.resume_point is None:
            if not self.version:
                raise DeployRefused("no version given")
            if self.version == current and target.provisioned is None:
                raise DeployRefused(f"{self.service} already runs {current} in {self.environment_name}")

    def _canary_steps(self) -> Sequence[CanaryStep]:
        assert self.target is not None
        return self.target.settings.steps

    def _warnings(self, stable: dict[str, Any]) -> list[str]:
        return self._topology_warnings(stable)

    def _read_commit(self, entity: Any) -> None:
        from backends.deploy.commit_time import deployed_commit

        found = deployed_commit(entity, self.version, self.commit_sha)
        if found is not None:
            self.commit_sha, self.commit_time = found.sha, found.time

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

    def _note_on_canary(self, key: str, index: int) -> None:
        target = self.target
        assert target is not None

        def note(deployment: dict[str, Any]) -> None:
            deployment["metadata"].setdefault("annotations", {})[key] = str(index)

        target.cluster.update("deployments", target.namespace, target.canary_name, note)

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
            yield from self._await_a_decision(f"analysis inconclusive at {step.weight}%: {unsure[0].detail}")
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
