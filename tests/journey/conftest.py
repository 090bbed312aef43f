"""The journey tests use the deploy tests' simulated cluster (one per test, on loopback)."""

from tests.deploy.conftest import sim  # noqa: F401 - a fixture, used by name
