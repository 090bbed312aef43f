"""The action registry: every built-in action keyed by its id; apps may add their own."""

from __future__ import annotations

from backends.scaffolder.actions.base import (
    Action,
    ActionContext,
    ManifestApplier,
    RegisterCallback,
    Services,
    StepSkipped,
)
from backends.scaffolder.actions.catalog import CatalogFetch, CatalogRegister, CatalogWrite
from backends.scaffolder.actions.fetch import FetchPlain, FetchPlainFile, FetchTemplate, FetchTemplateFile
from backends.scaffolder.actions.fs import DebugLog, DebugWait, FsDelete, FsReaddir, FsRename
from backends.scaffolder.actions.infra import InfraRequest
from backends.scaffolder.actions.kube import KubeApply
from backends.scaffolder.actions.platform import DatabaseCredentials, FirstBuild, RegistryImage
from backends.scaffolder.actions.publish import (
    PublishGit,
    PublishGithub,
    PublishGitlab,
    PublishMergeRequest,
    PublishPullRequest,
)

BUILTIN_ACTIONS: tuple[type[Action], ...] = (
    FetchTemplate,
    FetchTemplateFile,
    FetchPlain,
    FetchPlainFile,
    FsRename,
    FsDelete,
    FsReaddir,
    DebugLog,
    DebugWait,
    CatalogWrite,
    CatalogRegister,
    CatalogFetch,
    KubeApply,
    PublishGit,
    PublishGithub,
    PublishGitlab,
    PublishPullRequest,
    PublishMergeRequest,
    RegistryImage,
    DatabaseCredentials,
    FirstBuild,
    InfraRequest,
)


class ActionRegistry:
    """Actions by id."""

    def __init__(self, actions: list[Action] | None = None) -> None:
        self._actions: dict[str, Action] = {}
        for action in actions or []:
            self.register(action)

    def register(self, action: Action) -> None:
        """Add (or replace) an action under its ``id``."""
        self._actions[action.id] = action

    def get(self, action_id: str) -> Action | None:
        return self._actions.get(action_id)

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._actions

    def ids(self) -> list[str]:
        return sorted(self._actions)


def default_registry() -> ActionRegistry:
    """A registry with every built-in action."""
    return ActionRegistry([cls() for cls in BUILTIN_ACTIONS])


__all__ = [
    "Action",
    "ActionContext",
    "ActionRegistry",
    "ManifestApplier",
    "RegisterCallback",
    "Services",
    "StepSkipped",
    "default_registry",
]
