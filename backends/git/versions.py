"""A released version's commit: a version is a git tag (v1.4.2), and a deploy of it records the
commit the tag points at and that commit's time, so the scorecard's lead time for changes (commit
→ in production) needs nothing from CI.

Read from the same cached mirror :func:`backends.git.checkout.sync_repository` keeps: a tag already
in the mirror costs no network; an unknown one fetches (or clones) once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from backends.git.checkout import GitSourceError, repository_cache, sync_repository

FETCH_TIMEOUT = 15  # seconds


@dataclass(frozen=True, slots=True)
class VersionCommit:
    sha: str
    time: float  # the commit's committer time, epoch seconds


def version_commit(url: str, version: str) -> VersionCommit:
    """The commit the tag ``version`` of ``url`` points at; GitSourceError when there is no such
    tag (or the repository cannot be read)."""
    found = _from_mirror(url, version)
    if found is None:
        mirror = repository_cache(url) / "mirror.git"
        if (mirror / "HEAD").exists():
            _fetch_tag(mirror, version)
        else:
            sync_repository(url, f"refs/tags/{version}")  # the first look clones, as provisioning does
        found = _from_mirror(url, version)
    if found is None:
        raise GitSourceError(f"{url} has no tag {version}")
    return found


def _fetch_tag(mirror: Path, version: str) -> None:
    """Just that tag, within FETCH_TIMEOUT: a deploy waits for this before it starts."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}
    repo = git.Repo(mirror)
    try:
        with repo.git.custom_environment(**env):
            repo.git.fetch(
                "--force",
                "origin",
                f"refs/tags/{version}:refs/tags/{version}",
                kill_after_timeout=FETCH_TIMEOUT,
            )
    except git.GitCommandError as error:
        raise GitSourceError(f"could not fetch tag {version}: {error.stderr.strip() or error}") from error


def _from_mirror(url: str, version: str) -> VersionCommit | None:
    mirror = repository_cache(url) / "mirror.git"
    if not (mirror / "HEAD").exists():
        return None
    try:
        repo = git.Repo(mirror)
        sha, stamp = repo.git.log("-1", "--format=%H %ct", f"refs/tags/{version}^{{commit}}", "--").split()
    except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None
    return VersionCommit(sha, float(stamp))
