"""Opening a change request on the infra repository: a service's new ``resources.yaml`` on its own
branch, for review, with the plan (cost diff, policy verdicts) as its description.

On a plain git server the request is the branch ``infra/<service>-<n>`` and ``refs/pull/<n>/head``
(the scaffolder's and the lifecycle promotion's convention), and the description is the commit
message. The base branch is never touched: merging is the review's decision.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backends.infra.plan import Plan
from backends.infra.repo import InfraRepoError, repo_location
from backends.infra.resources import parse_resources
from backends.infra.settings import InfraSettings


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    number: int
    branch: str
    ref: str  # refs/pull/<n>/head
    commit: str
    plan: Plan


def _run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise InfraRepoError(f"git {args[0]}: {lines[-1] if lines else 'failed'}")
    return result.stdout


def describe(plan: Plan) -> str:
    """The plan as a change request's description (plain text, one line per fact)."""
    lines = []
    for service in plan.services:
        lines.append(f"{service.service}: {service.cost_before:,.2f} → {service.cost_after:,.2f} /month")
        lines.extend(f"  {c.action} {c.kind}/{c.name}" for c in service.changes)
    for team, (before, after) in plan.teams.items():
        lines.append(f"team {team}: {before:,.2f} → {after:,.2f} /month")
    for verdict in plan.verdicts:
        lines.append(
            f"{verdict.outcome}: {verdict.policy}" + (f" — {verdict.message}" if verdict.message else "")
        )
    return "\n".join(lines)


def open_change_request(
    settings: InfraSettings,
    service: str,
    text: str,
    *,
    author: tuple[str, str],
    production: bool,
    plan_of: Callable[[str], Plan],
) -> ChangeRequest:
    """Push ``text`` as ``<path>/<service>/resources.yaml`` on a new branch; refuses invalid input
    (:class:`~backends.infra.resources.InfraInputError`) before anything is pushed."""
    file = f"{settings.path.strip('/')}/{service}/resources.yaml".lstrip("/")
    parse_resources(text, file, settings, production=production, service=service)
    remote = repo_location(settings.repo)
    env = {
        **os.environ, "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="idp-infra-cr-") as work:
        root = Path(work)
        heads = _run(root, "ls-remote", remote, "refs/pull/*/head", env=env)
        number = max((int(n) for n in re.findall(r"refs/pull/(\d+)/head", heads)), default=0) + 1
        branch = f"infra/{service}-{number}"
        clone = root / "clone"
        _run(root, "clone", "-q", "--depth", "1", "--branch", settings.ref, remote, str(clone), env=env)
        target = clone / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        _run(clone, "add", file, env=env)
        if not _run(clone, "status", "--porcelain", env=env).strip():
            raise InfraRepoError(f"{file} at {settings.ref} already says this: nothing to request")
        _run(clone, "commit", "-q", "-m", f"infra: {service} resources", env=env)
        _run(
            clone, "push", "-q", remote, f"HEAD:refs/heads/{branch}", f"HEAD:refs/pull/{number}/head", env=env
        )
        ref = f"refs/pull/{number}/head"
        plan = plan_of(ref)
        # The description is the plan, as of the moment the request was opened.
        _run(
            clone, "commit", "-q", "--amend", "-m", f"infra: {service} resources\n\n{describe(plan)}", env=env
        )
        _run(clone, "push", "-q", "-f", remote, f"HEAD:refs/heads/{branch}", f"HEAD:{ref}", env=env)
        commit = _run(clone, "rev-parse", "HEAD", env=env).strip()
    plan.commit = commit  # the same tree: the amended commit only carries the description
    return ChangeRequest(number, branch, ref, commit, plan)
