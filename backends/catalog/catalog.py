"""The catalog: every entity of a workspace, its problems, relations, and a fast filter.

``load_catalog(workspace)`` reads each configured source through the one reading pipeline
(``reader.read_documents``), keeps the valid entities (the first of two with the same ref wins),
turns every error into a ``Problem`` with file:line, links relations in both directions, and builds
the filter index. It blocks; the TUI calls it in a worker and forwards the events.
"""

from __future__ import annotations

import copy as _copy
import gc
import os
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from backends.catalog.query import Query, SearchIndex, parse_query, resorted_positions, sort_positions
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


@dataclass(frozen=True, eq=False)
class CatalogSnapshot:
    """One complete state of the catalog, never changed once published.

    A registration builds the next snapshot to the side and publishes it with one assignment, so
    whoever holds a snapshot sees everything from before a change or everything from after it, never
    a mix. Its lists and dict are shared with other readers: treat them as read-only.
    """

    entities: list[Entity]
    by_ref: dict[str, Entity]
    problems: list[Problem]
    # Problems found while reading (``problems`` adds the dangling-relation warnings of linking):
    # the base a registration starts from.
    read_problems: list[Problem]
    index: SearchIndex
    # The index remembers the last query to narrow the next one, so its users take turns.
    filter_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # (column, descending) -> positions in ``entities`` in that order, sorted once per snapshot.
    orders: dict[tuple[str, bool], Sequence[int]] = field(default_factory=dict, repr=False)
    # target ref -> [(relation type, source ref)] of the declared relations whose target is not in
    # the catalog (each a warning in ``problems``), when known: what lets a registration relink only
    # the entities it touches (a new entity may be what they were waiting for).
    dangling: dict[str, list[tuple[str, str]]] | None = field(default=None, repr=False)
    # file label -> refs of the entities read from it: made when a registration first asks (a scan
    # of every entity), then carried from snapshot to snapshot by registrations.
    by_file: dict[str, list[str]] | None = field(default=None, repr=False)

    def get(
        self, ref: str, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE
    ) -> Entity | None:
        """See ``Catalog.get``; every lookup reads this snapshot only."""
        by_ref = self.by_ref
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
            return next((e for r, e in by_ref.items() if r.split(":", 1)[1] == name_ref), None)
        return by_ref.get(parsed.canonical)

    def refs_of_file(self, label: str) -> list[str]:
        """The refs of the entities read from the file labelled ``label``."""
        by_file = self.by_file
        if by_file is None:
            by_file = {}
            for ref, entity in self.by_ref.items():
                by_file.setdefault(entity.source_file, []).append(ref)
            object.__setattr__(self, "by_file", by_file)  # a cache: the snapshot's state is unchanged
        return by_file.get(label, [])

    def sorted_positions(self, column: str, descending: bool = False) -> Sequence[int]:
        """Positions in ``entities`` ordered by ``column`` (see ``sort_entities``), sorted once per
        snapshot (a warm start's came with it). Read-only."""
        key = (column, descending)
        order = self.orders.get(key)
        if order is None:
            order = self.orders[key] = sort_positions(self.entities, column, descending)
        return order

    def filter(self, query: Query | str) -> list[Entity]:
        """See ``Catalog.filter``."""
        if isinstance(query, str):
            query = parse_query(query)
        with self.filter_lock:
            return self.index.filter(query)

    def filter_positions(self, query: Query | str) -> list[int]:
        """Positions in this snapshot's ``entities`` (see ``Catalog.filter_positions``)."""
        if isinstance(query, str):
            query = parse_query(query)
        with self.filter_lock:
            return self.index.positions(query)


class _Builder:
    """The mutable state a load or a registration works on until it is published as a snapshot."""

    def __init__(
        self,
        entities: list[Entity] | None = None,
        by_ref: dict[str, Entity] | None = None,
        read_problems: list[Problem] | None = None,
    ) -> None:
        self.entities: list[Entity] = entities if entities is not None else []
        self.by_ref: dict[str, Entity] = by_ref if by_ref is not None else {}
        self.read_problems: list[Problem] = read_problems if read_problems is not None else []
        # Warm start: what each file read gave (path -> label, and whether its verdicts depend on
        # other files), and the entities and problems of files that were not read again.
        self.files: dict[str, tuple[str, bool]] = {}
        self.reuse: dict[str, tuple[list[Entity], list[Problem]]] = {}
        # position -> the entity replaced there (a registration replaces entities in place)
        self.replaced: dict[int, Entity] = {}

    @classmethod
    def from_snapshot(cls, snapshot: CatalogSnapshot) -> _Builder:
        """Copies of the snapshot's containers (C-level, about a millisecond at 100k): it stays as is."""
        # dict.copy clones the table in one go; dict(d) re-inserts every key once d has had a deletion.
        return cls(snapshot.entities.copy(), snapshot.by_ref.copy(), snapshot.read_problems.copy())

    def add_result(self, result: DocumentResult, replace: bool = False) -> Entity | None:
        """Record one document's verdict; returns the entity when it joined the catalog."""
        if result.reused:
            entities, problems = self.reuse.get(result.file, ((), ()))
            self.read_problems.extend(problems)
            volatile = False
            for entity in entities:
                volatile |= self._add_entity(entity, entity.ref.canonical, replace) is None
            self.files[result.path] = (result.file, volatile)
            return None
        # A Location (its targets are globs) or a placeholder ($text of another file) makes the
        # file's verdict depend on other files: a warm start always reads it again.
        volatile = result.valid is False or (
            result.data is not None and (result.text is None or result.data.get("kind") == "Location")
        )
        if volatile or result.path not in self.files:
            self.files[result.path] = (result.file, volatile)
        position = SourcePosition(result.file, result.line, result.index or 0)
        for error in result.errors:
            self.read_problems.append(Problem(Severity.ERROR, error, position, result.ref))
        for warning in result.warnings:
            self.read_problems.append(Problem(Severity.WARNING, warning, position, result.ref))
        if result.data is None or result.ref is None:
            return None
        if result.text is not None:
            entity = Entity.from_text(result.text, result.data, position, result.relations)
        else:
            entity = Entity(result.data, position, None, result.relations)
        added = self._add_entity(entity, result.ref, replace)
        if added is None:  # a duplicate: which one wins depends on the other file
            self.files[result.path] = (result.file, True)
        return added

    def _add_entity(self, entity: Entity, ref: str, replace: bool) -> Entity | None:
        existing = self.by_ref.get(ref)
        if existing is not None and not replace:
            self.read_problems.append(
                Problem(
                    Severity.ERROR,
                    f"duplicate entity {ref}: already defined at {existing.position}; "
                    "this definition is ignored (the first one wins)",
                    entity.position,
                    ref,
                )
            )
            return None
        if existing is not None:  # replaced where it was: the other entities keep their positions
            position = self.entities.index(existing)
            self.entities[position] = entity
            self.replaced.setdefault(position, existing)
        else:
            self.entities.append(entity)
        self.by_ref[ref] = entity
        return entity

    def link(
        self,
        interned: _RelationCache,
        previous: CatalogSnapshot | None = None,
        index: SearchIndex | None = None,
    ) -> CatalogSnapshot:
        """Compute every entity's relations (declared + reverse), the dangling-ref warnings, the index.

        Entities of ``previous`` are shared with its readers: one whose relations change is copied
        (a handful per registration, e.g. the owning group) rather than changed in place.
        """
        by_ref = self.by_ref
        # Work on (type, target) tuples (hashed and compared in C), then turn them into shared
        # Relation objects: every component of a team is ownedBy the same group, so one object per
        # distinct relation keeps 100k entities small in memory.
        incoming: dict[str, list[tuple[str, str]]] = {}
        warnings: list[Problem] = []
        dangling: dict[str, list[tuple[str, str]]] = {}
        # A relation type of a custom Backstage processor: its declarers cannot be found from the
        # targets' relations, so registrations relink everything (see relink).
        custom = False
        for source, entity in by_ref.items():
            for relation_type, target in entity.declared_relations:
                if target in by_ref:
                    # A relation type of a custom Backstage processor has no reverse known here:
                    # Backstage reports both ends itself, so only the known pairs are added.
                    reverse = REVERSE.get(relation_type)
                    if reverse is not None:
                        incoming.setdefault(target, []).append((reverse, source))
                    else:
                        custom = True
                    continue
                dangling.setdefault(target, []).append((relation_type, source))
                warnings.append(_dangling_warning(entity, source, relation_type, target))
                custom |= relation_type not in REVERSE
        shared = interned.__getitem__
        published = previous.by_ref if previous is not None else {}
        copies: dict[int, Entity] = {}
        for source, entity in by_ref.items():
            keys = entity.declared_relations + incoming.get(source, [])
            keys.sort()
            # dict.fromkeys drops duplicates keeping the order; all of this loops in C.
            relations = list(map(shared, dict.fromkeys(keys)))
            if published.get(source) is entity:
                if relations == entity.relations:
                    continue  # unchanged: keep sharing the published object
                copy = _copy.copy(entity)
                copies[id(entity)] = copy
                entity = copy
            entity.relations = relations
        # Freed one entry at a time: dropped at once, 100k lists of tuples keep the GIL from a
        # reader thread for tens of milliseconds (a registration links while the UI filters).
        while incoming:
            incoming.popitem()
        if copies:
            self.entities = [copies.get(id(e), e) for e in self.entities]
            for copy in copies.values():
                by_ref[copy.ref.canonical] = copy
        return CatalogSnapshot(
            entities=self.entities,
            by_ref=by_ref,
            problems=self.read_problems + warnings,
            read_problems=self.read_problems,
            index=index if index is not None else SearchIndex(self.entities),
            dangling=None if custom else dangling,
        )

    def relink(
        self,
        interned: _RelationCache,
        previous: CatalogSnapshot,
        replaced: dict[int, Entity],
        removed: list[Entity],
    ) -> CatalogSnapshot:
        """What ``link`` gives, computed for the entities a registration touched only.

        ``previous`` (linked, with ``dangling``) is this builder's start; since then entities were
        replaced in place (``replaced``: position -> the old one), ``removed`` and appended.
        Relations change only for the new entities and the targets of what they (and the ones
        replaced or removed) declare; warnings only for those entities and for relations a new
        entity completes or a removed one leaves dangling. At 100k entities that is milliseconds
        where ``link`` takes seconds of the GIL the UI needs for its keystrokes.
        """
        by_ref, entities = self.by_ref, self.entities
        assert previous.dangling is not None
        new = [by_ref[old.ref.canonical] for old in replaced.values()]
        new += entities[len(previous.entities) - len(removed) :]
        sources = {e.ref.canonical for e in new}
        gone = {e.ref.canonical for e in removed}
        old_versions = [previous.by_ref[ref] for ref in sources if ref in previous.by_ref] + removed
        dangling = {target: list(pairs) for target, pairs in previous.dangling.items()}
        for old in old_versions:  # what the replaced entities declared is declared anew below
            source = old.ref.canonical
            for _, target in old.declared_relations:
                if target in dangling:
                    dangling[target] = [pair for pair in dangling[target] if pair[1] != source]
                    if not dangling[target]:
                        del dangling[target]
        resolved = {ref: dangling.pop(ref) for ref in sources if ref in dangling}
        # The warnings of the entities replaced or removed, and of the relations a new entity completes.
        dropped = {(s, _dangling_message(t, ref)) for ref, pairs in resolved.items() for t, s in pairs}
        warnings = [
            p
            for p in previous.problems[len(previous.read_problems) :]
            if p.ref not in sources and p.ref not in gone and (p.ref, p.message) not in dropped
        ]
        # What pointed at a removed entity now dangles (its relations kept: declared ones always are).
        for ref in gone:
            for relation_type, source in sorted(_incoming(ref, previous)):
                if source not in sources and source not in gone:
                    declared = REVERSE[relation_type]
                    dangling.setdefault(ref, []).append((declared, source))
                    warnings.append(_dangling_warning(by_ref[source], source, declared, ref))
        arriving: dict[str, list[tuple[str, str]]] = {}  # target -> its reverse relations from new entities
        for entity in new:
            source = entity.ref.canonical
            for relation_type, target in entity.declared_relations:
                if target in by_ref:
                    reverse = REVERSE.get(relation_type)
                    if reverse is not None:
                        arriving.setdefault(target, []).append((reverse, source))
                    continue
                dangling.setdefault(target, []).append((relation_type, source))
                warnings.append(_dangling_warning(entity, source, relation_type, target))
        touched = sources | set(arriving)
        for old in old_versions:
            touched.update(target for _, target in old.declared_relations)
        changed_sources = sources | gone
        shared = interned.__getitem__
        for ref in touched:
            target_entity = by_ref.get(ref)
            if target_entity is None:
                continue
            incoming = _incoming(ref, previous) if ref in previous.by_ref else set()
            incoming = {pair for pair in incoming if pair[1] not in changed_sources}
            incoming.update(
                (REVERSE[t], s) for t, s in resolved.get(ref, ()) if t in REVERSE and s not in changed_sources
            )
            incoming.update(arriving.get(ref, ()))
            relations = list(map(shared, sorted(set(target_entity.declared_relations) | incoming)))
            if target_entity not in new:  # shared with the previous snapshot's readers: a copy
                if relations == target_entity.relations:
                    continue
                copy = _copy.copy(target_entity)
                entities[entities.index(target_entity)] = by_ref[ref] = copy
                target_entity = copy
            target_entity.relations = relations
        removed_at = {previous.entities.index(e): e for e in removed}  # C-level scans
        by_file = None
        if previous.by_file is not None:
            by_file = previous.by_file.copy()
            for entity in [*removed, *replaced.values()]:
                label, ref = entity.source_file, entity.ref.canonical
                by_file[label] = [r for r in by_file.get(label, ()) if r != ref]
            for entity in new:
                label = entity.source_file
                by_file[label] = [*by_file.get(label, ()), entity.ref.canonical]
        # The orders the list asked of the previous snapshot, kept in order (no sort of 100k again).
        gone_at = sorted(removed_at)
        added = [p - bisect_left(gone_at, p) for p in replaced]
        added += range(len(previous.entities) - len(removed), len(entities))
        orders: dict[tuple[str, bool], Sequence[int]] = {
            (column, descending): resorted_positions(
                order, entities, column, descending, [*replaced, *gone_at], gone_at, added
            )
            for (column, descending), order in list(previous.orders.items())
        }
        return CatalogSnapshot(
            entities=entities,
            by_ref=by_ref,
            problems=self.read_problems + warnings,
            read_problems=self.read_problems,
            index=previous.index.changed(entities, dict(replaced), removed_at),
            orders=orders,
            dangling=dangling,
            by_file=by_file,
        )


def _dangling_message(relation_type: str, target: str) -> str:
    what = "owner" if relation_type == OWNED_BY else f"{relation_type} target"
    return f"{what} {target} does not exist in the catalog"


def _dangling_warning(entity: Entity, source: str, relation_type: str, target: str) -> Problem:
    return Problem(Severity.WARNING, _dangling_message(relation_type, target), entity.position, source)


def _incoming(ref: str, snapshot: CatalogSnapshot) -> set[tuple[str, str]]:
    """The reverse relations ``ref`` had in ``snapshot``: those of its relations that another
    entity's declared relation accounts for (the rest it declared itself)."""
    by_ref = snapshot.by_ref
    found = set()
    for relation in by_ref[ref].relations:
        declarer = by_ref.get(relation.target)
        declared = REVERSE.get(relation.type)
        if declarer is not None and declared is not None and (declared, ref) in declarer.declared_relations:
            found.add((relation.type, relation.target))
    return found


class Catalog:
    """Entities, problems and relations of one workspace; safe to read from any thread.

    ``entities`` keeps load order; ``by_ref`` maps canonical refs (``component:default/x``) to
    entities; ``problems`` holds errors and warnings, each with file:line. Each read comes from one
    published ``CatalogSnapshot``; ``snapshot()`` gives one for several reads that must agree.
    Readers never wait: a registration builds the next snapshot off to the side.
    """

    def __init__(self) -> None:
        self._relation_cache = _RelationCache()
        self._snapshot: CatalogSnapshot = _Builder().link(self._relation_cache)
        self._subscribers: list[Callable[[CatalogChanged], object]] = []
        self._subscribers_lock = threading.Lock()
        # Registrations take turns (each builds on the one before); readers never take this lock.
        self._write_lock = threading.Lock()
        # Set by load_catalog: where registrations are remembered for the next start.
        self.registrations: RegistrationStore | None = None

    def _publish(self, builder: _Builder, index: SearchIndex | None = None) -> None:
        """Link ``builder`` and make it what readers see (one reference assignment, atomic).

        ``index``: the filter index of exactly ``builder.entities``, when already known (warm start).
        """
        self._snapshot = builder.link(self._relation_cache, self._snapshot, index)

    # -- reading ----------------------------------------------------------------------------------
    def snapshot(self) -> CatalogSnapshot:
        """The current state, which later changes never alter."""
        return self._snapshot

    @property
    def entities(self) -> list[Entity]:
        return self._snapshot.entities

    @property
    def by_ref(self) -> dict[str, Entity]:
        return self._snapshot.by_ref

    @property
    def problems(self) -> list[Problem]:
        return self._snapshot.problems

    @property
    def _index(self) -> SearchIndex:
        return self._snapshot.index

    def get(
        self, ref: str, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE
    ) -> Entity | None:
        """The entity a ref names (case-insensitive), or None.

        Without a kind in ``ref`` and without ``default_kind``, the name is looked up across kinds
        (components first), so ``get("payment-service")`` works for a command line.
        """
        return self._snapshot.get(ref, default_kind, default_namespace)

    def filter(self, query: Query | str) -> list[Entity]:
        """Entities matching a filter such as ``kind:component owner:team-a payment`` (catalog order)."""
        return self._snapshot.filter(query)

    def filter_positions(self, query: Query | str) -> list[int]:
        """Like ``filter``, as positions in ``entities``: lets a view keep its own order cheaply.

        A view that keeps rows across changes filters the ``snapshot()`` its rows came from instead.
        """
        return self._snapshot.filter_positions(query)

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    # -- changes ----------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[CatalogChanged], object]) -> Callable[[], None]:
        """Call ``callback`` on every change (in the thread making it); returns an unsubscribe function."""
        with self._subscribers_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._subscribers_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def register(self, path: Path | str, *, root: Path | str | None = None) -> list[Entity]:
        """Read one more catalog file (e.g. from ``catalog:register``) and add or replace its entities.

        Entities previously read from the same file and absent now are removed; entities with a ref
        already in the catalog are replaced. Locations in the file are followed (inside ``root``,
        default: the file's directory). Subscribers get one ``CatalogChanged``. Returns the entities
        that were added or replaced; errors land in ``problems``. Readers keep the previous snapshot
        until the new one is complete.
        """
        path = os.path.abspath(os.fspath(path))
        boundary = os.fspath(root) if root is not None else os.path.dirname(path)
        options = ReadOptions(follow=True, root=boundary, plain_base=boundary, label=_local_label)
        # Collector paused: running, the relink's allocations set off a full collection (1-2 s
        # with the GIL held at 100k after a load); promote: see gc_paused.
        with self._write_lock, gc_paused(promote=True):
            builder = _Builder.from_snapshot(self._snapshot)
            label = _local_label(path)
            stale = [builder.by_ref[ref] for ref in self._snapshot.refs_of_file(label)]
            builder.read_problems = [p for p in builder.read_problems if p.position.file != label]
            added: list[Entity] = []
            removed: list[Entity] = []
            seen_refs: set[str] = set()
            for result in read_documents([path], options):
                before = builder.by_ref.get(result.ref or "")
                entity = builder.add_result(result, replace=result.ref not in seen_refs)
                if entity is not None:
                    seen_refs.add(entity.ref.canonical)
                    added.append(entity)
                    if before is not None and before is not entity:
                        removed.append(before)
            for entity in stale:
                ref = entity.ref.canonical
                if ref not in seen_refs and builder.by_ref.get(ref) is entity:
                    del builder.by_ref[ref]
                    builder.entities.remove(entity)
                    removed.append(entity)
            previous = self._snapshot
            if previous.dangling is not None and all(
                relation_type in REVERSE for e in added for relation_type, _ in e.declared_relations
            ):
                # Only what the changed entities touch. The new index shares most of its lists with
                # the old one, so the old one is left to reference counting, not retired piece by piece.
                gone = [e for e in removed if e not in added and builder.by_ref.get(e.ref.canonical) is None]
                self._snapshot = builder.relink(self._relation_cache, previous, builder.replaced, gone)
            else:
                replaced = [previous]
                del previous
                self._publish(builder)
                _retire(replaced)
        if added and self.registrations is not None:
            self.registrations.remember(path, boundary)
        self._notify(CatalogChanged(tuple(added), tuple(removed)))
        return added

    def _notify(self, change: CatalogChanged) -> None:
        """Tell every subscriber about a published change (in the calling thread)."""
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(change)


_RETIRE_CHUNK = 5_000


def _retire(box: list[CatalogSnapshot]) -> None:
    """Free a replaced snapshot's filter index in small steps, in the writer's thread.

    An index of 100k entities holds ~1M objects (keys, facet postings); dropping it in one go frees
    them all in one C call that keeps the GIL for 60-100 ms, and the reader that happens to hold the
    last reference (a keystroke in the UI) waits for all of it. Piece by piece, the interpreter lets
    other threads run in between. ``box`` holds the only reference we own; if anyone else still
    holds the snapshot or its index, it is left alone (they would see it emptied) and freed by
    reference counting whenever they let go.
    """
    snapshot = box.pop()
    # Ours: the local name and getrefcount's argument; the index: the snapshot's field and the argument.
    if sys.getrefcount(snapshot) > 2 or sys.getrefcount(snapshot.index) > 2:
        return
    index = snapshot.index
    for postings in index.postings.values():
        while postings:
            postings.popitem()  # one value's positions at a time
    keys = index.keys
    while keys:
        del keys[-_RETIRE_CHUNK:]


@contextmanager
def gc_paused(*, freeze: bool = False, promote: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while the catalog's objects are created.

    Loading allocates hundreds of thousands of dicts, lists and strings; the collector would walk
    the survivors again and again for nothing (a quarter of the load time at 10k entities).
    Reference counting still frees garbage as usual; the collector resumes afterwards, and its
    first pass then walks every survivor once (~0.1 s per 10k entities). With ``freeze`` the
    survivors are moved out of its reach instead (``gc.freeze``): right for a short-lived process
    such as the CLI, or an app that loads once at start; wrong for a host that creates and drops
    many cyclic objects before loading, since those would then never be collected.

    ``promote`` (a registration, while other threads read): the survivors join the oldest
    generation without that first pass, which at 100k entities holds the GIL 0.1-0.5 s while the UI
    waits; the next full collection, which walks everything anyway, looks at them then.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        validation.clear_caches()
        relation_rules.clear_caches()
        if freeze or promote:
            # A process that froze its catalog (the CLI) keeps everything frozen.
            keep_frozen = freeze or gc.get_freeze_count() > 0
            gc.freeze()
            if not keep_frozen:
                gc.unfreeze()  # frozen objects go back to the oldest generation, unexamined
        if was_enabled:
            gc.enable()


def _local_label(path: str) -> str:
    return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path


def load_catalog(
    workspace: Workspace,
    on_event: Callable[[CatalogEvent], object] | None = None,
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


def _load(workspace: Workspace, emit: Callable[[CatalogEvent], object]) -> Catalog:
    started = time.perf_counter()
    catalog = Catalog()
    builder = _Builder()
    catalog.registrations = _read_workspace(workspace, builder, emit)
    catalog._publish(builder)
    emit(CatalogLoaded(len(catalog.entities), len(catalog.problems), time.perf_counter() - started))
    return catalog


def _read_workspace(
    workspace: Workspace,
    builder: _Builder,
    emit: Callable[[CatalogEvent], object],
    unchanged: Callable[[str], bool] | None = None,
) -> RegistrationStore:
    """Read every source and registered file of ``workspace`` into ``builder``.

    ``unchanged``: see ``ReadOptions.unchanged`` (a warm start's revalidation).
    """
    sources = [source_from_config(config, workspace.root) for config in workspace.catalog_sources]
    config_label = str(workspace.config_file) if workspace.config_file else "idp-console.yaml (demo)"
    for number, source in enumerate(sources, start=1):
        emit(SourceStarted(source.description, number, len(sources)))
        if hasattr(source, "read_entities"):  # a Backstage: entities and relations as it computed them
            _read_entity_source(source, builder, emit, config_label)
            continue
        try:
            files = source.resolve()
        except Exception as error:  # noqa: BLE001 - one broken source (git, disk) must not stop the rest
            builder.read_problems.append(
                Problem(
                    Severity.ERROR,
                    f"catalog source {source.description}: {error or type(error).__name__}",
                    SourcePosition(config_label),
                )
            )
            emit(SourceFailed(source.description, str(error)))
            continue
        before_entities, before_problems = len(builder.entities), len(builder.read_problems)
        if files.warning:
            builder.read_problems.append(
                Problem(Severity.WARNING, files.warning, SourcePosition(config_label))
            )
        options = _options(files)
        options.unchanged = unchanged
        for result in read_documents(files.files, options):
            builder.add_result(result)
        emit(
            SourceLoaded(
                source.description,
                len(builder.entities) - before_entities,
                len(builder.read_problems) - before_problems,
                files.warning,
            )
        )
    return _load_registrations(builder, workspace, unchanged)


def _read_entity_source(
    source: Any, builder: _Builder, emit: Callable[[CatalogEvent], object], config_label: str
) -> None:
    """Add what a source of entities (``type: backstage``) gives; its failure is a problem, as for files."""
    try:
        batch = source.read_entities()
    except Exception as error:  # noqa: BLE001 - one broken source must not stop the rest
        message = f"catalog source {source.description}: {error or type(error).__name__}"
        builder.read_problems.append(Problem(Severity.ERROR, message, SourcePosition(config_label)))
        emit(SourceFailed(source.description, str(error)))
        return
    before_entities, before_problems = len(builder.entities), len(builder.read_problems)
    if batch.warning:
        builder.read_problems.append(Problem(Severity.WARNING, batch.warning, SourcePosition(config_label)))
    builder.read_problems.extend(batch.problems)
    for entity in batch.entities:
        builder._add_entity(entity, entity.ref.canonical, replace=False)
    added, problems = len(builder.entities) - before_entities, len(builder.read_problems) - before_problems
    emit(SourceLoaded(source.description, added, problems, batch.warning))


def _load_registrations(
    builder: _Builder, workspace: Workspace, unchanged: Callable[[str], bool] | None = None
) -> RegistrationStore:
    """Read the files registered in earlier runs (e.g. services created by the scaffolder)."""
    store = RegistrationStore.for_workspace(workspace.root)
    for registered in store.files():
        _refresh_checkout(registered.path)
        if not os.path.isfile(registered.path):
            builder.read_problems.append(
                Problem(
                    Severity.WARNING,
                    f"registered catalog file {registered.path} no longer exists",
                    SourcePosition(registered.path),
                )
            )
            continue
        options = ReadOptions(
            follow=True,
            root=registered.root,
            plain_base=registered.root,
            label=_local_label,
            unchanged=unchanged,
        )
        for result in read_documents([registered.path], options):
            builder.add_result(result)
    return store


def _refresh_checkout(path: str) -> None:
    """A file registered from a repository the scaffolder published is read from its working copy
    under the data dir: bring that copy up to its remote first, so a change pushed there (a lifecycle
    promoted, a change request merged) shows at the next load."""
    from backends import paths

    copies = paths.data_dir() / "repos"
    if not os.path.abspath(path).startswith(str(copies) + os.sep):
        return
    from backends.catalog.lifecycle import refresh_working_copy

    top = Path(path).parent
    while top != copies and not (top / ".git").exists():
        top = top.parent
    if top != copies:
        refresh_working_copy(top)


def _options(files: SourceFiles) -> ReadOptions:
    return ReadOptions(follow=True, root=files.root, plain_base=files.root, label=files.label)


def catalog_from_files(paths: Iterable[str | Path], *, root: str | Path | None = None) -> Catalog:
    """A catalog of some files (tests, scripts): Locations followed inside ``root`` (default: cwd)."""
    boundary = os.path.abspath(os.fspath(root) if root is not None else os.getcwd())
    files = SourceFiles([os.fspath(p) for p in paths], boundary, "")
    catalog = Catalog()
    builder = _Builder()
    with gc_paused():
        for result in read_documents(files.files, _options(files)):
            builder.add_result(result)
        catalog._publish(builder)
    return catalog
