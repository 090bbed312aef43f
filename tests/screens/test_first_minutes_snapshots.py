"""Snapshots at 80x24 of what a new user meets first: the ``:`` prompt and the docs mode."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from tests.screens.helpers import demo_app, until, wait_for_catalog

SIZE = (80, 24)


async def _typed_command(pilot: Pilot) -> None:
    await wait_for_catalog(pilot)
    pilot.app.clear_notifications()
    await pilot.press("colon", *"d")
    pilot.app.screen.query_one(Input).cursor_blink = False
    await pilot.pause(0.2)  # the suggester answers asynchronously


async def _docs_first_visit(pilot: Pilot) -> None:
    await wait_for_catalog(pilot)
    pilot.app.clear_notifications()
    await pilot.press("4")
    screen = pilot.app.screen
    sites = screen.query_one("#sites", OptionList)
    await until(pilot, lambda: sites.option_count > 1)
    screen.query_one("#site-filter", Input).cursor_blink = False
    await pilot.pause()


def test_snapshot_command_prompt_with_typed_text_and_completions(snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=_typed_command)


def test_snapshot_docs_on_first_visit(snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=_docs_first_visit)
