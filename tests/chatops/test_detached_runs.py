"""A change asked for in chat runs in a detached runner, as the CLI's do: the serve-chatops process
(a real subprocess here) can be killed mid-canary and the deploy still finishes, recorded under the
catalog User the Slack account maps to — not the account the server runs as."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.deploy.attach import attach
from backends.deploy.events import DeployFinished, Outcome
from backends.deploy.history import DeployHistory
from backends.deploy.session import open_deploy

from .conftest import LI, SECRET, WAIT, Receiver, SlackClient, demo_copy


def _serve_chatops(root: Path) -> tuple[subprocess.Popen[str], SlackClient]:
    env = {
        **os.environ,
        "IDP_CONSOLE_SECRET_SLACK_SIGNING_SECRET": SECRET,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console.cli",
            "--workspace",
            str(root),
            "serve-chatops",
            "--listen",
            "127.0.0.1:0",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    line = server.stderr.readline()  # blocks until the server says where it listens
    found = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
    assert found, line
    return server, SlackClient(f"http://{found.group(1)}/slack/commands")


def _unfinished_deploy(history: DeployHistory) -> str:
    deadline = time.monotonic() + WAIT
    while not (records := history.unfinished("payment-service", "staging")):
        assert time.monotonic() < deadline, "the deploy never started"
        time.sleep(0.05)
    return records[0].id


def test_killing_serve_chatops_mid_canary_leaves_the_deploy_running_as_the_slack_user(
    workspace_dir: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server, its runner and this test share one simulated cluster (seeded with the demo's
    # services by this session) and one history, both in the state dir.
    monkeypatch.setenv("IDP_CONSOLE_SIMULATION", "shared")
    monkeypatch.setenv("IDP_CONSOLE_SIM_IDLE_EXIT", "5")
    session = open_deploy(demo_copy(workspace_dir))
    server: subprocess.Popen[str] | None = None
    try:
        # No error-rate data for the canary: its first analysis cannot decide and waits for a person.
        session.simulation().set_error_rate("payment-service", "canary", None)
        server, slack = _serve_chatops(workspace_dir)
        status, _ = slack.command("deploy payment-service --env staging --version v2.3.1", LI, receiver.url)
        assert status == 200
        # The buttons come from the server watching the runner: the canary is live and paused.
        receiver.wait_for(lambda post: len(post.get("blocks") or []) > 1)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=WAIT)

        history = DeployHistory()
        deploy_id = _unfinished_deploy(history)
        run = attach(deploy_id)  # its runner outlived the server
        run.promote(full=True)
        finished = [event for event in run.events() if isinstance(event, DeployFinished)]
        assert [event.outcome for event in finished] == [Outcome.SUCCEEDED]
        record = history.get(deploy_id)
        assert record is not None and record.outcome is Outcome.SUCCEEDED
        # li.wei, from the Slack mapping — not jane.doe, whom this account is everywhere else.
        assert record.user == "li.wei"
        history.close()
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        session.close()
