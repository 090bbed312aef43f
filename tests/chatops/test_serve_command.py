"""``idp-console serve-chatops`` as an operator starts it: the signing secret from
``IDP_CONSOLE_SECRET_SLACK_SIGNING_SECRET``, the bound address on stderr, SIGTERM stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main

from .conftest import SECRET, STRANGER, SlackClient


def test_without_a_signing_secret_it_refuses_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDP_CONSOLE_SECRET_SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    assert main(["serve-chatops", "--listen", "127.0.0.1:0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("idp-console: no Slack signing secret: set SLACK_SIGNING_SECRET")
    assert err.count("\n") == 1


def test_serves_signed_slash_commands_until_sigterm(isolated_home: Path) -> None:
    env = {
        **os.environ,
        "IDP_CONSOLE_SECRET_SLACK_SIGNING_SECRET": SECRET,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "serve-chatops", "--listen", "127.0.0.1:0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()  # blocks until the server says where it listens
        found = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        assert found, line
        slack = SlackClient(f"http://{found.group(1)}/slack/commands")
        status, ack = slack.command("help", STRANGER, "http://127.0.0.1:9/unused")
        assert (
            status == 200 and ack is not None and "deploy SERVICE --env ENV --version VERSION" in ack["text"]
        )
        assert slack.post(SlackClient.slash_body("help", STRANGER, ""), secret="wrong")[0] == 401
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
