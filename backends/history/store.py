"""What the deploy history needs from a database, and the SQLite store (the default).

A :class:`Store` runs one statement per transaction, with ``?`` placeholders whatever the dialect;
the history's own logic (records, verdicts, spooling) lives once in ``backends.deploy.history``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from backends import paths
from backends.history.errors import HistoryError, HistorySchemaError, HistoryUnavailable
from backends.history.schema import LATEST, MIGRATIONS, SCHEMA_VERSION_TABLE, newer_schema_message

Params = Sequence[Any]


class Store(Protocol):
    """A database holding the history's tables (see :mod:`backends.history.schema`)."""

    dialect: str  # "sqlite" | "postgresql"

    @property
    def where(self) -> str:
        """Where the history is, safe to print (a path, or a URL without its password)."""
        ...

    def execute(self, sql: str, params: Params = ()) -> None:
        """One write in its own transaction. Raises :class:`HistoryUnavailable` when the store does
        not answer; a refused write (append-only, a duplicate key) raises the driver's error."""
        ...

    def insert_id(self, sql: str, params: Params, *, serialized: bool = False) -> int:
        """An INSERT into a table with an ``id`` column; returns the new id. ``serialized``: ids
        become visible in the order they were given (a reader polling ``id > last`` skips none)."""
        ...

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Many rows of one INSERT in one transaction (copying a history)."""
        ...

    def fetch(self, sql: str, params: Params = (), *, readonly: bool = False) -> list[tuple[Any, ...]]:
        """The rows of one SELECT; ``readonly`` refuses any statement that would write."""
        ...

    def ping(self) -> None:
        """Raise :class:`HistoryError` (unreachable, refused credentials, newer schema) unless the
        store can be written now."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


def _locked(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text or "unable to open" in text or "disk i/o" in text


class SqliteStore:
    """One SQLite file; every thread gets its own connection, kept open (opening one per event cost
    more than the engine's own work per canary step)."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, timeout: float = 30) -> None:
        self.path = path
        self._timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Who deployed what, when and why is nobody else's business: 0600 before SQLite opens it,
        # so the -wal and -shm files it creates beside it inherit the mode.
        paths.private_file(self.path)
        self._local = threading.local()
        self._migrate()

    @property
    def where(self) -> str:
        return str(self.path)

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=self._timeout)
                db.execute("PRAGMA journal_mode=WAL")  # the CLI, the TUI and runners write at once
            except sqlite3.OperationalError as error:
                raise HistoryUnavailable(f"cannot open the history {self.path}: {error}") from error
            for suffix in ("-wal", "-shm"):  # left wider by an older version: tighten them too
                paths.tighten_file(self.path.with_name(self.path.name + suffix))
            # WAL + NORMAL survives a killed process (what recovery is about); only a power cut
            # may lose the last events, never corrupt the file.
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        try:
            with db:
                yield db
        except sqlite3.OperationalError as error:
            if _locked(error):
                raise HistoryUnavailable(f"the history {self.path} is busy: {error}") from error
            raise

    def _migrate(self) -> None:
        db = self._connection()
        previous = db.isolation_level
        db.isolation_level = None  # our own BEGIN IMMEDIATE: two processes never migrate at once
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(SCHEMA_VERSION_TABLE.format(real="REAL"))
                current = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
                if current > LATEST:
                    raise HistorySchemaError(newer_schema_message(str(self.path), current))
                for version in range(current + 1, LATEST + 1):
                    for statement in MIGRATIONS["sqlite"][version]:
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time()))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.OperationalError as error:
            if _locked(error):
                raise HistoryUnavailable(f"the history {self.path} is busy: {error}") from error
            raise HistoryError(f"cannot prepare the history {self.path}: {error}") from error
        finally:
            db.isolation_level = previous

    def execute(self, sql: str, params: Params = ()) -> None:
        with self._transaction() as db:
            db.execute(sql, tuple(params))

    def insert_id(self, sql: str, params: Params, *, serialized: bool = False) -> int:
        # SQLite serialises every write already: ids are visible in the order they were given.
        with self._transaction() as db:
            cursor = db.execute(sql, tuple(params))
            assert cursor.lastrowid is not None
            return int(cursor.lastrowid)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self._transaction() as db:
            db.executemany(sql, [tuple(row) for row in rows])

    def fetch(self, sql: str, params: Params = (), *, readonly: bool = False) -> list[tuple[Any, ...]]:
        db = self._connection()
        try:
            if readonly:
                db.execute("PRAGMA query_only = ON")
            try:
                return [tuple(row) for row in db.execute(sql, tuple(params)).fetchall()]
            finally:
                if readonly:
                    db.execute("PRAGMA query_only = OFF")
        except sqlite3.OperationalError as error:
            if _locked(error):
                raise HistoryUnavailable(f"the history {self.path} is busy: {error}") from error
            raise

    def ping(self) -> None:
        self.fetch("SELECT 1")

    def schema_version(self) -> int:
        return int(self.fetch("SELECT MAX(version) FROM schema_version")[0][0] or 0)

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
