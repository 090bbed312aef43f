"""Screen-test fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def same_account_on_every_machine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # The top bar shows who you are: outside the demo that is the OS account running the tests,
    # which differs between machines. Snapshots must not.
    if "snap_compare" in request.fixturenames:
        monkeypatch.setattr("backends.identity.account_name", lambda: "sam.lee")
