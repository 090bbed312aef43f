"""Locations as Backstage processes them: a missing target is the target's error, not the Location's;
a ref defined twice (case-insensitively, in one file or across Locations) is flagged with both places.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.catalog.catalog import catalog_from_files
from console.cli import main

from .conftest import component
from .test_locations import location


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict]]:
    code = main(["catalog", "validate", "--follow", "-o", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_location_with_a_missing_target_is_valid_and_the_target_is_a_separate_error(
    write, tmp_path: Path, capsys
) -> None:
    root = write("root.yaml", component("first") + "---\n" + location("req", "./gone.yaml", "./here.yaml"))
    write("here.yaml", component("here"))
    code, results = _validate(capsys, str(root))
    assert code == 1  # something is wrong: the missing target
    by_ref = {(r["ref"], r.get("target")): r for r in results}
    assert by_ref[("location:default/req", None)]["valid"] is True
    assert by_ref[("location:default/req", None)]["errors"] == []
    problem = by_ref[("location:default/req", "./gone.yaml")]
    assert problem["valid"] is False and problem["index"] is None
    assert problem["file"] == str(root)
    assert problem["line"] == by_ref[("location:default/req", None)]["line"] == 9  # the Location's line
    assert problem["errors"] == [f"file ./gone.yaml does not exist (resolved to {tmp_path}/gone.yaml)"]
    assert by_ref[("component:default/here", None)]["valid"] is True  # the other target is followed


def test_the_workspace_catalog_keeps_the_location_and_reports_the_target_at_its_line(
    write, tmp_path: Path
) -> None:
    root = write("root.yaml", component("first") + "---\n" + location("req", "./gone.yaml"))
    catalog = catalog_from_files([root], root=tmp_path)
    kept = catalog.get("location:default/req")
    assert kept is not None
    [problem] = [p for p in catalog.problems if "does not exist (resolved" in p.message]
    assert (problem.position.file, problem.position.line) == (kept.position.file, kept.position.line)
    assert problem.ref == "location:default/req"


def test_validate_follow_flags_a_duplicate_in_one_file_case_insensitively(write, capsys) -> None:
    path = write("dup.yaml", component("twice") + "---\n" + component("TWICE", type="library"))
    code, results = _validate(capsys, str(path))
    assert code == 0  # Backstage's verdict on each document stays "valid"
    assert [r["valid"] for r in results] == [True, True]
    assert "warnings" not in results[0]
    assert results[1]["warnings"] == [
        f"duplicate entity component:default/twice: also defined at {path}:1 (Backstage keeps the last one)"
    ]


def test_validate_follow_flags_a_duplicate_across_locations_naming_both_places(write, capsys) -> None:
    root = write("root.yaml", location("root", "./a.yaml", "./b.yaml"))
    a = write("a.yaml", component("svc"))
    b = write("b.yaml", "# the same service again\n" + component("Svc"))
    code, results = _validate(capsys, str(root))
    assert code == 0
    [flagged] = [r for r in results if r.get("warnings")]
    assert flagged["file"] == str(b) and flagged["line"] == 2
    assert flagged["warnings"] == [
        f"duplicate entity component:default/svc: also defined at {a}:1 (Backstage keeps the one in {a})"
    ]
