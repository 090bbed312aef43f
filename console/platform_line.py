"""The platform verbs on the TUI's ``:`` line, shown where the TUI shows that kind of work:
``deploy``, ``rollback`` and ``scale`` → the deploy mode's confirmation and then its watch view
(production asks to type the service name, as everywhere in the TUI); ``create-service`` → the
scaffold mode running the default golden path; ``status`` → the status mode filtered to the service.

The words were parsed by :mod:`backends.commands.grammar` in :func:`console.command_line.parse_command`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backends.commands.grammar import CreateService, Deploy, Rollback, Scale, Status, parse

if TYPE_CHECKING:
    from textual.app import App

TEMPLATE_WAIT_TRIES = 100  # × 0.1 s: the template list loads once per scaffold screen


def run_platform_line(app: App[Any], words: tuple[str, ...], workspace: Any) -> None:
    """Carry out a platform verb typed on the ``:`` line."""
    command = parse(list(words))
    if isinstance(command, Status):
        app.switch_mode("status")
        app.call_after_refresh(_filter_status, app, command.service)
    elif isinstance(command, CreateService):
        app.switch_mode("scaffold")
        app.call_after_refresh(_create_service, app, command, workspace, TEMPLATE_WAIT_TRIES)
    elif isinstance(command, Deploy | Rollback | Scale):
        app.switch_mode("deploy")
        app.call_after_refresh(_confirm_change, app, command)


def _filter_status(app: App[Any], service: str) -> None:
    from screens.status import StatusScreen

    if isinstance(app.screen, StatusScreen):
        app.screen.set_filter(service)


def _confirm_change(app: App[Any], command: Deploy | Rollback | Scale) -> None:
    from screens.deploy import DeployScreen

    screen = app.screen
    if not isinstance(screen, DeployScreen) or screen.desk is None:
        return
    service, env, desk = command.service, command.env, screen.desk
    if isinstance(command, Deploy):
        screen.confirm(desk.deploy_question(service, env, command.version))
    elif isinstance(command, Rollback):
        screen.confirm(desk.rollback_question(service, env, command.to))
    else:
        screen.confirm(desk.scale_question(service, env, command.replicas))


async def _create_service(app: App[Any], command: CreateService, workspace: Any, tries: int) -> None:
    from console.commands.platform import default_golden_path
    from screens.scaffold import ScaffoldScreen

    screen = app.screen
    if not isinstance(screen, ScaffoldScreen):
        return
    if not screen.templates:  # still loading: look again shortly
        if tries > 0:
            app.set_timer(
                0.1,
                lambda: app.run_worker(
                    _create_service(app, command, workspace, tries - 1), exit_on_error=False
                ),
            )
        else:
            app.notify("The templates did not load; try :create-service again.", severity="warning")
        return
    name = default_golden_path(workspace)
    await screen.open_template(name)
    if screen.model is None or screen.template is None or screen.template.name != name:
        return
    for key in ("name", "language", "owner"):
        screen.model.set_text(key, getattr(command, key))
    screen._show_review()
    # The run key's own path: refused in read-only mode, and with a notice when an answer is invalid.
    screen.action_run()
