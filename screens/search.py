"""One search over the catalog, docs pages and templates; enter opens what was found.

The index (``backends.search.SearchService``) is shared by everything that searches — this screen
and the ``ctrl+p`` palette provider below — through ``shared_search_service(app)``. It is built in
a thread worker the first time it is needed and then follows catalog changes by itself, so results
for a just-registered entity appear without a rebuild. Queries run on the UI thread: they take a
few milliseconds (see ``bench/search.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.widgets import Input, Static

from screens.base import ConsoleScreen
from screens.context import context_of
from widgets.search_results import ResultGroup, ResultRow, SearchResultList

if TYPE_CHECKING:
    from backends.search import SearchHit, SearchResults, SearchService

GROUP_TITLES = {"entity": "Entities", "docs": "Docs pages", "template": "Templates"}
# One hit's label in the ctrl+p palette ("Docs page: Runbook").
HIT_LABELS = {"entity": "Entity", "docs": "Docs page", "template": "Template"}
_KIND = re.compile(r"(?:^|\s)kind:(\S+)")


def shared_search_service(app: App) -> SearchService:
    """The app's one search index (created on first use; indexing starts with ``ensure_indexed``)."""
    service = getattr(app, "search_service", None)
    if service is None:
        from backends.search import SearchService

        service = SearchService(root=context_of(app).workspace.root)
        app.search_service = service  # type: ignore[attr-defined]
    return service


def split_kind(text: str) -> tuple[str, str | None]:
    """``"kind:docs rollback"`` → (``"rollback"``, ``"docs"``): the filter can be typed in the box."""
    match = _KIND.search(text)
    if not match:
        return text, None
    return (text[: match.start()] + " " + text[match.end() :]).strip(), match.group(1).lower()


def open_hit(app: App, hit: SearchHit, *, mode: str) -> None:
    """Open what a result points at: the entity, the docs page at its heading, or the template."""
    target = hit.target
    kind = target.type.value
    if kind == "docs":
        from screens.docs import DocsScreen

        app.push_screen(DocsScreen(target.ref, target.page, target.anchor, mode=mode))
    elif kind == "template":
        opener = getattr(app, "open_template", None)
        if callable(opener):
            opener(target.ref)
        else:
            app.switch_mode("scaffold")
            app.notify(f"Pick “{hit.document.title}” to start it.", timeout=5)
    else:
        context_of(app).open_entity(target.ref)


def describe_target(hit: SearchHit) -> str:
    target = hit.target
    if target.type.value == "docs":
        return f"{target.page}" + (f" › {hit.heading}" if hit.heading else "")
    return target.ref.replace(":default/", ":")


@dataclass
class IndexReady(Message):
    documents: int
    seconds: float


@dataclass
class IndexChanged(Message):
    """The catalog changed and the index followed (posted from the catalog's thread)."""


class SearchScreen(ConsoleScreen):
    """``SearchScreen(query="", mode=...)``: the query box, then results grouped by type.

    Type to search (words match as prefixes; ``kind:docs``, ``kind:template`` or an entity kind such
    as ``kind:api`` filters), ↓ or enter moves to the results, enter opens one.
    """

    MODE = "search"
    HELP = (
        "One search over entities, docs pages and templates. Words match as prefixes; add kind:docs, "
        "kind:template, kind:entity or an entity kind (kind:api) to filter. Enter opens the entity, "
        "the docs page at the matching heading, or the template. / goes back to the query box."
    )
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="search.back"),
        Binding("slash", "focus_query", "Query", id="search.query"),
        Binding("down", "focus_results", "Results", show=False, id="search.results"),
    ]
    DEFAULT_CSS = """
    SearchScreen #query { height: 1; border: none; padding: 0 1; background: $boost; }
    SearchScreen #query:focus { background: $surface-lighten-1; }
    SearchScreen #search-summary { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, query: str = "", *, mode: str = "search", limit: int = 10) -> None:
        super().__init__()
        self._mode = mode
        self._initial = query
        self._limit = limit
        self._hits: list[SearchHit] = []
        self._ready = False
        self._remove_listener: Any = None

    @property
    def mode_name(self) -> str:
        return self._mode

    @property
    def crumb(self) -> str:
        return "search"

    def compose_body(self) -> ComposeResult:
        yield Input(
            value=self._initial,
            placeholder="search entities, docs and templates — e.g. payment rollback, kind:docs kafka",
            id="query",
        )
        yield Static("Indexing the catalog, docs and templates…", id="search-summary")
        yield SearchResultList(id="results")

    def on_mount(self) -> None:
        self.query_one("#query", Input).focus()
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        service = shared_search_service(self.app)
        self._remove_listener = service.add_listener(lambda: self.post_message(IndexChanged()))
        if self.ctx.catalog is not None:
            self._on_catalog(self.ctx.catalog)
        else:
            self.query_one("#search-summary", Static).update("Waiting for the catalog to load…")

    def on_unmount(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()

    def _on_catalog(self, catalog: Any) -> None:
        service = shared_search_service(self.app)
        if service.watched is catalog:
            self._ready = True
            self.run_query()
        else:
            self.build_index(catalog)

    @work(thread=True, exclusive=True, group="search-index", name="build search index", exit_on_error=False)
    def build_index(self, catalog: Any) -> None:
        service = shared_search_service(self.app)
        stats = service.ensure_watching(catalog, self.ctx.workspace)
        self.post_message(IndexReady(len(service.index), stats.seconds if stats else 0.0))

    def on_index_ready(self, message: IndexReady) -> None:
        self._ready = True
        self.run_query()

    def on_index_changed(self, _message: IndexChanged) -> None:
        if self._ready:
            self.run_query()

    # -- querying ----------------------------------------------------------------------------
    @on(Input.Changed, "#query")
    def run_query(self) -> None:
        if not self._ready:
            return
        service = shared_search_service(self.app)
        text, kind = split_kind(self.query_one("#query", Input).value)
        summary = self.query_one("#search-summary", Static)
        results = service.search(text, kind=kind, limit=self._limit)
        self._show(results)
        documents = f"{len(service.index):,} documents indexed"
        if not text.strip():
            summary.update(f"{documents} — type to search")
        elif not results.hits:
            summary.update(
                Text(f"No results for “{text}”" + (f" (kind:{kind})" if kind else ""), style="bold")
            )
        else:
            total = sum(results.totals.values())
            line = f"{total} result{'s' if total != 1 else ''}"
            if results.partial:
                line = f"Nothing has all of “{text}” — showing partial matches · " + line
            summary.update(line)

    def _show(self, results: SearchResults) -> None:
        ranked = results.ranked_groups()
        self._hits = [hit for _, hits in ranked for hit in hits]
        groups: list[ResultGroup] = []
        position = 0
        for result_type, hits in ranked:
            rows = []
            for hit in hits:
                rows.append(
                    ResultRow(
                        key=str(position),
                        title=hit.document.title,
                        subtitle=hit.document.subtitle,
                        snippet=hit.snippet.text,
                        highlights=hit.snippet.highlights,
                        target=describe_target(hit),
                    )
                )
                position += 1
            title = GROUP_TITLES.get(result_type.value, result_type.value)
            groups.append(ResultGroup(title, results.totals.get(result_type, len(rows)), tuple(rows)))
        self.query_one(SearchResultList).set_groups(groups)

    @on(Input.Submitted, "#query")
    def action_focus_results(self) -> None:
        if self._hits:
            self.query_one(SearchResultList).focus()

    @on(SearchResultList.Chosen)
    def _chosen(self, event: SearchResultList.Chosen) -> None:
        hit = self._hits[int(event.key)]
        open_hit(self.app, hit, mode=self.mode_name if self.mode_name != "search" else "docs")

    def action_focus_query(self) -> None:
        self.query_one("#query", Input).focus()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()


class SearchCommands(Provider):
    """``ctrl+p``: the same search as the search screen, each hit opening its target."""

    async def startup(self) -> None:
        app = self.app
        catalog = context_of(app).catalog
        service = shared_search_service(app)
        if catalog is not None and service.watched is not catalog:
            app.run_worker(
                lambda: service.ensure_watching(catalog, context_of(app).workspace),
                thread=True,
                exclusive=True,
                group="search-index",
                name="build search index",
                exit_on_error=False,
            )

    async def search(self, query: str) -> Hits:
        service = shared_search_service(self.app)
        if service.watched is None:
            return
        text, kind = split_kind(query)
        matcher = self.matcher(text)
        for hit in service.search(text, kind=kind, limit=8).hits:
            if hit.target.type.value == "entity" and kind is None:
                continue  # the palette's entity provider lists entities already; once is enough
            label = f"{HIT_LABELS[hit.target.type.value]}: {hit.document.title}"
            yield Hit(
                hit.score,
                matcher.highlight(label),
                lambda hit=hit: open_hit(self.app, hit, mode=_mode_of(self.app)),
                help=hit.snippet.text,
            )

    async def discover(self) -> Hits:
        yield DiscoveryHit(
            "Search everything…",
            lambda: self.app.push_screen(SearchScreen()),
            help="entities, docs, templates",
        )


def _mode_of(app: App) -> str:
    screen = app.screen
    return getattr(screen, "mode_name", "docs")
