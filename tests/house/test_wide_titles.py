"""Wide (CJK) titles keep the table's columns in place: widths are terminal cells, not characters."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import App, ComposeResult

from widgets.virtual_table import Column, VirtualTable

ROWS = [
    ("payments", "team-a", "Handles card payments"),
    ("決済サービス", "team-b", "カード決済を処理するサービスです"),
    ("订单服务订单服务订单服务订单服务", "team-c", "处理订单"),
]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield VirtualTable(
            [Column("name", "Name", 14), Column("owner", "Owner", 8), Column("title", "Title", 20)]
        )


async def test_wide_titles_keep_every_column_where_the_header_puts_it() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(VirtualTable)
        table.set_rows(ROWS)
        await pilot.pause()
        lines = [table.render_line(y).text for y in range(len(ROWS) + 1)]
    header_owner = lines[0].index("Owner")
    for line, (_, owner, _) in zip(lines[1:], ROWS, strict=True):
        # The owner column starts at the same cell in every row, and no row is wider than the table.
        assert cell_len(line[: line.index(owner)]) == cell_len(lines[0][:header_owner]), line
        assert cell_len(line) == cell_len(lines[0]), line
    assert "…" in lines[3]  # the long name was cut to its column, with an ellipsis
