"""A table that renders only the rows on screen, so 100k rows cost the same as 100.

It takes plain data — column definitions and rows of strings — and knows nothing of entities.
Replacing the rows is O(1) for the widget (it keeps a reference to the sequence); painting touches
only the visible lines (the Line API: ``render_line``). A DataTable refilled per keystroke was
measured at 0.6–2.6 s per keystroke at 10k rows; this is why the catalog does not use one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from widgets.guard import Guarded

Row = Sequence[str]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int  # preferred cells; the last column also takes what is left


def _fit(text: str, width: int) -> str:
    """Pad or cut ``text`` to exactly ``width`` terminal cells (ellipsis when cut).

    Cells, not characters: a CJK character or an emoji takes two cells, and counting it as one
    pushed every later column of that row out of line with the header.
    """
    if width <= 0:
        return ""
    cells = cell_len(text)
    if cells > width:
        # set_cell_size pads with a space when a wide character would straddle the cut.
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    return text + " " * (width - cells)


class VirtualTable(Guarded, ScrollView, can_focus=True):
    """Rows of text under a sticky header; ``enter`` selects, the cursor follows the keyboard."""

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        overflow-x: hidden;
    }
    VirtualTable > .virtual-table--header {
        text-style: bold;
        background: $panel;
        color: $text;
    }
    VirtualTable > .virtual-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    VirtualTable:blur > .virtual-table--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: none;
    }
    VirtualTable > .virtual-table--empty {
        color: $text-muted;
        text-style: italic;
    }
    """
    COMPONENT_CLASSES = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--empty",
    }
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "first", "First", show=False, id="table.first"),
        Binding("end,G", "last", "Last", show=False, id="table.last"),
        Binding("enter", "select", "Open", id="table.select"),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True)

    class _RowMessage(Message):
        def __init__(self, table: VirtualTable, index: int) -> None:
            super().__init__()
            self.table = table
            self.index = index

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Selected(_RowMessage):
        """Enter was pressed (or a row double-clicked) on row ``index`` of the current rows."""

    class Highlighted(_RowMessage):
        """The cursor moved to row ``index``."""

    class HeaderClicked(Message):
        """A column header was clicked (the screen decides what sorting means)."""

        def __init__(self, table: VirtualTable, column: Column) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty_text: str = "Nothing to show.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: list[Column] = list(columns)
        self._rows: Sequence[Row] = ()
        self.empty_text = empty_text
        self.sort_key: str | None = None
        self.sort_descending = False

    # -- data ---------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    def set_rows(self, rows: Sequence[Row], *, keep_cursor: bool = False) -> None:
        """Show ``rows`` (kept by reference: do not mutate it afterwards)."""
        self._rows = rows
        # One header line plus the rows; the width is the viewport (columns are fitted).
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        if not keep_cursor:
            self.scroll_to(y=0, animate=False)
            self.cursor_row = 0
        else:
            self.cursor_row = min(self.cursor_row, max(len(rows) - 1, 0))
        self.refresh()

    def replace_row(self, index: int, row: Row) -> None:
        """Put ``row`` at ``index`` of a list given to `set_rows` and repaint that line only (when it
        is on screen): a live view updates one row without refilling the table."""
        rows = self._rows
        if not isinstance(rows, list) or not 0 <= index < len(rows):
            raise IndexError(f"no row {index} to replace (set_rows with a list first)")
        rows[index] = row
        line = index - int(self.scroll_offset.y) + 1  # on screen, below the header
        if 1 <= line < self.scrollable_content_region.height:
            self.refresh_line(index + 1)  # ScrollView's refresh_line takes the virtual y

    def set_sort_indicator(self, key: str | None, descending: bool) -> None:
        """Mark column ``key`` as the sort column in the header (the rows are the caller's)."""
        self.sort_key, self.sort_descending = key, descending
        # The header is the first line of the viewport at every scroll position. ScrollView's
        # refresh_line takes a virtual y, so refresh_line(0) of a scrolled table marked a line
        # above the viewport and the header kept its old indicator: repaint the screen line.
        self.refresh(Region(0, 0, self.size.width, 1))

    # -- geometry -----------------------------------------------------------------------------
    def _widths(self) -> list[int]:
        """Column widths for the current size: preferred widths, scaled down to fit if needed.

        Extra room goes to the last column; when the terminal is narrower than the preferred
        total, every column shrinks in proportion (never below 3 cells) so none is dropped.
        """
        available = max(self.scrollable_content_region.width, 10)
        gaps = len(self.columns) - 1
        preferred = [c.width for c in self.columns]
        room = available - gaps
        if sum(preferred) <= room:
            return [*preferred[:-1], room - sum(preferred[:-1])]
        scale = room / sum(preferred)
        widths = [max(int(w * scale), 3) for w in preferred]
        widths[-1] = max(room - sum(widths[:-1]), 3)
        return widths

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self._rows) + 1)

    # -- rendering ----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._render_header(width)
        index = int(self.scroll_offset.y) + y - 1
        if not self._rows:
            if y == 1:
                style = self.get_component_rich_style("virtual-table--empty")
                return Strip([Segment(_fit(f" {self.empty_text}", width), style)], width)
            return Strip.blank(width, self.rich_style)
        if index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        return self._render_row(index, width)

    def _render_header(self, width: int) -> Strip:
        style = self.get_component_rich_style("virtual-table--header")
        cells = []
        for column, cell_width in zip(self.columns, self._widths(), strict=True):
            label = column.label
            if column.key == self.sort_key:
                label += " ▼" if self.sort_descending else " ▲"
            cells.append(_fit(label, cell_width))
        return Strip([Segment(_fit(" ".join(cells), width), style)], width)

    def _render_row(self, index: int, width: int) -> Strip:
        row = self._rows[index]
        text = " ".join(_fit(cell, w) for cell, w in zip(row, self._widths(), strict=False))
        if index == self.cursor_row:
            style = self.get_component_rich_style("virtual-table--cursor")
        else:
            style = self.rich_style
        return Strip([Segment(_fit(text, width), style)], width)

    # The header is drawn by render_line(0) at every scroll position, so the scrollable area
    # is one line shorter than the widget: keep the cursor inside rows 1..height-1.
    @property
    def _page_rows(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    # -- cursor -------------------------------------------------------------------------------
    def watch_cursor_row(self, old: int, new: int) -> None:
        if not self._rows:
            return
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + self._page_rows:
            self.scroll_to(y=new - self._page_rows + 1, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(self, new))

    def move_cursor(self, row: int) -> None:
        if self._rows:
            self.cursor_row = max(0, min(row, len(self._rows) - 1))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * self._page_rows)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def action_select(self) -> None:
        if self._rows:
            self.post_message(self.Selected(self, self.cursor_row))

    # -- mouse --------------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            self._click_header(event.x)
            return
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < len(self._rows):
            self.cursor_row = index
            if event.chain >= 2:
                self.post_message(self.Selected(self, index))

    def _click_header(self, x: int) -> None:
        left = 0
        for column, cell_width in zip(self.columns, self._widths(), strict=True):
            if left <= x < left + cell_width + 1:
                self.post_message(self.HeaderClicked(self, column))
                return
            left += cell_width + 1
