"""``/platform`` slash commands served over HTTP (the stdlib's threading server).

Every request is answered at once — Slack gives an app 3 s — and whatever takes longer runs on a
worker thread that reports to the request's ``response_url``: progress, Block Kit buttons when a
canary pauses for a decision, and the final check-mark lines. A request Slack sends again (same
timestamp and body, ``X-Slack-Retry-Num``) is acknowledged and not run a second time. Production
changes wait for their requester to press a confirmation button. Every chat action is audited.

```python
server = ChatOpsServer(verifier, directory, catalog, environments, execute, audit)
host, port = server.listen("127.0.0.1", 8080)   # serves on a thread until server.close()
```
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from slack_sdk.signature import SignatureVerifier

from backends.chatops.audit import ChatAudit
from backends.chatops.guard import Refused, clear
from backends.chatops.identity import SlackDirectory
from backends.chatops.slack import (
    Button,
    ButtonPress,
    ResponseUrl,
    SlashCommand,
    is_signed,
    message,
    parse_button,
    parse_form,
    parse_slash,
)
from backends.commands.grammar import Command, Help, UsageError, help_text, parse, render

log = logging.getLogger(__name__)

SEEN_FOR = 600.0  # seconds a request is remembered (Slack retries within minutes; the window is 5)
SEEN_MAX = 10_000
CONFIRM_FOR = 600.0  # seconds a production confirmation button stays valid
PROGRESS_EVERY = 5.0  # seconds between progress posts (each uses one of the response_url's five)


class SteerableRun(Protocol):
    """What the canary buttons call on a running deploy (a DeployRun or a RemoteRun)."""

    def promote(self, *, full: bool = False) -> None: ...
    def abort(self, reason: str = ...) -> None: ...
    def rollback(self, reason: str = ...) -> None: ...


@dataclass
class Asker:
    """Who asked, where, and for what: the audit's columns."""

    slack_user: str
    slack_name: str
    user: str | None
    channel: str
    command: Command


class Reply:
    """What a running action says to Slack: check-mark lines (posted now and then, all of them in
    the final message) and buttons on a paused canary."""

    def __init__(self, server: ChatOpsServer, asker: Asker, url: ResponseUrl) -> None:
        self.server = server
        self.asker = asker
        self.url = url
        self.lines: list[str] = []
        self._posted = 0
        self._last_post = time.monotonic()

    def line(self, text: str) -> None:
        self.lines.append(text)
        if time.monotonic() - self._last_post >= PROGRESS_EVERY and len(self.lines) > self._posted:
            self._post_progress()

    def _post_progress(self) -> None:
        self._last_post = time.monotonic()
        self._posted = len(self.lines)
        self.url.post(message(self._block()), final=False)

    def paused(self, run: SteerableRun, reason: str) -> None:
        """A canary waits for a decision: promote / abort / roll back, as buttons."""
        token = self.server.controls.add(run, self.asker)
        buttons = [
            Button("Promote", "canary_promote", token, "primary"),
            Button("Abort", "canary_abort", token, "danger"),
            Button("Roll back", "canary_rollback", token),
        ]
        self._posted = len(self.lines)
        text = self._block() + f"\n? {reason}: promote, abort or roll back?"
        self.url.post(message(text, buttons, in_channel=True), final=False)

    def _block(self) -> str:
        return f"`{render(self.asker.command)}`\n```\n" + "\n".join(self.lines or ["…"]) + "\n```"

    def final(self) -> None:
        """Every line, in the channel: the last use of the response_url is kept for this."""
        self.url.post({**message(self._block(), in_channel=True), "replace_original": False}, final=True)


Execute = Callable[[Command, str | None, Reply], str]
"""Run a cleared command as ``user`` (None: unknown, only reads), saying lines to ``reply``;
returns the outcome for the audit (``succeeded``, ``failed: …``)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib's listen backlog is 5: a burst of slash commands (a channel's worth of people at
    # once) would have its sixth connection reset before a thread could accept it.
    request_queue_size = 128


class RunControls:
    """Runs paused for a decision, by the token their buttons carry."""

    def __init__(self) -> None:
        self._runs: dict[str, tuple[SteerableRun, Asker]] = {}
        self._lock = threading.Lock()

    def add(self, run: SteerableRun, asker: Asker) -> str:
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._runs[token] = (run, asker)
        return token

    def get(self, token: str) -> tuple[SteerableRun, Asker] | None:
        with self._lock:
            return self._runs.get(token)

    def drop_run(self, run: SteerableRun) -> None:
        with self._lock:
            for token in [t for t, (r, _) in self._runs.items() if r is run]:
                del self._runs[token]


@dataclass
class Pending:
    asker: Asker
    response_url: str
    created: float


class ChatOpsServer:
    """The slash-command endpoint (any path) and the interactivity endpoint (the same one: Slack
    posts ``payload=`` for button presses)."""

    def __init__(
        self,
        verifier: SignatureVerifier,
        directory: SlackDirectory,
        catalog: Any,
        environments: dict[str, Any],
        execute: Execute,
        audit: ChatAudit,
        *,
        workers: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verifier = verifier
        self.directory = directory
        self.catalog = catalog
        self.environments = environments
        self.execute = execute
        self.audit = audit
        self.controls = RunControls()
        self.clock = clock
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chatops")
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self.running: set[Any] = set()  # futures of actions still running (tests and shutdown wait)

    # -- the protocol ---------------------------------------------------------------------------
    def handle(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any] | None]:
        """HTTP status and JSON body for one request; never raises for bad input."""
        lowered = {key.lower(): value for key, value in headers.items()}
        if not is_signed(self.verifier, body, lowered):
            return 401, {"error": "invalid signature, or a timestamp outside the 5-minute window"}
        if not self._first_time(lowered.get("x-slack-request-timestamp", ""), body):
            return 200, None  # a retry of a request already acknowledged: it runs once
        form = parse_form(body)
        if "payload" in form:
            press = parse_button(form)
            if press is None:
                return 200, None
            return 200, self._pressed(press)
        return 200, self._slash(parse_slash(form))

    def _first_time(self, timestamp: str, body: bytes) -> bool:
        key = timestamp + ":" + hashlib.sha256(body).hexdigest()
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) > SEEN_MAX or next(iter(self._seen.values())) < now - SEEN_FOR
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def _slash(self, request: SlashCommand) -> dict[str, Any]:
        try:
            command = parse(request.text)
        except UsageError as error:
            self.audit.record(request.user_id, None, request.channel_id, request.text, f"usage: {error}")
            return message(f"✗ {error}")
        user = self.directory.user_for(request.user_id)
        asker = Asker(request.user_id, request.user_name, user, request.channel_id, command)
        if isinstance(command, Help):
            self._audit(asker, "answered")
            return message(f"```\n{help_text(command.topic)}\n```")
        try:
            clearance = clear(command, user, self.catalog, self.environments)
        except Refused as error:
            self._audit(asker, f"refused: {error}")
            return message(f"✗ {error}")
        if clearance.production:
            return self._ask_confirmation(asker, request.response_url)
        self._start(asker, request.response_url)
        self._audit(asker, "started")
        return message(f"⏳ `{render(command)}` for {user or request.user_name} …", in_channel=True)

    def _ask_confirmation(self, asker: Asker, response_url: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._pending[token] = Pending(asker, response_url, self.clock())
        self._audit(asker, "awaiting confirmation")
        env = getattr(asker.command, "env", "")
        text = f"⚠ `{render(asker.command)}` changes *{env.upper()}*, a production environment. Confirm?"
        buttons = [
            Button("Confirm", "confirm", token, "danger"),
            Button("Cancel", "cancel", token),
        ]
        return message(text, buttons)

    def _pressed(self, press: ButtonPress) -> dict[str, Any]:
        if press.action_id in ("confirm", "cancel"):
            return self._confirmation(press)
        if press.action_id.startswith("canary_"):
            return self._steer(press)
        return message(f"✗ unknown action {press.action_id!r}")

    def _confirmation(self, press: ButtonPress) -> dict[str, Any]:
        with self._lock:
            pending = self._pending.get(press.value)
            if pending is not None and pending.asker.slack_user == press.user_id:
                del self._pending[press.value]
        if pending is None:
            return message("✗ nothing waits for this confirmation any more (already answered?)")
        if pending.asker.slack_user != press.user_id:
            # Only the person who asked confirms: a bystander's click changes nothing.
            return message(f"✗ only <@{pending.asker.slack_user}> can confirm this")
        asker = pending.asker
        if self.clock() - pending.created > CONFIRM_FOR:
            # What was asked may no longer be what anyone wants: a stale button does nothing.
            self._audit(asker, "confirmation expired")
            return {"replace_original": True, "text": f"✗ expired: `{render(asker.command)}`; ask again"}
        if press.action_id == "cancel":
            self._audit(asker, "cancelled")
            return {
                "replace_original": True,
                "text": f"Cancelled: `{render(asker.command)}`; nothing was done",
            }
        self._start(asker, press.response_url or pending.response_url)
        self._audit(asker, "confirmed, started")
        return {
            "replace_original": True,
            "response_type": "in_channel",
            "text": f"⏳ `{render(asker.command)}` confirmed by {asker.user} …",
        }

    def _steer(self, press: ButtonPress) -> dict[str, Any]:
        found = self.controls.get(press.value)
        if found is None:
            return message("✗ that deploy is no longer waiting for a decision")
        run, asked = found
        user = self.directory.user_for(press.user_id)
        steer = Asker(press.user_id, press.user_name, user, press.channel_id, asked.command)
        try:
            clear(asked.command, user, self.catalog, self.environments)
        except Refused as error:
            self._audit(steer, f"{press.action_id} refused: {error}")
            return message(f"✗ {error}")
        action = press.action_id.removeprefix("canary_")
        who = f"by {user} in chat"
        if action == "promote":
            run.promote()
        elif action == "abort":
            run.abort(f"aborted {who}")
        elif action == "rollback":
            run.rollback(f"rolled back {who}")
        else:
            return message(f"✗ unknown action {press.action_id!r}")
        self.controls.drop_run(run)
        self._audit(steer, f"{action}")
        return {"replace_original": True, "response_type": "in_channel", "text": f"{action} {who}"}

    def _start(self, asker: Asker, response_url: str) -> None:
        future = self.pool.submit(self._run, asker, ResponseUrl(response_url))
        with self._lock:
            self.running.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Any) -> None:
        with self._lock:
            self.running.discard(future)

    def _run(self, asker: Asker, url: ResponseUrl) -> None:
        reply = Reply(self, asker, url)
        try:
            outcome = self.execute(asker.command, asker.user, reply)
        except Exception as error:  # noqa: BLE001 - one broken action must not take the server down
            log.exception("chatops: %s failed", render(asker.command))
            reply.line(f"✗ {error}")
            outcome = f"error: {error}"
        reply.final()
        if url.failures:
            outcome += f" (response_url not reached {url.failures}×)"
        self._audit(asker, outcome)

    def _audit(self, asker: Asker, outcome: str) -> None:
        try:
            self.audit.record(asker.slack_user, asker.user, asker.channel, render(asker.command), outcome)
        except Exception:  # noqa: BLE001 - the store is down: say so in the log, keep serving
            log.exception("chatops: audit record not written")

    # -- HTTP -----------------------------------------------------------------------------------
    def listen(self, host: str, port: int) -> tuple[str, int]:
        """Serve on ``host:port`` (0: any free port) on a background thread; the bound address."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length > 0 else b""
                status, payload = server.handle(body, dict(self.headers.items()))
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("chatops http: " + format, *args)

        self._http = _Server((host, port), Handler)
        threading.Thread(target=self._http.serve_forever, name="chatops-http", daemon=True).start()
        address = self._http.server_address
        return str(address[0]), int(address[1])

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no action runs (tests, and a clean shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self.running:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        self.pool.shutdown(wait=True, cancel_futures=False)
