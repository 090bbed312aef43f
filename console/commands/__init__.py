"""Sub-commands of ``idp-console``; each module has ``register(subparsers)``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import ModuleType


class CommandError(Exception):
    """A failure to report on stderr as one line, with the exit code to return."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def mutating(
    parser: argparse.ArgumentParser, when: Callable[[argparse.Namespace], bool] | None = None
) -> None:
    """Mark a sub-command as changing something (``when``: only for some arguments, e.g. not a dry
    run). ``--readonly`` and ``identity.readonly`` refuse it, in console/cli.py and only there."""
    parser.set_defaults(mutates=when or (lambda _args: True))


def workspace_from_args(args: argparse.Namespace):  # noqa: ANN201 - avoids importing backends eagerly
    """The workspace named on the command line (or the default), as a CommandError when broken."""
    from backends.workspace import WorkspaceError, load_workspace

    try:
        return load_workspace(getattr(args, "workspace", None))
    except WorkspaceError as error:
        raise CommandError(str(error), 2) from error


def _modules() -> list[ModuleType]:
    from console.commands import (
        agent,
        catalog,
        chatops,
        deploy,
        docs,
        doctor,
        history,
        infra,
        init,
        metrics,
        platform,
        scaffold,
        serve_ssh,
    )

    return [
        catalog,
        scaffold,
        deploy,
        docs,
        doctor,
        agent,
        serve_ssh,
        init,
        metrics,
        history,
        platform,
        chatops,
        infra,
    ]


COMMAND_MODULES: list[ModuleType] = _modules()
