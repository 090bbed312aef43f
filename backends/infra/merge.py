"""``infra merge N``: a plain git server's stand-in for a forge's merge button.

The change request ``refs/pull/<n>/head`` is merged into the base branch (``infra.ref``) in a
scratch repository: a fast-forward when the base has not moved, else a merge commit made without a
work tree (``git merge-tree --write-tree``; a conflict is refused). The *result* is planned — what
the base branch would hold, not just the request's own head — and a plan that is invalid or that a
policy denies is refused, naming the rule, before anything is pushed. The push is one ref updated
with a lease on the base commit that was planned: someone else's push in between is refused by the
server, and nothing has changed (run the merge again to plan the new base).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backends.infra.plan import Plan
from backends.infra.repo import InfraRepoError, InfraTree, read_tree, repo_location
from backends.infra.settings import InfraSettings


class MergeRefused(Exception):
    """The merge may not happen (denied, invalid, conflicting, already merged, raced); one line."""

    def __init__(self, message: str, plan: Plan | None = None) -> None:
        super().__init__(message)
        self.plan = plan


@dataclass(frozen=True, slots=True)
class MergeResult:
    number: int
    base: str  # the branch merged into
    commit: str  # its new head
    fast_forward: bool
    plan: Plan


def _git(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False)


def _checked(cwd: Path, *args: str, env: dict[str, str]) -> str:
    result = _git(cwd, *args, env=env)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise InfraRepoError(f"git {args[0]}: {lines[-1] if lines else 'failed'}")
    return result.stdout.strip()


def _refusal(number: int, plan: Plan) -> str:
    if plan.errors:
        return f"change request #{number} not merged, invalid input: " + "; ".join(plan.errors)
    rules = "; ".join(f"policy {v.policy} denies {v.service}: {v.message} [{v.where}]" for v in plan.denied)
    return f"change request #{number} not merged: {rules}"


def _why_rejected(stderr: str) -> str:
    """The server's own words (a protected branch, a hook, no permission), else git's rejection line."""
    lines = [line.strip() for line in stderr.strip().splitlines()]
    said = [line.removeprefix("remote:").strip() for line in lines if line.startswith("remote:")]
    rejected = [line for line in lines if "rejected]" in line]
    return "; ".join([line for line in said if line] or rejected or lines[-1:]) or "failed"


def merge_change_request(
    settings: InfraSettings,
    number: int,
    *,
    author: tuple[str, str],
    plan_tree: Callable[[InfraTree, str], Plan],
) -> MergeResult:
    """Merge ``refs/pull/<number>/head`` into ``settings.ref`` when its plan passes.

    ``plan_tree(tree, ref)`` plans the merged tree (the session's plan against the live cluster).
    Raises :class:`MergeRefused` (nothing pushed) or :class:`InfraRepoError`.
    """
    remote = repo_location(settings.repo)
    base_ref = f"refs/heads/{settings.ref}"
    pull_ref = f"refs/pull/{number}/head"
    env = {
        **os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
        "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="idp-infra-merge-") as work:
        scratch = Path(work) / "repo.git"
        _checked(Path(work), "init", "-q", "--bare", str(scratch), env=env)
        fetched = _git(scratch, "fetch", "-q", "--no-tags", remote,
                       f"+{base_ref}:{base_ref}", f"+{pull_ref}:{pull_ref}", env=env)  # fmt: skip
        if fetched.returncode != 0:
            listed = _git(scratch, "ls-remote", remote, pull_ref, env=env)
            if listed.returncode == 0 and not listed.stdout.strip():
                raise MergeRefused(f"no change request #{number} ({pull_ref}) in {remote}")
            lines = fetched.stderr.strip().splitlines()
            raise InfraRepoError(f"git fetch: {lines[-1] if lines else 'failed'}")
        base = _checked(scratch, "rev-parse", base_ref, env=env)
        head = _checked(scratch, "rev-parse", pull_ref, env=env)
        if _git(scratch, "merge-base", "--is-ancestor", head, base, env=env).returncode == 0:
            raise MergeRefused(f"change request #{number} is already merged into {settings.ref}")
        fast_forward = _git(scratch, "merge-base", "--is-ancestor", base, head, env=env).returncode == 0
        if fast_forward:
            result = head
        else:
            merged = _git(scratch, "merge-tree", "--write-tree", "--name-only", base, head, env=env)
            if merged.returncode != 0:
                # stdout: the tree, the conflicted files (--name-only), a blank line, messages
                lines = merged.stdout.splitlines()[1:]
                conflicted = lines[: lines.index("")] if "" in lines else lines
                raise MergeRefused(
                    f"change request #{number} conflicts with {settings.ref} in "
                    f"{', '.join(conflicted) or 'some files'}: update its branch first"
                )
            tree = merged.stdout.splitlines()[0]
            message = f"Merge change request #{number} into {settings.ref}"
            result = _checked(scratch, "commit-tree", tree, "-p", base, "-p", head, "-m", message, env=env)
        plan = plan_tree(read_tree(str(scratch), result, settings.path), pull_ref)
        if plan.errors or plan.denied:
            raise MergeRefused(_refusal(number, plan), plan)
        # The lease: the server updates the base only if it still points where it did when planned.
        pushed = _git(scratch, "push", "-q", "--atomic", f"--force-with-lease={base_ref}:{base}",
                      remote, f"{result}:{base_ref}", env=env)  # fmt: skip
        if pushed.returncode != 0:
            now = _git(scratch, "ls-remote", remote, base_ref, env=env).stdout.split()
            if now[:1] != [base]:
                raise MergeRefused(
                    f"change request #{number} not merged: {settings.ref} moved while merging "
                    f"(someone pushed); nothing changed — run the merge again"
                )
            raise MergeRefused(
                f"change request #{number} not merged: the push to {settings.ref} was refused: "
                f"{_why_rejected(pushed.stderr)}"
            )
    return MergeResult(number, settings.ref, result, fast_forward, plan)
