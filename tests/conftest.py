"""Test-wide fixtures: every test gets its own state/cache/data dirs, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # pyproject's addopts runs the suite in parallel (-n auto). With `-p no:xdist` (one engineer's
    # quick local run) those options would be unknown: accept and ignore them instead.
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist-disabled")
        group._addoption("-n", "--numprocesses", action="store", default=None, help="(xdist disabled)")
        group._addoption("--dist", action="store", default=None, help="(xdist disabled)")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("idp-home")
    monkeypatch.setenv("IDP_CONSOLE_HOME", str(home))
    monkeypatch.delenv("IDP_CONSOLE_WORKSPACE", raising=False)
    monkeypatch.setenv("IDP_CONSOLE_USER", "jane.doe")
    # The demo's simulated cluster inside the test process: a background server per test would
    # cost seconds each (tests/kube_sim/test_shared_simulation.py covers the shared one).
    monkeypatch.setenv("IDP_CONSOLE_SIMULATION", "in-process")
    return home
