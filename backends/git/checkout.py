"""Read-only checkouts of git repositories, kept in the cache and refreshed on every sync.

``sync_repository(url, ref)`` keeps a mirror clone per URL under ``cache_dir()/git/<hash>``, fetches
on each call, resolves ``ref`` (branch, tag, commit or ``HEAD``) and materialises the files of that
commit in ``trees/<commit>`` (extracted with ``git archive``; a finished tree is reused, so repeated
syncs of an unchanged ref cost one fetch). When the fetch fails but an earlier clone exists, the
last good tree is returned with a ``warning`` that says so; with no clone at all it raises
``GitSourceError``. Used by the catalog's git sources and by the docs reader.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import git

from backends import paths
from backends.atomic import write_text_atomic

_KEEP_TREES = 3  # older trees of a repository are deleted; they are cheap to extract again
_FETCH_TIMEOUT = 120  # seconds; a hung remote must not hang the console forever
_SKIPPED_FILE = ".idp-skipped"  # tar entries refused at extraction, one per line


class GitSourceError(Exception):
    """The repository cannot be read (never cloned and unreachable, unknown ref, …)."""


@dataclass(frozen=True, slots=True)
class GitCheckout:
    """The files of ``url`` at a commit, on disk at ``path`` (read-only by convention)."""

    path: Path
    commit: str
    warning: str | None = None


def repository_cache(url: str) -> Path:
    """Where the clone of ``url`` lives (one directory per URL)."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]
    return paths.cache_dir() / "git" / digest


def sync_repository(url: str, ref: str = "HEAD") -> GitCheckout:
    """Fetch ``url`` and return its files at ``ref``; stale-but-usable data comes with a warning."""
    base = repository_cache(url)
    mirror = base / "mirror.git"
    warning: str | None = None
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}
    try:
        if (mirror / "HEAD").exists():
            repo = git.Repo(mirror)
            with repo.git.custom_environment(**env):
                repo.git.fetch("--prune", "--force", "origin", kill_after_timeout=_FETCH_TIMEOUT)
        else:
            if mirror.exists():
                shutil.rmtree(mirror)  # a clone that died half-way
            base.mkdir(parents=True, exist_ok=True)
            repo = git.Repo.clone_from(url, mirror, mirror=True, env=env, kill_after_timeout=_FETCH_TIMEOUT)
        write_text_atomic(base / "fetched-at", f"{time.time():.0f}\n")
    except (git.GitCommandError, git.NoSuchPathError, git.InvalidGitRepositoryError, OSError) as error:
        reason = _reason(error)
        if not (mirror / "HEAD").exists():
            raise GitSourceError(f"could not clone {url}: {reason}") from error
        try:
            repo = git.Repo(mirror)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as broken:
            raise GitSourceError(
                f"could not fetch {url} ({reason}) and the cached clone is broken"
            ) from broken
        warning = f"could not fetch {url}: {reason}"
    commit = _resolve(repo, url, ref)
    tree = _materialise(repo, base, commit)
    if warning is not None:
        warning += f"; showing {commit[:12]} from {_fetched_at(base)}"
    skipped = _skipped(tree)
    if skipped:
        warning = f"{warning}; {skipped}" if warning else skipped
    return GitCheckout(tree, commit, warning)


def _resolve(repo: git.Repo, url: str, ref: str) -> str:
    for candidate in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}"):
        try:
            return repo.git.rev_parse("--verify", "--quiet", f"{candidate}^{{commit}}").strip()
        except git.GitCommandError:
            continue
    raise GitSourceError(f"{url} has no branch, tag or commit {ref!r}")


def _materialise(repo: git.Repo, base: Path, commit: str) -> Path:
    trees = base / "trees"
    tree = trees / commit
    if (tree / ".idp-complete").exists():
        os.utime(tree)  # most recently used: kept by the pruning below
        return tree
    trees.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}-", dir=trees))
    try:
        archive = io.BytesIO()
        repo.archive(archive, commit, format="tar")
        archive.seek(0)
        skipped: list[str] = []
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(staging, filter=_SkipUnsafe(skipped))
        if skipped:
            (staging / _SKIPPED_FILE).write_text("\n".join(skipped) + "\n", encoding="utf-8")
        (staging / ".idp-complete").write_text(commit + "\n")
        if tree.exists():
            shutil.rmtree(tree)
        staging.rename(tree)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(trees, keep=tree)
    return tree


class _SkipUnsafe:
    """The tar "data" filter, member by member: what it refuses is skipped, not fatal.

    The filter refuses absolute paths, links to an absolute path or out of the tree, and device
    files. One such entry must cost only itself (with a warning), not the whole repository.
    """

    def __init__(self, skipped: list[str]) -> None:
        self.skipped = skipped

    def __call__(self, member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, destination)
        except tarfile.FilterError as error:
            self.skipped.append(f"{member.name} ({_filter_reason(error)})")
            return None


def _filter_reason(error: tarfile.FilterError) -> str:
    if isinstance(error, tarfile.AbsoluteLinkError):
        return "a symlink to an absolute path"
    if isinstance(error, tarfile.LinkOutsideDestinationError):
        return "a link that points outside the repository"
    if isinstance(error, tarfile.SpecialFileError):
        return "not a regular file"
    return "a path outside the repository"


def _skipped(tree: Path) -> str | None:
    """The warning for the entries a tree was extracted without (kept beside the tree for reuse)."""
    try:
        lines = (tree / _SKIPPED_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"could not read the list of skipped files: {error.strerror or error}"
    entries = [line for line in lines if line]
    noun = "entry" if len(entries) == 1 else "entries"
    return f"skipped {len(entries)} {noun} that would reach outside the checkout: " + ", ".join(entries)


def _prune(trees: Path, keep: Path) -> None:
    finished = [p for p in trees.iterdir() if p.is_dir() and not p.name.startswith(".")]
    finished.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in finished[_KEEP_TREES:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def _fetched_at(base: Path) -> str:
    try:
        stamp = float((base / "fetched-at").read_text().strip())
    except (OSError, ValueError):
        return "an earlier fetch"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))


def _reason(error: BaseException) -> str:
    """The line of git's stderr that explains the failure (``fatal: …``), without the wrapping."""
    if isinstance(error, git.GitCommandError):
        text = str(error.stderr or "").strip()
        if text.startswith("stderr:"):
            text = text[len("stderr:") :].strip().strip("'")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        for line in lines:
            if line.lower().startswith(("fatal:", "error:")):
                return line.split(":", 1)[1].strip()
        return lines[-1] if lines else f"git exited with status {error.status}"
    return str(error) or type(error).__name__
