"""Warm start: show the catalog as it was last validated at once, then revalidate it in the background.

Reading, parsing and validating 100k entities takes seconds; most starts read the same files as the
start before. After every full read the catalog's entities and read problems are written to one
snapshot file in the state dir, with the identity of every file they came from (``st_mtime_ns``,
``st_size``, ``st_ino``; a git source's checkout rewrites exactly the files a new commit changed, so
their identity changes with the commit). The next start:

1. ``warm_start(workspace)`` rebuilds the catalog from the snapshot — no file is opened, parsed or
   validated, and what the list does not show waits until it is first asked for: each entity's
   relations and declared relations, and the filter index — and the list shows;
2. ``WarmStart.revalidate()`` then resolves every source again (a git source fetches) and reads only
   the files whose identity changed, were added, or whose verdict depends on other files (a
   ``Location``, a ``$text`` placeholder, a duplicate ref, an invalid document); the entities of
   every other file are reused as they are. When anything differs the new state is published like a
   registration (readers never wait) and subscribers get one ``CatalogChanged``.

The snapshot is keyed by the workspace directory, the text of its ``idp-console.yaml`` and the list of
registered files: changing the sources or registering a file starts cold. A snapshot that cannot be
read (missing, another format, truncated) is a cold start, never an error. Written with ``marshal``
(plain values only: loading 100k entities is one C call), column by column (lists of strings and
flat arrays of numbers load fastest), atomically, readable by its owner only; not written again by
a revalidation that found nothing changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate, chain
from pathlib import Path
from typing import Any

from backends import paths
from backends.catalog.catalog import Catalog, CatalogSnapshot, _Builder, _read_workspace, _retire, gc_paused
from backends.catalog.events import CatalogChanged, CatalogEvent, CatalogLoaded
from backends.catalog.model import (
    Entity,
    Problem,
    Severity,
    SourcePosition,
    entities_from_columns,
    entity_columns,
    entity_state,
)
from backends.catalog.query import SearchIndex
from backends.catalog.registrations import RegistrationStore
from backends.workspace import Workspace

FORMAT = 4  # bump when the stored shape changes: an older snapshot then reads as "no snapshot"
# A file changed this close to the start of a read may have changed while it was read (and mtime
# may be counted in whole seconds): its verdict is not trusted at the next start.
_SETTLE_NS = 2_000_000_000

# path -> (label, volatile, st_mtime_ns, st_size, st_ino)
FileRecords = dict[str, tuple[str, bool, int, int, int]]


@dataclass
class WarmStart:
    """A catalog shown from its snapshot (``warm``) or read in full, and how to bring it up to date."""

    workspace: Workspace
    catalog: Catalog
    warm: bool
    files: FileRecords = field(default_factory=dict)
    unsaved: tuple[dict[str, tuple[str, bool]], int] | None = None  # a full read not yet written

    def revalidate(self, on_event: Callable[[CatalogEvent], object] | None = None) -> CatalogChanged | None:
        """Re-read what changed since the snapshot; publish and return the change, if any.

        A full read is already current: it only writes its snapshot for the next start. Blocking;
        the TUI calls it in its worker.
        """
        if not self.warm:
            if self.unsaved is not None:
                read, started_ns = self.unsaved
                self.unsaved = None
                with self.catalog._write_lock:
                    self.files = file_records(read, started_ns)
                    write_snapshot(self.workspace, self.catalog, self.files)
            return None
        self.warm = False
        catalog, previous = self.catalog, self.catalog.snapshot()
        previous.index.keys  # noqa: B018 -- the filter index, before the user's first keystroke needs it
        reuse: dict[str, tuple[list[Entity], list[Problem]]] = {}
        for entity in previous.entities:
            reuse.setdefault(entity.position.file, ([], []))[0].append(entity)
        for problem in previous.read_problems:
            reuse.setdefault(problem.position.file, ([], []))[1].append(problem)
        known = self.files

        def unchanged(path: str) -> bool:
            record = known.get(path)
            if record is None or record[1]:
                return False
            try:
                info = os.stat(path)
            except OSError:
                return False
            return (info.st_mtime_ns, info.st_size, info.st_ino) == record[2:]

        started = time.time_ns()
        with catalog._write_lock, gc_paused(promote=True):
            builder = _Builder()
            builder.reuse = reuse
            catalog.registrations = _read_workspace(self.workspace, builder, on_event or _ignore, unchanged)
            if _same(builder.entities, previous.entities) and builder.read_problems == previous.read_problems:
                change = None
            else:
                replaced = [previous]
                catalog._publish(builder)
                _retire(replaced)
                current = catalog.snapshot().by_ref
                change = CatalogChanged(
                    tuple(e for ref, e in current.items() if previous.by_ref.get(ref) is not e),
                    tuple(e for ref, e in previous.by_ref.items() if current.get(ref) is not e),
                )
            files = file_records(builder.files, started)
            # Unchanged (the usual start): the snapshot on disk is this one already, and writing it
            # again would make every entity's relations, which the list never needed.
            if change is not None or files != known:
                write_snapshot(self.workspace, catalog, files)
            self.files = files
        if change is not None:
            catalog._notify(change)
        return change


def _same(now: list[Entity], before: list[Entity]) -> bool:
    """Whether a revalidation found exactly the entities shown (files read again may give equal ones)."""
    return len(now) == len(before) and all(
        a is b or entity_state(a) == entity_state(b) for a, b in zip(now, before, strict=True)
    )


def open_catalog(
    workspace: Workspace, on_event: Callable[[CatalogEvent], object] | None = None, *, warm: bool = True
) -> WarmStart:
    """The catalog from its snapshot when there is one (call ``revalidate`` next), else read in full.

    ``warm=False`` always reads in full (a reload). A full read writes the snapshot for the next
    start. Never raises for bad data (see ``load_catalog``); ``on_event`` gets the same events as a
    load (only ``CatalogLoaded`` when warm).
    """
    emit = on_event or _ignore
    started = time.perf_counter()
    if warm and (start := warm_start(workspace)) is not None:
        emit(
            CatalogLoaded(
                len(start.catalog.entities), len(start.catalog.problems), time.perf_counter() - started
            )
        )
        return start
    started_ns = time.time_ns()
    catalog = Catalog()
    builder = _Builder()
    with gc_paused():
        catalog.registrations = _read_workspace(workspace, builder, emit)
        catalog._publish(builder)
    emit(CatalogLoaded(len(catalog.entities), len(catalog.problems), time.perf_counter() - started))
    # Written by revalidate(), after the caller has shown the list: the user never waits for it.
    return WarmStart(workspace, catalog, warm=False, unsaved=(builder.files, started_ns))


def warm_start(workspace: Workspace) -> WarmStart | None:
    """The catalog rebuilt from the workspace's snapshot, or None when there is no usable one."""
    try:
        # Millions of small objects at 100k entities: the cyclic collector would walk them again and
        # again while they are made, and once more right after (promote: see gc_paused).
        with gc_paused(promote=True):
            data = marshal.loads(snapshot_path(workspace).read_bytes())
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                return None
            catalog = Catalog()
            # Relations as linking left them: one shared Relation per (type, target), made when an
            # entity's relations are first asked for (never for the list), through the cache later
            # links use too.
            relations = data["relations"]
            pair_types = array("I")
            pair_types.frombytes(relations["pair_types"])
            types = relations["types"]
            targets = relations["targets"]

            def pair(number: int) -> tuple[str, str]:
                return types[pair_types[number]], targets[number]

            entities = entities_from_columns(
                data["columns"],
                _runs(relations["declared"]),
                _runs(relations["linked"]),
                pair,
                catalog._relation_cache.__getitem__,
            )
            problems = [
                Problem(Severity(severity), message, SourcePosition(file, line, index), ref)
                for severity, message, file, line, index, ref in data["problems"]
            ]
            index = data["index"]  # marshalled on its own: loaded on first use (see SearchIndex.deferred)
            catalog._snapshot = CatalogSnapshot(
                entities=entities,
                by_ref=dict(zip(data["refs"], entities, strict=True)),
                problems=problems,
                read_problems=problems[: data["read_problems"]],
                index=SearchIndex.deferred(entities, lambda: marshal.loads(index)),
            )
        files: FileRecords = {path: tuple(record) for path, record in data["files"].items()}
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None  # no snapshot, or one this version cannot use: start cold
    catalog.registrations = RegistrationStore.for_workspace(workspace.root)
    return WarmStart(workspace, catalog, warm=True, files=files)


def file_records(read: dict[str, tuple[str, bool]], started_ns: int) -> FileRecords:
    """The identity of each file a read started at ``started_ns`` gave (``read``: ``_Builder.files``)."""
    files: FileRecords = {}
    for path, (label, volatile) in read.items():
        try:
            info = os.stat(path)
        except OSError:
            continue  # gone already: the next revalidation reads the source again anyway
        settled = info.st_mtime_ns < started_ns - _SETTLE_NS
        files[path] = (label, volatile or not settled, info.st_mtime_ns, info.st_size, info.st_ino)
    return files


def write_snapshot(workspace: Workspace, catalog: Catalog, files: FileRecords) -> None:
    """Write ``catalog``'s snapshot with its ``files``; failing to only costs the next start its speed."""
    snapshot = catalog.snapshot()
    ref_of = {id(entity): ref for ref, entity in snapshot.by_ref.items()}
    # Each distinct relation (declared or linked) once as a (type, target) pair; per entity the
    # numbers of its pairs in that table.
    numbers: dict[tuple[str, str], int] = {}

    def number(pair: tuple[str, str]) -> int:
        return numbers.setdefault(pair, len(numbers))

    columns, declared = entity_columns(snapshot.entities, number)
    linked = [[number((r.type, r.target)) for r in e.relations] for e in snapshot.entities]
    types = sorted({relation_type for relation_type, _ in numbers})
    type_number = {relation_type: n for n, relation_type in enumerate(types)}
    data = {
        "format": FORMAT,
        "files": files,
        "refs": [ref_of[id(e)] for e in snapshot.entities],
        "columns": columns,
        # Plain lists of strings and flat arrays of numbers: marshal loads them in a few C calls,
        # where 400k (type, target) tuples and 200k small lists cost a fifth of the whole load.
        "relations": {
            "types": types,
            "pair_types": array("I", [type_number[t] for t, _ in numbers]).tobytes(),
            "targets": [target for _, target in numbers],
            "declared": _flat(declared),
            "linked": _flat(linked),
        },
        "index": marshal.dumps((snapshot.index.keys, snapshot.index.postings)),
        # Read problems first, then linking's warnings (dangling relations).
        "problems": [
            (p.severity.value, p.message, p.position.file, p.position.line, p.position.index, p.ref)
            for p in snapshot.problems
        ],
        "read_problems": len(snapshot.read_problems),
    }
    target = snapshot_path(workspace)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        blob = marshal.dumps(data)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, paths.PRIVATE_FILE)
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
        os.replace(temporary, target)
    except (OSError, ValueError):  # ValueError: a value marshal cannot write (then no snapshot)
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _flat(runs: list[list[int]]) -> tuple[bytes, bytes]:
    """Runs of numbers as (all numbers, where each run ends), each an array's bytes."""
    return array("I", chain.from_iterable(runs)).tobytes(), array("I", accumulate(map(len, runs))).tobytes()


def _runs(stored: tuple[bytes, bytes]) -> tuple[array[int], array[int]]:
    """What ``_flat`` stored, as arrays."""
    numbers, ends = array("I"), array("I")
    numbers.frombytes(stored[0])
    ends.frombytes(stored[1])
    return numbers, ends


def snapshot_path(workspace: Workspace) -> Path:
    """Where ``workspace``'s snapshot lives: one file per workspace directory and configuration."""
    key = hashlib.sha256(str(Path(workspace.root).resolve()).encode())
    # The configuration and the registered files: a registration since the last start (another
    # console's, the CLI's) means a full read, never a list without it.
    for source in (workspace.config_file, RegistrationStore.for_workspace(workspace.root).file):
        if source is not None:
            with contextlib.suppress(OSError):
                key.update(Path(source).read_bytes())
    folder = paths.state_dir() / "catalog-snapshots"
    folder.mkdir(mode=paths.PRIVATE_DIR, exist_ok=True)
    return folder / f"{key.hexdigest()[:32]}.marshal"


def _ignore(event: Any) -> None:
    pass
