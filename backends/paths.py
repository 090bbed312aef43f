"""Where idp-console keeps its state, caches and data (XDG base directories).

Every directory can be redirected with ``IDP_CONSOLE_HOME`` (tests and CI use a temp dir so they
never touch the user's real state).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "idp-console"


def _base(kind: str) -> Path:
    home = os.environ.get("IDP_CONSOLE_HOME")
    if home:
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


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
