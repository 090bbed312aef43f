"""Publishing a directory to a git remote: init, commit, push — any remote git can reach.

Remotes may be a bare repository path, ``file://``, ``ssh://``/scp-style, or ``https://`` with a
token from the secret store. The token travels in an ``http.extraHeader`` set through
``GIT_CONFIG_*`` environment variables, never in the URL, the argv or ``.git/config``.
Local bare remotes are created on demand (the demo workspace keeps them under the XDG data dir).

The directory being published was written by a template, so git runs there as on a stranger's
repository: hooks, fsmonitor and the other config-defined commands are switched off through
command-line-scope config (``GIT_CONFIG_*``, which outranks every config file), and a kept
repository whose own ``.git/config`` holds anything beyond what this module writes is refused.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import git

from backends import paths

DEMO_REMOTE_BASE = "{data_dir}/git"


class PublishError(Exception):
    """Publishing failed; ``local_path`` is where the committed result still is, when it exists."""

    def __init__(self, message: str, local_path: Path | None = None) -> None:
        super().__init__(message)
        self.local_path = local_path


class PushRejected(PublishError):
    """The remote refused the push (hook, permissions, non-fast-forward)."""


@dataclass(frozen=True, slots=True)
class GitSettings:
    """The ``git:`` section of ``idp-console.yaml``.

    ``remoteBase``: where ``owner/repo`` repositories live (a directory, file://, ssh or https URL;
    ``{data_dir}`` expands to the XDG data dir). ``hosts``: per-host bases for ``publish:github`` /
    ``publish:gitlab`` repoUrls (``github.com: ssh://git@git.acme.example``). ``contentsUrl``: how
    to show a repository in a browser, with ``{owner} {repo} {branch} {remote}`` placeholders.
    ``tokenSecret``: the secret-store name of the https token (``tokenUser`` is the basic-auth user).
    """

    remote_base: str | None = None
    hosts: Mapping[str, str] = field(default_factory=dict)
    contents_url: str | None = None
    token_secret: str | None = None
    token_user: str = "x-access-token"
    author_name: str = "idp-console"
    author_email: str = "idp-console@localhost"
    create_missing: bool = True

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, is_demo: bool = False, root: Path | None = None
    ) -> GitSettings:
        """Read the section; the demo workspace defaults to bare repos under the data dir.

        A relative local ``remoteBase`` (or host base) is relative to the workspace ``root``.
        """
        base = section.get("remoteBase") or (DEMO_REMOTE_BASE if is_demo else None)
        base = _anchor(str(base), root) if base else None
        author = section.get("author")
        author = author if isinstance(author, Mapping) else {}
        hosts = section.get("hosts")
        hosts = hosts if isinstance(hosts, Mapping) else {}
        return cls(
            remote_base=str(base) if base else None,
            hosts={str(k): _anchor(str(v), root) for k, v in hosts.items()},
            contents_url=str(section["contentsUrl"]) if section.get("contentsUrl") else None,
            token_secret=str(section["tokenSecret"]) if section.get("tokenSecret") else None,
            token_user=str(section.get("tokenUser") or "x-access-token"),
            author_name=str(author.get("name") or "idp-console"),
            author_email=str(author.get("email") or "idp-console@localhost"),
            create_missing=bool(section.get("createMissing", True)),
        )

    def base_for(self, host: str | None) -> str | None:
        """The remote base for a repoUrl host: ``hosts[host]``, else ``remoteBase``."""
        base = self.hosts.get(host or "") or self.remote_base
        return base.replace("{data_dir}", str(paths.data_dir())) if base else None


def _anchor(base: str, root: Path | None) -> str:
    """A relative directory base made absolute against the workspace root; URLs untouched."""
    if root is None or "://" in base or base.startswith("{") or "@" in base or os.path.isabs(base):
        return base
    return str((root / base).resolve())


@dataclass(frozen=True, slots=True)
class PublishResult:
    remote_url: str
    repo_contents_url: str
    commit_hash: str
    branch: str
    local_path: Path


def remote_for(base: str, owner: str, repo: str) -> str:
    """``base/owner/repo.git`` for a path or URL base."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", repo) or (owner and not re.fullmatch(r"[A-Za-z0-9_.-]+", owner)):
        raise PublishError(f"invalid owner/repository name {owner!r}/{repo!r}")
    if repo.startswith(".") or owner.startswith("."):
        raise PublishError(f"invalid owner/repository name {owner!r}/{repo!r}")
    suffix = f"{owner}/{repo}.git" if owner else f"{repo}.git"
    if is_local(base) and "://" not in base:
        return str(Path(base).expanduser() / suffix)
    return base.rstrip("/") + "/" + suffix


def is_local(remote: str) -> bool:
    """A path on this machine (absolute path or file:// URL)."""
    return remote.startswith("file://") or os.path.isabs(os.path.expanduser(remote))


def local_path_of(remote: str) -> Path:
    return Path(unquote(urlparse(remote).path)) if remote.startswith("file://") else Path(remote).expanduser()


def ensure_bare_repo(remote: str, branch: str) -> None:
    """Create a local bare repository for ``remote`` when it does not exist yet."""
    path = local_path_of(remote)
    if path.exists():
        if not (path / "HEAD").exists() and not (path / ".git").exists():
            raise PublishError(f"{path} exists but is not a git repository")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    git.Repo.init(path, bare=True, initial_branch=branch)


def auth_environment(token: str | None, user: str = "x-access-token") -> dict[str, str]:
    """Environment for git: never prompt; send the token as a basic-auth header when given."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
    env.setdefault("GIT_SSH_COMMAND", os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"))
    if token:
        credentials = base64.b64encode(f"{user}:{token}".encode()).decode()
        env.update(
            {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {credentials}",
            }
        )
    return env


# Command-line scope (GIT_CONFIG_*) beats every config file, so these hold whatever a repository's
# own config says. They switch off each way add / commit / checkout / push can start a program.
_SANDBOX_CONFIG = {
    "core.hooksPath": "/dev/null",  # no hook (pre-commit, post-checkout, pre-push …) is found
    "core.fsmonitor": "false",  # fsmonitor may name a command that runs on every index refresh
    "core.askPass": "",
    "protocol.ext.allow": "never",  # ext:: remotes run an arbitrary command
    "commit.gpgSign": "false",  # gpg.program is a command
    "push.gpgSign": "false",
    "tag.gpgSign": "false",
    "gc.auto": "0",  # no background gc / maintenance started from a commit
    "maintenance.auto": "false",
}
# The same on every command line too: git before 2.31 (Debian 11 ships 2.30) ignores GIT_CONFIG_*.
_GIT = ["git", *(arg for key, value in _SANDBOX_CONFIG.items() for arg in ("-c", f"{key}={value}"))]
# What ``git init`` / ``git clone`` and this module write into a repository's own config. Anything
# else in a kept repository (filter drivers, credential helpers, include.path, receivepack,
# url.*.insteadOf, core.sshCommand …) was put there by someone else and may run commands.
_TRUSTED_LOCAL_KEYS = re.compile(
    r"core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks)"
    r"|extensions\.(objectformat|refstorage)"
    r"|remote\.origin\.(url|fetch)"
    r"|branch\.[^\n]+\.(remote|merge)"
)


def sandboxed_environment(token: str | None = None, user: str = "x-access-token") -> dict[str, str]:
    """``auth_environment`` plus the config that stops a repository from running commands.

    Hooks, fsmonitor, ``ext::`` remotes and signing programs are off; ``GIT_SSH_COMMAND`` (always
    set) overrides a planted ``core.sshCommand``; the system and global config stay trusted —
    they belong to whoever runs idp-console, not to the template.
    """
    env = auth_environment(token, user)
    config = dict(_SANDBOX_CONFIG)
    if token:
        config["http.extraHeader"] = env["GIT_CONFIG_VALUE_0"]
    for key in [k for k in env if k.startswith("GIT_CONFIG_")]:
        del env[key]
    for index, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env["GIT_CONFIG_COUNT"] = str(len(config))
    env.update({"GIT_PAGER": "cat", "GIT_EDITOR": "true"})
    return env


def check_kept_repository(source: Path) -> None:
    """PublishError unless ``source/.git`` is a plain directory whose config only holds trusted keys.

    A ``.git`` file or symlink could point git at a directory outside the workspace; any other
    key in the config may name a command (a filter driver, a credential helper, an include).
    """
    dot_git = source / ".git"
    if dot_git.is_symlink() or not dot_git.is_dir():
        raise PublishError(f"{dot_git} is not a plain directory: refusing to run git on it", source)
    config = dot_git / "config"
    try:
        keys = git.Git(str(source)).execute(
            [*_GIT, "config", "--file", str(config), "--no-includes", "--name-only", "--list"],
            env=sandboxed_environment(),
        )
    except git.GitCommandError as error:
        raise PublishError(f"cannot read {config}: {_stderr(error)}", source) from error
    untrusted = sorted({key for key in keys.splitlines() if not _TRUSTED_LOCAL_KEYS.fullmatch(key)})
    if untrusted:
        raise PublishError(
            f"{config} sets {', '.join(untrusted)}: refusing to run git with config it did not write",
            source,
        )


def contents_url(settings: GitSettings, remote: str, owner: str, repo: str, branch: str) -> str:
    """Where the pushed files can be read: ``contentsUrl`` if configured, else ``<remote>/blob/<branch>``."""
    if settings.contents_url:
        return settings.contents_url.format(owner=owner, repo=repo, branch=branch, remote=remote)
    as_url = local_path_of(remote).as_uri() if is_local(remote) else remote
    return f"{as_url}/blob/{branch}"


def publish_directory(
    source: Path,
    remote: str,
    *,
    branch: str = "main",
    message: str = "Initial commit",
    author_name: str = "idp-console",
    author_email: str = "idp-console@localhost",
    token: str | None = None,
    token_user: str = "x-access-token",
    create_missing: bool = True,
) -> tuple[str, Path]:
    """Commit everything in ``source`` and push it to ``remote``'s ``branch``; returns (hash, repo dir).

    Raises PushRejected (with ``local_path``) when the remote refuses, so the caller can say where
    the committed result is.
    """
    if is_local(remote):
        if create_missing:
            ensure_bare_repo(remote, branch)
        elif not local_path_of(remote).exists():
            raise PublishError(f"remote {remote} does not exist (git.createMissing is false)")
    env = {
        **sandboxed_environment(token, token_user),
        "GIT_AUTHOR_NAME": author_name,
        "GIT_AUTHOR_EMAIL": author_email,
        "GIT_COMMITTER_NAME": author_name,
        "GIT_COMMITTER_EMAIL": author_email,
    }
    fresh = not (source / ".git").exists() and not (source / ".git").is_symlink()
    if not fresh:  # a retry keeps our repository; anything else there is not ours to trust
        check_kept_repository(source)
    try:
        if fresh:
            git.Git(str(source)).execute([*_GIT, "init", "-q", "-b", branch], env=env)
        repo = git.Repo(source)
        runner = repo.git
        if not fresh:  # a retry: the kept repository may sit on another branch
            runner.execute([*_GIT, "checkout", "-q", "-B", branch], env=env)
        runner.execute([*_GIT, "add", "-A"], env=env)
        runner.execute([*_GIT, "commit", "--allow-empty", "-q", "-m", message], env=env)
        commit = _head_commit(source, branch) or runner.execute([*_GIT, "rev-parse", "HEAD"], env=env).strip()
        # Written directly (no extra git process): origin is what a developer expects in the copy.
        with repo.config_writer() as config:
            config.set_value('remote "origin"', "url", remote)
            config.set_value('remote "origin"', "fetch", "+refs/heads/*:refs/remotes/origin/*")
    except git.GitCommandError as error:
        raise PublishError(f"git failed in {source}: {_stderr(error)}", source) from error
    try:
        runner.execute([*_GIT, "push", "-q", "origin", f"HEAD:refs/heads/{branch}"], env=env)
    except git.GitCommandError as error:
        raise PushRejected(
            f"push to {remote} was rejected: {_stderr(error)}\n"
            f"the committed result is kept in {source} (retry: git -C {source} push origin {branch})",
            source,
        ) from error
    return commit, source


def clone_or_update(
    remote: str, branch: str, dest: Path, *, token: str | None = None, token_user: str = "x-access-token"
) -> Path:
    """A working copy of ``remote`` at ``dest``: cloned once, fast-forwarded afterwards."""
    env = sandboxed_environment(token, token_user)
    try:
        if (dest / ".git").exists():
            repo = git.Repo(dest)
            repo.git.execute([*_GIT, "pull", "-q", "--ff-only", "origin", branch], env=env)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            _clone(remote, dest, branch, env)
    except git.GitCommandError as error:
        raise PublishError(f"cannot check out {remote} into {dest}: {_stderr(error)}", dest) from error
    return dest


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """A branch pushed for review, numbered like a forge's pull/merge request."""

    number: int
    branch: str
    target_branch: str
    commit: str


def push_change_request(
    source: Path,
    remote: str,
    *,
    branch: str,
    target_branch: str | None,
    target_path: str,
    message: str,
    author_name: str,
    author_email: str,
    token: str | None = None,
    token_user: str = "x-access-token",
    replace_branch: bool = False,
) -> ChangeRequest:
    """Put ``source``'s files under ``target_path`` of ``remote`` on a new ``branch``, for review.

    The change is also pushed to ``refs/pull/<n>/head`` (n = one more than the highest existing),
    which is how GitHub keeps pull requests; a plain git server then shows it to anyone who
    fetches ``refs/pull/*``. Raises PushRejected when the branch exists (unless ``replace_branch``).
    """
    import shutil
    import tempfile

    env = {
        **sandboxed_environment(token, token_user),
        "GIT_AUTHOR_NAME": author_name,
        "GIT_AUTHOR_EMAIL": author_email,
        "GIT_COMMITTER_NAME": author_name,
        "GIT_COMMITTER_EMAIL": author_email,
    }
    with tempfile.TemporaryDirectory(prefix="idp-change-") as scratch:
        clone = Path(scratch) / "repo"
        try:
            _clone(remote, clone, target_branch, env)
            repo = git.Repo(clone)
            runner = repo.git
            heads = runner.execute(
                [*_GIT, "ls-remote", "origin", "refs/pull/*/head", f"refs/heads/{branch}"], env=env
            )
        except git.GitCommandError as error:
            raise PublishError(f"cannot read {remote}: {_stderr(error)}") from error
        if not repo.head.is_valid():
            raise PublishError(f"{remote} has no commits: there is no branch to propose a change to")
        base = target_branch or repo.active_branch.name
        if f"refs/heads/{branch}" in heads.split() and not replace_branch:
            raise PushRejected(f"branch {branch} already exists in {remote} (set update: true to replace it)")
        numbers = [int(m) for m in re.findall(r"refs/pull/(\d+)/head", heads)]
        number = max(numbers, default=0) + 1
        destination = (clone / target_path).resolve()
        if not destination.is_relative_to(clone.resolve()):
            raise PublishError(f"targetPath {target_path!r} leaves the repository")
        for item in source.rglob("*"):
            relative = item.relative_to(source)
            if _is_vcs_metadata(relative) or item.is_dir():
                continue  # the workspace's own repository (a publish:git before) is not content
            target = destination / relative
            _refuse_git_dir_write(clone, target, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, target, follow_symlinks=False)
        try:
            runner.execute([*_GIT, "checkout", "-q", "-b", branch], env=env)
            runner.execute([*_GIT, "add", "-A"], env=env)
            runner.execute([*_GIT, "commit", "-q", "--allow-empty", "-m", message], env=env)
            commit = runner.execute([*_GIT, "rev-parse", "HEAD"], env=env).strip()
        except git.GitCommandError as error:
            raise PublishError(f"git failed preparing {branch}: {_stderr(error)}") from error
        force = ["--force"] if replace_branch else []
        try:
            runner.execute(
                [
                    *_GIT,
                    "push",
                    "-q",
                    "--atomic",  # the branch and its pull ref land together or not at all
                    *force,
                    "origin",
                    f"HEAD:refs/heads/{branch}",
                    f"HEAD:refs/pull/{number}/head",
                ],
                env=env,
            )
        except git.GitCommandError as error:
            raise PushRejected(f"push of {branch} to {remote} was rejected: {_stderr(error)}") from error
    return ChangeRequest(number=number, branch=branch, target_branch=base, commit=commit)


def _clone(remote: str, dest: Path, branch: str | None, env: dict[str, str]) -> None:
    """``git clone`` under the sandbox config; ``--`` so a remote cannot pass itself off as an option."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    options = ["--branch", branch] if branch else []
    git.Git(str(dest.parent)).execute([*_GIT, "clone", "-q", *options, "--", remote, str(dest)], env=env)


def _refuse_git_dir_write(clone: Path, target: Path, relative: Path) -> None:
    """A change may not land in the clone's ``.git`` (through targetPath or a symlink in the repository)."""
    landed = target.parent.resolve() / target.name
    root = clone.resolve()
    if not landed.is_relative_to(root) or _is_vcs_metadata(landed.relative_to(root)):
        raise PublishError(f"{relative} would be written to {landed}, inside the repository's git metadata")


def _is_vcs_metadata(relative: Path) -> bool:
    # Case-insensitive, like the filesystems that would open ".GIT" as ".git".
    return any(
        part.rstrip(". ").lower() in {".git", ".hg", ".svn", ".bzr", "_darcs"} for part in relative.parts
    )


def _head_commit(source: Path, branch: str) -> str | None:
    """The branch's commit read from its loose ref (saves a git process); None when packed."""
    try:
        text = (source / ".git" / "refs" / "heads" / branch).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if re.fullmatch(r"[0-9a-f]{40,64}", text) else None


def _stderr(error: git.GitCommandError) -> str:
    text = str(error.stderr or error).strip()
    text = re.sub(r"^stderr: ?'?", "", text).rstrip("'").strip()
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("hint:"))
