"""``publish:git`` and the hosted-forge actions mapped onto it (``publish:github``, ``publish:gitlab``).

Public templates say ``publish:github`` with ``repoUrl: github.com?owner=o&repo=r``; we push to the
company's own git server instead: ``git.hosts[host]`` or ``git.remoteBase`` + ``/owner/repo.git``.
Forge-only options (visibility, branch protection, topics …) are accepted and reported as ignored.
"""

from __future__ import annotations

from typing import Any, ClassVar

from backends.git.publish import (
    ChangeRequest,
    PublishError,
    PushRejected,
    contents_url,
    is_local,
    publish_directory,
    push_change_request,
    remote_for,
)
from backends.scaffolder.actions.base import Action, ActionContext
from backends.scaffolder.errors import ActionFailed, InputError
from backends.scaffolder.pickers import RepoUrl

_COMMON = {
    "repoUrl": {"type": "string"},
    "description": {"type": "string"},
    "defaultBranch": {"type": "string"},
    "sourcePath": {"type": "string"},
    "gitCommitMessage": {"type": "string"},
    "gitAuthorName": {"type": "string"},
    "gitAuthorEmail": {"type": "string"},
    "token": {"type": "string"},
}
_OUTPUTS = {
    "type": "object",
    "properties": {
        "remoteUrl": {"type": "string", "examples": ["<example>"]},
        "repoContentsUrl": {"type": "string", "examples": ["<example>"]},
        "commitHash": {"type": "string", "examples": ["<example>"]},
    },
}
# Inputs of Backstage's forge actions that mean nothing for a plain git remote.
_GITHUB_ONLY = [
    "access",
    "allowAutoMerge",
    "allowMergeCommit",
    "allowRebaseMerge",
    "allowSquashMerge",
    "allowUpdateBranch",
    "bypassPullRequestAllowances",
    "collaborators",
    "customProperties",
    "deleteBranchOnMerge",
    "dismissStaleReviews",
    "hasIssues",
    "hasProjects",
    "hasWiki",
    "homepage",
    "protectDefaultBranch",
    "protectEnforceAdmins",
    "repoVariables",
    "repoVisibility",
    "requireBranchesToBeUpToDate",
    "requireCodeOwnerReviews",
    "requireCommitSigning",
    "requireLastPushApproval",
    "requiredApprovingReviewCount",
    "requiredConversationResolution",
    "requiredCommitSigning",
    "requiredLinearHistory",
    "requiredStatusCheckContexts",
    "restrictions",
    "secrets",
    "squashMergeCommitMessage",
    "squashMergeCommitTitle",
    "topics",
    "oidcCustomization",
    "autoInit",
    "allowedHosts",
    "subscribe",
    "requiredDeploymentEnvironments",
    "blockCreations",
    "workflowAccess",
]
_GITLAB_ONLY = [
    "repoVisibility",
    "setUserAsOwner",
    "topics",
    "settings",
    "branches",
    "projectVariables",
    "skipExisting",
    "signCommit",
    "allowedHosts",
]


class PublishGit(Action):
    id = "publish:git"
    description = "Commit the workspace and push it to any git remote."
    supports_dry_run = False
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["repoUrl"],
        "properties": dict(_COMMON),
    }
    output_schema = _OUTPUTS
    # Re-running commits on top of the kept local repository and pushes a fast-forward.
    idempotent = True

    def remote(self, ctx: ActionContext) -> tuple[str, RepoUrl]:
        """The git remote for ``repoUrl``: a RepoUrlPicker value mapped onto the base, or a git URL."""
        value = str(ctx.input["repoUrl"])
        parsed = RepoUrl.parse(value)
        if "?" not in value:
            return value, RepoUrl(repo=value.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))
        if not parsed.repo:
            raise InputError(f"repoUrl {value!r} names no repository (expected host?owner=o&repo=r)")
        base = ctx.services.git.base_for(parsed.host)
        if not base:
            raise InputError(
                f"{self.id}: no git remote configured for {parsed.host!r}: set git.remoteBase "
                f"(or git.hosts.{parsed.host}) in idp-console.yaml"
            )
        owner = parsed.owner or parsed.organization or parsed.workspace or parsed.project
        try:
            return remote_for(base, owner, parsed.repo), parsed
        except PublishError as error:
            raise InputError(str(error)) from error

    def run(self, ctx: ActionContext) -> None:
        for key in sorted(set(ctx.input) - set(_COMMON)):
            ctx.log(f"Ignoring {key}: it does not apply to a plain git remote")
        remote, parsed = self.remote(ctx)
        settings = ctx.services.git
        branch = str(ctx.input.get("defaultBranch") or "main")
        source = ctx.files.resolve(ctx.input.get("sourcePath") or ".", what="sourcePath")
        token = ctx.input.get("token")
        if not token and not is_local(remote) and remote.startswith("http") and settings.token_secret:
            store = ctx.services.secret_store
            token = store.get(settings.token_secret) if store is not None else None
        if token:
            ctx.add_secret(str(token))
        ctx.log(f"Publishing {ctx.files.relative(source)} to {remote} ({branch})")
        try:
            commit, _ = publish_directory(
                source,
                remote,
                branch=branch,
                message=str(ctx.input.get("gitCommitMessage") or "Initial commit"),
                author_name=str(ctx.input.get("gitAuthorName") or settings.author_name),
                author_email=str(ctx.input.get("gitAuthorEmail") or settings.author_email),
                token=str(token) if token else None,
                token_user=settings.token_user,
                create_missing=settings.create_missing,
            )
        except PushRejected as error:
            raise ActionFailed(str(error)) from error
        except PublishError as error:
            raise ActionFailed(str(error)) from error
        owner = parsed.owner or parsed.organization or parsed.workspace or parsed.project
        contents = contents_url(settings, remote, owner, parsed.repo, branch)
        ctx.task_state.setdefault("published", {})[contents] = {
            "remote": remote,
            "branch": branch,
            "owner": owner,
            "repo": parsed.repo,
            "token": token,
        }
        ctx.output("remoteUrl", remote)
        ctx.output("repoContentsUrl", contents)
        ctx.output("commitHash", commit)
        ctx.log(f"Pushed {commit[:12]} to {remote} ({branch})")


class PublishGithub(PublishGit):
    id = "publish:github"
    description = "publish:github mapped onto the configured git server (git.hosts / git.remoteBase)."
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["repoUrl"],
        "properties": {**_COMMON, **{key: {} for key in _GITHUB_ONLY}},
    }

    def run(self, ctx: ActionContext) -> None:
        if "?" not in str(ctx.input.get("repoUrl", "")):
            raise ActionFailed(f"{self.id}: repoUrl must look like host?owner=o&repo=r")
        super().run(ctx)


class PublishGitlab(PublishGithub):
    id = "publish:gitlab"
    description = "publish:gitlab mapped onto the configured git server (git.hosts / git.remoteBase)."
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["repoUrl"],
        "properties": {**_COMMON, **{key: {} for key in _GITLAB_ONLY}},
    }


_PR_INPUTS = {
    "repoUrl": {"type": "string"},
    "branchName": {"type": "string"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "targetBranchName": {"type": "string"},
    "sourcePath": {"type": "string"},
    "targetPath": {"type": "string"},
    "gitAuthorName": {"type": "string"},
    "gitAuthorEmail": {"type": "string"},
    "commitMessage": {"type": "string"},
    "token": {"type": "string"},
    "update": {"type": "boolean"},
}
_PR_IGNORED = [
    "draft",
    "reviewers",
    "teamReviewers",
    "assignees",
    "labels",
    "forceFork",
    "createWhenEmpty",
    "filesToDelete",
    "forceEmptyGitAuthor",
    "host",
    "allowedHosts",
]
_MR_IGNORED = [
    "commitAction",
    "removeSourceBranch",
    "assignee",
    "reviewers",
    "labels",
    "projectid",
    "allowedHosts",
]


class PublishPullRequest(PublishGit):
    """``publish:github:pull-request`` on a plain git server: a branch plus ``refs/pull/<n>/head``."""

    id = "publish:github:pull-request"
    description = "Propose the workspace as a branch of an existing repository (a numbered change request)."
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["repoUrl", "branchName", "title", "description"],
        "properties": {**_PR_INPUTS, **{key: {} for key in _PR_IGNORED}},
    }
    output_schema = {
        "type": "object",
        "properties": {
            "remoteUrl": {"type": "string", "examples": ["<example>"]},
            "targetBranchName": {"type": "string", "examples": ["main"]},
            "pullRequestNumber": {"type": "number", "examples": [0]},
        },
    }

    def run(self, ctx: ActionContext) -> None:
        for key in sorted(set(ctx.input) - set(_PR_INPUTS)):
            ctx.log(f"Ignoring {key}: it does not apply to a plain git remote")
        remote, parsed = self.remote(ctx)
        settings = ctx.services.git
        token = ctx.input.get("token")
        if token:
            ctx.add_secret(str(token))
        source = ctx.files.resolve(ctx.input.get("sourcePath") or ".", what="sourcePath")
        ctx.log(f"Proposing {ctx.files.relative(source)} to {remote} as branch {ctx.input['branchName']}")
        try:
            change = push_change_request(
                source,
                remote,
                branch=str(ctx.input["branchName"]),
                target_branch=ctx.input.get("targetBranchName"),
                target_path=str(ctx.input.get("targetPath") or "."),
                message=str(ctx.input.get("commitMessage") or ctx.input["title"]),
                author_name=str(ctx.input.get("gitAuthorName") or settings.author_name),
                author_email=str(ctx.input.get("gitAuthorEmail") or settings.author_email),
                token=str(token) if token else None,
                token_user=settings.token_user,
                replace_branch=bool(ctx.input.get("update")),
            )
        except PublishError as error:
            raise ActionFailed(str(error)) from error
        owner = parsed.owner or parsed.organization or parsed.workspace or parsed.project
        base = contents_url(settings, remote, owner, parsed.repo, change.branch).rsplit("/blob/", 1)[0]
        url = f"{base}/pull/{change.number}"
        ctx.log(f"Change #{change.number}: {change.branch} → {change.target_branch} ({change.commit[:10]})")
        self.outputs(ctx, url, change)

    def outputs(self, ctx: ActionContext, url: str, change: ChangeRequest) -> None:
        ctx.output("remoteUrl", url)
        ctx.output("targetBranchName", change.target_branch)
        ctx.output("pullRequestNumber", change.number)


class PublishMergeRequest(PublishPullRequest):
    """``publish:gitlab:merge-request`` on a plain git server (same mechanics as the pull request)."""

    id = "publish:gitlab:merge-request"
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["repoUrl", "branchName", "title", "description"],
        "properties": {**_PR_INPUTS, **{key: {} for key in _MR_IGNORED}},
    }
    output_schema = {
        "type": "object",
        "properties": {
            "mergeRequestUrl": {"type": "string", "examples": ["<example>"]},
            "targetBranchName": {"type": "string", "examples": ["main"]},
            "projectPath": {"type": "string", "examples": ["<example>"]},
            "commitHash": {"type": "string", "examples": ["<example>"]},
        },
    }

    def outputs(self, ctx: ActionContext, url: str, change: ChangeRequest) -> None:
        ctx.output("mergeRequestUrl", url.replace("/pull/", "/merge_requests/"))
        ctx.output("targetBranchName", change.target_branch)
        parsed = RepoUrl.parse(str(ctx.input["repoUrl"]))
        ctx.output("projectPath", f"{parsed.owner}/{parsed.repo}")
        ctx.output("commitHash", change.commit)


def check_remote_configured(action_id: str, repo_url: Any, settings: Any) -> str | None:
    """Precheck helper: the missing-setting message for a literal repoUrl, or None."""
    if not isinstance(repo_url, str) or "${{" in repo_url or "?" not in repo_url:
        return None
    host = RepoUrl.parse(repo_url).host
    if settings.base_for(host):
        return None
    return f"{action_id}: no git remote configured for {host!r}: set git.remoteBase (or git.hosts.{host})"


__all__ = [
    "PublishGit",
    "PublishGithub",
    "PublishGitlab",
    "PublishMergeRequest",
    "PublishPullRequest",
    "check_remote_configured",
]
