"""The virtual table as a user sees it: header, rows and sort indicator at any scroll position."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Static

from screens.catalog import CatalogScreen
from tests.screens.helpers import screen_text, until, wait_for_catalog, workspace_app, write_workspace
from widgets.virtual_table import Column, VirtualTable

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  title: {title}
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


class _TableApp(App[None]):
    """One table filling the terminal: what a screen with a sortable list would show."""

    def compose(self) -> ComposeResult:
        yield VirtualTable([Column("name", "Name", 12), Column("size", "Size", 6)])


async def test_the_sort_indicator_appears_in_the_header_of_a_scrolled_table() -> None:
    app = _TableApp()
    async with app.run_test(size=(30, 8)) as pilot:
        table = app.query_one(VirtualTable)
        rows = [(f"row-{i:02}", str(i)) for i in range(30)]
        table.set_rows(rows)
        table.focus()
        await until(pilot, lambda: table.max_scroll_y > 0, what="the rows to be laid out")
        await pilot.press("end")
        await until(pilot, lambda: table.scroll_offset.y > 0, what="the table to scroll")
        before = screen_text(app).splitlines()
        assert before[0].split() == ["Name", "Size"]

        # The rows were already in this order: only the header changes.
        table.set_sort_indicator("name", descending=False)
        await until(pilot, lambda: "Name ▲" in screen_text(app), what="the sort indicator")
        after = screen_text(app).splitlines()
        assert after[0].split() == ["Name", "▲", "Size"]
        assert after[1:] == before[1:]  # the body is untouched: the same rows at the same place
        assert after[-1].split() == ["row-29", "29"]


async def test_sorting_a_scrolled_catalog_shows_the_indicator_and_the_sorted_rows(tmp_path: Path) -> None:
    # Names and titles sort in opposite orders, so every visible row changes with the sort.
    files = {f"c{i:02}.yaml": COMPONENT.format(name=f"svc-{i:02}", title=f"T{99 - i:02}") for i in range(40)}
    write_workspace(tmp_path, files)
    app = workspace_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_catalog(pilot)
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        table = screen.query_one("#entities", VirtualTable)
        for _ in range(3):
            await pilot.press("pagedown")
        await until(pilot, lambda: table.scroll_offset.y > 0, what="the table to scroll")
        summary = screen.query_one("#summary", Static)

        for key, mark, names in (
            ("S", "NAMESPACE/NAME ▼", [f"svc-{i:02}" for i in reversed(range(40))]),
            ("s", "TITLE ▲", [f"svc-{i:02}" for i in reversed(range(40))]),
            ("S", "TITLE ▼", [f"svc-{i:02}" for i in range(40)]),
        ):
            await pilot.press(key)
            wanted = f"sorted by {mark.lower()}"
            await until(pilot, lambda w=wanted: w in str(summary.render()), what=wanted)
            await until(pilot, lambda mark=mark: mark in screen_text(app), what=f"the header {mark}")
            top = int(table.scroll_offset.y)
            assert top > 0, "the sort kept the scroll position"
            lines = screen_text(app).splitlines()
            header = next(i for i, line in enumerate(lines) if mark in line)
            body = lines[header + 1 : header + table.size.height]
            shown = [line.split()[1] for line in body if line.strip()]
            assert shown == names[top : top + len(shown)]
            assert len(shown) == table.size.height - 1  # no blank or stale line in the body
