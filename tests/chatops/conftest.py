"""The chat door for real: the server on a loopback port, a test Slack client that signs requests
exactly as Slack does (v0 HMAC-SHA256 over ``v0:timestamp:body``), and a loopback receiver playing
the requests' ``response_url``. The workspace is a copy of the demo (with Slack ids on two Users
and a short bake) against the demo's simulated cluster."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from backends.workspace import DEMO_WORKSPACE_DIR, load_workspace

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
JANE = "U0JANEDOE"  # jane.doe, team-payments (owns payment-service)
LI = "U0LIWEI"  # li.wei, team-checkout
STRANGER = "U0NOBODY"  # no catalog User
WAIT = 60.0  # an upper bound for a state to arrive, never a sleep


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    root = tmp_path / "acme"
    shutil.copytree(DEMO_WORKSPACE_DIR, root)
    org = root / "catalog" / "org.yaml"
    text = org.read_text(encoding="utf-8")
    for name, slack_id in (("jane.doe", JANE), ("li.wei", LI)):
        text = text.replace(
            f"  name: {name}\n", f"  name: {name}\n  annotations:\n    slack.com/user-id: {slack_id}\n", 1
        )
    org.write_text(text, encoding="utf-8")
    config = root / "idp-console.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("bake: 2s", "bake: 0.2s"), encoding="utf-8")
    return root


def demo_copy(root: Path) -> Any:
    # The copy is the demo: its simulated cluster is seeded with the demo's services.
    return dataclasses.replace(load_workspace(str(root)), is_demo=True)


class Receiver:
    """A loopback HTTP server that records what is posted to it (plays ``response_url``)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._changed:
                    receiver.posts.append(json.loads(body or b"{}"))
                    receiver._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hooks/response"

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first post ``predicate`` accepts, waiting for it to arrive."""
        deadline = time.monotonic() + WAIT
        with self._changed:
            while True:
                for post in self.posts:
                    if predicate(post):
                        return post
                left = deadline - time.monotonic()
                assert left > 0, f"no such post; got {[p.get('text') for p in self.posts]}"
                self._changed.wait(left)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's request signature, computed as its documentation says (not with the SDK)."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackClient:
    """Posts what Slack posts: slash commands and button presses, signed with the app's secret."""

    def __init__(self, url: str, secret: str = SECRET) -> None:
        self.url = url
        self.secret = secret

    def post(
        self, body: str, *, timestamp: str | None = None, secret: str | None = None, retry: int = 0
    ) -> tuple[int, dict[str, Any] | None]:
        timestamp = timestamp or str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(secret or self.secret, timestamp, body),
        }
        if retry:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        request = urllib.request.Request(self.url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                data = response.read()
                return response.status, json.loads(data) if data else None
        except urllib.error.HTTPError as error:
            data = error.read()
            return error.code, json.loads(data) if data else None

    @staticmethod
    def slash_body(text: str, user_id: str, response_url: str, channel: str = "C0DEPLOYS") -> str:
        return urlencode(
            {
                "token": "deprecated-verification-token",
                "team_id": "T0ACME",
                "team_domain": "acme",
                "channel_id": channel,
                "channel_name": "deploys",
                "user_id": user_id,
                "user_name": user_id.lower(),
                "command": "/platform",
                "text": text,
                "api_app_id": "A0PLATFORM",
                "response_url": response_url,
                "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            }
        )

    def command(self, text: str, user_id: str, response_url: str) -> tuple[int, dict[str, Any] | None]:
        return self.post(self.slash_body(text, user_id, response_url))

    def press(
        self, action_id: str, value: str, user_id: str, response_url: str
    ) -> tuple[int, dict[str, Any] | None]:
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower()},
            "channel": {"id": "C0DEPLOYS", "name": "deploys"},
            "response_url": response_url,
            "actions": [{"action_id": action_id, "value": value, "type": "button"}],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@dataclasses.dataclass
class Chat:
    server: Any
    slack: SlackClient
    receiver: Receiver

    def audit(self) -> list[Any]:
        return self.server.audit.records()

    def history(self) -> list[Any]:
        return self.server.session.context.history.query(
            'SELECT kind, service, environment, "user" FROM deploys'
        )


@pytest.fixture
def chat(workspace_dir: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chat]:
    from console.commands.chatops import build_server

    # Changes run in detached runners (processes of their own): the simulated cluster must be the
    # shared one they attach to, which exits by itself soon after the test.
    monkeypatch.setenv("IDP_CONSOLE_SIMULATION", "shared")
    monkeypatch.setenv("IDP_CONSOLE_SIM_IDLE_EXIT", "5")
    server = build_server(demo_copy(workspace_dir), SECRET)
    host, port = server.listen("127.0.0.1", 0)
    try:
        yield Chat(server, SlackClient(f"http://{host}:{port}/slack/commands"), receiver)
    finally:
        server.wait_idle(WAIT)
        server.close()
        server.session.close()
