"""Reading the infra repository at a ref: every ``<path>/<service>/resources.yaml`` and
``policies/*.yaml`` of one commit, straight from git objects (no work tree, one ``cat-file``).

A local repository (a path or ``file://``) is read in place; any other URL is fetched into a bare
mirror in the cache dir first. The demo's repository is created on first use under the data dir,
from the files shipped in ``backends/demo/infra``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from backends import paths

DEMO_INFRA_FILES = Path(__file__).resolve().parent.parent / "demo" / "infra"
# The demo workspace's infra repository (created on first use); a copy of the demo workspace names it too.
DEMO_INFRA_REPO = "{data_dir}/git/platform/infrastructure.git"
RESOURCES_FILE = "resources.yaml"
POLICIES_DIR = "policies/"


class InfraRepoError(Exception):
    """The infra repository or the ref cannot be read (one line, names which)."""


@dataclass(frozen=True, slots=True)
class InfraTree:
    """The files of one commit that idp-console reads."""

    commit: str
    resources: dict[str, str]  # service → text, from <path>/<service>/resources.yaml
    resource_files: dict[str, str]  # service → its path in the repository
    policies: dict[str, str]  # path → text


def _git(git_dir: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], input=stdin, capture_output=True, env=env, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise InfraRepoError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return result.stdout


def repo_location(repo: str) -> str:
    """``repo`` with ``{data_dir}`` expanded."""
    return repo.replace("{data_dir}", str(paths.data_dir()))


def _local(repo: str) -> Path | None:
    if repo.startswith("file://"):
        return Path(repo[len("file://") :])
    return Path(repo).expanduser() if os.path.isabs(os.path.expanduser(repo)) else None


def git_dir_for(repo: str, *, fetch: bool = True) -> Path:
    """Where to read ``repo``'s objects: the repository itself, or a fetched mirror of it."""
    location = repo_location(repo)
    local = _local(location)
    if local is not None:
        if (local / ".git").is_dir():
            return local / ".git"
        if not (local / "HEAD").exists():
            raise InfraRepoError(f"infra repository {location}: not a git repository")
        return local
    mirror = paths.cache_dir() / "infra" / hashlib.sha256(location.encode()).hexdigest()[:16]
    if not (mirror / "HEAD").exists():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", str(mirror)], check=True, capture_output=True)
    if fetch:
        _git(
            mirror,
            "fetch",
            "-q",
            "--prune",
            location,
            "+refs/heads/*:refs/heads/*",
            "+refs/pull/*:refs/pull/*",
        )
    return mirror


def resolve(git_dir: Path, ref: str) -> str:
    """The commit ``ref`` names (branch, tag, ``refs/pull/N/head`` or a hash)."""
    try:
        return _git(git_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except InfraRepoError:
        raise InfraRepoError(f"infra repository: no ref {ref!r}") from None


def read_tree(repo: str, ref: str, path: str) -> InfraTree:
    """The ServiceResources files and policies of ``repo`` at ``ref``."""
    git_dir = git_dir_for(repo)
    commit = resolve(git_dir, ref)
    base = path.strip("/") + "/" if path.strip("/") else ""
    listing = _git(git_dir, "ls-tree", "-r", "-z", commit).decode()
    wanted: list[tuple[str, str]] = []  # (path, blob)
    for entry in filter(None, listing.split("\0")):
        meta, _, name = entry.partition("\t")
        blob = meta.split()[2]
        rest = name[len(base) :] if name.startswith(base) else None
        a_resources_file = rest is not None and rest.count("/") == 1 and rest.endswith("/" + RESOURCES_FILE)
        a_policy = name.startswith(POLICIES_DIR) and name.endswith((".yaml", ".yml"))
        if a_resources_file or a_policy:
            wanted.append((name, blob))
    texts = _blobs(git_dir, [blob for _, blob in wanted])
    resources, files, policies = {}, {}, {}
    for (name, _blob), content in zip(wanted, texts, strict=True):
        if name.startswith(POLICIES_DIR):
            policies[name] = content
        else:
            service = name[len(base) :].split("/")[0]
            resources[service], files[service] = content, name
    return InfraTree(commit, resources, files, policies)


def _blobs(git_dir: Path, blobs: list[str]) -> list[str]:
    """Many blobs' texts from one ``git cat-file --batch`` (500 files: one process, not 500)."""
    if not blobs:
        return []
    out = _git(git_dir, "cat-file", "--batch", stdin=("\n".join(blobs) + "\n").encode())
    texts, at = [], 0
    for _ in blobs:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        start = header_end + 1
        texts.append(out[start : start + size].decode("utf-8", errors="replace"))
        at = start + size + 1
    return texts


def ensure_demo_repo(repo: str, branch: str = "main") -> None:
    """Create the demo's infra repository (bare, under the data dir) from the shipped files, once."""
    location = Path(repo_location(repo))
    if (location / "HEAD").exists():
        return
    location.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".infra-", dir=location.parent) as work:
        tree = Path(work) / "tree"
        shutil.copytree(DEMO_INFRA_FILES, tree)
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "idp-console", "GIT_AUTHOR_EMAIL": "idp-console@acme.example",
            "GIT_COMMITTER_NAME": "idp-console", "GIT_COMMITTER_EMAIL": "idp-console@acme.example",
        }  # fmt: skip
        staging = Path(work) / "repo.git"
        dirs = [f"--git-dir={staging}", f"--work-tree={tree}"]
        for args in (
            ["git", "init", "-q", "--bare", f"--initial-branch={branch}", str(staging)],
            ["git", *dirs, "add", "-A"],
            ["git", *dirs, "commit", "-q", "-m", "infrastructure of the demo services"],
        ):
            subprocess.run(args, check=True, capture_output=True, env=env)
        # Moved into place whole: a second console starting at the same time never sees half a repo.
        try:
            os.rename(staging, location)
        except OSError:
            if not (location / "HEAD").exists():
                raise
