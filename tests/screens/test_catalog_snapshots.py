"""Snapshots of the catalog, entity, problems and help screens on a small fixed workspace."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from tests.screens.helpers import wait_for_catalog, workspace_app

FIXTURE = Path(__file__).parent / "fixtures" / "workspace"
SIZE = (120, 30)


def app():  # noqa: ANN201
    return workspace_app(FIXTURE)


async def _loaded(pilot: Pilot) -> None:
    await wait_for_catalog(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


def test_catalog_screen(snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(app(), terminal_size=SIZE, run_before=_loaded)


def test_catalog_filtered(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await _loaded(pilot)
        await pilot.press("slash", *"kind:component", "enter")

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_entity_screen(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await _loaded(pilot)
        await pilot.press("colon", *"e payment-service", "enter")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_problems_panel(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await _loaded(pilot)
        await pilot.press("p")

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)


def test_help_overlay(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await _loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)
