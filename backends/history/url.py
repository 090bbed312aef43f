"""``history:`` in idp-console.yaml: where the history lives.

- absent: the SQLite file in the state dir (one user, one host);
- a path (``/shared/idp/history.sqlite3``, relative to the workspace) or ``sqlite:PATH``: a SQLite
  file elsewhere, e.g. on a disk several hosts share;
- ``postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=…]``: a PostgreSQL database, for a bastion with
  many users or several hosts. The password is never in the file: it comes from the secret named
  ``history`` (``IDP_CONSOLE_SECRET_HISTORY``, else the OS keyring), else libpq's own
  ``PGPASSWORD`` / ``~/.pgpass``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from backends.history.errors import HistoryConfigError

PASSWORD_SECRET = "history"
DEFAULT_PORT = 5432
# Connection settings a URL may carry besides user, host, port and database.
ALLOWED_OPTIONS = frozenset({"sslmode", "sslrootcert", "sslcert", "sslkey", "application_name"})


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """A PostgreSQL database, without its password."""

    host: str
    port: int
    database: str
    user: str = ""
    options: tuple[tuple[str, str], ...] = field(default=())

    @property
    def where(self) -> str:
        """``postgresql://user@host:port/db`` — safe to print, holds no password."""
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{user}{host}:{self.port}/{self.database}"

    def conninfo(self) -> dict[str, str]:
        """Keyword arguments for psycopg (the password is added by whoever connects)."""
        info = {"host": self.host, "port": str(self.port), "dbname": self.database}
        if self.user:
            info["user"] = self.user
        info.update(self.options)
        return info


def parse_history_url(value: str, root: Path | None = None) -> PostgresTarget | Path:
    """A PostgreSQL target, or the path of a SQLite file; :class:`HistoryConfigError` otherwise.

    The message never repeats the value: a URL with a password in it must not reach a terminal.
    """
    value = value.strip()
    if not value:
        raise HistoryConfigError("expected a postgresql:// URL or a path, got an empty string")
    scheme = value.split(":", 1)[0].lower() if "://" in value or value.startswith("sqlite:") else ""
    if scheme == "sqlite":
        value = value.split(":", 1)[1]
        if value.startswith("//"):
            value = value[2:]
        scheme = ""
    if not scheme:
        path = Path(os.path.expanduser(value))
        if not path.is_absolute() and root is not None:
            path = root / path
        return path
    if scheme not in ("postgresql", "postgres"):
        raise HistoryConfigError(
            f"unknown store {scheme!r}: expected postgresql://USER@HOST:PORT/DATABASE or a path"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise HistoryConfigError(f"not a valid postgresql:// URL ({_no_secret(str(error))})") from None
    if parts.password is not None:
        raise HistoryConfigError(
            "the URL holds a password: remove it from idp-console.yaml and store it as the secret "
            f"{PASSWORD_SECRET!r} (keyring) or in IDP_CONSOLE_SECRET_HISTORY"
        )
    if not parts.hostname:
        raise HistoryConfigError("the postgresql:// URL names no host (postgresql://USER@HOST:PORT/DATABASE)")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise HistoryConfigError(
            "the postgresql:// URL names no database (postgresql://USER@HOST:PORT/DATABASE)"
        )
    options = []
    for key, option in parse_qsl(parts.query, keep_blank_values=True):
        if key not in ALLOWED_OPTIONS:
            known = ", ".join(sorted(ALLOWED_OPTIONS))
            raise HistoryConfigError(f"unknown option {key!r} in the postgresql:// URL (known: {known})")
        options.append((key, option))
    return PostgresTarget(
        host=parts.hostname,
        port=port or DEFAULT_PORT,
        database=database,
        user=unquote(parts.username or ""),
        options=tuple(options),
    )


def _no_secret(text: str) -> str:
    # urllib's messages quote the offending part (a port), never the whole URL; keep it short anyway.
    return text.splitlines()[0][:80]


def validate_history_setting(value: object, root: Path | None = None) -> None:
    """``history:`` as the workspace loader checks it: a ConfigError pointing at its line."""
    from backends.config_checks import ConfigError

    if not isinstance(value, str):
        raise ConfigError(("history",), "expected a postgresql:// URL or a path to a SQLite file")
    try:
        parse_history_url(value, root)
    except HistoryConfigError as error:
        raise ConfigError(("history",), str(error)) from None
