"""Slack's side of the conversation, through Slack's own SDK: request signatures (v0 HMAC-SHA256
over ``v0:timestamp:body``, five-minute replay window), the slash-command and interactivity
payloads, Block Kit messages and the ``response_url`` webhook."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient

log = logging.getLogger(__name__)

RETRY_HEADER = "x-slack-retry-num"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
# Slack lets an app use a response_url five times within 30 minutes: progress gets what the final
# result does not need.
RESPONSE_URL_USES = 5


def is_signed(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether Slack signed ``body`` with our secret less than five minutes ago (the SDK's check;
    a timestamp that is not a number is simply not valid)."""
    try:
        return verifier.is_valid_request(body, dict(headers))
    except ValueError:
        return False


def make_verifier(signing_secret: str, clock: Clock | None = None) -> SignatureVerifier:
    return SignatureVerifier(signing_secret, clock or Clock())


@dataclass(frozen=True)
class SlashCommand:
    """One ``/platform …`` invocation as Slack posts it (application/x-www-form-urlencoded)."""

    text: str
    user_id: str
    user_name: str
    channel_id: str
    channel_name: str
    response_url: str
    command: str = "/platform"


@dataclass(frozen=True)
class ButtonPress:
    """A click on one of our Block Kit buttons (the interactivity ``block_actions`` payload)."""

    action_id: str
    value: str
    user_id: str
    user_name: str
    channel_id: str
    response_url: str


def parse_form(body: bytes) -> dict[str, str]:
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def parse_slash(form: Mapping[str, str]) -> SlashCommand:
    return SlashCommand(
        text=form.get("text", ""),
        user_id=form.get("user_id", ""),
        user_name=form.get("user_name", ""),
        channel_id=form.get("channel_id", ""),
        channel_name=form.get("channel_name", ""),
        response_url=form.get("response_url", ""),
        command=form.get("command", "/platform"),
    )


def parse_button(form: Mapping[str, str]) -> ButtonPress | None:
    """The first button of a ``block_actions`` payload, or None for anything else."""
    try:
        payload = json.loads(form.get("payload", ""))
        action = payload["actions"][0]
        user = payload.get("user") or {}
        return ButtonPress(
            action_id=str(action.get("action_id", "")),
            value=str(action.get("value", "")),
            user_id=str(user.get("id", "")),
            user_name=str(user.get("username") or user.get("name") or ""),
            channel_id=str((payload.get("channel") or {}).get("id", "")),
            response_url=str(payload.get("response_url", "")),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class Button:
    text: str
    action_id: str
    value: str
    style: str | None = None  # "primary" | "danger"


def message(text: str, buttons: Sequence[Button] = (), *, in_channel: bool = False) -> dict[str, Any]:
    """A reply: the text as a section (mrkdwn), then the buttons as one actions block."""
    blocks: list[dict[str, Any]] = [SectionBlock(text=text).to_dict()]
    if buttons:
        elements = [
            ButtonElement(text=b.text, action_id=b.action_id, value=b.value, style=b.style) for b in buttons
        ]
        blocks.append(ActionsBlock(elements=elements).to_dict())
    return {
        "response_type": "in_channel" if in_channel else "ephemeral",
        "text": text,
        "blocks": blocks,
    }


class ResponseUrl:
    """Posts to one request's ``response_url`` within Slack's budget of uses. A URL that does not
    answer is logged, never raised: the action it reports on goes on and is recorded anyway."""

    def __init__(self, url: str, *, timeout: float = 5.0, uses: int = RESPONSE_URL_USES) -> None:
        self.url = url
        self.timeout = timeout
        self.left = uses
        self.failures = 0
        self._lock = threading.Lock()

    def post(self, body: dict[str, Any], *, final: bool = False) -> bool:
        """Send ``body``; a non-final post keeps one use back for the final result."""
        with self._lock:
            if self.left <= (0 if final else 1) or not self.url:
                return False
            self.left -= 1
        try:
            response = WebhookClient(self.url, timeout=int(max(1, self.timeout))).send_dict(body)
        except Exception as error:  # noqa: BLE001 - urllib raises many kinds; all mean "not delivered"
            self._failed(f"{type(error).__name__}: {error}")
            return False
        if response.status_code >= 300:
            self._failed(f"HTTP {response.status_code}")
            return False
        return True

    def _failed(self, why: str) -> None:
        self.failures += 1
        log.warning("chatops: response_url %s not reached (%s); the action goes on", self.url, why)
