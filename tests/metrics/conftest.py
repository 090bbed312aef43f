"""The deploy tests' simulated cluster and engine, for the demo-history test that deploys."""

from tests.deploy.conftest import harness, sim  # noqa: F401 - fixtures
