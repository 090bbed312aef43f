"""Warm start: show the catalog as it was last validated at once, then revalidate it in the background.

Reading, parsing and validating 100k entities takes seconds; most starts read the same files as the
start before. After every full read the catalog's entities and read problems are written to one
snapshot file in the state dir, with the identity of every file they came from (``st_mtime_ns``,
``st_size``, ``st_ino``; a git source's checkout rewrites exactly the files a new commit changed, so
their identity changes with the commit). The next start:

1. ``warm_start(workspace)`` rebuilds the catalog from the snapshot — no file is opened, parsed or
   validated, the list's default order comes sorted, and what the list does not show stays in the
   file until it is first asked for: each entity's position, text, annotations, description and
   relations, the filter index, the file identities — and the list shows;
2. ``WarmStart.revalidate()`` then resolves every source again (a git source fetches) and reads only
   the files whose identity changed, were added, or whose verdict depends on other files (a
   ``Location``, a ``$text`` placeholder, a duplicate ref, an invalid document); the entities of
   every other file are reused as they are. When anything differs the new state is published like a
   registration (readers never wait) and subscribers get one ``CatalogChanged``.

The snapshot is keyed by the workspace directory, the text of its ``idp-console.yaml`` and the list of
registered files: changing the sources or registering a file starts cold. A snapshot that cannot be
read (missing, another format, truncated) is a cold start, never an error. Written with ``marshal``
(plain values only: loading 100k entities is one C call), column by column (lists of strings and
flat arrays of numbers load fastest), as a header (what the list shows) and blobs each loaded on
first use from the mapped file, atomically, readable by its owner only; not written again by a
revalidation that found nothing changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import mmap
import os
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain
from pathlib import Path
from typing import Any

from backends import paths
from backends.catalog.catalog import Catalog, CatalogSnapshot, _Builder, _read_workspace, _retire, gc_paused
from backends.catalog.events import CatalogChanged, CatalogEvent, CatalogLoaded
from backends.catalog.model import (
    DEFERRED_COLUMNS,
    DeferredFields,
    Entity,
    Problem,
    Severity,
    SourcePosition,
    StoredFields,
    entities_from_columns,
    entity_columns,
    entity_state,
)
from backends.catalog.query import FACETS, SearchIndex
from backends.catalog.registrations import RegistrationStore
from backends.workspace import Workspace

# The file: _MAGIC, the header's length (8 bytes, little-endian), the header, then the blobs.
_MAGIC = b"idp-console catalog snapshot\n"
FORMAT = 7  # bump when the stored shape changes: an older snapshot then reads as "no snapshot"
_CHUNK = 10_000  # entities per chunk of a big column
# The sort orders stored ascending: the catalog list's default (by name) shows without sorting.
STORED_ORDERS = ("name",)
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
    stored_files: Callable[[], FileRecords] | None = None  # a warm start's ``files``, read when needed
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
        if self.stored_files is not None:
            self.files, self.stored_files = self.stored_files(), None
        catalog, previous = self.catalog, self.catalog.snapshot()
        previous.index.keys  # noqa: B018 -- the filter index, before the user's first keystroke needs it
        reuse: dict[str, tuple[list[Entity], list[Problem]]] = {}
        for entity in previous.entities:
            reuse.setdefault(entity.source_file, ([], []))[0].append(entity)
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
            data, blob = _read(snapshot_path(workspace))
            if data.get("format") != FORMAT:
                return None
            catalog = Catalog()
            # Everything but the list's own fields waits in the file until first asked for.
            relation_of = catalog._relation_cache.__getitem__
            count = len(data["refs"])
            columns = data["columns"]
            deferred = DeferredFields(lambda: _stored_fields(blob, count), relation_of, columns.pop("file"))
            entities = entities_from_columns(columns, deferred)
            problems = [
                Problem(Severity(severity), message, SourcePosition(file, line, index), ref)
                for severity, message, file, line, index, ref in data["problems"]
            ]
            # The list's order, sorted when the snapshot was written: the list shows without sorting.
            orders: dict[tuple[str, bool], Sequence[int]] = {
                (column, False): _numbers(order) for column, order in data["orders"].items()
            }
            catalog._snapshot = CatalogSnapshot(
                entities=entities,
                by_ref=dict(zip(data["refs"], entities, strict=True)),
                problems=problems,
                read_problems=problems[: data["read_problems"]],
                index=SearchIndex.deferred(entities, lambda: _index_parts(blob, count)),
                orders=orders,
                dangling=data["dangling"],
            )
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None  # no snapshot, or one this version cannot use: start cold
    catalog.registrations = RegistrationStore.for_workspace(workspace.root)
    return WarmStart(workspace, catalog, warm=True, stored_files=lambda: _file_records(blob("files")))


def _file_records(stored: dict[str, list[Any]]) -> FileRecords:
    return {path: tuple(record) for path, record in stored.items()}


def _read(path: Path) -> tuple[dict[str, Any], Callable[[str], Any]]:
    """A snapshot's header, and what loads one of its blobs (see ``_write``).

    The file is mapped, not read: the header is all the list needs, and the blobs (over nine
    tenths of the file at 100k entities) are loaded, if ever, from this very file even when a later
    write has replaced it by then.
    """
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    if bytes(view[: len(_MAGIC)]) != _MAGIC:
        raise ValueError("not a snapshot")
    start = len(_MAGIC) + 8
    header_end = start + int.from_bytes(view[len(_MAGIC) : start], "little")
    data = marshal.loads(view[start:header_end])
    if not isinstance(data, dict) or not isinstance(data.get("blobs"), dict):
        raise ValueError("not a snapshot")
    blobs: dict[str, tuple[int, int]] = data["blobs"]
    if header_end + sum(length for _, length in blobs.values()) != len(view):
        raise ValueError("truncated snapshot")  # checked now: a blob is loaded when the list is long shown

    def blob(name: str) -> Any:
        offset, length = blobs[name]
        return marshal.loads(view[header_end + offset : header_end + offset + length])

    return data, blob


def _write(target: Path, header: dict[str, Any], blobs: dict[str, Any]) -> None:
    """Write ``header`` and each of ``blobs`` marshalled on its own, atomically, for its owner only."""
    parts = {name: marshal.dumps(value) for name, value in blobs.items()}
    offsets, offset = {}, 0
    for name, part in parts.items():
        offsets[name] = (offset, len(part))
        offset += len(part)
    head = marshal.dumps({**header, "blobs": offsets})
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, paths.PRIVATE_FILE)
        with os.fdopen(fd, "wb") as out:
            out.write(_MAGIC + len(head).to_bytes(8, "little"))
            out.write(head)
            for part in parts.values():
                out.write(part)
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


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

    columns, deferred, declared = entity_columns(snapshot.entities, number)
    linked = [[number((r.type, r.target)) for r in e.relations] for e in snapshot.entities]
    types = sorted({relation_type for relation_type, _ in numbers})
    type_number = {relation_type: n for n, relation_type in enumerate(types)}
    header = {
        "format": FORMAT,
        "refs": [ref_of[id(e)] for e in snapshot.entities],
        "columns": columns,
        "orders": {
            column: array("I", snapshot.sorted_positions(column)).tobytes() for column in STORED_ORDERS
        },
        # Read problems first, then linking's warnings (dangling relations).
        "problems": [
            (p.severity.value, p.message, p.position.file, p.position.line, p.position.index, p.ref)
            for p in snapshot.problems
        ],
        "read_problems": len(snapshot.read_problems),
        "dangling": snapshot.dangling,
    }
    # Each loaded when first needed: by an entity asked for one of its other fields, by the first
    # filter, by the revalidation. Big lists in chunks: loading one is a single C call that holds
    # the GIL, and a keystroke waits for a chunk (milliseconds), not for 50 MB of texts.
    blobs: dict[str, Any] = {
        # Plain lists of strings and flat arrays of numbers: marshal loads them in a few C calls,
        # where 400k (type, target) tuples and 200k small lists cost a fifth of the whole load.
        "relations": {
            "types": types,
            "pair_types": array("I", [type_number[t] for t, _ in numbers]).tobytes(),
            "targets": [target for _, target in numbers],
            "declared": _flat(declared),
            "linked": _flat(linked),
        },
        "files": files,
    }
    for name, column in [*deferred.items(), ("keys", snapshot.index.keys)]:
        for part, start in enumerate(range(0, len(column), _CHUNK)):
            blobs[f"{name}.{part}"] = column[start : start + _CHUNK]
    for facet, values in snapshot.index.postings.items():
        blobs[f"postings.{facet}"] = values
    # ValueError: a value marshal cannot write (then no snapshot).
    with contextlib.suppress(OSError, ValueError):
        _write(snapshot_path(workspace), header, blobs)


def _flat(runs: list[list[int]]) -> tuple[bytes, bytes]:
    """Runs of numbers as (all numbers, where each run ends), each an array's bytes."""
    return array("I", chain.from_iterable(runs)).tobytes(), array("I", accumulate(map(len, runs))).tobytes()


def _runs(stored: tuple[bytes, bytes]) -> tuple[array[int], array[int]]:
    """What ``_flat`` stored, as arrays."""
    return _numbers(stored[0]), _numbers(stored[1])


def _numbers(stored: bytes) -> array[int]:
    numbers = array("I")
    numbers.frombytes(stored)
    return numbers


def _stored_fields(blob: Callable[[str], Any], count: int) -> StoredFields:
    """The deferred part of a snapshot of ``count`` entities (see ``write_snapshot``)."""
    with gc_paused(promote=True):
        data = blob("relations")
        types, pair_types = data["types"], _numbers(data["pair_types"])
        pairs = list(zip(map(types.__getitem__, pair_types), data["targets"], strict=True))
        columns = {name: _column(blob, name, count) for name in DEFERRED_COLUMNS}
        return StoredFields(columns, pairs, _runs(data["declared"]), _runs(data["linked"]))


def _column(blob: Callable[[str], Any], name: str, count: int) -> list[Any]:
    """A column stored in chunks (see ``write_snapshot``), one chunk loaded at a time."""
    column: list[Any] = []
    for number in range((count + _CHUNK - 1) // _CHUNK):
        column += blob(f"{name}.{number}")
    return column


def _index_parts(blob: Callable[[str], Any], count: int) -> tuple[list[str], dict[str, dict[str, list[int]]]]:
    with gc_paused(promote=True):
        return _column(blob, "keys", count), {facet: blob(f"postings.{facet}") for facet in FACETS}


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
