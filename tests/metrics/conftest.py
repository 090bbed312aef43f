"""Fixtures borrowed from other areas: the deploy tests' simulated cluster and engine, and the
history tests' stores (SQLite and a real PostgreSQL server)."""

from tests.deploy.conftest import harness, sim  # noqa: F401 - fixtures
from tests.history.conftest import pg_server, pg_url, store_url  # noqa: F401 - fixtures
