"""Bastion scenarios: real SSH doors, detached runners and the simulated cluster over real HTTP."""

from __future__ import annotations

from tests.deploy.conftest import sim  # noqa: F401 - the simulated cluster fixture, shared
