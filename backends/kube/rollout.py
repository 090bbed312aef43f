"""Rollout status of a Deployment, decided exactly as ``kubectl rollout status`` decides it.

kubectl's ``DeploymentStatusViewer`` checks, in this order: the spec generation has been observed,
the ``Progressing`` condition is not ``ProgressDeadlineExceeded``, every replica is updated, no old
replica is left, every updated replica is available. The ``Available`` condition is deliberately not
consulted (kubectl does not either), so our verdict and kubectl's never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RolloutPhase(StrEnum):
    WAITING_FOR_SPEC = "waiting-for-spec"  # generation not yet observed by the controller
    DEADLINE_EXCEEDED = "deadline-exceeded"  # a failure: kubectl exits non-zero
    UPDATING = "updating"  # updatedReplicas < replicas
    TERMINATING_OLD = "terminating-old"  # old replicas pending termination
    WAITING_AVAILABLE = "waiting-available"  # updated replicas not all available
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    phase: RolloutPhase
    message: str  # kubectl's wording, so users recognise it

    @property
    def done(self) -> bool:
        return self.phase is RolloutPhase.COMPLETE

    @property
    def failed(self) -> bool:
        return self.phase is RolloutPhase.DEADLINE_EXCEEDED


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def progress_deadline_exceeded(deployment: dict[str, Any]) -> bool:
    """Whether the ``Progressing`` condition carries reason ``ProgressDeadlineExceeded``."""
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return True
    return False


def rollout_status(deployment: dict[str, Any]) -> RolloutStatus:
    """The verdict of ``kubectl rollout status deployment/NAME`` for a Deployment (as a dict)."""
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = metadata.get("name", "")
    if _int(metadata.get("generation")) > _int(status.get("observedGeneration")):
        return RolloutStatus(
            RolloutPhase.WAITING_FOR_SPEC, "Waiting for deployment spec update to be observed..."
        )
    if progress_deadline_exceeded(deployment):
        return RolloutStatus(
            RolloutPhase.DEADLINE_EXCEEDED, f'deployment "{name}" exceeded its progress deadline'
        )
    # spec.replicas defaults to 1 when unset, as the API server defaults it.
    desired = _int(spec["replicas"]) if spec.get("replicas") is not None else 1
    updated = _int(status.get("updatedReplicas"))
    replicas = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < desired:
        return RolloutStatus(
            RolloutPhase.UPDATING, f"{prefix}{updated} out of {desired} new replicas have been updated..."
        )
    if replicas > updated:
        return RolloutStatus(
            RolloutPhase.TERMINATING_OLD,
            f"{prefix}{replicas - updated} old replicas are pending termination...",
        )
    if available < updated:
        return RolloutStatus(
            RolloutPhase.WAITING_AVAILABLE,
            f"{prefix}{available} of {updated} updated replicas are available...",
        )
    return RolloutStatus(RolloutPhase.COMPLETE, f'deployment "{name}" successfully rolled out')
