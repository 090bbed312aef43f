"""Test-wide fixtures: every test gets its own state/cache/data dirs, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("idp-home")
    monkeypatch.setenv("IDP_CONSOLE_HOME", str(home))
    monkeypatch.delenv("IDP_CONSOLE_WORKSPACE", raising=False)
    monkeypatch.setenv("IDP_CONSOLE_USER", "jane.doe")
    return home
