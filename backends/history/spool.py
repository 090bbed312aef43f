"""Writes a running deploy could not make because the store did not answer: kept in order, in
memory and in a local spool file, and written once the store answers again.

A deploy already running must not stop because the history's server went away (the cluster is
mid-canary; stopping there is the harm), and must not lose what it did. Each process spools into
its own file under the state dir, holding an exclusive ``flock`` on it while it lives; any later
process that can take that lock knows the writer is gone (crashed, killed) and writes its
leftovers. A ``.done`` file beside it counts the lines already written, so a process that dies
mid-flush repeats at most the one write it was making.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from backends.history.errors import HistoryUnavailable

log = logging.getLogger(__name__)
RETRY_SECONDS = 0.5

Execute = Callable[[str, Sequence[Any]], None]


class WriteSpool:
    """Ordered writes: straight to the store while it answers, queued (and spooled) once it does
    not, until every queued write has reached it."""

    def __init__(self, execute: Execute, directory: Path, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self._execute = execute
        self.directory = directory
        self._retry = retry_seconds
        self._lock = threading.Lock()
        self._pending: deque[tuple[str, list[Any]]] = deque()
        self._file: IO[str] | None = None
        self._path: Path | None = None
        self._written = 0
        self._flusher: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def pending(self) -> int:
        """How many writes wait for the store."""
        return len(self._pending)

    def write(self, sql: str, params: Sequence[Any]) -> None:
        """Write now, or queue behind the writes already waiting (their order is the deploy's)."""
        with self._lock:
            queued = bool(self._pending)
        if not queued:
            try:
                self._execute(sql, params)
                return
            except HistoryUnavailable as error:
                log.warning("history store unavailable, spooling: %s", error)
        with self._lock:
            self._spool(sql, list(params))
            if self._flusher is None or not self._flusher.is_alive():
                self._closed.clear()
                self._flusher = threading.Thread(target=self._flush_loop, name="history-spool", daemon=True)
                self._flusher.start()

    def flush(self) -> bool:
        """Write what waits, in order; True once nothing waits (False: the store is still away)."""
        while True:
            with self._lock:
                if not self._pending:
                    self._discard_file()
                    return True
                sql, params = self._pending[0]
            try:
                self._execute(sql, params)
            except HistoryUnavailable:
                return False
            except Exception as error:  # refused for good (e.g. a duplicate): retrying cannot help
                log.error("history: a spooled write was refused and dropped: %s", error)
            with self._lock:
                self._pending.popleft()
                self._written += 1
                self._mark_done()

    def close(self) -> None:
        """One last try; what still waits stays in the spool file for the next process."""
        self._closed.set()
        self.flush()
        with self._lock:
            if self._file is not None:
                self._file.close()  # releases the lock: the next process takes over the leftovers
                self._file = None

    # -- the spool file ---------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self.flush():
            if self._closed.wait(self._retry):
                return

    def _spool(self, sql: str, params: list[Any]) -> None:
        self._pending.append((sql, params))
        try:
            if self._file is None:
                self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
                fd = os.open(self._path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._file = os.fdopen(fd, "a", encoding="utf-8")
                self._written = 0
            self._file.write(json.dumps({"sql": sql, "params": params}) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())  # the point of a spool: a crash right after loses nothing
        except OSError as error:  # a full disk: memory still holds it while this process lives
            log.error("history: cannot spool to %s: %s", self.directory, error)

    def _mark_done(self) -> None:
        if self._path is not None:
            with contextlib.suppress(OSError):
                _done_path(self._path).write_text(str(self._written), encoding="utf-8")

    def _discard_file(self) -> None:
        if self._file is not None and self._path is not None:
            for path in (self._path, _done_path(self._path)):
                with contextlib.suppress(OSError):
                    path.unlink()
            self._file.close()
            self._file, self._path, self._written = None, None, 0


def _done_path(path: Path) -> Path:
    return path.with_suffix(".done")


def recover_spools(execute: Execute, directory: Path) -> int:
    """Write what processes that are gone left in ``directory``; returns how many writes were made.
    A file whose writer still lives (it holds the lock) is left to it."""
    if not directory.is_dir():
        return 0
    written = 0
    for path in sorted(directory.glob("*.jsonl")):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        with os.fdopen(fd, "r+", encoding="utf-8") as handle:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its writer is alive, or another process is recovering it
            if not path.exists():
                continue  # recovered and removed between our glob and our lock
            written += _replay(execute, path, handle.read().splitlines())
    return written


def _replay(execute: Execute, path: Path, lines: list[str]) -> int:
    done_path = _done_path(path)
    try:
        done = int(done_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        done = 0
    written = 0
    for index, line in enumerate(lines):
        if index < done or not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the last line of a process killed mid-write
        try:
            execute(str(entry["sql"]), list(entry["params"]))
        except HistoryUnavailable:
            return written
        except Exception as error:
            log.error("history: a spooled write was refused and dropped: %s", error)
        written += 1
        with contextlib.suppress(OSError):
            done_path.write_text(str(index + 1), encoding="utf-8")
    for leftover in (path, done_path):
        with contextlib.suppress(OSError):
            leftover.unlink()
    return written
