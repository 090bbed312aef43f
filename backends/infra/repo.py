"""Reading the infra repository at a ref: every ``<path>/<service>/resources.yaml`` and
``policies/*.yaml`` of one commit, straight from git objects (no work tree, one ``cat-file``).

A local repository (a path or ``file://``) is read in place; any other URL is fetched into a bare
mirror in the cache dir first. The demo's repository is created on first use under the data dir,
from the files shipped in ``backends/demo/infra``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
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
    base = path.strip("/") + "/" if path.strip("/") else ""
    with _Objects(git_dir) as objects:
        commit = objects.commit(ref)
        listing = objects.tree(f"{commit}:{base}" if base else commit)
        services = [name for name, kind, _ in listing if kind == "tree"]
        files = [f"{base}{service}/{RESOURCES_FILE}" for service in services]
        resources, located = {}, {}
        for service, file, (kind, content) in zip(
            services, files, objects.read([f"{commit}:{file}" for file in files]), strict=True
        ):
            if kind == "blob":
                resources[service], located[service] = content, file
        wanted = [
            (name, sha)
            for name, sha in objects.blobs_under(commit, POLICIES_DIR.rstrip("/"))
            if name.endswith((".yaml", ".yml"))
        ]
        texts = objects.read([sha for _, sha in wanted])
        policies = {name: text for (name, _), (_, text) in zip(wanted, texts, strict=True)}
    return InfraTree(commit, resources, located, policies)


class _Objects:
    """One ``git cat-file --batch`` process answering every question of a read — the commit, the
    trees, the files — where a read used to start three git processes (on a loaded machine each
    start is a wait). Requests go in batches; a large batch is written from a thread, so it never
    blocks on a full pipe while git blocks writing its answers."""

    def __init__(self, git_dir: Path) -> None:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        self._id_length = 20
        self._process = subprocess.Popen(
            ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip

    def __enter__(self) -> _Objects:
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        process.wait()

    def _failed(self) -> InfraRepoError:
        self._process.wait()
        stderr = self._process.stderr.read().decode(errors="replace").strip() if self._process.stderr else ""
        return InfraRepoError(f"git cat-file: {stderr.splitlines()[-1] if stderr else 'failed'}")

    def _objects(self, names: list[str]) -> list[tuple[str, str, bytes]]:
        """``(sha, type, content)`` per object name (``sha``, ``commit:path``…); type ``missing``
        (and no sha) when there is none."""
        if not names:
            return []
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        request = ("\n".join(names) + "\n").encode()

        def write() -> None:
            with contextlib.suppress(OSError):  # git died: reading says why
                stdin.write(request)
                stdin.flush()

        if len(request) < 16384:  # well inside a pipe's buffer: no thread needed
            write()
        else:
            threading.Thread(target=write, daemon=True).start()
        answers = []
        for _ in names:
            header = stdout.readline()
            if not header:
                raise self._failed()
            parts = header.split()
            if len(parts) != 3:  # "<name> missing" (or "ambiguous")
                answers.append(("", "missing", b""))
                continue
            size = int(parts[2])
            content = stdout.read(size + 1)[:size]  # each object is followed by a newline
            answers.append((parts[0].decode(), parts[1].decode(), content))
        return answers

    def read(self, names: list[str]) -> list[tuple[str, str]]:
        """``(type, text)`` per object name."""
        return [
            (kind, content.decode("utf-8", errors="replace")) for _, kind, content in self._objects(names)
        ]

    def commit(self, ref: str) -> str:
        """The commit ``ref`` names (branch, tag, ``refs/pull/N/head`` or a hash)."""
        [(sha, kind, _)] = self._objects([f"{ref}^{{commit}}"])
        if kind != "commit":
            raise InfraRepoError(f"infra repository: no ref {ref!r}")
        self._id_length = len(sha) // 2  # 20 bytes in trees (SHA-1), 32 in a SHA-256 repository
        return sha

    def tree(self, name: str) -> list[tuple[str, str, str]]:
        """A tree's entries as ``(name, "tree"|"blob"|"commit", sha)``; empty when there is none."""
        [(_, kind, content)] = self._objects([name])
        if kind != "tree":
            return []
        entries, at = [], 0
        while at < len(content):  # binary entries: "<mode> <name>\0<raw object id>"
            space = content.index(b" ", at)
            nul = content.index(b"\0", space)
            mode, entry = content[at:space], content[space + 1 : nul].decode("utf-8", errors="replace")
            end = nul + 1 + self._id_length
            kind = "tree" if mode == b"40000" else "commit" if mode == b"160000" else "blob"
            entries.append((entry, kind, content[nul + 1 : end].hex()))
            at = end
        return entries

    def blobs_under(self, commit: str, directory: str) -> list[tuple[str, str]]:
        """Every blob below ``directory`` (recursively) as ``(path, sha)``, in path order."""
        found, pending = [], [directory]
        while pending:
            here = pending.pop()
            for name, kind, sha in self.tree(f"{commit}:{here}"):
                if kind == "tree":
                    pending.append(f"{here}/{name}")
                elif kind == "blob":
                    found.append((f"{here}/{name}", sha))
        return sorted(found)


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
