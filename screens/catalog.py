"""The catalog: every entity in a virtual list, filtered as you type, with a problems panel."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import TYPE_CHECKING, ClassVar, TypeVar, overload

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from screens.base import ConsoleScreen
from widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from backends.catalog import Catalog
    from backends.catalog.catalog import CatalogSnapshot
    from backends.catalog.model import Entity, Problem

ENTITY_COLUMNS: tuple[Column, ...] = (
    Column("kind", "KIND", 10),
    Column("name", "NAMESPACE/NAME", 30),
    Column("title", "TITLE", 26),
    Column("owner", "OWNER", 16),
    Column("lifecycle", "LIFECYCLE", 12),
    Column("type", "TYPE", 11),
    Column("system", "SYSTEM", 18),
)
SORT_KEYS: tuple[str, ...] = tuple(c.key for c in ENTITY_COLUMNS)

PROBLEM_COLUMNS: tuple[Column, ...] = (
    Column("severity", "SEVERITY", 8),
    Column("where", "FILE:LINE", 44),
    Column("message", "MESSAGE", 40),
)

T = TypeVar("T")

FILTER_HINT = "/ filter — kind:component owner:team-a lifecycle:production tag:python system:x  free text"


class _EntityView(Sequence[T]):
    """``items`` seen through a list of positions: the filtered, sorted rows without copying them."""

    __slots__ = ("_items", "_order")

    def __init__(self, items: Sequence[T], order: Sequence[int]) -> None:
        self._items, self._order = items, order

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._items[i] for i in self._order[index]]
        return self._items[self._order[index]]


class _Rows(Sequence[tuple[str, ...]]):
    """Each entity's row, made the first time it is shown: making all of them before the list could
    appear took seconds at 100k entities, and a screen shows forty. Read on the UI thread only."""

    __slots__ = ("_entities", "_made")

    def __init__(self, entities: Sequence[Entity]) -> None:
        self._entities = entities
        self._made: dict[int, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self._entities)

    @overload
    def __getitem__(self, index: int) -> tuple[str, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, ...]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, ...] | list[tuple[str, ...]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = self._made.get(index)
        if row is None:
            row = self._made[index] = entity_row(self._entities[index])
        return row


@dataclass
class _RowsReady(Message):
    catalog: Catalog
    snapshot: CatalogSnapshot  # what the rows were made from
    entities: list[Entity]
    rows: Sequence[tuple[str, ...]]
    sort_key: str
    descending: bool
    order: Sequence[int]


@dataclass
class _SortReady(Message):
    snapshot: CatalogSnapshot  # whose positions ``order`` holds
    sort_key: str
    descending: bool
    order: Sequence[int]


def entity_row(entity: Entity) -> tuple[str, ...]:
    name = entity.name if entity.namespace == "default" else f"{entity.namespace}/{entity.name}"
    return (
        entity.kind,
        name,
        entity.title,
        entity.owner,
        entity.lifecycle,
        entity.type,
        entity.system,
    )


def problem_row(problem: Problem) -> tuple[str, ...]:
    return (problem.severity.value, str(problem.position), problem.message.replace("\n", " "))


class CatalogScreen(ConsoleScreen):
    MODE = "catalog"
    HELP = (
        "Every entity of the workspace catalog. Type / and a query to filter: facets "
        "kind: owner: lifecycle: tag: system: type: namespace: plus free words matched against "
        "name, title, description and tags. Enter opens an entity; s / S change the sort."
    )
    BINDINGS: ClassVar = [
        Binding("slash", "focus_filter", "Filter", id="catalog.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="catalog.clear_filter"),
        Binding("s", "cycle_sort", "Sort", id="catalog.sort"),
        Binding("S", "reverse_sort", "Reverse", show=False, id="catalog.reverse_sort"),
        Binding("p", "toggle_problems", "Problems", id="catalog.problems"),
        Binding("y", "copy_ref", "Copy ref", id="catalog.copy_ref"),
        Binding("r", "reload", "Reload", id="catalog.reload"),
    ]
    DEFAULT_CSS = """
    CatalogScreen #filter { height: 1; border: none; padding: 0 1; background: $boost; }
    CatalogScreen #filter:focus { background: $surface-lighten-1; }
    CatalogScreen #summary { height: 1; padding: 0 1; color: $text-muted; }
    CatalogScreen #problems-panel { height: 14; border-top: solid $error; display: none; }
    CatalogScreen #problem-detail { height: 3; padding: 0 1; color: $text-muted; }
    CatalogScreen #problems-panel.-open { display: block; }
    CatalogScreen #problems-title { height: 1; padding: 0 1; text-style: bold; }
    """

    def __init__(self, initial_filter: str = "") -> None:
        super().__init__()
        self._initial_filter = initial_filter
        self._catalog: Catalog | None = None
        self._snapshot: CatalogSnapshot | None = None
        self._entities: list[Entity] = []
        self._rows: Sequence[tuple[str, ...]] = []  # aligned with _entities
        self._sorted_positions: Sequence[int] = []
        self._visible: _EntityView = _EntityView([], [])
        self._problems: list[Problem] = []
        self._sort_index = 1  # by name
        self._descending = False
        self._progress = "Loading catalog…"

    def compose_body(self) -> ComposeResult:
        yield Input(value=self._initial_filter, placeholder=FILTER_HINT, id="filter")
        yield Static(self._progress, id="summary")
        yield VirtualTable(ENTITY_COLUMNS, empty_text="Loading catalog…", id="entities")
        with Vertical(id="problems-panel"):
            yield Static("Problems", id="problems-title")
            yield VirtualTable(PROBLEM_COLUMNS, empty_text="No problems.", id="problems")
            yield Static("", id="problem-detail")

    def on_mount(self) -> None:
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        self.query_one("#entities", VirtualTable).focus()
        if self.ctx.catalog is not None:
            self._on_catalog(self.ctx.catalog)

    # -- data ---------------------------------------------------------------------------------
    def _on_catalog(self, catalog: Catalog) -> None:
        # Rows and the sort order cost seconds at 100k entities: prepare them off the UI thread.
        self._prepare_rows(catalog, SORT_KEYS[self._sort_index], self._descending)

    @work(thread=True, exclusive=True, group="catalog-rows", name="prepare catalog rows", exit_on_error=False)
    def _prepare_rows(self, catalog: Catalog, sort_key: str, descending: bool) -> None:
        snapshot = catalog.snapshot()
        entities = snapshot.entities  # never changed once published
        # A warm start's snapshot comes with the default order: no sort before the list shows.
        order = snapshot.sorted_positions(sort_key, descending)
        self.post_message(
            _RowsReady(catalog, snapshot, entities, _Rows(entities), sort_key, descending, order)
        )

    @on(_RowsReady)
    def _rows_ready(self, message: _RowsReady) -> None:
        self._catalog, self._snapshot = message.catalog, message.snapshot
        self._entities, self._rows = message.entities, message.rows
        self._problems = list(message.snapshot.problems)
        self._apply_sorted(message.sort_key, message.descending, message.order)
        if (message.sort_key, message.descending) != (SORT_KEYS[self._sort_index], self._descending):
            self._resort()  # the sort changed while these rows were prepared
        problems = self.query_one("#problems", VirtualTable)
        problems.set_rows([problem_row(p) for p in self._problems])
        self.query_one("#entities", VirtualTable).empty_text = "No entity matches the filter."
        self._refresh_problem_title()

    def show_progress(self, text: str) -> None:
        """Loading progress from the app's worker (shown until the catalog arrives)."""
        self._progress = text
        if self._catalog is None and self.is_mounted:
            self.query_one("#summary", Static).update(Text(text))

    def _resort(self) -> None:
        if self._snapshot is not None:
            self._sort_rows(self._snapshot, SORT_KEYS[self._sort_index], self._descending)

    @work(thread=True, exclusive=True, group="catalog-sort", name="sort catalog", exit_on_error=False)
    def _sort_rows(self, snapshot: CatalogSnapshot, sort_key: str, descending: bool) -> None:
        order = snapshot.sorted_positions(sort_key, descending)
        self.post_message(_SortReady(snapshot, sort_key, descending, order))

    @on(_SortReady)
    def _sort_ready(self, message: _SortReady) -> None:
        if message.snapshot is self._snapshot:  # else new rows, sorted as asked, are on their way
            self._apply_sorted(message.sort_key, message.descending, message.order)

    def _apply_sorted(self, sort_key: str, descending: bool, order: Sequence[int]) -> None:
        self._sorted_positions = order
        self.query_one("#entities", VirtualTable).set_sort_indicator(sort_key, descending)
        self._apply_filter(keep_cursor=True)

    def _apply_filter(self, *, keep_cursor: bool = False) -> None:
        if self._catalog is None or self._snapshot is None:
            return
        text = self.query_one("#filter", Input).value
        order = self._sorted_positions
        if text.strip():
            # Mark the matches, then walk the presorted positions: the current sort order is kept
            # without re-sorting, and nothing per-entity is allocated beyond one byte.
            mask = bytearray(len(self._entities))
            # Filter the snapshot the rows came from: its positions are our rows, also while a
            # registration has published the next one and our rows are being prepared again.
            positions = self._snapshot.filter_positions(text)
            # A C-level loop: set one byte per match.
            deque(map(mask.__setitem__, positions, repeat(1)), maxlen=0)
            order = list(compress(order, map(mask.__getitem__, order)))
        self._visible = _EntityView(self._entities, order)
        table = self.query_one("#entities", VirtualTable)
        table.set_rows(_EntityView(self._rows, order), keep_cursor=keep_cursor)
        self._refresh_summary()

    def _refresh_summary(self) -> None:
        assert self._catalog is not None
        total = len(self._entities)
        shown = len(self._visible)
        errors = sum(1 for p in self._problems if p.severity.value == "error")
        warnings = len(self._problems) - errors
        column = ENTITY_COLUMNS[self._sort_index].label.lower()
        order = "▼" if self._descending else "▲"
        matches = f"{shown} of {total} entities" if shown != total else f"{total} entities"
        summary = f"{matches} · sorted by {column} {order}"
        if self._problems:
            summary += f" · {_count(errors, 'error')}, {_count(warnings, 'warning')} (p)"
        self.query_one("#summary", Static).update(summary)

    def _refresh_problem_title(self) -> None:
        title = f"Problems ({len(self._problems)}) — enter opens the entity, p closes"
        self.query_one("#problems-title", Static).update(title)

    # -- events -------------------------------------------------------------------------------
    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._apply_filter()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one("#entities", VirtualTable).focus()

    @on(VirtualTable.Selected, "#entities")
    def _entity_selected(self, event: VirtualTable.Selected) -> None:
        self.ctx.open_entity(self._visible[event.index].ref.canonical)

    @on(VirtualTable.Selected, "#problems")
    def _problem_selected(self, event: VirtualTable.Selected) -> None:
        problem = self._problems[event.index]
        if problem.ref and self._catalog and self._catalog.get(problem.ref):
            self.ctx.open_entity(problem.ref)
        else:
            self.notify(str(problem), title="Problem", timeout=8, markup=False)

    @on(VirtualTable.Highlighted, "#problems")
    def _problem_highlighted(self, event: VirtualTable.Highlighted) -> None:
        if event.index < len(self._problems):
            self.query_one("#problem-detail", Static).update(Text(str(self._problems[event.index])))

    @on(VirtualTable.HeaderClicked, "#entities")
    def _header_clicked(self, event: VirtualTable.HeaderClicked) -> None:
        index = SORT_KEYS.index(event.column.key)
        if index == self._sort_index:
            self._descending = not self._descending
        else:
            self._sort_index, self._descending = index, False
        if self._catalog is not None:
            self._resort()

    # -- actions ------------------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        if filter_input.has_focus:
            self.query_one("#entities", VirtualTable).focus()
        elif filter_input.value:
            filter_input.value = ""
        elif self.query_one("#problems-panel").has_class("-open"):
            self.action_toggle_problems()

    def set_filter(self, text: str) -> None:
        self.query_one("#filter", Input).value = text

    def action_cycle_sort(self) -> None:
        self._sort_index = (self._sort_index + 1) % len(SORT_KEYS)
        self._descending = False
        if self._catalog is not None:
            self._resort()

    def action_reverse_sort(self) -> None:
        self._descending = not self._descending
        if self._catalog is not None:
            self._resort()

    def action_toggle_problems(self) -> None:
        panel = self.query_one("#problems-panel")
        panel.toggle_class("-open")
        target = "#problems" if panel.has_class("-open") else "#entities"
        self.query_one(target, VirtualTable).focus()

    def action_copy_ref(self) -> None:
        table = self.query_one("#entities", VirtualTable)
        if self._visible and table.cursor_row < len(self._visible):
            ref = self._visible[table.cursor_row].ref.canonical
            self.app.copy_to_clipboard(ref)
            self.notify(f"Copied {ref}", timeout=3)

    async def action_reload(self) -> None:
        # run_action is a coroutine: without the await the reload never ran.
        await self.app.run_action("reload_catalog")

    @property
    def is_ready(self) -> bool:
        """The catalog has arrived and its rows are on screen."""
        return self._catalog is not None


def _count(number: int, noun: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
