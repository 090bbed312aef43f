"""A filter line over a VirtualTable, with a few lines about the highlighted row underneath.

Plain items in (cells to show, text to search, text about it, a key); ``FilteredTable.Chosen``
out with the key when enter is pressed on a row. Filtering keeps rows whose search text holds
every typed word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from widgets.guard import Guarded
from widgets.virtual_table import Column, VirtualTable


@dataclass(frozen=True, slots=True)
class TableItem:
    key: str
    cells: tuple[str, ...]
    search: str  # lowercase text the filter looks in
    about: str = ""


class FilteredTable(Guarded, Vertical):
    DEFAULT_CSS = """
    FilteredTable { height: 1fr; }
    FilteredTable > Input { height: 1; border: none; padding: 0 1; background: $boost; }
    /* Input:focus would otherwise draw its tall border on this one-row input, hiding the text. */
    FilteredTable > Input:focus { border: none; background: $surface-lighten-1; }
    FilteredTable > .filtered-table--about { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    """

    class Chosen(Message):
        """Enter on the row of ``key``."""

        def __init__(self, table: FilteredTable, key: str) -> None:
            super().__init__()
            self.filtered_table = table
            self.key = key

        @property
        def control(self) -> FilteredTable:
            return self.filtered_table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        placeholder: str = "/ filter",
        loading_text: str = "Loading…",
        empty_text: str = "Nothing matches the filter.",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._columns = list(columns)
        self._placeholder = placeholder
        self._loading_text = loading_text
        self._empty_text = empty_text
        self.items: list[TableItem] = []
        self.shown_items: list[TableItem] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self._placeholder)
        yield VirtualTable(self._columns, empty_text=self._loading_text)
        yield Static("", classes="filtered-table--about", markup=False)

    @property
    def table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one(Input)

    def set_items(self, items: Sequence[TableItem]) -> None:
        self.items = list(items)
        self.table.empty_text = self._empty_text
        self._apply_filter()

    def focus_filter(self) -> None:
        self.filter_input.focus()

    def back(self) -> bool:
        """esc: leave the filter, then clear it; False when there was nothing to undo."""
        if self.filter_input.has_focus:
            self.table.focus()
            return True
        if self.filter_input.value:
            self.filter_input.value = ""
            return True
        return False

    @on(Input.Changed)
    def _apply_filter(self) -> None:
        words = self.filter_input.value.lower().split()
        self.shown_items = [i for i in self.items if all(w in i.search for w in words)]
        self.table.set_rows([i.cells for i in self.shown_items], keep_cursor=True)
        self._describe(self.table.cursor_row)

    @on(Input.Submitted)
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    @on(VirtualTable.Highlighted)
    def _highlighted(self, event: VirtualTable.Highlighted) -> None:
        self._describe(event.index)

    @on(VirtualTable.Selected)
    def _selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        self.post_message(self.Chosen(self, self.shown_items[event.index].key))

    def _describe(self, index: int) -> None:
        about = self.shown_items[index].about if 0 <= index < len(self.shown_items) else ""
        self.query_one(".filtered-table--about", Static).update(about)
