"""Where idp-console keeps its state, caches and data (XDG base directories).

Every directory can be redirected with ``IDP_CONSOLE_HOME`` (tests and CI use a temp dir so they
never touch the user's real state).

The directories hold deploy history, clones of private repositories and error logs: they are
created 0700, and tightened to 0700 when an earlier version (or a umask) left them wider. A bad
``IDP_CONSOLE_HOME`` (a file, a missing parent, no permission) is a ``PathsError`` with one line.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import platformdirs

APP_NAME = "idp-console"
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


class PathsError(Exception):
    """A state, cache or data directory that cannot be used; the message names it and says why."""


def _base(kind: str) -> Path:
    home = os.environ.get("IDP_CONSOLE_HOME")
    if home:
        _check_home(Path(home))
        return Path(home) / kind
    getter = {
        "state": platformdirs.user_state_dir,
        "cache": platformdirs.user_cache_dir,
        "data": platformdirs.user_data_dir,
        "config": platformdirs.user_config_dir,
    }[kind]
    return Path(getter(APP_NAME))


def state_dir() -> Path:
    """Deploy history, the simulated cluster's objects, the command-line history."""
    return _ensure(_base("state"))


def cache_dir() -> Path:
    """Git clones of catalog/template/docs sources; safe to delete."""
    return _ensure(_base("cache"))


def data_dir() -> Path:
    """User data that is not a cache, e.g. the demo workspace's bare git remotes."""
    return _ensure(_base("data"))


def config_dir() -> Path:
    """Where a default ``idp-console.yaml`` is looked for when no workspace is named."""
    return _base("config")


def _check_home(home: Path) -> None:
    """``IDP_CONSOLE_HOME`` is created if missing, but not its parents: a typo must not build a tree."""
    if home.is_dir():
        return
    if home.exists():
        raise PathsError(f"IDP_CONSOLE_HOME={home}: not a directory")
    if not home.parent.is_dir():
        raise PathsError(f"IDP_CONSOLE_HOME={home}: its parent {home.parent} is not an existing directory")


def _ensure(path: Path) -> Path:
    """``path`` as a private directory (created 0700, tightened if it is wider)."""
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        _tighten(path, PRIVATE_DIR)
    except FileExistsError as error:
        raise PathsError(f"cannot use {path}: it exists and is not a directory") from error
    except OSError as error:
        raise PathsError(f"cannot create {path}: {error.strerror or error}") from error
    if not os.access(path, os.W_OK | os.X_OK):
        raise PathsError(f"cannot write to {path}: permission denied")
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read (created empty 0600 if missing, else tightened)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, PRIVATE_FILE))
    except FileExistsError:
        # Never opened again: closing any descriptor of a file drops every POSIX lock this process
        # holds on it — SQLite's, for a history another connection has open — and corrupts it.
        pass
    except OSError as error:
        raise PathsError(f"cannot create {path}: {error.strerror or error}") from error
    tighten_file(path)
    return path


def tighten_file(path: Path) -> None:
    """Remove group and other permissions from an existing file (missing: nothing to do)."""
    with contextlib.suppress(FileNotFoundError):
        _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(os.stat(path).st_mode)
    if current & 0o077:
        with contextlib.suppress(PermissionError):  # not ours: we can only use it as it is
            os.chmod(path, current & mode)
