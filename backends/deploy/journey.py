"""The first-deploy journey's rules, without a terminal: what to offer after each step.

A new service goes scaffold → first environment → the next one → … → production. The screens (and
any script) ask here what comes next: which environment follows, which version to suggest (the
registry's tags, newest first), and whether an environment refuses the service's catalog lifecycle
— with the fix it allows (promoting the lifecycle). Deciding stays here; drawing stays in screens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backends.catalog.model import Entity
    from backends.kube.environments import Environment


@dataclass(frozen=True, slots=True)
class DeployOffer:
    """A deploy the UI offers with one key: the form opens with all three filled in."""

    service: str
    environment: str
    version: str = ""  # "" when no version is known: the form asks for one

    @property
    def label(self) -> str:
        """The footer's words for it, e.g. ``Deploy to staging``."""
        return f"Deploy to {self.environment}"


def first_environment(environments: Sequence[str]) -> str | None:
    """Where a new service goes first: the first environment in the workspace's config."""
    return environments[0] if environments else None


def next_environment(environments: Sequence[str], current: str) -> str | None:
    """The environment after ``current`` in config order (staging → production), None at the end."""
    if current not in environments:
        return None
    index = list(environments).index(current)
    return environments[index + 1] if index + 1 < len(environments) else None


def suggested_versions(
    workspace: Any, entity: Entity | None, environment: Environment | None = None
) -> list[str]:
    """The service's versions in the registry repository a deploy to ``environment`` checks
    (``environments.<env>.image``, else the service's own image), newest first; [] when none can be
    read (a suggestion only: the deploy's own pre-checks say what is wrong with a typed version)."""
    from backends.registry import service_versions

    return service_versions(workspace, entity, environment) if entity is not None else []


@dataclass(frozen=True, slots=True)
class LifecycleRefusal:
    """An environment refuses the service's catalog lifecycle; ``target`` is what it would accept."""

    service: str
    environment: str
    lifecycle: str
    allowed: tuple[str, ...]
    target: str

    @property
    def reason(self) -> str:
        allowed = ", ".join(self.allowed)
        return (
            f"{self.environment} accepts only lifecycle {allowed}; "
            f"{self.service} is {self.lifecycle or '(no lifecycle)'}"
        )

    @property
    def fix(self) -> str:
        return (
            f"Promote {self.service} from {self.lifecycle or '(none)'} to {self.target}: "
            "a commit to its catalog-info.yaml, recorded with your name."
        )


# The order lifecycles mature in (Backstage's well-known values); the target is the least mature
# lifecycle the environment accepts that is past the current one.
LIFECYCLE_ORDER: tuple[str, ...] = ("experimental", "development", "beta", "production")


def lifecycle_refusal(entity: Entity, environment: Environment) -> LifecycleRefusal | None:
    """None when ``environment`` accepts ``entity``'s lifecycle; else why not and the fix."""
    lifecycle = entity.lifecycle
    if environment.allows(lifecycle):
        return None
    allowed = tuple(environment.lifecycles)
    rank = {name: index for index, name in enumerate(LIFECYCLE_ORDER)}
    current = rank.get(lifecycle, -1)
    later = sorted(
        (a for a in allowed if rank.get(a, len(rank)) > current), key=lambda a: rank.get(a, len(rank))
    )
    target = later[0] if later else allowed[0]
    return LifecycleRefusal(entity.name, environment.name, lifecycle, allowed, target)


@dataclass(frozen=True, slots=True)
class LifecycleFix:
    """What promoting did: ``applied`` when the catalog now has the new lifecycle (a commit), False
    for a change request that applies once merged (the deploy has to wait for it)."""

    summary: str
    applied: bool


def promote_lifecycle(workspace: Any, catalog: Any, refusal: LifecycleRefusal, *, user: str) -> LifecycleFix:
    """Promote the refused service's lifecycle to ``refusal.target`` (a commit to its own
    catalog-info.yaml, or a change request when the workspace asks for one). Raises
    ``LifecycleError`` with a sentence to act on.

    After a commit the service's file is read again into ``catalog`` (the live one of a console),
    so what the deploy's pre-checks and the catalog screen see is the new lifecycle at once.
    """
    from backends.catalog.lifecycle import promote_lifecycle as promote

    result = promote(workspace, refusal.service, refusal.target, user, catalog=catalog)
    applied = result.mode in ("commit", "unchanged")
    if result.mode == "commit" and catalog is not None:
        entity = catalog.get(refusal.service, default_kind="Component")
        if entity is not None and entity.position is not None:
            catalog.register(entity.position.file)
    return LifecycleFix(result.message, applied)
