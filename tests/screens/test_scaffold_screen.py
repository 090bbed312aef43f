"""The scaffold wizard, driven by keyboard as a user would: pick, fill, review, run."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Log, OptionList, Static

from screens.entity import EntityScreen
from screens.scaffold import ScaffoldScreen
from tests.screens.helpers import demo_app, wait_for_catalog, workspace_app, write_workspace
from widgets.picker_input import PickerInput
from widgets.schema_form import FieldBox, SchemaForm
from widgets.step_list import StepList
from widgets.virtual_table import VirtualTable


# -- helpers ------------------------------------------------------------------------------------


async def open_scaffold(pilot: Pilot) -> ScaffoldScreen:
    await wait_for_catalog(pilot)
    await pilot.press("2")
    screen = pilot.app.screen
    assert isinstance(screen, ScaffoldScreen)
    await wait_until(pilot, lambda: screen.templates)
    return screen


async def wait_until(pilot: Pilot, condition, timeout: float = 20.0) -> None:  # noqa: ANN001
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.05)
    await pilot.pause()


async def choose_template(pilot: Pilot, screen: ScaffoldScreen, name: str) -> None:
    await pilot.press("slash", *name, "enter")
    table = screen.query_one("#templates", VirtualTable)
    assert table.has_focus
    assert screen._visible_templates[table.cursor_row].name == name
    await pilot.press("enter")
    await pilot.pause()
    assert screen.stage == "form"


def form_of(screen: ScaffoldScreen) -> SchemaForm:
    return screen.query_one("#form", SchemaForm)


def box(screen: ScaffoldScreen, name: str) -> FieldBox:
    return next(b for b in form_of(screen).boxes if b.field_name == name)


def error_text(screen: ScaffoldScreen, name: str) -> str:
    field = box(screen, name)
    if not field.has_class("-invalid"):
        return ""
    return str(field.query_one(".field--error", Static).render())


def text_of(screen: ScaffoldScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def review_text(screen: ScaffoldScreen) -> str:
    # The review is a rich Table inside a Static: render it to plain text.
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(screen.query_one("#review", Static).content)
    return console.export_text()


# -- the golden path, end to end ----------------------------------------------------------------


async def test_golden_path_fill_review_run_and_open_the_new_entity() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "microservice-golden-path")

        # Page 1: name has autofocus; the owner picker is fed by the catalog.
        assert form_of(screen).field_names == ["name", "description", "owner", "system"]
        assert screen.focused is box(screen, "name").query_one(Input)
        await pilot.press(*"orders-api", "tab", "tab")
        picker = box(screen, "owner").query_one(PickerInput)
        assert picker.input.has_focus
        await pilot.press(*"team-pay")
        await pilot.pause()
        assert picker.has_class("-open")
        assert picker.suggestions[0].value == "group:default/team-payments"
        await pilot.press("enter")
        assert picker.input.value == "group:default/team-payments"
        await pilot.press("ctrl+n")
        await pilot.pause()

        # Page 2: defaults pre-filled (python, no database, 8080); choose PostgreSQL.
        assert form_of(screen).field_names == ["language", "database", "port"]
        assert screen.model.answers["name"] == "orders-api"
        await pilot.press("tab", "enter")  # open the database select
        await pilot.press("up", "up", "enter")
        await pilot.pause()
        assert screen.model.parameters()["database"] == "postgres"
        await pilot.press("ctrl+n")
        await pilot.pause()

        assert screen.stage == "review"
        review = review_text(screen)
        assert "orders-api" in review and "PostgreSQL" in review and "Python" in review

        await pilot.press("enter")  # the Run button has focus
        await wait_until(pilot, lambda: screen.finished is not None, timeout=60)
        status = text_of(screen, "#run-status")
        assert "Completed" in status, screen.query_one("#log", Log).lines
        steps = screen.query_one("#steps", StepList)
        assert {r.id: r.status for r in steps.rows}["publish"] == "done"
        assert {r.id: r.status for r in steps.rows}["register"] == "done"
        assert all(r.duration is not None for r in steps.rows)

        # The new component is in the live catalog, and the output links point at it.
        assert app.catalog.get("component:orders-api") is not None
        links = screen.query_one("#links", OptionList)
        assert links.option_count == 2
        assert links.has_focus
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, EntityScreen)
        assert app.screen.entity.name == "orders-api"
