"""The commands the golden paths' generated docs tell users to run must be ones the CLI accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import golden_paths
from console.cli import build_parser

GOLDEN_PATHS = Path(golden_paths.__file__).parent
# `idp-console …` in inline code; template expressions become a plain word.
SNIPPET = re.compile(r"`(idp-console(?: [^`]*)?)`")
EXPRESSION = re.compile(r"\$\{\{[^}]*\}\}")


def _snippets() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in sorted(GOLDEN_PATHS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in SNIPPET.finditer(text):
            found.append((str(path.relative_to(GOLDEN_PATHS)), EXPRESSION.sub("orders", match.group(1))))
    return found


def test_the_golden_paths_mention_idp_console_commands() -> None:
    assert any(" rollback " in command for _, command in _snippets())


@pytest.mark.parametrize(("source", "command"), _snippets())
def test_every_documented_command_parses(source: str, command: str) -> None:
    try:
        build_parser().parse_args(shlex.split(command)[1:])
    except SystemExit as error:
        pytest.fail(f"{source}: `{command}` is not a valid command (exit {error.code})")
