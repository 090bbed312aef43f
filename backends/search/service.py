"""The workspace search: one index fed by the catalog, docs and templates, kept up to date.

``SearchService.watch(catalog)`` subscribes to catalog changes and updates only the entities that
changed (their entity document and their docs pages), so a ``catalog:register`` from the scaffolder
shows up in search without a rebuild.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.docs.location import Checkout
from backends.search.index import SearchIndex
from backends.search.model import SearchResults
from backends.search.sources import docs_documents, entity_document, entity_ref_of, template_document


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What a (re)index did, for logs and the bench."""

    entities: int
    pages: int
    templates: int
    seconds: float


class SearchService:
    """Search over a workspace. Thread-safe: index in a worker, query from the UI thread."""

    def __init__(
        self,
        index: SearchIndex | None = None,
        *,
        root: Path | None = None,
        include_docs: bool = True,
        checkout: Checkout | None = None,
    ) -> None:
        """``root``: the workspace directory, for entity positions relative to it (see docs)."""
        self.index = index or SearchIndex()
        self.root = root
        self.include_docs = include_docs
        self._checkout = checkout
        self._claimed_roots: dict[Path, str] = {}  # docs directory → entity whose pages it holds
        self._unsubscribe: Callable[[], None] | None = None
        self._watched: Any = None
        self._watch_lock = threading.Lock()
        self._listeners: list[Callable[[], object]] = []  # what they return is ignored

    def index_entities(self, entities: Iterable[Any]) -> IndexStats:
        """Add (or replace) entities and their docs; templates among them become template results."""
        started = time.perf_counter()
        with _collector_paused():
            return self._index_entities(list(entities), started)

    def _index_entities(self, entities: list[Any], started: float) -> IndexStats:
        documents = [entity_document(entity) for entity in entities]
        templates = sum(1 for doc in documents if doc.type.value == "template")
        pages = 0
        if self.include_docs:
            for entity in entities:
                self._drop_docs(entity_ref_of(entity))
            page_docs = list(
                docs_documents(entities, root=self.root, checkout=self._checkout, claimed=self._claimed_roots)
            )
            documents.extend(page_docs)
            pages = len(page_docs)
        self.index.add_many(documents)
        return IndexStats(len(entities) - templates, pages, templates, time.perf_counter() - started)

    def index_templates(self, templates: Iterable[Any]) -> int:
        """Add templates from a non-catalog loader (objects or mappings with name/title/…)."""
        return self.index.add_many(template_document(t) for t in templates)

    def index_workspace_templates(self, workspace: Any, catalog: Any = None) -> list[str]:
        """Add every template the scaffolder knows (golden paths, template sources, catalog).

        Returns the scaffolder's problems (unreadable templates) for the caller to show. Catalog
        Template entities get the same document id either way, so nothing is indexed twice.
        """
        from backends.scaffolder.template import TemplateLibrary

        library = TemplateLibrary.discover(workspace, catalog)
        self.index_templates(library.list())
        return list(library.problems)

    def remove_entities(self, refs: Iterable[Any]) -> int:
        """Drop entities (and their docs pages) by entity, ``EntityRef`` or ref string."""
        removed = 0
        for item in refs:
            ref = entity_ref_of(item)
            self._drop_docs(ref)
            removed += self.index.remove_group(ref)
        return removed

    def on_catalog_changed(self, change: Any) -> None:
        """Apply a ``CatalogChanged(added, removed)``: removals first, then (re)additions."""
        removed = list(getattr(change, "removed", ()) or ())
        added = list(getattr(change, "added", ()) or ())
        if removed:
            self.remove_entities(removed)
        if added:
            self.index_entities(added)
        for listener in list(self._listeners):
            listener()

    def add_listener(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call ``callback`` (in the changing thread) after each incremental update; returns a remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    @property
    def watched(self) -> Any:
        """The catalog this service indexes and follows (None before ``ensure_watching``)."""
        return self._watched

    def ensure_watching(self, catalog: Any, workspace: Any = None) -> IndexStats | None:
        """Index ``catalog`` (and the workspace's templates) once and follow it; idempotent.

        A different catalog object (a reload) replaces everything. Safe to call from several
        workers at once: the others wait and return None.
        """
        with self._watch_lock:
            if self._watched is catalog:
                return None
            self.stop()
            self.index.clear()
            self._claimed_roots.clear()
            started = time.perf_counter()
            stats = self.index_entities(_entities_of(catalog))
            result = catalog.subscribe(self.on_catalog_changed)
            self._unsubscribe = result if callable(result) else None
            templates = 0
            if workspace is not None:
                try:
                    before = len(self.index)
                    self.index_workspace_templates(workspace, catalog)
                    templates = len(self.index) - before
                except Exception:  # noqa: BLE001 - templates are a bonus; entities and docs still work
                    templates = 0
            self._watched = catalog
            return IndexStats(
                stats.entities, stats.pages, stats.templates + templates, time.perf_counter() - started
            )

    def watch(self, catalog: Any) -> Callable[[], None]:
        """Index ``catalog.entities`` now and follow its changes; returns a function to stop."""
        self.index_entities(_entities_of(catalog))
        result = catalog.subscribe(self.on_catalog_changed)
        self._unsubscribe = result if callable(result) else None
        return self.stop

    def stop(self) -> None:
        """Stop following the catalog (the index keeps what it has)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def search(self, query: str, *, kind: str | None = None, limit: int = 10) -> SearchResults:
        """See ``SearchIndex.search``."""
        return self.index.search(query, kind=kind, limit=limit)

    def _drop_docs(self, ref: str) -> None:
        """Remove an entity's pages and release its docs directories so they can be re-read."""
        for doc in self.index.documents(ref):
            if doc.type.value == "docs":
                self.index.remove(doc.id)
        for root in [root for root, owner in self._claimed_roots.items() if owner == ref]:
            del self._claimed_roots[root]


def _entities_of(catalog: Any) -> list[Any]:
    entities = catalog.entities
    if callable(entities):
        entities = entities()
    if isinstance(entities, dict):
        entities = entities.values()
    return list(entities)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the index allocates its postings.

    Building allocates hundreds of thousands of small lists and tuples that all survive; the
    collector would re-walk them again and again for nothing. Reference counting still frees
    garbage meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
