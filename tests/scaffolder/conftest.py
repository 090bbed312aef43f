"""Fixtures for scaffolder tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.scaffolder.helpers import FakeCatalog, bare_repo, sample_catalog


@pytest.fixture
def catalog() -> FakeCatalog:
    return sample_catalog()


@pytest.fixture
def make_bare(tmp_path: Path) -> Callable[[str], Path]:
    return lambda name: bare_repo(tmp_path / "remotes" / f"{name}.git")
