"""The catalog: every entity of a workspace, its problems, relations, and a fast filter.

``load_catalog(workspace)`` reads each configured source through the one reading pipeline
(``reader.read_documents``), keeps the valid entities (the first of two with the same ref wins),
turns every error into a ``Problem`` with file:line, links relations in both directions, and builds
the filter index. It blocks; the TUI calls it in a worker and forwards the events.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from backends.catalog import relations as relation_rules
from backends.catalog import validation
from backends.catalog.events import (
    CatalogChanged,
    CatalogEvent,
    CatalogLoaded,
    SourceFailed,
    SourceLoaded,
    SourceStarted,
)
from backends.catalog.model import Entity, Problem, Relation, Severity, SourcePosition
from backends.catalog.query import Query, SearchIndex, parse_query
from backends.catalog.reader import DocumentResult, ReadOptions, read_documents
from backends.catalog.refs import DEFAULT_NAMESPACE, EntityRefError, parse_entity_ref
from backends.catalog.registrations import RegistrationStore
from backends.catalog.relations import OWNED_BY, REVERSE
from backends.catalog.sources import SourceFiles, source_from_config
from backends.workspace import Workspace

# When a name is looked up without a kind, the kinds people most often mean come first.
_KIND_PREFERENCE = (
    "component",
    "api",
    "resource",
    "system",
    "domain",
    "group",
    "user",
    "template",
    "location",
)


class _RelationCache(dict[tuple[str, str], Relation]):
    """One shared ``Relation`` per (type, target), made on first use."""

    def __missing__(self, key: tuple[str, str]) -> Relation:
        relation = self[key] = Relation(*key)
        return relation


class Catalog:
    """Entities, problems and relations of one workspace; safe to read from any thread.

    ``entities`` keeps load order; ``by_ref`` maps canonical refs (``component:default/x``) to
    entities; ``problems`` holds errors and warnings, each with file:line.
    """

    def __init__(self) -> None:
        self.entities: list[Entity] = []
        self.by_ref: dict[str, Entity] = {}
        self.problems: list[Problem] = []
        self._read_problems: list[Problem] = []
        self._index = SearchIndex([])
        self._subscribers: list[Callable[[CatalogChanged], None]] = []
        self._lock = threading.RLock()
        self._relation_cache = _RelationCache()
        # Set by load_catalog: where registrations are remembered for the next start.
        self.registrations: RegistrationStore | None = None

    # -- building ---------------------------------------------------------------------------------
    def _add_result(self, result: DocumentResult, replace: bool = False) -> Entity | None:
        """Record one document's verdict; returns the entity when it joined the catalog."""
        position = SourcePosition(result.file, result.line, result.index or 0)
        for error in result.errors:
            self._read_problems.append(Problem(Severity.ERROR, error, position, result.ref))
        for warning in result.warnings:
            self._read_problems.append(Problem(Severity.WARNING, warning, position, result.ref))
        if result.data is None or result.ref is None:
            return None
        if result.text is not None:
            entity = Entity.from_text(result.text, result.data, position, result.relations)
        else:
            entity = Entity(result.data, position, None, result.relations)
        existing = self.by_ref.get(result.ref)
        if existing is not None and not replace:
            self._read_problems.append(
                Problem(
                    Severity.ERROR,
                    f"duplicate entity {result.ref}: already defined at {existing.position}; "
                    "this definition is ignored (the first one wins)",
                    position,
                    result.ref,
                )
            )
            return None
        if existing is not None:
            self.entities.remove(existing)
        self.by_ref[result.ref] = entity
        self.entities.append(entity)
        return entity

    def _link(self) -> None:
        """Compute every entity's relations (declared + reverse) and the dangling-ref warnings."""
        by_ref = self.by_ref
        # Work on (type, target) tuples (hashed and compared in C), then turn them into shared
        # Relation objects: every component of a team is ownedBy the same group, so one object per
        # distinct relation keeps 100k entities small in memory.
        interned = self._relation_cache
        incoming: dict[str, list[tuple[str, str]]] = {}
        warnings: list[Problem] = []
        for source, entity in by_ref.items():
            for relation_type, target in entity.declared_relations:
                if target in by_ref:
                    incoming.setdefault(target, []).append((REVERSE[relation_type], source))
                    continue
                what = "owner" if relation_type == OWNED_BY else f"{relation_type} target"
                message = f"{what} {target} does not exist in the catalog"
                warnings.append(Problem(Severity.WARNING, message, entity.position, source))
        shared = interned.__getitem__
        for source, entity in by_ref.items():
            keys = entity.declared_relations + incoming.get(source, [])
            keys.sort()
            # dict.fromkeys drops duplicates keeping the order; all of this loops in C.
            entity.relations = list(map(shared, dict.fromkeys(keys)))
        self.problems = self._read_problems + warnings
        self._index = SearchIndex(self.entities)

    # -- reading ----------------------------------------------------------------------------------
    def get(
        self, ref: str, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE
    ) -> Entity | None:
        """The entity a ref names (case-insensitive), or None.

        Without a kind in ``ref`` and without ``default_kind``, the name is looked up across kinds
        (components first), so ``get("payment-service")`` works for a command line.
        """
        try:
            parsed = parse_entity_ref(ref, default_kind=default_kind, default_namespace=default_namespace)
        except EntityRefError:
            if default_kind is not None:
                return None
            for kind in _KIND_PREFERENCE:
                entity = self.get(f"{kind}:{ref}", default_namespace=default_namespace)
                if entity is not None:
                    return entity
            name_ref = ref.lower() if "/" in ref else f"{default_namespace}/{ref}".lower()
            return next((e for r, e in self.by_ref.items() if r.split(":", 1)[1] == name_ref), None)
        return self.by_ref.get(parsed.canonical)

    def filter(self, query: Query | str) -> list[Entity]:
        """Entities matching a filter such as ``kind:component owner:team-a payment`` (catalog order)."""
        if isinstance(query, str):
            query = parse_query(query)
        with self._lock:
            return self._index.filter(query)

    def filter_positions(self, query: Query | str) -> list[int]:
        """Like ``filter``, as positions in ``entities``: lets a view keep its own order cheaply."""
        if isinstance(query, str):
            query = parse_query(query)
        with self._lock:
            return self._index.positions(query)

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    # -- changes ----------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[CatalogChanged], None]) -> Callable[[], None]:
        """Call ``callback`` on every change (in the thread making it); returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def register(self, path: Path | str, *, root: Path | str | None = None) -> list[Entity]:
        """Read one more catalog file (e.g. from ``catalog:register``) and add or replace its entities.

        Entities previously read from the same file and absent now are removed; entities with a ref
        already in the catalog are replaced. Locations in the file are followed (inside ``root``,
        default: the file's directory). Subscribers get one ``CatalogChanged``. Returns the entities
        that were added or replaced; errors land in ``problems``.
        """
        path = os.path.abspath(os.fspath(path))
        boundary = os.fspath(root) if root is not None else os.path.dirname(path)
        options = ReadOptions(follow=True, root=boundary, plain_base=boundary, label=_local_label)
        with self._lock, gc_paused():
            label = _local_label(path)
            stale = [e for e in self.entities if e.position.file == label]
            self._read_problems = [p for p in self._read_problems if p.position.file != label]
            added: list[Entity] = []
            removed: list[Entity] = []
            seen_refs: set[str] = set()
            for result in read_documents([path], options):
                before = self.by_ref.get(result.ref or "")
                entity = self._add_result(result, replace=result.ref not in seen_refs)
                if entity is not None:
                    seen_refs.add(entity.ref.canonical)
                    added.append(entity)
                    if before is not None and before is not entity:
                        removed.append(before)
            for entity in stale:
                if entity.ref.canonical not in seen_refs and self.by_ref.get(entity.ref.canonical) is entity:
                    del self.by_ref[entity.ref.canonical]
                    self.entities.remove(entity)
                    removed.append(entity)
            self._link()
            subscribers = list(self._subscribers)
        if added and self.registrations is not None:
            self.registrations.remember(path, boundary)
        change = CatalogChanged(tuple(added), tuple(removed))
        for callback in subscribers:
            callback(change)
        return added


@contextmanager
def gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while the catalog's objects are created.

    Loading allocates hundreds of thousands of dicts, lists and strings; the collector would walk
    the survivors again and again for nothing (a quarter of the load time at 10k entities).
    Reference counting still frees garbage as usual; the collector resumes afterwards, and its
    first pass then walks every survivor once (~0.1 s per 10k entities). With ``freeze`` the
    survivors are moved out of its reach instead (``gc.freeze``): right for a short-lived process
    such as the CLI, or an app that loads once at start; wrong for a host that creates and drops
    many cyclic objects before loading, since those would then never be collected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        validation.clear_caches()
        relation_rules.clear_caches()
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()


def _local_label(path: str) -> str:
    return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path


def load_catalog(
    workspace: Workspace,
    on_event: Callable[[CatalogEvent], None] | None = None,
    *,
    freeze_gc: bool = False,
) -> Catalog:
    """Read every catalog source of ``workspace`` into a ``Catalog`` (blocking).

    Never raises for bad data: unreadable sources, bad files and invalid entities become
    ``Catalog.problems``; ``on_event`` receives ``SourceStarted``/``SourceLoaded``/``SourceFailed``
    per source and a final ``CatalogLoaded``. ``freeze_gc``: see ``gc_paused``.
    """
    with gc_paused(freeze=freeze_gc):
        return _load(workspace, on_event or (lambda event: None))


def _load(workspace: Workspace, emit: Callable[[CatalogEvent], None]) -> Catalog:
    started = time.perf_counter()
    catalog = Catalog()
    sources = [source_from_config(config, workspace.root) for config in workspace.catalog_sources]
    config_label = str(workspace.config_file) if workspace.config_file else "idp-console.yaml (demo)"
    for number, source in enumerate(sources, start=1):
        emit(SourceStarted(source.description, number, len(sources)))
        try:
            files = source.resolve()
        except Exception as error:  # noqa: BLE001 - one broken source (git, disk) must not stop the rest
            catalog._read_problems.append(
                Problem(
                    Severity.ERROR,
                    f"catalog source {source.description}: {error or type(error).__name__}",
                    SourcePosition(config_label),
                )
            )
            emit(SourceFailed(source.description, str(error)))
            continue
        before_entities, before_problems = len(catalog.entities), len(catalog._read_problems)
        if files.warning:
            catalog._read_problems.append(
                Problem(Severity.WARNING, files.warning, SourcePosition(config_label))
            )
        for result in read_documents(files.files, _options(files)):
            catalog._add_result(result)
        emit(
            SourceLoaded(
                source.description,
                len(catalog.entities) - before_entities,
                len(catalog._read_problems) - before_problems,
                files.warning,
            )
        )
    _load_registrations(catalog, workspace)
    catalog._link()
    emit(CatalogLoaded(len(catalog.entities), len(catalog.problems), time.perf_counter() - started))
    return catalog


def _load_registrations(catalog: Catalog, workspace: Workspace) -> None:
    """Read the files registered in earlier runs (e.g. services created by the scaffolder)."""
    store = RegistrationStore.for_workspace(workspace.root)
    catalog.registrations = store
    for registered in store.files():
        if not os.path.isfile(registered.path):
            catalog._read_problems.append(
                Problem(
                    Severity.WARNING,
                    f"registered catalog file {registered.path} no longer exists",
                    SourcePosition(registered.path),
                )
            )
            continue
        options = ReadOptions(
            follow=True, root=registered.root, plain_base=registered.root, label=_local_label
        )
        for result in read_documents([registered.path], options):
            catalog._add_result(result)


def _options(files: SourceFiles) -> ReadOptions:
    return ReadOptions(follow=True, root=files.root, plain_base=files.root, label=files.label)


def catalog_from_files(paths: Iterable[str | Path], *, root: str | Path | None = None) -> Catalog:
    """A catalog of some files (tests, scripts): Locations followed inside ``root`` (default: cwd)."""
    boundary = os.path.abspath(os.fspath(root) if root is not None else os.getcwd())
    files = SourceFiles([os.fspath(p) for p in paths], boundary, "")
    catalog = Catalog()
    with gc_paused():
        for result in read_documents(files.files, _options(files)):
            catalog._add_result(result)
        catalog._link()
    return catalog
