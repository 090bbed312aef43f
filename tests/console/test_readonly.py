"""Read-only mode (``--readonly``, or ``identity.readonly`` listing you): nothing that changes anything
runs, from the CLI or the TUI; reading still works."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from backends.workspace import WorkspaceError, load_workspace
from console.cli import main

ME = pwd.getpwuid(os.geteuid()).pw_name

MUTATING = [
    ["deploy", "payment-service", "--env", "staging", "--version", "v2.3.1", "--yes"],
    ["deploy", "payment-service", "--env", "staging", "--attach"],
    ["rollback", "payment-service", "--env", "staging"],
    ["scale", "payment-service", "--env", "staging", "--replicas", "2", "--yes"],
    ["scaffold", "microservice-golden-path", "--set", "name=orders", "--set", "owner=team-payments"],
    ["catalog", "unregister", "orders"],
    ["agent"],
]


def _workspace(root: Path, readonly: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "idp-console.yaml").write_text(f"name: acme\nidentity:\n  readonly: {readonly}\n")
    return root


@pytest.mark.parametrize("argv", MUTATING, ids=lambda argv: " ".join(argv[:2]))
def test_readonly_flag_refuses_every_change_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--readonly", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("idp-console: read-only (--readonly): `")
    assert "would change something; nothing was done" in err


def test_readonly_config_refuses_the_accounts_it_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _workspace(tmp_path / "ws", f"[someone-else, {ME}]")
    assert main(["--workspace", str(root), "rollback", "payment-service", "--env", "staging"]) == 2
    err = capsys.readouterr().err
    assert "read-only (identity.readonly in" in err and "`rollback` would change something" in err
    assert load_workspace(str(root)).readonly
    assert not load_workspace(str(_workspace(tmp_path / "other", "[someone-else]"))).readonly


def test_readonly_still_reads_and_dry_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--readonly", "catalog", "list", "--filter", "name:payment-service"]) == 0
    assert "payment-service" in capsys.readouterr().out
    out = tmp_path / "out"
    argv = ["--readonly", "scaffold", "microservice-golden-path", "--set", "name=orders"]
    argv += ["--set", "owner=team-payments", "--dry-run", "--keep", str(out)]
    assert main(argv) == 0
    assert "read-only" not in capsys.readouterr().err


def test_identity_readonly_must_be_a_list_of_accounts(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"idp-console.yaml:3: identity.readonly: expected a list"):
        load_workspace(str(_workspace(tmp_path / "ws", "bob")))
    with pytest.raises(WorkspaceError, match=r"identity.readonly\[0\]: expected a string"):
        load_workspace(str(_workspace(tmp_path / "ws2", "[[bob]]")))
