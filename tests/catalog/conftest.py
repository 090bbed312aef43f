"""Helpers for catalog tests: write small YAML trees and documents into tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"


def component(name: str, **spec: object) -> str:
    """A valid Component document (as YAML text) with spec fields overridden."""
    fields = {"type": "service", "lifecycle": "production", "owner": "team-a", **spec}
    body = "\n".join(f"  {key}: {value}" for key, value in fields.items())
    return f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n{body}\n"


@pytest.fixture
def write(tmp_path: Path):
    """``write("a/b.yaml", text)`` -> the path, with the text dedented."""

    def _write(relative: str, text: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


def pytest_configure(config: pytest.Config) -> None:
    # Known to pytest-xdist; registered here too so `-p no:xdist` runs do not warn about it.
    config.addinivalue_line("markers", "xdist_group(name): run these tests in one xdist worker")
