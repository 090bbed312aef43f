"""Slack user → catalog User: the ``slack.com/user-id`` annotation, else (with a bot token only)
the profile email from Slack's ``users.info``, served here by a loopback Slack API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from backends.catalog import load_catalog
from backends.chatops.identity import SlackDirectory, slack_email_lookup
from backends.workspace import load_demo_workspace

EMAILS = {"U0OMAR": "Omar.Haddad@acme.example", "U0GUEST": "guest@elsewhere.example"}


@pytest.fixture
def slack_api() -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []

    class Api(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            user = parse_qs(body).get("user", [""])[0]
            asked.append(user)
            assert self.headers.get("Authorization") == "Bearer xoxb-test"
            if user in EMAILS:
                data: dict[str, Any] = {"ok": True, "user": {"id": user, "profile": {"email": EMAILS[user]}}}
            else:
                data = {"ok": False, "error": "user_not_found"}
            payload = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}/api/", asked
    http.shutdown()
    http.server_close()


def test_email_maps_a_slack_user_only_with_a_bot_token(slack_api: tuple[str, list[str]]) -> None:
    url, asked = slack_api
    users = load_catalog(load_demo_workspace()).entities
    without_token = SlackDirectory(users)
    assert without_token.user_for("U0OMAR") is None and asked == []
    directory = SlackDirectory(users, email_of=slack_email_lookup("xoxb-test", base_url=url))
    assert directory.user_for("U0OMAR") == "omar.haddad"  # the profile email, any case
    assert directory.user_for("U0GUEST") is None  # an email no catalog User has
    assert directory.user_for("U0GONE") is None  # Slack does not know the id: unknown, no crash
    assert directory.user_for("U0OMAR") == "omar.haddad"
    assert asked == ["U0OMAR", "U0GUEST", "U0GONE"]  # asked once per Slack user
