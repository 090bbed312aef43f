"""Any session of any user watches a deploy; its owner or the owning team steers it from anywhere.

Two "hosts" here are two state dirs (each its own runs directory, so neither reaches the other's
runner socket) whose workspaces name one shared history store. The deploy runs in host A's runner;
host B watches it through the store and asks for controls there, which the runner applies only for
the person who started it or a member of the owning team, saying in the log who did what.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backends.deploy import canary as cn
from backends.deploy.attach import DetachedEngine, RunnerError
from backends.deploy.events import DeployFinished, LogLine, Outcome, Paused, Stage, StageStarted
from backends.deploy.history import DeployHistory
from backends.deploy.remote_watch import StoreRun
from backends.deploy.session import open_deploy
from backends.workspace import load_workspace
from tests.bastion.hosts import deploy_on_host_a, on_host
from tests.deploy.conftest import SERVICE
from tests.sshkit import ROOT, alive, wait_until

STEP = 60  # seconds for one thing a runner or a CLI does, on a loaded machine


def test_another_host_watches_and_only_the_owning_team_steers(
    hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, sam_workspace, cluster = hosts
    run = deploy_on_host_a(monkeypatch, tmp_path, a)
    on_host(monkeypatch, tmp_path, "host-b")

    with (
        open_deploy(load_workspace(b)) as omar_session,
        open_deploy(load_workspace(sam_workspace)) as sam_session,
    ):
        omar = DetachedEngine(omar_session.engine, str(b)).running(SERVICE, "production")
        # Not this host's runner (no socket here): watched through the store, steered as omar.
        assert isinstance(omar, StoreRun) and omar.deploy_id == run.deploy_id
        assert omar.requested_by == "omar"
        sam = DetachedEngine(sam_session.engine, str(sam_workspace)).running(SERVICE, "production")
        assert isinstance(sam, StoreRun) and sam.requested_by == "sam.lee"

        seen, refused = [], None
        for event in omar.events():
            seen.append(event)
            if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
                omar.pause()
            if isinstance(event, LogLine) and "refused" in event.message:
                refused = event
                sam.pause()
            if isinstance(event, Paused):
                assert event.reason == "paused by sam.lee" and omar.paused
                sam.abort()
        finished = seen[-1]

    assert any(isinstance(e, StageStarted) and e.stage is Stage.PRECHECKS for e in seen)  # from the start
    assert refused is not None and refused.level == "warning"
    assert refused.message == (
        "omar asked to pause: refused, omar did not start it (jane.doe did) and is not in "
        "team-payments, which owns payment-service"
    )
    said = [e.message for e in seen if isinstance(e, LogLine)]
    assert "sam.lee paused it" in said and "sam.lee aborted it" in said
    assert isinstance(finished, DeployFinished) and finished.outcome is Outcome.ABORTED
    assert finished.reason == "aborted by sam.lee"
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"
    assert wait_until(lambda: not alive(run.pid or 0), STEP)
    # The runner's host recorded the same story in the shared store.
    shared = DeployHistory(tmp_path / "shared" / "history.sqlite3")
    assert shared.get(run.deploy_id).outcome is Outcome.ABORTED
    assert [c.requested_by for c in shared.controls_after(run.deploy_id, 0)] == ["omar", "sam.lee", "sam.lee"]


def _cli(home: Path, workspace: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "IDP_CONSOLE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--workspace", str(workspace), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_attach_and_abort_from_another_host_work_unchanged(
    hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _b, sam_workspace, cluster = hosts
    run = deploy_on_host_a(monkeypatch, tmp_path, a)
    home_b = on_host(monkeypatch, tmp_path, "host-b")

    watch = _cli(
        home_b, sam_workspace, "deploy", SERVICE, "--env", "production", "--attach", "--output", "json"
    )
    assert watch.stdout is not None
    first = json.loads(watch.stdout.readline())  # attached: the story from its start
    assert first["deploy_id"] == run.deploy_id and first.get("stage") == "prechecks"
    abort = _cli(home_b, sam_workspace, "deploy", SERVICE, "--env", "production", "--abort", "--yes")
    _out, err = abort.communicate(timeout=STEP * 2)
    assert abort.returncode == 1, err  # aborted: a negative result, as for a local abort
    out, err = watch.communicate(timeout=STEP * 2)
    assert watch.returncode == 1, err
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    # The runner's log says who aborted it and why, in the words the request carried.
    said = "sam.lee aborted it: aborted from the command line"
    assert any(e["event"] == "LogLine" and e["message"] == said for e in lines)
    assert lines[-1]["event"] == "DeployFinished" and lines[-1]["outcome"] == "aborted"
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"


def test_a_watcher_on_another_host_learns_when_the_runner_dies(
    hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, _sam, _cluster = hosts
    run = deploy_on_host_a(monkeypatch, tmp_path, a)
    on_host(monkeypatch, tmp_path, "host-b")
    with open_deploy(load_workspace(b)) as session:
        watcher = DetachedEngine(session.engine, str(b)).running(SERVICE, "production")
        assert isinstance(watcher, StoreRun)
        with pytest.raises(RunnerError, match="stopped before the run finished"):
            for event in watcher.events():
                if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
                    os.kill(run.pid or 0, signal.SIGKILL)  # host A's runner dies mid-bake
        # Interrupted, not running anywhere: the board and --attach no longer offer it.
        assert wait_until(lambda: not alive(run.pid or 0), STEP)
        assert DetachedEngine(session.engine, str(b)).running(SERVICE, "production") is None


def test_a_refused_abort_from_another_account_says_why_and_exits_at_once(
    hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, sam_workspace, cluster = hosts
    run = deploy_on_host_a(monkeypatch, tmp_path, a)
    home_b = on_host(monkeypatch, tmp_path, "host-b")

    # omar is in team-checkout: the runner refuses his abort, and his command stops watching (2)
    # while the 60 s bake goes on, rather than following the deploy to its end.
    refused = _cli(home_b, b, "deploy", SERVICE, "--env", "production", "--abort", "--yes")
    out, err = refused.communicate(timeout=STEP * 2)
    assert refused.returncode == 2, (out, err)
    assert "omar asked to abort: refused, omar did not start it (jane.doe did)" in err
    assert "the deploy goes on" in err
    shared = DeployHistory(tmp_path / "shared" / "history.sqlite3")
    assert shared.get(run.deploy_id).outcome is None  # still baking

    # sam.lee (team-payments) may: the same command from his account aborts it.
    abort = _cli(home_b, sam_workspace, "deploy", SERVICE, "--env", "production", "--abort", "--yes")
    _out, err = abort.communicate(timeout=STEP * 2)
    assert abort.returncode == 1, err
    assert shared.get(run.deploy_id).outcome is Outcome.ABORTED
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.0"
