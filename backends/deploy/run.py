"""One deploy, rollback or scale, run step by step as a stream of events, steerable from any thread.

``DeployRun.events()`` does the work in the thread that iterates it and yields each event the
moment it happens; ``promote()``, ``pause()``, ``resume()``, ``abort()`` and ``rollback()`` may be
called from any other thread (the TUI's) and take effect at the next wake-up, which is at most a
fraction of a second away. The run learns about the cluster from watches (a change wakes it at
once), never by polling.

A run is one class per kind over a shared core (:class:`~backends.deploy.run_core.DeployRun`:
pre-checks, lease, history, the way back): :class:`~backends.deploy.run_canary.CanaryDeploy`,
:class:`~backends.deploy.run_rollback.Rollback`, :class:`~backends.deploy.run_scale.Scale` and
:class:`~backends.deploy.run_abort.Abort`. :func:`run_for` makes the one a kind names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.deploy.analysis import BAD_WAITING_REASONS
from backends.deploy.reducer import RunKind
from backends.deploy.run_abort import Abort
from backends.deploy.run_canary import CanaryDeploy
from backends.deploy.run_core import DeployRun
from backends.deploy.run_rollback import Rollback, healthy_rollback_version
from backends.deploy.run_scale import Scale
from backends.deploy.run_state import ACTIVE_RUNS, InterruptedDeploy, new_deploy_id
from backends.deploy.run_state import _Stop as _Stop  # backends.deploy.provision stops a first deploy with it

if TYPE_CHECKING:
    from backends.deploy.engine import DeployContext

_KINDS: dict[RunKind, type[DeployRun]] = {
    RunKind.DEPLOY: CanaryDeploy,
    RunKind.ROLLBACK: Rollback,
    RunKind.SCALE: Scale,
    RunKind.ABORT: Abort,
}


def run_for(
    kind: RunKind | str,
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
) -> DeployRun:
    """The run of ``kind`` (a :class:`RunKind` or its value; anything else is a caller's bug: ValueError)."""
    return _KINDS[RunKind(kind)](
        context,
        service=service,
        environment=environment,
        version=version,
        replicas=replicas,
        commit_sha=commit_sha,
        commit_time=commit_time,
        resume=resume,
        force=force,
        skip_image_check=skip_image_check,
    )


__all__ = [
    "ACTIVE_RUNS",
    "BAD_WAITING_REASONS",
    "Abort",
    "CanaryDeploy",
    "DeployRun",
    "InterruptedDeploy",
    "Rollback",
    "Scale",
    "healthy_rollback_version",
    "new_deploy_id",
    "run_for",
]
