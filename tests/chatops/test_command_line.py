"""The ``:`` door: the platform verbs typed on the TUI's command line (Pilot), completed from the
catalog and the workspace, shown in the deploy watch view, the scaffold run and the status mode."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input

from screens.deploy import DeployScreen
from screens.deploy_confirm import ConfirmDeploy
from screens.scaffold import ScaffoldScreen
from screens.status import StatusScreen
from tests.screens.helpers import screen_text, wait_for_catalog
from tests.screens.helpers import until as wait_until
from tests.screens.test_deploy_screen import (  # noqa: F401 - autouse fixtures: fast cluster, runners stopped
    SERVICE,
    deploy_app,
    fast_cluster,
    settled,
    sim_owner,
    wait_finished,
)


async def command(pilot: Pilot, text: str, *, submit: bool = True) -> None:
    await wait_for_catalog(pilot)
    await pilot.press("colon")
    await pilot.press(*text)
    if submit:
        await pilot.press("enter")
        await pilot.pause()


async def deploy_screen(pilot: Pilot) -> DeployScreen:
    def found() -> DeployScreen | None:
        screens = [s for s in pilot.app.screen_stack if isinstance(s, DeployScreen)]
        return screens[0] if screens else None

    await wait_until(pilot, found, what="the deploy mode")
    screen = found()
    assert screen is not None
    await wait_until(pilot, lambda: screen.board is not None and settled(screen), what="the board")
    return screen


async def test_deploy_on_the_command_line_confirms_and_opens_the_watch_view() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, f":deploy {SERVICE} --env production --version v2.3.1")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeploy), what="the confirmation")
        assert "Deploy payment-service v2.3.1 to production?" in screen_text(app)
        await pilot.press(*SERVICE, "enter")  # production: the service name typed, as everywhere
        screen = await deploy_screen(pilot)
        await wait_until(pilot, lambda: screen.view == "watch", what="the watch view")
        assert await wait_finished(pilot, screen) == "succeeded"
        assert "deploy payment-service · production · v2.3.0 → v2.3.1 · ✔ Succeeded" in screen_text(app)


async def test_scale_and_rollback_on_the_command_line() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, f":scale {SERVICE} --replicas 5 --env staging")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeploy), what="the confirmation")
        assert "Scale payment-service in staging to 5 pods?" in screen_text(app)
        await pilot.press("enter")
        screen = await deploy_screen(pilot)
        await wait_until(pilot, lambda: screen.view == "watch" and screen.state is not None, what="the run")
        assert "scale payment-service · staging" in screen_text(app)
        await pilot.press("escape")
        await command(pilot, f":rollback {SERVICE} --env staging --to v2.3.0")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeploy), what="the confirmation")
        assert "Roll payment-service back in staging?" in screen_text(app)
        await pilot.press("escape")  # cancelled: nothing runs
        assert app.screen is screen


async def test_status_on_the_command_line_filters_the_status_mode() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, f":status {SERVICE} --env production")
        await wait_until(pilot, lambda: isinstance(app.screen, StatusScreen), what="the status mode")
        screen = app.screen
        assert isinstance(screen, StatusScreen)
        await wait_until(pilot, lambda: screen.query_one("#filter", Input).value == SERVICE, what="filter")


async def test_bad_flag_is_the_grammars_one_line_and_nothing_opens() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, f":deploy {SERVICE} --env staging --verison v2.3.1")
        await wait_until(pilot, lambda: bool(app._notifications), what="the notice")
        notice = list(app._notifications)[-1].message
        assert notice == "deploy: unknown flag --verison; usage: deploy SERVICE --env ENV --version VERSION"
        assert not any(isinstance(s, DeployScreen) for s in app.screen_stack)


async def test_completion_of_services_flags_and_environments() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, "scale payment-s", submit=False)
        prompt = app.screen.query_one("#command", Input)
        await wait_until(pilot, lambda: prompt._suggestion == "scale payment-service", what="service")
        await pilot.press("right")  # accepts the suggestion (the cursor is at the end)
        assert prompt.value == "scale payment-service"
        await pilot.press(*" --e")
        await wait_until(pilot, lambda: prompt._suggestion == "scale payment-service --env", what="flag")
        await pilot.press("right", "space", "s")
        await wait_until(pilot, lambda: prompt._suggestion.endswith("--env staging"), what="environment")


async def test_create_service_on_the_command_line_runs_the_golden_path() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, ":create-service --name ledger-sync --language go --owner team-payments")
        await wait_until(pilot, lambda: isinstance(app.screen, ScaffoldScreen), what="the scaffold mode")
        screen = app.screen
        assert isinstance(screen, ScaffoldScreen)
        await wait_until(pilot, lambda: screen.finished is not None, 60, what="the golden path run")
        assert screen.finished is not None and screen.finished.status == "completed"
        assert app.catalog is not None
        await wait_until(
            pilot,
            lambda: app.catalog.get("ledger-sync", default_kind="Component") is not None,
            what="catalog",
        )


async def test_create_service_is_refused_in_read_only_mode() -> None:
    from backends.workspace import load_demo_workspace
    from console.app import IdpConsoleApp

    app = IdpConsoleApp(load_demo_workspace(), readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await command(pilot, ":create-service --name ledger-sync --language go --owner team-payments")
        await wait_until(pilot, lambda: isinstance(app.screen, ScaffoldScreen), what="the scaffold mode")
        screen = app.screen
        assert isinstance(screen, ScaffoldScreen)
        await wait_until(
            pilot,
            lambda: any("read-only mode" in str(n.message).lower() for n in app._notifications),
            what="the refusal",
        )
        assert screen.finished is None and not screen.running
