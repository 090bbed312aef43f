"""One error path: an exception in a handler, action, watcher or timer never ends the session.

Each test breaks something a real handler of the demo app calls, then checks what a user sees: the
app still runs, a toast says what failed, errors.log has the traceback, and the next key on that
screen still works.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.actions import SkipAction
from textual.geometry import Region
from textual.pilot import Pilot

from backends import paths
from console.app import IdpConsoleApp
from screens.catalog import CatalogScreen
from screens.help import HelpScreen
from tests.screens.helpers import demo_app, until, wait_for_catalog
from widgets.virtual_table import VirtualTable

SIZE = (140, 40)


def _errors_log() -> str:
    log = paths.state_dir() / "errors.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


def _explode(message: str) -> object:
    """A stand-in for a method our handler calls, failing as a bug would."""

    def fail(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError(message)

    return fail


def _toasts(app: IdpConsoleApp) -> str:
    """The words of the toasts on screen as a user reads them (a long toast wraps)."""
    words: list[str] = []
    for toast in app.screen.query("Toast"):
        for strip in toast.render_lines(Region(0, 0, *toast.size)):
            words.extend(strip.text.strip().lstrip("▌").split())  # without the toast's left border
    return " ".join(words)


async def _catalog(pilot: Pilot) -> CatalogScreen:
    await wait_for_catalog(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CatalogScreen)
    return screen


async def _told(pilot: Pilot, app: IdpConsoleApp, what: str, reason: str) -> None:
    """The toast is on screen, the app runs, and errors.log has the failure with its traceback."""
    toast = f"{what} failed: {reason}"
    await until(pilot, lambda: toast in _toasts(app), what=repr(toast))
    assert app.is_running
    log = _errors_log()
    assert f"{what} failed\nTraceback (most recent call last)" in log
    assert f"RuntimeError: {reason}" in log


async def _problems_key_still_works(pilot: Pilot, screen: CatalogScreen) -> None:
    panel = screen.query_one("#problems-panel")
    was_open = panel.has_class("-open")
    await pilot.press("p")
    await until(pilot, lambda: panel.has_class("-open") != was_open, what="p to toggle the problems panel")


def _expecting_errors() -> IdpConsoleApp:
    app = demo_app()
    app.errors_expected = True  # the failures below are injected: they must not fail the test
    return app


async def test_a_failing_key_bound_action_shows_a_toast_and_the_screen_keeps_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(CatalogScreen, "_resort", _explode("sort exploded"))
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        await pilot.press("s")
        await _told(pilot, app, "cycle sort", "sort exploded")
        assert app.screen is screen
        await _problems_key_still_works(pilot, screen)
    assert "RuntimeError: sort exploded" in _errors_log()


async def test_a_failing_action_from_the_command_palette_shows_a_toast_and_the_screen_keeps_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(IdpConsoleApp, "open_metrics", _explode("scorecard exploded"))
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        await pilot.press("ctrl+p", *"open the scorecard")
        await until(pilot, lambda: "Open the scorecard" in _palette_hits(app), what="the palette's hit")
        await pilot.press("enter")
        await _told(pilot, app, "open metrics", "scorecard exploded")
        await until(pilot, lambda: app.screen is screen, what="the palette closed")
        await _problems_key_still_works(pilot, screen)


def _palette_hits(app: IdpConsoleApp) -> str:
    from textual.command import CommandList

    lists = app.screen.query(CommandList)
    return " ".join(str(option.prompt) for hits in lists for option in hits.options)


async def test_a_failing_on_decorated_handler_shows_a_toast_and_the_screen_keeps_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _filter_changed is an @on(Input.Changed, "#filter") handler: Textual files those in a table.
    monkeypatch.setattr(CatalogScreen, "_apply_filter", _explode("filter exploded"))
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        await pilot.press("slash", "x")
        await _told(pilot, app, "CatalogScreen._filter_changed", "filter exploded")
        await pilot.press("enter")  # the filter still takes keys: enter hands focus to the list
        await until(pilot, lambda: isinstance(app.focused, VirtualTable), what="focus on the list")
        await _problems_key_still_works(pilot, screen)


async def test_a_failing_on_handler_shows_a_toast_and_the_screen_keeps_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from screens.base import ConsoleScreen

    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        monkeypatch.setattr(ConsoleScreen, "_check_size", _explode("resize exploded"))
        await pilot.resize_terminal(150, 42)  # on_resize
        await _told(pilot, app, "ConsoleScreen.on_resize", "resize exploded")
        await _problems_key_still_works(pilot, screen)


async def test_a_failing_watcher_shows_a_toast_and_the_widget_keeps_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # watch_cursor_row asks how many rows a page holds: that breaks.
    monkeypatch.setattr(VirtualTable, "_page_rows", property(_explode("page exploded")))
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        table = screen.query_one("#entities", VirtualTable)
        await pilot.press("down")
        await _told(pilot, app, "VirtualTable.watch_cursor_row", "page exploded")
        assert table.cursor_row == 1  # the move itself happened
        await pilot.press("up")  # the list, where the watcher failed, still moves
        await until(pilot, lambda: table.cursor_row == 0, what="the cursor back up")
        await _problems_key_still_works(pilot, screen)


async def test_a_failing_widget_handler_shows_a_toast_and_the_widget_keeps_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(VirtualTable, "_click_header", _explode("click exploded"))
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        table = screen.query_one("#entities", VirtualTable)
        await pilot.click(table, offset=(2, 0))  # the header row: on_click
        await _told(pilot, app, "VirtualTable.on_click", "click exploded")
        await pilot.press("down")
        await until(pilot, lambda: table.cursor_row == 1, what="the cursor down")
        await _problems_key_still_works(pilot, screen)


async def test_a_failing_call_after_refresh_callback_shows_a_toast_and_the_app_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `:catalog FILTER` sets the filter once the catalog screen is up (call_after_refresh).
    monkeypatch.setattr(CatalogScreen, "set_filter", _explode("set filter exploded"))
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        await pilot.press("colon", *"catalog kind:api", "enter")
        await _told(pilot, app, "IdpConsoleApp._set_catalog_filter", "set filter exploded")
        await _problems_key_still_works(pilot, screen)


async def test_a_timer_that_keeps_failing_is_told_once_and_the_mode_keeps_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import screens.deploy_board
    from screens.deploy import DeployScreen
    from screens.deploy_board import BoardView

    monkeypatch.setattr(DeployScreen, "SESSION_TIME_SCALE", 0.02)
    monkeypatch.setattr(screens.deploy_board, "LIVE_RUNS_POLL", 0.05)
    ticks: list[int] = []

    def poll_breaks(_self: object) -> None:
        ticks.append(1)
        raise RuntimeError("poll exploded")

    monkeypatch.setattr(BoardView, "_find_live_runs", poll_breaks)
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await _told(pilot, app, "BoardView.poll_live_runs", "poll exploded")
        await until(pilot, lambda: len(ticks) >= 4, what="more ticks of the interval")
        assert _errors_log().count("poll_live_runs failed") == 1  # told once, not every tick
        await pilot.press("n")  # the board still answers: the new-deploy form
        await until(pilot, lambda: screen.view == "form", what="the form")
        await pilot.press("escape")
        await until(pilot, lambda: screen.view == "board", what="back to the board")


async def test_a_screen_that_fails_to_compose_is_closed_and_the_previous_one_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not our handler: Textual's last resort (_handle_exception), which would end the app.
    monkeypatch.setattr(HelpScreen, "compose", _explode("help exploded"))
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        await pilot.press("question_mark")
        await _told(pilot, app, "HelpScreen", "help exploded")
        await until(pilot, lambda: app.screen is screen, what="the help screen closed")
        await _problems_key_still_works(pilot, screen)


async def test_a_mode_that_fails_to_compose_returns_to_the_catalog_and_opens_afresh_next_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from screens.docs import DocsScreen

    monkeypatch.setattr(DocsScreen, "compose_body", _explode("docs exploded"))
    app = _expecting_errors()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await _catalog(pilot)
        await pilot.press("4")
        await _told(pilot, app, "DocsScreen", "docs exploded")
        await until(pilot, lambda: app.screen is screen, what="back on the catalog")
        await _problems_key_still_works(pilot, screen)

        monkeypatch.undo()  # fixed: the mode opens with a new screen
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, DocsScreen), what="the docs mode")
        assert app.is_running


async def test_an_unexpected_failure_still_fails_the_test_that_met_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The app goes on for the user, but a test that did not inject the failure must see the bug.
    monkeypatch.setattr(CatalogScreen, "_resort", _explode("a real bug"))
    app = demo_app()
    with pytest.raises(RuntimeError, match="a real bug"):
        async with app.run_test(size=SIZE) as pilot:
            await _catalog(pilot)
            await pilot.press("s")
            await until(pilot, lambda: "a real bug" in _errors_log(), what="the failure")
            assert app.is_running


async def test_quitting_still_ends_the_app() -> None:
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await _catalog(pilot)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: not app.is_running, what="the app to exit")
    assert app.return_code == 0


def test_errors_log_lives_in_the_state_dir(tmp_path: Path) -> None:
    from console.errors import log_failure

    try:
        raise ValueError("boom")
    except ValueError as error:
        where = log_failure("a thing", error)
    assert where == paths.state_dir() / "errors.log"
    assert "a thing failed" in _errors_log()
    assert "ValueError: boom" in _errors_log()


def test_every_app_screen_and_widget_of_ours_is_guarded() -> None:
    # The guard holds only where it is mixed in: a new widget without it would end the session on
    # its first exception again.
    import importlib
    import pkgutil

    from textual.message_pump import MessagePump

    from widgets.guard import Guarded

    root = Path(__file__).resolve().parents[2]
    for package in ("console", "screens", "widgets"):
        for module in pkgutil.walk_packages([str(root / package)], prefix=f"{package}."):
            importlib.import_module(module.name)

    def ours(cls: type) -> bool:
        return cls.__module__.split(".")[0] in ("console", "screens", "widgets")

    def subclasses(cls: type) -> list[type]:
        found = []
        for sub in cls.__subclasses__():
            found += [sub, *subclasses(sub)]
        return found

    unguarded = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in set(subclasses(MessagePump))
        if ours(cls) and not issubclass(cls, Guarded)
    )
    assert unguarded == [], "mix widgets.guard.Guarded into:\n" + "\n".join(unguarded)


async def test_interrupts_exits_cancellations_and_skipped_actions_pass_through_the_guard() -> None:
    # An interrupt, an exit or a cancelled task is not a bug to report: it must go on up, as does
    # SkipAction (an action declining its key so the next binding gets it).
    from widgets.guard import guard_method

    app = _expecting_errors()
    async with app.run_test(size=SIZE) as pilot:
        await _catalog(pilot)
        for signal in (KeyboardInterrupt, SystemExit, asyncio.CancelledError, SkipAction):

            def raise_it(_self: object, signal: type[BaseException] = signal) -> None:
                raise signal

            async def raise_it_async(_self: object, signal: type[BaseException] = signal) -> None:
                raise signal

            with pytest.raises(signal):
                guard_method("sync", raise_it)(app.screen)
            with pytest.raises(signal):
                await guard_method("async", raise_it_async)(app.screen)
        assert app.unexpected_error is None
    assert "failed" not in _errors_log()
