"""Who a Slack user is in the catalog.

A catalog ``User`` claims a Slack account with the annotation ``slack.com/user-id: U0123ABCD``.
Failing that, and only when a bot token is configured (the email is not in the slash command's
payload: Slack's ``users.info`` API has it), the Slack profile's email matched against the User's
``spec.profile.email``. The ``user_name`` Slack sends is a display name anyone can change, so it
identifies no one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

SLACK_USER_ANNOTATION = "slack.com/user-id"


class SlackDirectory:
    """The catalog's Users by Slack id and by email, and (with a bot token) Slack's emails."""

    def __init__(
        self,
        users: Iterable[Any],
        *,
        email_of: Callable[[str], str | None] | None = None,
    ) -> None:
        self.by_slack_id: dict[str, str] = {}
        self.by_email: dict[str, str] = {}
        for user in users:
            if getattr(user, "kind", "") != "User":
                continue
            slack_id = str((user.annotations or {}).get(SLACK_USER_ANNOTATION) or "").strip()
            if slack_id:
                self.by_slack_id[slack_id] = user.name
            email = str(((user.spec or {}).get("profile") or {}).get("email") or "").strip().lower()
            if email:
                self.by_email[email] = user.name
        self._email_of = email_of
        self._emails: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def user_for(self, slack_user_id: str) -> str | None:
        """The catalog User name of ``slack_user_id``, or None (unknown: read-only in chat)."""
        if not slack_user_id:
            return None
        found = self.by_slack_id.get(slack_user_id)
        if found or self._email_of is None:
            return found
        with self._lock:
            known = slack_user_id in self._emails
        if not known:
            email = self._email_of(slack_user_id)
            with self._lock:
                self._emails[slack_user_id] = email
        email = self._emails.get(slack_user_id)
        return self.by_email.get(email.lower()) if email else None


def slack_email_lookup(bot_token: str, *, base_url: str | None = None) -> Callable[[str], str | None]:
    """``users.info`` through slack-sdk's WebClient: the profile email (needs ``users:read.email``).
    ``base_url``: another Slack API endpoint (an Enterprise Grid proxy, a test's loopback server)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = (
        WebClient(token=bot_token, timeout=5, base_url=base_url)
        if base_url
        else WebClient(token=bot_token, timeout=5)
    )

    def email_of(slack_user_id: str) -> str | None:
        try:
            response = client.users_info(user=slack_user_id)
        except (SlackApiError, OSError) as error:
            log.warning("chatops: users.info %s failed: %s", slack_user_id, error)
            return None
        profile = (response.get("user") or {}).get("profile") or {}
        email = profile.get("email")
        return str(email) if email else None

    return email_of
