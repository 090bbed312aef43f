"""Test helpers use Textual's public API only: a private attribute (``screen._compositor``) can change
in any release and break every test that reads the screen at once (#13)."""

from __future__ import annotations

import ast
from pathlib import Path

HELPERS = sorted((Path(__file__).resolve().parents[1]).glob("*/helpers.py"))


def private_attributes(path: Path) -> list[str]:
    """``file:line: .name`` for every ``x._name`` read in ``path`` (dunders are Python's own)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append(f"{path.name}:{node.lineno}: .{node.attr}")
    return found


def test_the_test_helpers_read_no_private_attribute() -> None:
    assert HELPERS, "no tests/*/helpers.py found"
    assert [hit for path in HELPERS for hit in private_attributes(path)] == []
