"""The key tour (issue 11): every key and ``:`` command the README documents, in every mode, at
80x24 and at 120x40, as a new user would press them. (~14 keys × 5 modes per size, each waiting for
its effect: the longest screen test, on purpose — it is the first ten minutes of every new user.)

For each mode and key: the documented effect happens, or something visible changes, or the key is
simply not bound there; and no key lands in a text input the user did not open. The keys and
commands are read from the README, so a key documented later without a tour entry fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import IdpConsoleApp
from screens.base import ConsoleScreen
from screens.catalog import CatalogScreen
from screens.command_prompt import CommandPrompt
from screens.context import MODES
from screens.deploy import DeployScreen
from screens.entity import EntityScreen
from screens.help import HelpScreen
from tests.screens.helpers import demo_app, screen_text, until, wait_for_catalog

README = Path(__file__).resolve().parents[2] / "README.md"
SIZES = [(80, 24), (120, 40)]
# How the README writes a key → Textual's key name.
KEY_NAMES = {":": "colon", "/": "slash", "?": "question_mark", "esc": "escape"}
# Keys documented for one mode; elsewhere they may do their own thing or nothing.
CATALOG_KEYS = {"slash", "s", "S", "enter", "escape", "y", "p", "u"}
GLOBAL_KEYS = {"1", "2", "3", "4", "5", "colon", "question_mark", "ctrl+p", "ctrl+q"}


@pytest.fixture(autouse=True)
def fast_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DeployScreen, "SESSION_TIME_SCALE", 0.02)


def key_table() -> list[str]:
    """The README's "Using the TUI" key table, as Textual key names (``1``–``5`` expanded)."""
    text = README.read_text(encoding="utf-8")
    table = text.split("| key | what it does |", 1)[1].split("\n\n", 1)[0]
    keys: list[str] = []
    for row in table.splitlines()[2:]:
        cell = row.split("|")[1]
        if "`1`–`5`" in cell:
            keys += list("12345")
            continue
        keys += [KEY_NAMES.get(key, key) for key in re.findall(r"`([^`]+)`", cell)]
    return keys


def command_list() -> list[str]:
    """The ``:`` commands of the README's ``:`` row, aliases included (``:c``, ``:e``, ``:q``)."""
    text = README.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `:` |"))
    return re.findall(r"`(:[a-z]+)", row.split("|")[2])


def test_the_tour_covers_every_documented_key_and_command() -> None:
    keys = set(key_table())
    assert keys == GLOBAL_KEYS | CATALOG_KEYS, "a key was documented without a tour entry (or removed)"
    assert set(command_list()) == set(COMMAND_CHECKS)


def inputs(app: IdpConsoleApp) -> dict[int, str]:
    return {id(widget): widget.value for widget in app.screen.query(Input)}


def root_of(app: IdpConsoleApp) -> ConsoleScreen:
    screen = app.screen
    assert isinstance(screen, ConsoleScreen), f"{screen} on top"
    return screen


async def back_to_root(pilot: Pilot, mode: str) -> None:
    """esc until the mode's own screen is on top with no text input focused (as a user would)."""
    app = pilot.app
    for _ in range(6):
        on_root = len(app.screen_stack) == 1 and app.current_mode == mode
        if on_root and not isinstance(app.focused, Input):
            return
        await pilot.press("escape")
        await pilot.pause()
    pytest.fail(f"{mode}: esc does not lead back (stack {app.screen_stack}, focus {app.focused})")


async def switch(pilot: Pilot, mode: str) -> None:
    app = pilot.app
    await pilot.press(str(MODES.index(mode) + 1))
    await until(pilot, lambda: app.current_mode == mode and isinstance(app.screen, ConsoleScreen))
    await pilot.pause()
    # On arrival no text input may hold the focus: 1–5, : and ? would be typed into it.
    assert not isinstance(app.focused, Input), f"{mode}: a text input has the focus on arrival"


async def global_key(pilot: Pilot, mode: str, key: str) -> None:
    app = pilot.app
    if key in "12345":
        target = MODES[int(key) - 1]
        await pilot.press(key)
        await until(pilot, lambda: app.current_mode == target)
        await switch(pilot, mode)
        return
    expected = {"colon": CommandPrompt, "question_mark": HelpScreen, "ctrl+p": CommandPalette}[key]
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, expected))
    if key == "colon":
        assert ":catalog [FILTER]" in screen_text(app)  # the commands are listed as you type
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(app.screen, expected))


async def catalog_key(pilot: Pilot, key: str) -> None:
    """The documented effect of a catalog key."""
    app = pilot.app
    screen = app.screen
    assert isinstance(screen, CatalogScreen)
    summary = screen.query_one("#summary")
    if key == "slash":
        await pilot.press("slash", *"kind:api")
        assert screen.query_one("#filter", Input).value == "kind:api"
        await until(pilot, lambda: "of" in str(summary.render()))
        await pilot.press("escape", "escape")  # leave the filter, then clear it
        assert screen.query_one("#filter", Input).value == ""
    elif key in ("s", "S"):
        before = str(summary.render())
        await pilot.press(key)
        await until(pilot, lambda: str(summary.render()) != before)
    elif key == "enter":
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, EntityScreen))
        await pilot.press("y")
        assert app.clipboard == app.screen.entity.ref.canonical
        await pilot.press("escape")  # esc: back
        await until(pilot, lambda: app.screen is screen)
    elif key == "escape":
        await pilot.press("escape")  # nothing to go back to from the catalog itself: no harm done
        assert app.screen is screen
    elif key == "y":
        app.copy_to_clipboard("")
        await pilot.press("y")
        assert app.clipboard.startswith(("component:", "group:", "api:", "user:", "system:", "domain:"))
    elif key == "p":
        panel = screen.query_one("#problems-panel")
        before = panel.has_class("-open")
        await pilot.press("p")
        await until(pilot, lambda: panel.has_class("-open") != before)
        await pilot.press("p")
    elif key == "u":
        await pilot.press("u")  # only for scaffolder registrations (test_first_ten_minutes)
        assert app.screen is screen


async def elsewhere(pilot: Pilot, mode: str, key: str) -> None:
    """A catalog key pressed in another mode: it acts visibly, or it is not bound there."""
    app = pilot.app
    before_text = screen_text(app)
    bound = key in app.screen.active_bindings
    await pilot.press(key)
    await pilot.pause()
    changed = screen_text(app) != before_text or len(app.screen_stack) > 1 or bool(app._notifications)
    assert changed or not bound or key == "escape", f"{mode}: {key} is bound but nothing visible happens"
    app.clear_notifications()
    await back_to_root(pilot, mode)


async def tour(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, IdpConsoleApp)
    await wait_for_catalog(pilot)
    keys = [key for key in key_table() if key != "ctrl+q"]
    for mode in MODES:
        await switch(pilot, mode)
        for key in keys:
            before = inputs(app)
            if key in GLOBAL_KEYS:
                await global_key(pilot, mode, key)
            elif mode == "catalog":
                await catalog_key(pilot, key)
            else:
                await elsewhere(pilot, mode, key)
            # The key itself never ends up as text in an input (a form the key opened may fill
            # its inputs; that is the key's effect, not the key typed).
            char = {"colon": ":", "slash": "/", "question_mark": "?"}.get(key, key if len(key) == 1 else "")
            if char:
                after = inputs(app)
                typed = [i for i, value in after.items() if i in before and value == before[i] + char]
                assert not typed, f"{mode}: {key} was typed into a text input"
            app.clear_notifications()
            await back_to_root(pilot, mode)
            root_of(app)
    await pilot.press("ctrl+q")
    await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_every_documented_key_in_every_mode(size: tuple[int, int]) -> None:
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        await tour(pilot)


# -- the : commands ----------------------------------------------------------------------------
async def _run(pilot: Pilot, text: str) -> None:
    await back_to_root(pilot, pilot.app.current_mode)
    await pilot.press("colon", *text, "enter")
    await pilot.pause(0.1)


def _catalog_filtered(query: str):  # noqa: ANN202
    def check(app: IdpConsoleApp) -> bool:
        screen = app.screen
        return isinstance(screen, CatalogScreen) and screen.query_one("#filter", Input).value == query

    return check


COMMAND_CHECKS = {
    ":catalog": ("catalog kind:api", _catalog_filtered("kind:api")),
    ":c": ("c kind:system", _catalog_filtered("kind:system")),
    ":entity": (
        "entity payment-service",
        lambda app: isinstance(app.screen, EntityScreen) and app.screen.entity.name == "payment-service",
    ),
    ":e": ("e auth-service", lambda app: isinstance(app.screen, EntityScreen)),
    ":deploy": ("deploy", lambda app: app.current_mode == "deploy"),
    ":docs": ("docs", lambda app: app.current_mode == "docs"),
    ":status": ("status", lambda app: app.current_mode == "status"),
    ":problems": (
        "problems",
        lambda app: (
            isinstance(app.screen, CatalogScreen)
            and app.screen.query_one("#problems-panel").has_class("-open")
        ),
    ),
    ":theme": ("theme textual-light", lambda app: app.theme == "textual-light"),
    ":help": ("help", lambda app: isinstance(app.screen, HelpScreen)),
    ":quit": ("quit", lambda app: app.return_code == 0),
    ":q": ("q", lambda app: app.return_code == 0),
}


@pytest.mark.parametrize("command", command_list())
async def test_every_documented_command(command: str) -> None:
    text, check = COMMAND_CHECKS[command]
    app = demo_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        await wait_for_catalog(pilot)
        app.open_entity("payment-service")  # commands work from an entity's page as well
        await pilot.pause()
        await pilot.press("colon", *text, "enter")
        await until(pilot, lambda: check(app))
