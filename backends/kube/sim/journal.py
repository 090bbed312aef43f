"""The simulated cluster's durable state: a snapshot file plus an append-only journal of changes.

Saving the whole state (every object, as one JSON file) before answering each write cost the
API a full serialisation and an fsync per write — hundreds of milliseconds with a few thousand
pods, on the loop that also streams the watches. Instead every committed change is appended
to a journal as one JSON line, and a write is answered once its line is fsynced (writers that
wait together share one fsync). Now and then the journal is folded into the snapshot
(``compact``), in a thread that encodes one object at a time, so the loop keeps streaming.

Files, for a state file ``S``:

- ``S``: the snapshot, ``{"resourceVersion", "journalSeq", "objects": [...], "errorRates": [...]}``,
  replaced atomically. ``journalSeq`` is the last journal record it contains.
- ``S.journal.<N>``: journal segments, one JSON record per line, each with a ``seq`` that grows
  across segments and restarts (a put, a delete, the error rates, or the resourceVersion a restart
  jumps to). A compaction starts segment N+1 at the moment it snapshots, and
  deletes segments ≤ N only once the new snapshot is on disk.

So at any instant — a ``kill -9`` mid-compaction included — the snapshot on disk plus the
records after its ``journalSeq`` in the segments on disk hold every acknowledged write
(`recover` reads them that way). A torn last line (killed mid-append) was never acknowledged
and is ignored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from backends.atomic import atomic_file, fsync_directory

log = logging.getLogger(__name__)

T = TypeVar("T")
Record = dict[str, Any]
_SEGMENT = ".journal."
_YIELD_EVERY = 50  # objects encoded between two GIL releases while writing a snapshot (~1 ms)


def segment_paths(state_file: Path) -> list[tuple[int, Path]]:
    """The journal segments of ``state_file`` on disk, oldest first."""
    prefix = state_file.name + _SEGMENT
    found = []
    with contextlib.suppress(FileNotFoundError):
        for path in state_file.parent.iterdir():
            suffix = path.name[len(prefix) :]
            if path.name.startswith(prefix) and suffix.isdigit():
                found.append((int(suffix), path))
    return sorted(found)


def _records(path: Path) -> Iterator[Record]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or not line.endswith(b"\n"):
                    raise ValueError("not a whole record")
            except ValueError:
                # Only the tail can be torn by a kill mid-append, and it was never acknowledged.
                rest = handle.read()
                if rest.strip():
                    log.warning("%s:%d: unreadable journal record; ignoring the rest", path, number)
                return
            yield record


def recover(state_file: Path) -> dict[str, Any] | None:
    """The state a restart starts from: the snapshot, with every journal record after it replayed.

    None when there is neither a snapshot nor a journal. A damaged snapshot raises ValueError
    (or OSError), like `json.loads`.
    """
    segments = segment_paths(state_file)
    if not state_file.exists() and not segments:
        return None
    state: dict[str, Any] = json.loads(state_file.read_text()) if state_file.exists() else {}
    if not isinstance(state, dict):
        raise ValueError("the state file is not a JSON object")
    done = int(state.get("journalSeq", 0))
    rv = int(state.get("resourceVersion", 0))
    objects: dict[tuple[str, str | None, str], Record] = {}
    for entry in state.get("objects", []):
        meta = entry["object"]["metadata"]
        objects[(entry["resource"], meta.get("namespace"), meta["name"])] = entry
    rates = state.get("errorRates", [])
    for _number, path in segments:
        for record in _records(path):
            seq = int(record["seq"])
            if seq <= done:
                continue  # already in the snapshot (a compaction was killed before deleting it)
            done = seq
            if "put" in record:
                obj = record["object"]
                meta = obj["metadata"]
                objects[(record["put"], meta.get("namespace"), meta["name"])] = {
                    "resource": record["put"],
                    "object": obj,
                }
                rv = max(rv, int(meta.get("resourceVersion", 0)))
            elif "delete" in record:
                objects.pop((record["delete"], record.get("namespace"), record["name"]), None)
                rv = max(rv, int(record.get("rv", 0)))
            elif "errorRates" in record:
                rates = record["errorRates"]
            elif "resourceVersion" in record:  # a restart's jump (cluster._RESTART_GAP)
                rv = max(rv, int(record["resourceVersion"]))
    return {"resourceVersion": rv, "journalSeq": done, "objects": list(objects.values()), "errorRates": rates}


def write_snapshot(state_file: Path, state: dict[str, Any]) -> int:
    """Replace ``state_file`` with ``state`` atomically (fsync, rename, fsync the directory).

    Encodes one object at a time and lets other threads run in between: one ``json.dumps`` of
    the whole state would hold the GIL — and stall the loop serving the API — for all of it.
    Returns the size written.
    """
    head = {k: v for k, v in state.items() if k != "objects"}
    size = 0
    with atomic_file(state_file, sync_directory=True) as handle:
        start = json.dumps(head, separators=(",", ":"))[:-1] + ',"objects":['
        handle.write(start.encode())
        size += len(start)
        for index, entry in enumerate(state.get("objects", [])):
            chunk = ("," if index else "") + json.dumps(entry, separators=(",", ":"))
            handle.write(chunk.encode())
            size += len(chunk)
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                time.sleep(0)  # release the GIL: the API's loop gets its turn now, not in 5 ms
        handle.write(b"]}")
    return size + 2


class Journal:
    """Appends change records to ``<state_file>.journal.<N>`` and makes them durable on demand.

    `append` is cheap and never touches the disk (it runs under the store's lock, on every
    commit); `sync` writes and fsyncs everything appended so far; `rotate` + `drop_through`
    are the two halves of a compaction. Thread-safe.
    """

    def __init__(self, state_file: Path, *, last_seq: int, segment: int) -> None:
        self.state_file = state_file
        self._lock = threading.Lock()  # sequence numbers, pending lines, the current segment
        self._io_lock = threading.Lock()  # one batch written at a time, in sequence order
        self._pending: list[tuple[int, bytes]] = []
        self._seq = last_seq
        self._durable = last_seq
        self._segment = segment
        self._fds: dict[int, int] = {}
        self.bytes_since_rotate = 0

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest record appended."""
        with self._lock:
            return self._seq

    @property
    def durable_seq(self) -> int:
        """Every record up to this sequence number is on disk."""
        return self._durable

    def path(self, segment: int) -> Path:
        """The file of one segment."""
        return self.state_file.with_name(f"{self.state_file.name}{_SEGMENT}{segment}")

    def append(self, make: Callable[[], Record]) -> int:
        """Queue the record ``make()`` builds (called under the journal's lock, so records built from
        shared state, such as every error rate, are queued in the order they were read)."""
        with self._lock:
            self._seq += 1
            record = {"seq": self._seq, **make()}
            line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
            self._pending.append((self._segment, line))
            self.bytes_since_rotate += len(line)
            return self._seq

    def sync(self) -> None:
        """Write and fsync every record appended so far (blocking: call it from a thread)."""
        with self._io_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                upto = self._seq
            ends: list[tuple[int, int]] = []  # each file written to, and its size before
            try:
                for segment, lines in _by_segment(batch):
                    fd = self._fd(segment)
                    ends.append((fd, os.fstat(fd).st_size))
                    _write_all(fd, b"".join(lines))
                for fd, _size in ends:
                    os.fdatasync(fd)
            except OSError:
                # Not durable: the next sync writes the batch again (a record written twice is
                # replayed once — `recover` skips sequence numbers it has seen). A write cut short
                # (disk full) left part of a line: cut it off, or the batch written again would
                # continue that line, and `recover` stops at an unreadable line.
                for fd, size in ends:
                    try:
                        os.ftruncate(fd, size)
                    except OSError as error:
                        log.error("%s: could not cut off a failed journal write: %s", self.state_file, error)
                with self._lock:
                    self._pending[:0] = batch
                raise
            self._durable = max(self._durable, upto)

    def rotate(self, capture: Callable[[], T]) -> tuple[int, int, T]:
        """Start a new segment; returns the last sequence number and segment before it, and what
        ``capture`` read at that same instant (the caller holds the store's writes, so the
        snapshot it captures contains exactly the records up to that number)."""
        with self._lock:
            captured = capture()
            seq, segment = self._seq, self._segment
            self._segment += 1
            self.bytes_since_rotate = 0
            return seq, segment, captured

    def drop_through(self, segment: int) -> None:
        """Delete segments ≤ ``segment`` (their records are in the snapshot on disk now)."""
        with self._io_lock:
            for number in [n for n in self._fds if n <= segment]:
                os.close(self._fds.pop(number))
            for number, path in segment_paths(self.state_file):
                if number <= segment:
                    path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the open segment files (records still pending are not written)."""
        with self._io_lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def _fd(self, segment: int) -> int:
        if segment not in self._fds:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
            self._fds[segment] = os.open(self.path(segment), flags, 0o600)
            fsync_directory(self.state_file.parent)  # the new file's name survives a crash too
        return self._fds[segment]


def _by_segment(batch: Iterable[tuple[int, bytes]]) -> list[tuple[int, list[bytes]]]:
    groups: list[tuple[int, list[bytes]]] = []
    for segment, line in batch:
        if groups and groups[-1][0] == segment:
            groups[-1][1].append(line)
        else:
            groups.append((segment, [line]))
    return groups


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
