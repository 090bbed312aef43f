"""Promote a service's lifecycle (``experimental`` → ``production``) in its own repository.

An environment refuses components whose ``spec.lifecycle`` it does not list (``environments.<env>.
lifecycles``); the way through is a change to the service's ``catalog-info.yaml`` — the catalog's
source of truth — made the way that environment's ``lifecycle_change`` says:

- ``commit`` (default): a commit on the repository's branch, authored by the person who asked (the
  workspace identity), pushed to its remote;
- ``change-request``: the same commit on a branch ``lifecycle/<name>-<lifecycle>`` pushed for review
  (also as ``refs/pull/<n>/head``, like a forge), and recorded in the state dir.

After a commit the registered working copy is fast-forwarded, so the next catalog load (``r`` in the
TUI, any CLI command) shows the new lifecycle; :func:`refresh_working_copy` does the same for a
registered copy whose remote moved (a change request merged by someone else).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import git
import yaml

from backends import paths
from backends.atomic import write_text_atomic

CHANGE_REQUESTS_FILE = "change-requests.json"


class LifecycleError(Exception):
    """The lifecycle cannot be promoted; the message says why and what to do instead."""


@dataclass(frozen=True, slots=True)
class PromotionResult:
    """What ``promote_lifecycle`` did. ``mode`` is ``commit``, ``change-request`` or ``unchanged``."""

    entity_ref: str
    from_lifecycle: str
    to_lifecycle: str
    mode: str
    remote: str
    commit: str = ""
    branch: str = ""
    change_request: int | None = None
    author: str = ""

    @property
    def summary(self) -> str:
        """Same as :attr:`message`."""
        return self.message

    @property
    def message(self) -> str:
        """One line for a person."""
        name = self.entity_ref.split("/", 1)[-1]
        if self.mode == "unchanged":
            return f"{name} already has lifecycle {self.to_lifecycle}"
        if self.mode == "change-request":
            return (
                f"change request #{self.change_request} on branch {self.branch} of {self.remote}: "
                f"{name} {self.from_lifecycle} → {self.to_lifecycle}; it applies once merged"
            )
        return (
            f"{name}: lifecycle {self.from_lifecycle} → {self.to_lifecycle}, committed {self.commit[:12]} "
            f"by {self.author} to {self.branch} of {self.remote}"
        )


def promote_lifecycle(
    workspace: Any,
    entity_ref: str,
    to_lifecycle: str,
    actor: str,
    *,
    catalog: Any = None,
    mode: str | None = None,
) -> PromotionResult:
    """Change ``entity_ref``'s ``spec.lifecycle`` to ``to_lifecycle`` in its repository, as ``actor``.

    ``mode`` (``commit`` | ``change-request``) defaults to what the environments that accept the new
    lifecycle (and refuse the old) say in ``lifecycle_change``; a change request wins. ``catalog``
    is the loaded catalog to look the entity up in (loaded from ``workspace`` when None). Raises
    :class:`LifecycleError` with a sentence to act on.
    """
    if catalog is None:
        from backends.catalog import load_catalog

        catalog = load_catalog(workspace)
    to_lifecycle = to_lifecycle.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", to_lifecycle):
        raise LifecycleError(f"lifecycle {to_lifecycle!r} is not a lifecycle name (such as production)")
    try:
        entity = catalog.get(entity_ref, default_kind="Component")
    except ValueError as error:
        raise LifecycleError(f"{entity_ref!r} is not a valid entity reference: {error}") from error
    if entity is None:
        raise LifecycleError(f"{entity_ref}: no such entity in the catalog")
    current = str(entity.spec.get("lifecycle") or "")
    if current == to_lifecycle:
        return PromotionResult(entity.ref.canonical, current, to_lifecycle, "unchanged", "")
    mode = mode or change_mode(workspace, current, to_lifecycle)
    file = Path(entity.position.file) if entity.position else None
    registrations = getattr(catalog, "registrations", None)
    if file is None or registrations is None or registrations.find(str(file)) is None:
        raise LifecycleError(
            f"{entity.ref.short} comes from {file or 'an unknown file'}, a source of the workspace "
            "configuration, not from its own repository: change spec.lifecycle there"
        )
    copy = _working_copy(file, entity.ref.short)
    assert file is not None
    relative = file.resolve().relative_to(copy.resolve()).as_posix()
    remote = _git(copy, "config", "--get", "remote.origin.url")
    branch = _git(copy, "rev-parse", "--abbrev-ref", "HEAD") or "main"
    author_name, author_email = _author(catalog, actor)
    message = (
        f"catalog: promote {entity.name} to lifecycle {to_lifecycle}\n\n"
        f"{current or '(none)'} → {to_lifecycle}, requested by {actor} with idp-console."
    )
    committer = _committer(workspace)
    if mode == "change-request":
        return _change_request(
            entity,
            current,
            to_lifecycle,
            remote,
            branch,
            relative,
            message,
            actor,
            (author_name, author_email),
        )
    commit = _commit_and_push(
        remote, branch, relative, entity, to_lifecycle, message, (author_name, author_email), committer
    )
    refresh_working_copy(copy)
    return PromotionResult(
        entity.ref.canonical,
        current,
        to_lifecycle,
        "commit",
        remote,
        commit=commit,
        branch=branch,
        author=actor,
    )


def change_mode(workspace: Any, current: str, to_lifecycle: str) -> str:
    """``change-request`` if an environment the promotion opens asks for one, else ``commit``."""
    from backends.config_checks import ConfigError

    try:
        environments = workspace.typed.environments if workspace else {}
    except ConfigError:  # a workspace built by hand with a bad section
        return "commit"
    opened = [e for e in environments.values() if e.allows(to_lifecycle) and not e.allows(current)]
    return "change-request" if any(e.lifecycle_change == "change-request" for e in opened) else "commit"


def _working_copy(file: Path | None, name: str) -> Path:
    """The git working copy ``file`` lives in, with a remote to push to."""
    if file is None or not file.is_file():
        raise LifecycleError(f"{name} has no catalog file on disk to change")
    top = _git(file.parent, "rev-parse", "--show-toplevel")
    if not top or not _git(Path(top), "config", "--get", "remote.origin.url"):
        raise LifecycleError(
            f"{name} is read from {file}, which is not in a git repository with a remote: change "
            "spec.lifecycle there (only services whose catalog-info.yaml lives in their repository "
            "can be promoted from idp-console)"
        )
    return Path(top)


def _git(directory: Path, *args: str) -> str:
    try:
        return str(git.Git(str(directory)).execute(["git", *args])).strip()
    except (git.GitCommandError, git.NoSuchPathError, OSError):
        return ""


def _author(catalog: Any, actor: str) -> tuple[str, str]:
    """The actor as a git author: the catalog User's display name and email when it has them."""
    user = None
    try:
        user = catalog.get(actor, default_kind="User")
    except ValueError:
        user = None
    profile = (user.spec.get("profile") or {}) if user is not None else {}
    name = actor.split("/")[-1]
    return str(profile.get("displayName") or name), str(profile.get("email") or f"{name}@idp-console.invalid")


def _committer(workspace: Any) -> tuple[str, str]:
    from backends.git.publish import GitSettings

    settings = GitSettings.from_config(
        workspace.section("git") if workspace else {}, is_demo=bool(workspace and workspace.is_demo)
    )
    return settings.author_name, settings.author_email


def set_lifecycle(text: str, kind: str, name: str, lifecycle: str) -> str:
    """``text`` (a catalog file) with the entity's ``spec.lifecycle`` replaced, formatting kept.

    Only the one line changes; the result is parsed again to prove it says what was meant."""
    parts = re.split(r"(?m)^(---[^\n]*\n)", text)
    for index, part in enumerate(parts):
        try:
            document = yaml.safe_load(part)
        except yaml.YAMLError:
            continue
        if not isinstance(document, dict) or str(document.get("kind", "")).lower() != kind.lower():
            continue
        if (document.get("metadata") or {}).get("name") != name:
            continue
        changed = _replace_lifecycle_line(part, lifecycle)
        check = yaml.safe_load(changed)
        if (check.get("spec") or {}).get("lifecycle") != lifecycle:
            raise LifecycleError(f"could not change spec.lifecycle of {name} in its catalog file")
        parts[index] = changed
        return "".join(parts)
    raise LifecycleError(f"{kind} {name} is not in its catalog file any more (was it renamed?)")


def _replace_lifecycle_line(document: str, lifecycle: str) -> str:
    lines = document.splitlines(keepends=True)
    in_spec, spec_indent = False, 0
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if re.match(r"spec:\s*(#.*)?$", stripped) and indent == 0:
            in_spec, spec_indent = True, indent
            continue
        if in_spec and stripped.strip() and indent <= spec_indent and not stripped.startswith("#"):
            in_spec = False
        match = re.match(r"lifecycle:\s*([^#\n]*?)(\s*#.*)?(\r?\n)?$", stripped)
        if in_spec and match:
            lines[index] = f"{' ' * indent}lifecycle: {lifecycle}{match[2] or ''}{match[3] or ''}"
            return "".join(lines)
    raise LifecycleError("the catalog file has no spec.lifecycle line to change")


def _commit_and_push(
    remote: str,
    branch: str,
    relative: str,
    entity: Any,
    lifecycle: str,
    message: str,
    author: tuple[str, str],
    committer: tuple[str, str],
    *,
    push_refs: tuple[str, ...] = (),
) -> str:
    """Clone ``remote``'s ``branch`` fresh, change the file, commit, push; the new commit's hash."""
    from backends.git.publish import _GIT, sandboxed_environment

    env = {
        **sandboxed_environment(),
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": committer[0],
        "GIT_COMMITTER_EMAIL": committer[1],
    }
    with tempfile.TemporaryDirectory(prefix="idp-lifecycle-") as scratch:
        clone = Path(scratch) / "repo"
        runner = git.Git(scratch)
        try:
            runner.execute([*_GIT, "clone", "-q", "--branch", branch, "--", remote, str(clone)], env=env)
            path = clone / relative
            path.write_text(
                set_lifecycle(path.read_text(encoding="utf-8"), entity.kind, entity.name, lifecycle),
                encoding="utf-8",
            )
            repo = git.Git(str(clone))
            repo.execute([*_GIT, "commit", "-q", "-m", message, "--", relative], env=env)
            commit = str(repo.execute([*_GIT, "rev-parse", "HEAD"], env=env)).strip()
            refs = push_refs or (f"HEAD:refs/heads/{branch}",)
            repo.execute([*_GIT, "push", "-q", "--atomic", "origin", *refs], env=env)
        except git.GitCommandError as error:
            detail = str(error.stderr or error).strip().replace("stderr: ", "")
            raise LifecycleError(f"could not change the lifecycle in {remote}: {detail}") from error
        except OSError as error:
            raise LifecycleError(f"could not change {relative} of {remote}: {error}") from error
    return commit


def _change_request(
    entity: Any,
    current: str,
    lifecycle: str,
    remote: str,
    base: str,
    relative: str,
    message: str,
    actor: str,
    author: tuple[str, str],
) -> PromotionResult:
    """The change on its own branch (and ``refs/pull/<n>/head``), recorded for the platform."""
    branch = f"lifecycle/{entity.name}-{lifecycle}"
    heads = _git(Path(tempfile.gettempdir()), "ls-remote", remote, "refs/pull/*/head", f"refs/heads/{branch}")
    if f"refs/heads/{branch}" in heads.split():
        raise LifecycleError(f"a change request for this is already open: branch {branch} of {remote}")
    number = max((int(n) for n in re.findall(r"refs/pull/(\d+)/head", heads)), default=0) + 1
    # Cloned from the base branch, committed, pushed under the new names only: the base is untouched.
    commit = _clone_commit_push_to(remote, base, relative, entity, lifecycle, message, author, branch, number)
    result = PromotionResult(
        entity.ref.canonical,
        current,
        lifecycle,
        "change-request",
        remote,
        commit=commit,
        branch=branch,
        change_request=number,
        author=actor,
    )
    record_change_request(result)
    return result


def _clone_commit_push_to(
    remote: str,
    base: str,
    relative: str,
    entity: Any,
    lifecycle: str,
    message: str,
    author: tuple[str, str],
    branch: str,
    number: int,
) -> str:
    refs = (f"HEAD:refs/heads/{branch}", f"HEAD:refs/pull/{number}/head")
    return _commit_and_push(
        remote, base, relative, entity, lifecycle, message, author, author, push_refs=refs
    )


def record_change_request(result: PromotionResult) -> None:
    """Append the request to ``<state>/change-requests.json`` (what the platform asked for, and by whom)."""
    file = paths.state_dir() / CHANGE_REQUESTS_FILE
    try:
        existing = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        existing = []
    entry = {**asdict(result), "at": time.time(), "kind": "lifecycle"}
    write_text_atomic(file, json.dumps([*(existing if isinstance(existing, list) else []), entry], indent=2))


def change_requests() -> list[dict[str, Any]]:
    """The recorded change requests, oldest first."""
    try:
        data = json.loads((paths.state_dir() / CHANGE_REQUESTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def refresh_working_copy(copy: Path) -> bool:
    """Fast-forward a registered working copy to its remote branch; True when it moved.

    Only remotes on this machine are asked (a local bare repository answers in milliseconds); a
    network remote is left to an explicit reload, so loading the catalog never waits on a server."""
    from backends.git.publish import _GIT, is_local, sandboxed_environment

    if _unchanged(copy):
        return False
    remote = _git(copy, "config", "--get", "remote.origin.url")
    branch = _git(copy, "rev-parse", "--abbrev-ref", "HEAD")
    if not remote or not branch or branch == "HEAD" or not is_local(remote):
        return False
    head = _git(copy, "rev-parse", "HEAD")
    remote_head = _git(Path(os.fspath(copy)), "ls-remote", "origin", f"refs/heads/{branch}").split("\t")[0]
    if not remote_head or remote_head == head:
        return False
    try:
        git.Git(str(copy)).execute(
            [*_GIT, "pull", "-q", "--ff-only", "origin", branch], env=sandboxed_environment()
        )
    except git.GitCommandError:
        return False  # local changes or a diverged branch: left as they are, never overwritten
    return True


def _unchanged(copy: Path) -> bool:
    """Whether the copy's branch and its local bare remote's point at the same commit, read from the
    loose ref files (no git process: this runs for every registered file at every catalog load).
    False whenever that cannot be told this way (packed refs, a network remote): then git is asked."""
    from backends.git.publish import is_local, local_path_of

    try:
        head = (copy / ".git" / "HEAD").read_text(encoding="ascii").strip()
        if not head.startswith("ref: refs/heads/"):
            return False
        ref = head.removeprefix("ref: ")
        mine = (copy / ".git" / ref).read_text(encoding="ascii").strip()
        config = (copy / ".git" / "config").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    match = re.search(r'\[remote "origin"\][^\[]*?url = (.+)', config)
    if match is None or not is_local(match[1].strip()):
        return False
    try:
        theirs = (local_path_of(match[1].strip()) / ref).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return mine == theirs
