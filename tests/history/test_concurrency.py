"""Many processes writing one history at once lose nothing: plain writers on both stores, and two
real deploys (detached runner processes, the engine against the simulated cluster) into one
PostgreSQL history."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from backends.deploy.attach import start_runner
from backends.deploy.events import DeployEvent, DeployFinished, Outcome
from backends.deploy.history import open_history
from backends.deploy.runner import RunRequest
from backends.kube.sim.cluster import SimulatedCluster
from tests.deploy.conftest import CATALOG_YAML, SERVICE
from tests.history.conftest import workspace_with
from tests.pg import TEST_PASSWORD

WRITERS, EVENTS_EACH = 4, 40  # each writer process pays ~1 s importing psycopg on a loaded machine

_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from backends.deploy.events import Stage, StageStarted
    from backends.deploy.history import DeployRecord, open_history
    from backends.workspace import Workspace
    url, root, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    workspace = Workspace(root=root, config_file=None, name="t", is_demo=False, raw={"history": url})
    history = open_history(workspace)
    history.start(DeployRecord(id=name, kind="deploy", service=name, environment="e", namespace="n",
                               deployment=name, user=name, from_version="a", to_version="b",
                               started_at=1.0, pid=0, host="h"))
    for step in range(int(sys.argv[4])):
        history.append(StageStarted(name, at=float(step), stage=Stage.CANARY, step=step))
        if step % 10 == 0:
            history.request_control(name, "pause", name)
    history.record_feedback(name, 7)
    history.close()
    """
)


def test_many_writer_processes_lose_nothing(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", TEST_PASSWORD)
    open_history(workspace_with(tmp_path, store_url)).ping()  # the schema first, as a console would
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, store_url, str(tmp_path), f"w{index}", str(EVENTS_EACH)],
            cwd=Path(__file__).parents[2],
            env=dict(os.environ),
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(WRITERS)
    ]
    for writer in writers:
        _out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err

    history = open_history(workspace_with(tmp_path, store_url))
    assert len(history.records(limit=100)) == WRITERS
    for index in range(WRITERS):
        assert [e.step for e in history.events(f"w{index}")] == list(range(EVENTS_EACH))
        assert len(history.controls_after(f"w{index}")) == EVENTS_EACH // 10
    seqs = [seq for (seq,) in history.query("SELECT seq FROM events")]
    assert len(seqs) == len(set(seqs)) == WRITERS * EVENTS_EACH
    assert history.query("SELECT COUNT(*) FROM feedback")[0][0] == WRITERS
    history.close()


def _workspace(root: Path, sim: SimulatedCluster, history: str) -> Path:
    kubeconfig = sim.kubeconfig(root.parent / "kubeconfig")
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "all.yaml").write_text(CATALOG_YAML)
    environments = ", ".join(
        f"{env}: {{kubeconfig: {kubeconfig}, context: simulated, namespace: {env}, "
        f"lifecycles: [production], production: {str(env == 'production').lower()}}}"
        for env in ("staging", "production")
    )
    (root / "idp-console.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: test
            identity: {{user: jane.doe}}
            history: "{history}"
            catalog: {{sources: [{{type: dir, path: catalog}}]}}
            environments: {{{environments}}}
            deploy:
              bake: 0.3s
              progress_deadline: 20s
              steps: [50, 100]
              analysis: {{prometheus: "{sim.prometheus_url}", threshold: 0.01}}
            """
        )
    )
    return root


def test_two_processes_deploying_at_once_both_land_in_one_postgresql_history(
    sim: SimulatedCluster, tmp_path: Path, pg_url: str
) -> None:
    root = _workspace(tmp_path / "ws", sim, pg_url)
    runs = [
        start_runner(RunRequest("deploy", SERVICE, env, "v2.3.1", workspace=str(root)))
        for env in ("staging", "production")
    ]
    seen: dict[str, list[DeployEvent]] = {}

    def watch(run) -> None:  # noqa: ANN001 - a RemoteRun
        seen[run.deploy_id] = list(run.events())

    watchers = [threading.Thread(target=watch, args=(run,)) for run in runs]
    for thread in watchers:
        thread.start()
    for thread in watchers:
        thread.join(timeout=120)
    assert len(seen) == 2

    history = open_history(workspace_with(tmp_path, pg_url))  # any third process reads both
    records = {r.environment: r for r in history.records(SERVICE, limit=10)}
    assert set(records) == {"staging", "production"}
    for run in runs:
        events = seen[run.deploy_id]
        assert isinstance(events[-1], DeployFinished) and events[-1].outcome is Outcome.SUCCEEDED
        record = history.get(run.deploy_id)
        assert record is not None and record.outcome is Outcome.SUCCEEDED and record.host
        recorded = history.events(run.deploy_id)
        assert [(type(e).__name__, e.at) for e in recorded] == [(type(e).__name__, e.at) for e in events]
    history.close()
