"""The search screen: results as you type, grouped with snippets; enter opens; follows the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from screens.docs import DocsScreen
from screens.entity import EntityScreen
from screens.search import SearchCommands, SearchScreen, shared_search_service, split_kind
from tests.screens.helpers import screen_text, until, wait_for_catalog, workspace_app
from tests.screens.test_docs_screen import ENTITY, make_workspace
from widgets.search_results import SearchResultList


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


async def open_search(pilot, query: str = "") -> SearchScreen:  # noqa: ANN001
    await wait_for_catalog(pilot)
    screen = SearchScreen(query)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen._ready)
    return screen


def result_titles(screen: SearchScreen) -> list[str]:
    return [hit.document.title for hit in screen._hits]


def summary(screen: SearchScreen) -> str:
    return str(screen.query_one("#search-summary", Static).render())


async def test_results_as_you_type_grouped_with_best_group_first(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_search(pilot)
        assert "documents indexed — type to search" in summary(screen)
        await pilot.press(*"payment serv")
        assert result_titles(screen)[0] == "Payment Service"
        text = screen_text(app)
        assert "Entities (" in text
        assert "→ component:payment-service" in text
        await pilot.press(*["backspace"] * len("payment serv"), *"undo")
        assert [h.target.type.value for h in screen._hits] == ["docs"]
        hit = screen._hits[0]
        assert (hit.target.page, hit.target.anchor) == ("runbook.md", "rollback")
        assert "Docs pages (1)" in screen_text(app)
        assert "runbook.md › Rollback" in screen_text(app)


async def test_enter_opens_docs_at_heading_and_entities(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_search(pilot)
        await pilot.press(*"undo", "enter", "enter")
        docs = app.screen
        assert isinstance(docs, DocsScreen)
        await until(pilot, lambda: docs.browser.page is not None and docs.browser.page.path == "runbook.md")
        assert docs.browser.history.current.anchor == "rollback"

        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("slash")
        assert screen.query_one("#query", Input).has_focus
        await pilot.press(*["backspace"] * 4, *"kind:component ledger", "enter", "enter")
        assert isinstance(app.screen, EntityScreen)
        assert app.screen.entity.name == "ledger"


async def test_kind_filter_and_no_results(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_search(pilot, "kind:docs payment")
        assert screen._hits
        assert {h.target.type.value for h in screen._hits} == {"docs"}
        await pilot.press("end", *" xyzzy")  # the query box has the focus, its text selected
        assert {h.target.type.value for h in screen._hits} == {"docs"}  # partial: "payment" only
        assert "Nothing has all of “payment xyzzy” — showing partial matches" in summary(screen)
        await pilot.press(*["backspace"] * len("payment xyzzy"), *"xyzzy")
        assert screen._hits == []
        assert "No results for “xyzzy” (kind:docs)" in summary(screen)


async def test_index_follows_catalog_registrations(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_search(pilot, "quasar")
        assert screen._hits == []
        service = shared_search_service(app)
        indexed = len(service.index)
        new_file = workspace / "catalog" / "quasar.yaml"
        new_file.write_text(ENTITY.format(name="quasar-service", title="Quasar", ref="dir:./missing"))
        app.catalog.register(new_file)  # what the scaffolder's catalog:register does
        await until(pilot, lambda: result_titles(screen) == ["Quasar"])
        assert len(service.index) == indexed + 1  # one document added, nothing rebuilt
        assert service.watched is app.catalog


async def test_palette_provider_uses_the_same_index(workspace: Path) -> None:
    app = workspace_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_search(pilot)
        provider = SearchCommands(app.screen)
        await provider.startup()
        hits = [hit async for hit in provider.search("undo")]
        assert hits and "Runbook" in str(hits[0].match_display)
        hits[0].command()
        await pilot.pause()
        assert isinstance(app.screen, DocsScreen)


def test_split_kind() -> None:
    assert split_kind("kind:docs rollback") == ("rollback", "docs")
    assert split_kind("payment kind:API") == ("payment", "api")
    assert split_kind("plain words") == ("plain words", None)


def test_results_widget_skips_headings() -> None:
    from widgets.search_results import ResultGroup, ResultRow, result_prompt

    row = ResultRow("0", "Title", "sub", "a match here", ((2, 7),), "somewhere")
    prompt = result_prompt(row)
    assert prompt.plain.splitlines() == ["Title  sub  → somewhere", "  a match here"]
    assert ResultGroup("Entities", 3, (row,)).total == 3
    assert SearchResultList  # imported for its messages in the screen tests above


def test_snapshot_grouped_results(workspace: Path, snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        screen = await open_search(pilot)
        screen.query_one("#query", Input).cursor_blink = False
        await pilot.press(*"pay")
        # The picture is of both groups: wait for them (the docs pages may be indexed after the
        # entities), not for a frame.
        await until(pilot, lambda: summary(screen) == "2 results", what="both result groups")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(workspace_app(workspace), terminal_size=(110, 30), run_before=run_before)
