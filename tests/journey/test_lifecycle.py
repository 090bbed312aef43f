"""Lifecycle as a guardrail with a way through: production refuses an experimental service and names
the fix; ``catalog promote`` commits it to the service's own repository (or opens a change request,
per ``lifecycle_change``), and the catalog shows the change at its next load."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import git
import pytest

from backends.catalog import load_catalog
from backends.catalog.lifecycle import LifecycleError, change_requests, promote_lifecycle
from backends.workspace import DEMO_WORKSPACE_DIR, load_workspace
from console.cli import main

NAME = "orders-api"


@pytest.fixture
def workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A copy of the demo with orders-api scaffolded (python, no database): lifecycle experimental."""
    root = tmp_path / "acme"
    shutil.copytree(DEMO_WORKSPACE_DIR, root)
    code = main(
        ["--workspace", str(root), "scaffold", "microservice-golden-path", "--set", f"name={NAME}"]
        + ["--set", "owner=group:default/team-payments", "--set", "database=none"]
    )
    assert code == 0, capsys.readouterr()
    capsys.readouterr()
    return root


def remote(home: Path) -> git.Repo:
    return git.Repo(home / f"data/git/team-payments/{NAME}.git")


def lifecycle(root: Path) -> str:
    entity = load_catalog(load_workspace(root)).get(NAME, default_kind="Component")
    assert entity is not None
    return str(entity.spec["lifecycle"])


def test_production_refusal_names_the_fix(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--workspace", str(workspace), "deploy", NAME, "--env", "production", "--version", "v0.1.0", "--yes"]
    )
    out, err = capsys.readouterr()
    assert code != 0
    assert (
        f"{NAME} has lifecycle 'experimental'; production accepts only production — promote it with "
        f"`idp-console catalog promote {NAME} --lifecycle production` (a commit to its catalog-info.yaml)"
    ) in out + err


def test_promote_commits_to_the_services_repository(workspace: Path, isolated_home: Path) -> None:
    before = remote(isolated_home).commit("main")
    result = promote_lifecycle(load_workspace(workspace), NAME, "production", "jane.doe")
    assert (result.mode, result.from_lifecycle, result.to_lifecycle) == (
        "commit",
        "experimental",
        "production",
    )
    head = remote(isolated_home).commit("main")
    assert head.parents == (before,) and head.hexsha == result.commit
    assert (head.author.name, head.author.email) == ("Jane Doe", "jane.doe@acme.example")
    assert "requested by jane.doe" in head.message
    assert list(head.stats.files) == ["catalog-info.yaml"]  # one line of one file
    assert head.stats.total["lines"] == 2
    assert lifecycle(workspace) == "production"  # the catalog's next load shows it
    again = promote_lifecycle(load_workspace(workspace), NAME, "production", "jane.doe")
    assert again.mode == "unchanged" and remote(isolated_home).commit("main") == head


def test_a_change_pushed_by_someone_else_shows_at_the_next_load(
    workspace: Path, isolated_home: Path, tmp_path: Path
) -> None:
    clone = tmp_path / "elsewhere"
    git.Repo.clone_from(remote(isolated_home).working_dir, clone)
    file = clone / "catalog-info.yaml"
    file.write_text(file.read_text().replace("lifecycle: experimental", "lifecycle: deprecated"))
    env = {"GIT_AUTHOR_NAME": "omar", "GIT_AUTHOR_EMAIL": "o@x", "GIT_COMMITTER_NAME": "omar"}
    env |= {"GIT_COMMITTER_EMAIL": "o@x", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(clone), "commit", "-qam", "deprecate"], check=True, env=env)
    subprocess.run(["git", "-C", str(clone), "push", "-q", "origin", "main"], check=True, env=env)
    assert lifecycle(workspace) == "deprecated"


def test_change_request_mode_pushes_a_branch_and_records_it(workspace: Path, isolated_home: Path) -> None:
    config = workspace / "idp-console.yaml"
    config.write_text(
        config.read_text().replace("lifecycle_change: commit", "lifecycle_change: change-request")
    )
    before = remote(isolated_home).commit("main")
    result = promote_lifecycle(load_workspace(workspace), NAME, "production", "jane.doe")
    assert (result.mode, result.branch, result.change_request) == (
        "change-request",
        f"lifecycle/{NAME}-production",
        1,
    )
    repo = remote(isolated_home)
    assert repo.commit("main") == before  # nothing changes until it is merged
    proposed = repo.commit(f"lifecycle/{NAME}-production")
    assert proposed.hexsha == repo.commit("refs/pull/1/head").hexsha
    assert proposed.author.name == "Jane Doe"
    assert "lifecycle: production" in (proposed.tree / "catalog-info.yaml").data_stream.read().decode()
    assert [r["change_request"] for r in change_requests()] == [1]
    assert lifecycle(workspace) == "experimental"
    with pytest.raises(LifecycleError, match="already open"):
        promote_lifecycle(load_workspace(workspace), NAME, "production", "jane.doe")


def test_services_from_configured_sources_are_refused(workspace: Path) -> None:
    with pytest.raises(LifecycleError, match="a source of the workspace configuration"):
        promote_lifecycle(load_workspace(workspace), "auth-service", "deprecated", "jane.doe")
    with pytest.raises(LifecycleError, match="not a lifecycle name"):
        promote_lifecycle(load_workspace(workspace), NAME, "pro duction", "jane.doe")
