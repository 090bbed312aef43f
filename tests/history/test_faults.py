"""The history store going away: a deploy refuses to start without it; a deploy already running
keeps going, spools what it records, and the store gets all of it once it is back — even when the
process that spooled it was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.deploy.engine import DeployEngine
from backends.deploy.events import DeployFinished, Outcome, Stage, StageStarted
from backends.deploy.history import open_history
from backends.kube.sim.cluster import SimulatedCluster
from tests.deploy.conftest import SERVICE, collect, make_context
from tests.history.conftest import workspace_with
from tests.pg import TEST_PASSWORD, PostgresServer, free_port, running_server, wait_until

FAST_STEPS = {"bake": "0.3s", "steps": [25, 50, 100]}


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own: it is stopped and started again mid-test."""
    with running_server() as server:
        yield server


def _spooled(directory: Path) -> list[Path]:
    return list(directory.glob("*.jsonl")) if directory.is_dir() else []


def test_a_deploy_refuses_to_start_when_the_store_is_unreachable(
    sim: SimulatedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", TEST_PASSWORD)
    context, _ = make_context(sim, tmp_path, deploy=FAST_STEPS)
    url = f"postgresql://idp_test@127.0.0.1:{free_port()}/history"  # nothing listens there
    context.history = open_history(workspace_with(tmp_path, url))
    events = collect(DeployEngine(context).deploy(SERVICE, "production", "v2.3.1"))

    last = events[-1]
    assert isinstance(last, DeployFinished) and last.outcome is Outcome.FAILED
    assert "cannot reach the history store postgresql://idp_test@127.0.0.1:" in last.reason
    assert "nothing was changed" in last.reason and "\n" not in last.reason
    cluster = context.cluster_for(context.environment("production"))
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None  # nothing was changed


def test_a_running_deploy_survives_an_outage_and_records_everything_when_the_store_returns(
    sim: SimulatedCluster, tmp_path: Path, own_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", TEST_PASSWORD)
    url = own_server.url(own_server.new_database())
    context, _ = make_context(sim, tmp_path, deploy=FAST_STEPS)
    history = context.history = open_history(workspace_with(tmp_path, url))
    spool_dir = history.spool.directory
    spooled_while_down: list[Path] = []

    def outage(event: object) -> None:
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 0:
            own_server.stop("fast")  # the database goes away mid-canary
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
            spooled_while_down.extend(_spooled(spool_dir))
            own_server.start()  # back, on the same port

    run = DeployEngine(context).deploy(SERVICE, "production", "v2.3.1")
    events = collect(run, outage)

    assert isinstance(events[-1], DeployFinished) and events[-1].outcome is Outcome.SUCCEEDED
    assert spooled_while_down, "the writes made during the outage were spooled to a local file"
    assert wait_until(lambda: history.spool.pending == 0, timeout=30)
    assert _spooled(spool_dir) == []  # written, then the spool file is gone
    record = history.get(run.deploy_id)
    assert record is not None and record.outcome is Outcome.SUCCEEDED
    recorded = history.events(run.deploy_id)
    assert [(type(e).__name__, e.at) for e in recorded] == [(type(e).__name__, e.at) for e in events]
    history.close()


_SPOOLER = textwrap.dedent(
    """
    import sys, time
    from backends.deploy.events import StageStarted, Stage
    from backends.deploy.history import open_history
    from backends.workspace import Workspace
    from pathlib import Path
    root = Path(sys.argv[2])
    workspace = Workspace(root=root, config_file=None, name="t", is_demo=False, raw={"history": sys.argv[1]})
    history = open_history(workspace)
    for step in range(3):
        history.append(StageStarted("d-crash", at=1000.0 + step, stage=Stage.CANARY, step=step))
    print(history.spool.pending, flush=True)
    time.sleep(120)  # killed long before
    """
)


def test_writes_spooled_by_a_killed_process_reach_the_store_once_it_returns(
    tmp_path: Path, own_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.history.test_store import record

    monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", TEST_PASSWORD)
    url = own_server.url(own_server.new_database())
    history = open_history(workspace_with(tmp_path, url))
    history.start(record("d-crash"))
    history.close()
    own_server.stop("fast")
    child = subprocess.Popen(
        [sys.executable, "-c", _SPOOLER, url, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
        env=dict(os.environ),
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "3"  # all three waiting, none written
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    own_server.start()

    recovered = open_history(workspace_with(tmp_path, url))  # any later process picks them up
    assert [e.step for e in recovered.events("d-crash")] == [0, 1, 2]
    assert _spooled(recovered.spool.directory) == []
    again = open_history(workspace_with(tmp_path, url))
    assert len(again.events("d-crash")) == 3  # recovered once, not twice
    recovered.close()
    again.close()
