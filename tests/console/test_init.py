"""`idp-console init [DIR]` and the messages that point at it when a workspace is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backends.workspace import load_workspace
from console.cli import main


def test_init_writes_a_commented_workspace_that_opens(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    root = tmp_path / "acme"
    assert main(["init", str(root)]) == 0
    config = root / "idp-console.yaml"
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# idp-console workspace")
    assert "# environments:" in text and "#   analysis:" in text  # the rest of the README's example
    # the commented-out parts are valid YAML once switched on
    head, _, tail = text.partition("# templates:")
    switched_on = [line.removeprefix("# ") for line in ("# templates:" + tail).splitlines()]
    uncommented = head + "\n".join(switched_on)
    assert set(yaml.safe_load(uncommented)) >= {"catalog", "templates", "git", "environments", "deploy"}
    workspace = load_workspace(root)
    assert workspace.name == "acme" and not workspace.is_demo
    assert (root / "catalog").is_dir()
    assert f"--workspace {root}" in capsys.readouterr().out


def test_init_never_overwrites(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    (tmp_path / "idp-console.yaml").write_text("name: mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "Traceback" not in err
    assert (tmp_path / "idp-console.yaml").read_text(encoding="utf-8") == "name: mine\n"


@pytest.mark.parametrize(("make", "message"), [(False, "no such directory"), (True, "no idp-console.yaml")])
def test_missing_or_empty_workspace_points_at_init(tmp_path: Path, capsys, make: bool, message: str) -> None:  # noqa: ANN001
    root = tmp_path / "ws"
    if make:
        root.mkdir()
    assert main(["catalog", "list", "--workspace", str(root)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert f"idp-console init {root}" in err
