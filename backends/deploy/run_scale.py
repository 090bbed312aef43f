"""``idp-console scale``: the stable Deployment set to a number of replicas, and waited for."""

from __future__ import annotations

import time
from typing import Any

from backends.deploy.events import Outcome, Stage, StageFinished, StageStarted
from backends.deploy.prechecks import DeployRefused
from backends.deploy.reducer import RunKind
from backends.deploy.run_core import DeployRun
from backends.deploy.run_state import Steps, _Stop


class Scale(DeployRun):
    """A scale, or the resume of an interrupted one (it sets the same size again)."""

    kind = RunKind.SCALE
    routes_traffic = False  # the route's weights are a canary's business

    def _steps(self) -> Steps:
        yield from self._scale()

    def _check_request(self, stable: dict[str, Any], current: str) -> None:
        if self.replicas is None or self.replicas < 0:
            raise DeployRefused("replicas must be 0 or more")
        self.version = current

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
