"""Nothing left unsupervised: adopt the deploys whose runner died.

A runner that is killed (kill -9, a host reboot) leaves an interrupted deploy: a canary beside the
stable pods with nobody checking its error rate. Its lease stops being renewed and expires; then
any idp-console — usually ``idp-console agent``, a long-running service on the bastion — adopts
it and applies the environment's ``on_orphan`` policy:

- ``rollback`` (the default for production): abort it — stable restored, canary removed (a killed
  ``rollback`` command is finished instead: its target is where it was going back to);
- ``resume``: continue it; the in-flight step's bake and analysis start again;
- ``pause``: leave it as it is and say so, for a person to resume or abort — except its share of
  an HTTPRoute's traffic, which goes back to the stable first (nobody checks the canary any more).

Two adopters never both act: each starts a runner, and the runner's first act is to take the
deploy's Lease, which only one of them gets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backends.kube.environments import ON_ORPHAN_POLICIES


@dataclass(frozen=True, slots=True)
class Adoption:
    """What an adopter did about one interrupted deploy."""

    deploy_id: str
    service: str
    environment: str
    policy: str
    run: Any = None  # the RemoteRun started for it (rollback / resume), None for pause or on error
    error: str = ""
    held_weight: int | None = None  # pause: the route share taken back from the canary

    def describe(self) -> str:
        what = f"{self.deploy_id} ({self.service} in {self.environment})"
        if self.error:
            return f"could not adopt {what}: {self.error}"
        if self.policy == "pause":
            held = (
                f" (its canary's {self.held_weight}% of the route's traffic is back on the stable)"
                if self.held_weight
                else ""
            )
            return (
                f"{what} is interrupted and held for a person{held}: idp-console deploy {self.service} "
                f"--env {self.environment} --resume | --abort"
            )
        verb = "rolling back" if self.policy == "rollback" else "resuming"
        return f"adopted {what}: {verb}"


def default_policy(environment: Any) -> str:
    """An environment's ``on_orphan``, else rollback in production and pause elsewhere."""
    configured = getattr(environment, "on_orphan", None)
    if configured in ON_ORPHAN_POLICIES:
        return str(configured)
    return "rollback" if getattr(environment, "production", False) else "pause"


def adopt_orphans(
    engine: Any, policy_for: Callable[[str], str], *, skip: set[str] | None = None
) -> list[Adoption]:
    """Apply each interrupted deploy's policy once. ``engine`` starts runners (a DetachedEngine);
    ``skip`` holds deploy ids already handled by this adopter (a paused one is reported once)."""
    from backends.deploy.attach import RunnerError
    from backends.deploy.prechecks import DeployRefused
    from backends.kube.cluster import ClusterError

    done = skip if skip is not None else set()
    adoptions = []
    for item in engine.find_interrupted():
        record = item.record
        if record.id in done:
            continue
        policy = policy_for(record.environment)
        adoption = Adoption(record.id, record.service, record.environment, policy)
        try:
            # A killed ``rollback`` is finished, never undone: undoing it would put back the version
            # someone was leaving — so "rollback" means resuming it to the version it chose.
            if policy == "resume" or (policy == "rollback" and record.kind == "rollback"):
                adoption = _with_run(adoption, engine.resume(record.id))
            elif policy == "rollback":
                adoption = _with_run(adoption, engine.abort(record.id))
            elif item.route_weight:
                held = engine.hold_traffic(record.id)
                adoption = Adoption(record.id, record.service, record.environment, policy, held_weight=held)
        except (DeployRefused, RunnerError, ClusterError) as error:
            # Not marked done: the next round tries again (another adopter may have died too).
            adoptions.append(
                Adoption(record.id, record.service, record.environment, policy, error=str(error))
            )
            continue
        done.add(record.id)
        adoptions.append(adoption)
    return adoptions


def _with_run(adoption: Adoption, run: Any) -> Adoption:
    return Adoption(adoption.deploy_id, adoption.service, adoption.environment, adoption.policy, run=run)
