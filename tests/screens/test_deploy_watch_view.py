"""WatchView keeps the names Textual itself uses on every widget."""

from __future__ import annotations

import pytest
from textual import constants
from textual.message import Message

from screens.deploy_watch import WatchView


def test_textual_can_still_log_on_the_watch_view(monkeypatch: pytest.MonkeyPatch) -> None:
    # Textual calls ``self.log.warning(...)`` on a widget (a message posted to one that is not running,
    # in debug mode; a timer firing without a screen). A method named ``log`` made that an
    # AttributeError ('function' object has no attribute 'warning').
    monkeypatch.setattr(constants, "DEBUG", True)
    view = WatchView()
    assert view.post_message(Message())
