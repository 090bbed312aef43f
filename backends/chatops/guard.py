"""What a chat user may do: the TUI's rules, decided before anything runs.

Unknown Slack users (no catalog User) may read (``status``, ``help``) and nothing else. Changes to a
production environment need the owning group (the deploy pre-checks' own rule) and, instead of the
TUI's typed service name, a press of the confirmation button.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backends.commands.grammar import VERBS, Command, CreateService, Deploy, Help, Rollback, Scale, Status


class Refused(Exception):
    """Not allowed; ``str()`` is the one line the chat user reads."""


@dataclass(frozen=True)
class Clearance:
    production: bool  # ask for the confirmation button first


def clear(command: Command, user: str | None, catalog: Any, environments: dict[str, Any]) -> Clearance:
    """Whether ``user`` (a catalog User name, None when unknown) may run ``command``."""
    if isinstance(command, Help | Status):
        return Clearance(production=False)
    if user is None:
        raise Refused(
            f"`{command.verb}` needs a catalog User: yours has no `slack.com/user-id` annotation "
            "naming your Slack account; unknown users can run `status` and `help` only"
        )
    if isinstance(command, CreateService):
        return Clearance(production=False)
    assert isinstance(command, Deploy | Rollback | Scale)
    environment = _environment(environments, command.env)
    if environment.production:
        from backends.deploy.prechecks import DeployRefused, check_owner, find_service

        try:
            entity = find_service(catalog, command.service)
            check_owner(catalog, entity, environment, user)
        except DeployRefused as error:
            raise Refused(str(error)) from error
    return Clearance(production=environment.production)


def _environment(environments: dict[str, Any], name: str) -> Any:
    from backends.kube.environments import EnvironmentConfigError, get_environment

    try:
        return get_environment(environments, name)
    except EnvironmentConfigError as error:
        raise Refused(str(error)) from error


def mutates(command: Command) -> bool:
    return VERBS[command.verb].mutates
