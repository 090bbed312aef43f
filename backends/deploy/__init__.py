"""Deploys: canary on plain Deployments, analysis, rollback, history — one engine, three faces.

Quick start (CLI, TUI worker and tests all do this)::

    from backends.deploy import open_deploy

    with open_deploy(workspace) as session:          # catalog, environments, simulated cluster
        run = session.engine.deploy("payment-service", "production", "v2.3.1")
        for event in run.events():                   # blocking; run it in a worker thread
            handle(event)                            # typed events, see below

Engine (:class:`DeployEngine`, from ``session.engine``)
    ``deploy(service, env, version, commit_sha=, commit_time=) -> DeployRun``
    ``rollback(service, env, to=None) -> DeployRun``   (default: last good version within 72 h)
    ``scale(service, env, replicas) -> DeployRun``
    ``status(service, env) -> ServiceStatus``          (stable/canary/pods/lease/last deploy)
    ``find_interrupted(service=None, env=None) -> list[InterruptedDeploy]``
    ``resume(deploy_id) -> DeployRun`` / ``abort(deploy_id) -> DeployRun`` (interrupted deploys)

Run (:class:`DeployRun`): ``events()`` performs it in the iterating thread and yields each event as
it happens (watch-driven, no polling). Controls are thread-safe and take effect within ~1 s:
    ``promote(full=False)`` — accept an inconclusive analysis / end a pause or the current bake;
    ``full=True`` jumps straight to promotion.
    ``pause(reason)`` / ``resume()`` — hold (the bake clock stops) / continue. ``resume`` does not
    answer an inconclusive analysis: that needs ``promote`` or ``abort``.
    ``abort(reason)`` — roll back, outcome ``aborted``; ``rollback(reason)`` — same, ``rolled-back``.
    Properties: ``deploy_id``, ``paused``, ``waiting_for_decision``, ``current_step``, ``weight``.
    Closing the iterator early leaves the deploy *interrupted* (resumable), like a killed process.

Events (``backends.deploy.events``; frozen dataclasses with ``deploy_id`` and ``at``;
``event_to_dict`` gives the JSON the CLI's ``--output json`` prints):
    ``DeployStarted(service, environment, from_version, to_version, user, namespace, steps, bakes, kind)``
    ``StageStarted(stage, step, detail)`` / ``StageFinished(stage, ok, detail, step, duration)``
        stages: prechecks, update, canary (per step), analysis (per step), promote, rollback, scale
    ``RolloutProgress(weight, actual_weight, stable_desired, stable_ready, canary_desired,
        canary_ready, canary_restarts, step)`` — whenever a watched count changes
    ``AnalysisResult(step, check, verdict, detail, value, threshold)`` — checks: progress-deadline,
        restarts, pods-ready, error-rate (and ``health`` for a failure during the bake);
        verdicts: passed / failed / inconclusive
    ``Paused(reason, step, needs_decision)`` / ``Resumed(by)``
    ``LogLine(message, level)``
    ``DeployFinished(outcome, reason, version, rollback_hours)`` — always last; outcomes:
        succeeded, rolled-back, aborted, failed (refused by pre-checks), interrupted

Modules: ``config`` (the ``deploy:`` section), ``weights`` (Argo Rollouts' replica rule),
``canary`` (manifests, annotations), ``analysis`` (pod health, Prometheus), ``prechecks``,
``lease`` (one deploy per service+env), ``run``, ``engine``, ``history`` (append-only SQLite),
``status`` (one-off status and the watch-fed :class:`StatusBoard`), ``session`` (workspace wiring).
"""

from typing import TYPE_CHECKING

from backends.lazy import lazy_exports

# Names are imported on first use: ``backends.workspace`` validates the ``deploy:`` section through
# ``backends.deploy.config`` on every load, and that must not pull in the engine and the Kubernetes
# client (it doubled ``catalog list`` and TUI start-up).
_EXPORTS = {
    "DeployContext": "engine",
    "DeployEngine": "engine",
    "AnalysisResult": "events",
    "DeployEvent": "events",
    "DeployFinished": "events",
    "DeployStarted": "events",
    "LogLine": "events",
    "Outcome": "events",
    "Paused": "events",
    "Resumed": "events",
    "RolloutProgress": "events",
    "Stage": "events",
    "StageFinished": "events",
    "StageStarted": "events",
    "Verdict": "events",
    "event_from_dict": "events",
    "event_to_dict": "events",
    "DeployHistory": "history",
    "DeployRecord": "history",
    "DeployRefused": "prechecks",
    "DeployRun": "run",
    "InterruptedDeploy": "run",
    "SIMULATED_BANNER": "session",
    "DeploySession": "session",
    "open_deploy": "session",
    "BoardTarget": "status",
    "ServiceStatus": "status",
    "StatusBoard": "status",
}

if TYPE_CHECKING:
    from backends.deploy.engine import DeployContext, DeployEngine
    from backends.deploy.events import (
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
        event_from_dict,
        event_to_dict,
    )
    from backends.deploy.history import DeployHistory, DeployRecord
    from backends.deploy.prechecks import DeployRefused
    from backends.deploy.run import DeployRun, InterruptedDeploy
    from backends.deploy.session import SIMULATED_BANNER, DeploySession, open_deploy
    from backends.deploy.status import BoardTarget, ServiceStatus, StatusBoard


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "SIMULATED_BANNER",
    "AnalysisResult",
    "BoardTarget",
    "DeployContext",
    "DeployEngine",
    "DeployEvent",
    "DeployFinished",
    "DeployHistory",
    "DeployRecord",
    "DeployRefused",
    "DeployRun",
    "DeploySession",
    "DeployStarted",
    "InterruptedDeploy",
    "LogLine",
    "Outcome",
    "Paused",
    "Resumed",
    "RolloutProgress",
    "ServiceStatus",
    "Stage",
    "StageFinished",
    "StageStarted",
    "StatusBoard",
    "Verdict",
    "event_from_dict",
    "event_to_dict",
    "open_deploy",
]
