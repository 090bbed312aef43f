"""Git checkouts: clone, fetch, read at a ref, and the last good clone when the remote is gone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backends.git import GitSourceError, repository_cache, sync_repository


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_repo(path: Path, files: dict[str, str], branch: str = "main") -> Path:
    """A real repository with one commit of ``files`` on ``branch``."""
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", branch)
    commit_files(path, files, "initial")
    return path


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def test_clone_then_fetch_sees_new_commits(tmp_path: Path) -> None:
    remote = make_repo(tmp_path / "remote", {"a.txt": "one"})
    first = sync_repository(str(remote), "main")
    assert (first.path / "a.txt").read_text() == "one" and first.warning is None
    second_commit = commit_files(remote, {"a.txt": "two"}, "second")
    second = sync_repository(str(remote), "main")
    assert second.commit == second_commit and (second.path / "a.txt").read_text() == "two"
    assert repository_cache(str(remote)) in second.path.parents


def test_reads_tags_and_commits(tmp_path: Path) -> None:
    remote = make_repo(tmp_path / "remote", {"v.txt": "1"})
    _git(remote, "tag", "v1")
    old = _git(remote, "rev-parse", "HEAD")
    commit_files(remote, {"v.txt": "2"}, "two")
    assert (sync_repository(str(remote), "v1").path / "v.txt").read_text() == "1"
    assert (sync_repository(str(remote), old).path / "v.txt").read_text() == "1"
    assert (sync_repository(str(remote), "HEAD").path / "v.txt").read_text() == "2"


def test_fetch_failure_keeps_last_good_clone_with_warning(tmp_path: Path) -> None:
    remote = make_repo(tmp_path / "remote", {"a.txt": "kept"})
    good = sync_repository(str(remote), "main")
    remote.rename(tmp_path / "gone")
    stale = sync_repository(str(remote), "main")
    assert stale.commit == good.commit and (stale.path / "a.txt").read_text() == "kept"
    assert stale.warning is not None
    assert stale.warning.startswith(f"could not fetch {remote}: ")
    assert f"showing {good.commit[:12]} from " in stale.warning


def test_no_clone_and_unreachable_raises_typed_error(tmp_path: Path) -> None:
    with pytest.raises(GitSourceError, match="could not clone"):
        sync_repository(str(tmp_path / "missing"), "main")


def test_unknown_ref_is_a_clear_error(tmp_path: Path) -> None:
    remote = make_repo(tmp_path / "remote", {"a.txt": "x"})
    with pytest.raises(GitSourceError, match="no branch, tag or commit 'nope'"):
        sync_repository(str(remote), "nope")
