"""A released version's commit: a version is a git tag (v1.4.2), and a deploy of it records the
commit the tag points at and that commit's time, so the scorecard's lead time for changes (commit
→ in production) needs nothing from CI.

Read from the same cached mirror :func:`backends.git.checkout.sync_repository` keeps: a tag already
in the mirror costs no network; an unknown one fetches (or clones) once.
"""

from __future__ import annotations

from dataclasses import dataclass

import git

from backends.git.checkout import GitSourceError, repository_cache, sync_repository


@dataclass(frozen=True, slots=True)
class VersionCommit:
    sha: str
    time: float  # the commit's committer time, epoch seconds


def version_commit(url: str, version: str) -> VersionCommit:
    """The commit the tag ``version`` of ``url`` points at; GitSourceError when there is no such
    tag (or the repository cannot be read)."""
    found = _from_mirror(url, version)
    if found is None:
        sync_repository(url, f"refs/tags/{version}")  # fetch (or clone); raises for an unknown tag
        found = _from_mirror(url, version)
    if found is None:
        raise GitSourceError(f"{url} has no tag {version}")
    return found


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
