"""Opening a change request on the infra repository: a service's new ``resources.yaml`` on its own
branch, for review, with the plan (cost diff, policy verdicts) as its description.

On a plain git server the request is the branch ``infra/<service>-<n>`` and ``refs/pull/<n>/head``
(the scaffolder's and the lifecycle promotion's convention), and the description is the commit
message. With ``infra.forge`` (GitHub / GitLab) the branch is pushed alone — forges own their
``refs/pull`` — and the pull or merge request is opened through the forge's REST API with the plan
as its description (backends/git/forge.py). The base branch is never touched: merging is the
review's decision.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from backends.git.forge import ForgeError, ForgeSettings
from backends.git.forge import open_change_request as open_forge_request
from backends.infra.plan import Plan
from backends.infra.repo import InfraRepoError, git_dir_for, repo_location
from backends.infra.resources import parse_resources
from backends.infra.settings import InfraSettings

if TYPE_CHECKING:
    from backends.secrets import SecretStore


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    number: int
    branch: str
    ref: str  # refs/pull/<n>/head
    commit: str
    plan: Plan
    url: str = ""  # the forge's page for it (empty on a plain git server)


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


def _title(service: str) -> str:
    return f"infra: {service} resources"


def forge_token(forge: ForgeSettings, secrets: SecretStore | None) -> str:
    """The forge's token from the secret store (keyring, ``IDP_CONSOLE_SECRET_*``); one-line error."""
    from backends.secrets import default_secret_store, env_name

    token = (secrets or default_secret_store()).get(forge.token_secret)
    if not token:
        raise InfraRepoError(
            f"infra.forge: no {forge.name} token: export {env_name(forge.token_secret)} or store "
            f"{forge.token_secret!r} in the keyring (service idp-console)"
        )
    return token


def open_change_request(
    settings: InfraSettings,
    service: str,
    text: str,
    *,
    author: tuple[str, str],
    production: bool,
    plan_of: Callable[[str], Plan],
    secrets: SecretStore | None = None,
) -> ChangeRequest:
    """Push ``text`` as ``<path>/<service>/resources.yaml`` on a new branch; refuses invalid input
    (:class:`~backends.infra.resources.InfraInputError`) before anything is pushed. With a forge
    configured, the token is read first (no token: nothing is pushed) and ``secrets`` is where."""
    file = f"{settings.path.strip('/')}/{service}/resources.yaml".lstrip("/")
    parse_resources(text, file, settings, production=production, service=service)
    forge = settings.forge
    token = forge_token(forge, secrets) if forge is not None else ""
    git_dir_for(settings.repo, fetch=False)  # a local path that is no repository: say so, not git's words
    remote = repo_location(settings.repo)
    env = {
        **os.environ, "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="idp-infra-cr-") as work:
        root = Path(work)
        pattern = f"refs/heads/infra/{service}-*" if forge is not None else "refs/pull/*/head"
        heads = _run(root, "ls-remote", remote, pattern, env=env)
        # A forge numbers its requests itself: only the branch names are ours to number.
        numbered = rf"refs/heads/infra/{re.escape(service)}-(\d+)$" if forge else r"refs/pull/(\d+)/head$"
        found = re.findall(numbered, heads, re.MULTILINE)
        number = max((int(n) for n in found), default=0) + 1
        branch = f"infra/{service}-{number}"
        clone = root / "clone"
        _run(root, "clone", "-q", "--depth", "1", "--branch", settings.ref, remote, str(clone), env=env)
        target = clone / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        _run(clone, "add", file, env=env)
        if not _run(clone, "status", "--porcelain", env=env).strip():
            raise InfraRepoError(f"{file} at {settings.ref} already says this: nothing to request")
        _run(clone, "commit", "-q", "-m", _title(service), env=env)
        if forge is not None:
            return _on_forge(forge, token, settings, service, clone, remote, branch, plan_of, env)
        _run(
            clone, "push", "-q", remote, f"HEAD:refs/heads/{branch}", f"HEAD:refs/pull/{number}/head", env=env
        )
        ref = f"refs/pull/{number}/head"
        plan = plan_of(ref)
        # The description is the plan, as of the moment the request was opened.
        _run(clone, "commit", "-q", "--amend", "-m", f"{_title(service)}\n\n{describe(plan)}", env=env)
        _run(clone, "push", "-q", "-f", remote, f"HEAD:refs/heads/{branch}", f"HEAD:{ref}", env=env)
        commit = _run(clone, "rev-parse", "HEAD", env=env).strip()
    plan.commit = commit  # the same tree: the amended commit only carries the description
    return ChangeRequest(number, branch, ref, commit, plan)


def _on_forge(
    forge: ForgeSettings,
    token: str,
    settings: InfraSettings,
    service: str,
    clone: Path,
    remote: str,
    branch: str,
    plan_of: Callable[[str], Plan],
    env: dict[str, str],
) -> ChangeRequest:
    """Push the branch alone, plan it, and open the pull / merge request with the plan as its body."""
    ref = f"refs/heads/{branch}"
    _run(clone, "push", "-q", remote, f"HEAD:{ref}", env=env)
    plan = plan_of(ref)
    try:
        opened = open_forge_request(
            forge, token, branch=branch, base=settings.ref, title=_title(service),
            body=f"Plan of this change (idp-console infra plan --ref {ref}):\n\n```\n{describe(plan)}\n```",
        )  # fmt: skip
    except ForgeError as error:
        raise InfraRepoError(f"branch {branch} is pushed, but no {forge.noun} was opened: {error}") from None
    commit = _run(clone, "rev-parse", "HEAD", env=env).strip()
    return ChangeRequest(opened.number, branch, ref, commit, plan, opened.url)
