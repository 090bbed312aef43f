"""A binary, non-UTF-8 or FIFO template.yaml or --values file is one line and exit 2, never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from tests.fifo import make_fifo, unblocked

BAD = {
    "latin1": ("name: Z\u00fcrich\n".encode("latin-1"), "not UTF-8 text (invalid byte at offset 7)"),
    "binary": (b"name: x\n\x00\x01\x02\x03", "binary file (contains NUL bytes), not YAML text"),
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (out + err).splitlines()


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_values_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    content, reason = BAD[kind]
    values = tmp_path / "values.yaml"
    values.write_bytes(content)
    assert _run(capsys, "scaffold", "docs-site", "--values", str(values)) == (
        2,
        [f"idp-console: {values}: {reason}"],
    )


def test_invalid_yaml_values_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("name: [unclosed\n")
    code, lines = _run(capsys, "scaffold", "docs-site", "--values", str(values))
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"idp-console: {values}: invalid YAML at line 2, column 1: ")


def test_values_fifo_is_refused_without_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = make_fifo(tmp_path / "values.yaml")
    with unblocked(fifo):
        result = _run(capsys, "scaffold", "docs-site", "--values", str(fifo))
    assert result == (2, [f"idp-console: {fifo}: not a regular file (a FIFO)"])


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_template_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    content, reason = BAD[kind]
    template = tmp_path / "template.yaml"
    template.write_bytes(content)
    assert _run(capsys, "template", "lint", str(template)) == (2, [f"idp-console: {template}: {reason}"])


def test_template_fifo_is_refused_without_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = make_fifo(tmp_path / "template.yaml")
    with unblocked(fifo):
        result = _run(capsys, "template", "lint", str(fifo))
    assert result == (2, [f"idp-console: {fifo}: not a regular file (a FIFO)"])
