"""Bastion scenarios: real SSH doors, detached runners and the simulated cluster over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.kube.cluster import Cluster
from tests.bastion.hosts import host_workspace
from tests.deploy.conftest import sim  # noqa: F401 - the simulated cluster fixture, shared


@pytest.fixture
def hosts(sim, tmp_path: Path) -> tuple[Path, Path, Path, Cluster]:  # noqa: F811
    """Workspaces of host A (jane.doe), host B as omar and host B as sam.lee, and the cluster; the
    shared store is a SQLite file outside every state dir."""
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    shared = str(tmp_path / "shared" / "history.sqlite3")
    (tmp_path / "shared").mkdir()
    common = {"history": shared, "kubeconfig": kubeconfig, "prometheus": sim.prometheus_url}
    a = host_workspace(tmp_path / "host-a" / "ws", user="jane.doe", **common)
    b = host_workspace(tmp_path / "host-b" / "ws", user="omar", **common)
    sam = host_workspace(tmp_path / "host-b" / "ws-sam", user="sam.lee", **common)
    return a, b, sam, Cluster.from_kubeconfig(str(kubeconfig), "simulated")
