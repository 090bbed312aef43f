"""The demo's deploy session attaches to the shared simulated cluster (a process of its own, found
through the state dir) instead of serving it itself, and that process goes away when idle."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import httpx
import pytest

from backends import paths
from backends.deploy.session import SIM_STATE_FILE, open_deploy
from backends.kube.sim.cluster import Endpoint, is_owned
from backends.workspace import load_demo_workspace
from tests.kube_sim.conftest import wait_for

from .conftest import SERVICE


def test_the_demo_session_uses_the_shared_cluster_which_exits_when_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IDP_CONSOLE_SIMULATION")  # the demo's own path, not the suite's in-process one
    monkeypatch.setenv("IDP_CONSOLE_SIM_IDLE_EXIT", "1")
    state = paths.state_dir() / SIM_STATE_FILE
    endpoint = None
    try:
        with open_deploy(load_demo_workspace(), time_scale=0.02) as session:
            sim = session.simulation()
            endpoint = Endpoint.read(state)
            assert sim.attached and sim.controller is None  # nothing is served in this process
            assert endpoint is not None and endpoint.pid != os.getpid()
            assert endpoint.api_url == sim.api_url
            # The shared Prometheus serves the running workloads' error ratio (a healthy version's).
            labels = f'service="{SERVICE}",track="stable"'
            query = f"errors{{{labels}}} / requests{{{labels}}}"

            def series() -> list:
                answer = httpx.get(f"{sim.prometheus_url}/api/v1/query", params={"query": query}).json()
                return answer["data"]["result"]

            # The seeded workloads start reporting once their pods run: wait for the series, not a frame.
            assert wait_for(series, timeout=60)[0]["value"][1] == "0.002"
        # No client for a second: the server saves, lets go of the state file and exits.
        wait_for(lambda: not is_owned(state), timeout=20)
        assert Endpoint.read(state) is None
        with pytest.raises(ProcessLookupError):
            wait_for(lambda: os.kill(endpoint.pid, 0), timeout=10)
    finally:
        if endpoint is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(endpoint.pid, signal.SIGKILL)
    assert Path(state).exists()
    # Its state, lock and log files are the user's alone, like the rest of the state dir.
    files = list(state.parent.glob(state.name + "*"))
    assert len(files) >= 4 and all(f.stat().st_mode & 0o077 == 0 for f in files), files
