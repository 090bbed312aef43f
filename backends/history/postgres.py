"""The PostgreSQL store: psycopg 3 through a connection pool, for a history many hosts share.

Connections are made on demand (``min_size=0``): a console whose store is down still starts, shows
the live cluster and says why the history is missing; a deploy refuses to start (see
``DeployRun._prechecks``). Errors are rewritten from the URL's printable parts and the server's
SQLSTATE, never from text that could hold the password.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from backends.history.errors import (
    HistoryAuthError,
    HistoryError,
    HistorySchemaError,
    HistoryUnavailable,
)
from backends.history.schema import LATEST, MIGRATIONS, SCHEMA_VERSION_TABLE, newer_schema_message
from backends.history.sql import to_pyformat
from backends.history.url import PASSWORD_SECRET, PostgresTarget

Params = Sequence[Any]
# Any constant: one migration at a time per database, whichever process gets there first.
_MIGRATION_LOCK = 0x1D9C0A50
_CONTROLS_LOCK = 0x1D9C0A51
CONNECT_TIMEOUT = 3  # seconds: a deploy's append waits at most this long before spooling

# The pool logs every failed reconnection as a warning; with no logging configured Python prints
# those on stderr, in the middle of a CLI's output. Our own errors say it once, clearly.
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
logging.getLogger("psycopg.pool").propagate = False


def _configure(conn: psycopg.Connection[Any]) -> None:
    """No JIT compilation: the scorecard's statement over 100k records costs enough to trigger it,
    and compiling took ~90–130 ms of its ~300 ms (issue 12); every other query here is far below
    the threshold, so this only spares the scorecard."""
    conn.execute("SET jit = off")


class PostgresStore:
    dialect = "postgresql"

    def __init__(self, target: PostgresTarget, password: str | None = None, *, max_size: int = 8) -> None:
        self.target = target
        self._password = password
        self._kwargs: dict[str, Any] = {
            **target.conninfo(),
            "connect_timeout": CONNECT_TIMEOUT,
            "autocommit": True,
            "application_name": dict(target.options).get("application_name", "idp-console"),
        }
        if password:
            self._kwargs["password"] = password
        self._max_size = max_size
        self._pool = self._new_pool()
        self._ready = False
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return self.target.where

    def _new_pool(self) -> ConnectionPool:
        return ConnectionPool(
            kwargs=self._kwargs,
            min_size=0,
            max_size=self._max_size,
            open=False,
            timeout=CONNECT_TIMEOUT,
            check=ConnectionPool.check_connection,  # a server restart leaves dead connections
            reconnect_timeout=0,  # keep no background retry loop: a failed getconn says why at once
            name="idp-console-history",
            configure=_configure,
        )

    # -- connections ------------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Connect once directly (to tell a wrong password from a server that is down), migrate,
        then open the pool. Repeated on the next call after a failure."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                with psycopg.connect(**self._kwargs) as conn:
                    self._migrate(conn)
            except psycopg.Error as error:
                raise self._explain(error) from None
            self._pool.open(wait=False)
            self._ready = True

    def _explain(self, error: BaseException) -> HistoryError:
        """One line for ``error``, from its SQLSTATE and the printable URL — never the driver's text
        alone, which could echo connection settings."""
        state = getattr(error, "sqlstate", None) or ""
        text = str(error)
        where = self.where
        if state in ("28P01", "28000") or "password authentication failed" in text:
            source = "the password given" if self._password else "no password"
            return HistoryAuthError(
                f"the history store {where} refused the login ({source}): set the password as the "
                f"secret {PASSWORD_SECRET!r} in the keyring or in IDP_CONSOLE_SECRET_HISTORY"
            )
        if "no password supplied" in text:
            return HistoryAuthError(
                f"the history store {where} asks for a password: store it as the secret "
                f"{PASSWORD_SECRET!r} in the keyring or export IDP_CONSOLE_SECRET_HISTORY"
            )
        if state == "3D000" or "does not exist" in text and "database" in text:
            return HistoryError(
                f"the history store {where}: database {self.target.database!r} does not exist"
            )
        if not isinstance(error, (psycopg.OperationalError, PoolTimeout)):
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
            return HistoryError(f"the history store {where} refused the schema: {first_line}")
        if isinstance(error, PoolTimeout):
            return HistoryUnavailable(f"the history store {where} did not answer within {CONNECT_TIMEOUT} s")
        if "refused" in text.lower():
            reason = "connection refused"
        elif "timeout" in text.lower() or "timed out" in text.lower():
            reason = "timed out"
        elif "shutdown" in text.lower() or "terminat" in text.lower() or "closed" in text.lower():
            reason = "the server closed the connection"
        else:
            reason = (text.strip().splitlines() or ["no answer"])[-1].strip()[:120]
        return HistoryUnavailable(f"cannot reach the history store {where}: {reason}")

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            conn.execute(SCHEMA_VERSION_TABLE.format(real="DOUBLE PRECISION"))
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0] or 0) if row else 0
            if current > LATEST:
                raise HistorySchemaError(newer_schema_message(self.where, current))
            for version in range(current + 1, LATEST + 1):
                for statement in MIGRATIONS["postgresql"][version]:
                    conn.execute(statement.encode())  # bytes: no placeholder parsing
                conn.execute("INSERT INTO schema_version VALUES (%s, %s)", (version, time.time()))

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        self._prepare()
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as error:
            if isinstance(error, psycopg.errors.QueryCanceled):
                raise
            raise self._explain(error) from None

    # -- statements -------------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> None:
        with self._connection() as conn:
            conn.execute(to_pyformat(sql) if params else sql, tuple(params) or None)

    def insert_id(self, sql: str, params: Params, *, serialized: bool = False) -> int:
        with self._connection() as conn, conn.transaction():
            if serialized:
                # Ids come from a sequence at INSERT time but become visible at COMMIT: two
                # concurrent inserts could commit out of order and a reader polling `id > last`
                # would skip one. One at a time, they commit in id order.
                conn.execute(f"SELECT pg_advisory_xact_lock({_CONTROLS_LOCK})")
            row = conn.execute(to_pyformat(sql) + " RETURNING id", tuple(params)).fetchone()
            assert row is not None
            return int(row[0])

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(to_pyformat(sql), [tuple(row) for row in rows])

    def fetch(self, sql: str, params: Params = (), *, readonly: bool = False) -> list[tuple[Any, ...]]:
        with self._connection() as conn, conn.transaction():
            if readonly:
                conn.execute("SET TRANSACTION READ ONLY")
            # A read-only statement is a report (the scorecard, the audit) over a range its
            # parameters give: never prepared, so each run is planned for its own values. psycopg
            # prepares a statement a connection ran 5 times, and PostgreSQL then soon settles on a
            # generic plan blind to them: the scorecard's DORA statement took 230 ms of server CPU
            # instead of 136, the demo check (host = ?) read every deploy (issue 12).
            cursor = conn.execute(
                to_pyformat(sql) if params else sql,
                tuple(params) or None,
                prepare=False if readonly else None,
            )
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def ping(self) -> None:
        self.fetch("SELECT 1")

    def schema_version(self) -> int:
        return int(self.fetch("SELECT MAX(version) FROM schema_version")[0][0] or 0)

    def close(self) -> None:
        """Disconnect; a later call connects again (a closed session's history may still be read)."""
        with self._lock:
            self._pool.close()
            self._pool, self._ready = self._new_pool(), False
