"""Test-wide fixtures: every test gets its own state/cache/data dirs, never the user's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The suite starts hundreds of Python processes: xdist workers, the simulated cluster, CLI runs, ssh
# sessions. Where PYTHONDONTWRITEBYTECODE is set (as on these machines), each of them compiled every
# module it imports from source again (measured: ~11 s of one worker's start, ~1 s per child). Let
# them keep the bytecode, as Python does by default; set here, before xdist starts its workers.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # pyproject's addopts runs the suite in parallel (-n auto). With `-p no:xdist` (one engineer's
    # quick local run) those options would be unknown: accept and ignore them instead.
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist-disabled")
        group._addoption("-n", "--numprocesses", action="store", default=None, help="(xdist disabled)")
        group._addoption("--dist", action="store", default=None, help="(xdist disabled)")


@pytest.hookimpl(optionalhook=True)  # unknown with -p no:xdist
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: three workers per core. The suite spends much of its time waiting (bakes at a
    shortened time scale, child processes and servers starting, Pilot pauses). Measured on the
    2-core machine: one worker per core ran 9 min at a load of ~1.3; two ran 5 min 5 s, using 70 %
    of the CPU; three ran 4 min 18 s. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set,
    as in xdist itself."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").isdigit():
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    return 3 * len(os.sched_getaffinity(0))


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


# The modules whose tests take longest (Pilot tests of whole journeys, live deploys), longest first.
# pytest-xdist hands tests out in collection order as workers free up: run last, these left one
# worker busy for minutes after the other ran dry. Run first, the many short tests fill the gaps.
# Whole modules move, in their own order; a module not listed keeps its place after these.
SLOW_FIRST = (
    "tests/catalog/test_register_concurrency.py",  # one 37 s test (measured 2026-12-07)
    "tests/screens/test_scaffold_screen.py",
    "tests/screens/test_deploy_screen.py",
    "tests/screens/test_key_tour.py",
    "tests/screens/test_journey.py",
    "tests/bastion/",
    "tests/screens/test_first_ten_minutes.py",
    "tests/screens/test_search_screen.py",
    "tests/status/test_status_screen.py",
    "tests/screens/test_deploy_first_minutes.py",
    "tests/deploy/test_deploy_cli.py",
    "tests/screens/",
    "tests/infra/test_tui.py",
    "tests/chatops/",
    "tests/deploy/test_adoption.py",
)


def _slow_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((rank for rank, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)), len(SLOW_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_slow_rank)  # stable: tests keep their order within each rank
