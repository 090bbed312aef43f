"""`idp-console catalog validate|list`: JSON on stdout, problems on stderr, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main

from .conftest import CORPUS, component


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_json_one_result_per_document(write, capsys) -> None:
    path = write(
        "c.yaml", component("good") + "---\n---\n" + component("Bad_", lifecycle="''") + "---\n- 1\n"
    )
    code, out, _ = run(capsys, "catalog", "validate", "--output", "json", str(path))
    results = json.loads(out)
    assert code == 1
    assert [(r["index"], r["line"], r["ref"], r["valid"]) for r in results] == [
        (0, 1, "component:default/good", True),
        (1, 9, None, None),
        (2, 10, "component:default/bad_", False),
        (3, 19, None, False),
    ]
    assert results[0] == {
        "file": str(path),
        "line": 1,
        "index": 0,
        "ref": "component:default/good",
        "valid": True,
        "errors": [],
    }
    assert results[3]["errors"] == ["Expected object at root, got array"]


def test_validate_all_valid_exits_zero_and_table_output(write, capsys) -> None:
    path = write("ok.yaml", component("fine"))
    code, out, _ = run(capsys, "catalog", "validate", str(path))
    assert code == 0 and "component:default/fine" in out and "1 valid, 0 invalid, 0 empty" in out


def test_validate_missing_path_is_usage_error(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "catalog", "validate", str(tmp_path / "nope.yaml"))
    assert code == 2 and out == "" and "no such file or directory" in err


def test_validate_follow_reads_location_targets(capsys, monkeypatch) -> None:
    monkeypatch.chdir(CORPUS)
    code, out, _ = run(capsys, "catalog", "validate", "--follow", "-o", "json", "locations/root.yaml")
    results = json.loads(out)
    assert code == 1  # required-missing and more-c-invalid
    files = [r["file"] for r in results]
    # 3 documents, then the missing target of required-missing as a record of its own
    assert files[:5] == ["locations/root.yaml"] * 4 + ["locations/sub/a.yaml"]
    assert "locations/more/c.yaml" in files and "locations/sub/.hidden.yaml" not in files
    code, out, _ = run(capsys, "catalog", "validate", "-o", "json", "locations/root.yaml")
    assert [r["file"] for r in json.loads(out)] == ["locations/root.yaml"] * 3


def test_validate_directory_and_bad_files(write, tmp_path: Path, capsys) -> None:
    write("d/a.yaml", component("a"))
    (tmp_path / "d" / "bin.yaml").write_bytes(b"\x00\x01")
    code, out, _ = run(capsys, "catalog", "validate", "-o", "json", str(tmp_path / "d"))
    results = {Path(r["file"]).name: r for r in json.loads(out)}
    assert code == 1 and results["a.yaml"]["valid"] is True
    assert results["bin.yaml"] == {
        "file": str(tmp_path / "d" / "bin.yaml"),
        "line": 1,
        "index": None,
        "ref": None,
        "valid": False,
        "errors": ["binary file (contains NUL bytes), not YAML text"],
    }


def test_list_demo_json_with_relations_and_filter(capsys) -> None:
    code, out, err = run(
        capsys,
        "catalog",
        "list",
        "--filter",
        "kind:component owner:team-payments payment service",
        "-o",
        "json",
    )
    entities = json.loads(out)
    assert code == 0 and err == ""
    assert [e["metadata"]["name"] for e in entities] == ["payment-service"]
    assert {"type": "ownedBy", "targetRef": "group:default/team-payments"} in entities[0]["relations"]
    assert entities[0]["source"] == {"file": "catalog/payments.yaml", "line": 2}


def test_list_yaml_and_table(capsys) -> None:
    code, out, _ = run(capsys, "catalog", "list", "-f", "kind:domain", "-o", "yaml")
    assert code == 0 and out.count("kind: Domain") == 3
    code, out, _ = run(capsys, "catalog", "list", "-f", "kind:system", "--sort", "name", "--desc")
    rows = [line.split()[1] for line in out.splitlines()[1:-1]]
    assert rows == sorted(rows, reverse=True) and "6 entities" in out


def test_list_workspace_problems_go_to_stderr_with_file_line(write, tmp_path: Path, capsys) -> None:
    write("ws/idp-console.yaml", "catalog:\n  sources:\n    - {type: dir, path: cat}\n")
    write("ws/cat/a.yaml", component("ok") + "---\n" + component("broken", owner="''"))
    code, out, err = run(capsys, "catalog", "list", "--workspace", str(tmp_path / "ws"), "-o", "json")
    assert code == 0 and [e["metadata"]["name"] for e in json.loads(out)] == ["ok"]
    assert (
        "cat/a.yaml:9: error [component:default/broken]: /spec/owner must NOT have fewer than 1 characters"
        in err
    )
    assert "cat/a.yaml:1: warning [component:default/ok]: owner group:default/team-a does not exist" in err
