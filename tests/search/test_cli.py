"""``idp-console search``: grouped text output, --kind, --output json, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main
from tests.docs.test_cli import make_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def test_text_output_grouped_with_snippets(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "payment", "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert out.index("Entities (1)") < out.index("Docs pages")
    assert "Payment Service" in out
    assert "→ component:payment-service" in out
    assert "idp-console docs component:payment-service index.md" in out


def test_docs_hit_names_page_and_heading(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "rollback", "--kind", "docs", "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert "Entities" not in out
    assert "runbook.md#rollback  (Rollback)" in out


def test_json_output(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "moves", "money", "-o", "json", "--workspace", str(workspace)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["query"] == "moves money"
    hit = data["groups"]["entity"]["hits"][0]
    assert hit["title"] == "Payment Service"
    assert hit["target"] == {
        "type": "entity",
        "ref": "component:default/payment-service",
        "page": None,
        "anchor": None,
    }
    assert hit["snippet"]["field"] == "description"
    start, end = hit["snippet"]["highlights"][0]
    assert hit["snippet"]["text"][start:end] == "Moves"


def test_kind_filter_by_entity_kind(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "docs", "--kind", "component", "-o", "json", "--workspace", str(workspace)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["groups"]) == ["entity"]
    assert {h["kind"] for h in data["groups"]["entity"]["hits"]} == {"component"}


def test_no_hits_exit_1(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "xyzzy", "--workspace", str(workspace)]) == 1
    assert "No results" in capsys.readouterr().out


def test_bad_limit(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "x", "--limit", "0", "--workspace", str(workspace)]) == 2


def test_golden_path_templates_are_searchable(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["search", "golden", "path", "--kind", "template", "-o", "json", "--workspace", str(workspace)])
        == 0
    )
    hits = json.loads(capsys.readouterr().out)["groups"]["template"]["hits"]
    assert hits and hits[0]["target"]["ref"].startswith("template:default/")
