"""Fixtures for the history store tests: one real PostgreSQL server per test process (tests/pg.py),
a fresh database per test, and the same history API over both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.deploy.history import DeployHistory, open_history
from backends.workspace import Workspace
from tests.deploy.conftest import sim  # noqa: F401 - the simulated cluster, for deploys into the store
from tests.pg import TEST_PASSWORD, PostgresServer, running_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh history's URL; its password is in the environment, as CI would give it."""
    monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", TEST_PASSWORD)
    return pg_server.new_history()


def workspace_with(root: Path, history: str | None) -> Workspace:
    raw = {"history": history} if history else {}
    return Workspace(root=root, config_file=root / "idp-console.yaml", name="t", is_demo=False, raw=raw)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``history:`` for each store: a SQLite path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite3")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def history(store_url: str, tmp_path: Path) -> Iterator[DeployHistory]:
    opened = open_history(workspace_with(tmp_path, store_url))
    yield opened
    opened.close()
