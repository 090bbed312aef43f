"""publish:git / publish:github / publish:gitlab against real git remotes in tmp_path."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from backends.git.publish import GitSettings, auth_environment
from backends.scaffolder import Services, TaskRunner, event_to_dict
from backends.scaffolder.errors import PrecheckError
from backends.secrets import EnvironmentSecretStore
from tests.scaffolder.helpers import finished, git_show, log_text, run, step_status, write_template

SKELETON = {"s/README.md": "# ${{ values.name }}\n", "s/catalog-info.yaml": "kind: Component\n"}


def publish_template(tmp_path: Path, action: str, repo_url: str, **extra: Any) -> Any:
    return write_template(
        tmp_path / "t",
        [
            {"id": "fetch", "action": "fetch:template", "input": {"url": "./s", "values": {"name": "svc"}}},
            {"id": "publish", "action": action, "input": {"repoUrl": repo_url, **extra}},
        ],
        files=SKELETON,
        output={"links": [{"title": "Repository", "url": "${{ steps.publish.output.remoteUrl }}"}]},
    )


def outputs_of(events: list[Any], step: str) -> dict[str, Any]:
    return next(e.output for e in events if type(e).__name__ == "StepFinished" and e.step_id == step)


def test_publish_git_to_bare_repo_path(tmp_path: Path, make_bare: Callable[[str], Path]) -> None:
    remote = make_bare("svc")
    template = publish_template(
        tmp_path,
        "publish:git",
        str(remote),
        gitCommitMessage="first!",
        gitAuthorName="Ada",
        gitAuthorEmail="ada@example.com",
    )
    events = run(template)
    assert finished(events).status == "completed", log_text(events)
    output = outputs_of(events, "publish")
    assert output["remoteUrl"] == str(remote)
    assert output["repoContentsUrl"] == f"{remote.as_uri()}/blob/main"
    assert git_show(remote, "main:README.md") == "# svc\n"
    log = subprocess.run(
        ["git", "--git-dir", str(remote), "log", "-1", "--format=%H %an %ae %s", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split(" ", 3)
    assert log[0] == output["commitHash"]
    assert log[1:] == ["Ada", "ada@example.com", "first!\n"]


def test_publish_git_file_url_and_default_branch(tmp_path: Path, make_bare: Callable[[str], Path]) -> None:
    remote = make_bare("svc")
    events = run(publish_template(tmp_path, "publish:git", remote.as_uri(), defaultBranch="trunk"))
    assert finished(events).status == "completed", log_text(events)
    assert git_show(remote, "trunk:catalog-info.yaml") == "kind: Component\n"


def test_publish_git_creates_bare_repos_under_remote_base(tmp_path: Path) -> None:
    base = tmp_path / "git-server"
    template = publish_template(tmp_path, "publish:git", "?owner=team-a&repo=svc")
    events = run(template, services=Services(git=GitSettings(remote_base=str(base))))
    assert finished(events).status == "completed", log_text(events)
    remote = base / "team-a/svc.git"
    assert (remote / "HEAD").is_file() and git_show(remote, "main:README.md") == "# svc\n"
    assert finished(events).outputs["links"][0]["url"] == str(remote)


def test_contents_url_setting(tmp_path: Path) -> None:
    settings = GitSettings(
        remote_base=str(tmp_path / "srv"), contents_url="https://git.acme/{owner}/{repo}/src/{branch}"
    )
    events = run(
        publish_template(tmp_path, "publish:git", "?owner=o&repo=r"), services=Services(git=settings)
    )
    assert outputs_of(events, "publish")["repoContentsUrl"] == "https://git.acme/o/r/src/main"


def test_publish_github_and_gitlab_are_mapped_onto_the_git_server(tmp_path: Path) -> None:
    settings = GitSettings(remote_base=str(tmp_path / "default"), hosts={"github.com": str(tmp_path / "gh")})
    github = publish_template(
        tmp_path / "a",
        "publish:github",
        "github.com?owner=acme&repo=web",
        repoVisibility="private",
        allowedHosts=["github.com"],
        protectDefaultBranch=True,
        topics=["x"],
    )
    events = run(github, services=Services(git=settings))
    assert finished(events).status == "completed", log_text(events)
    assert (tmp_path / "gh/acme/web.git/HEAD").exists()
    assert "Ignoring repoVisibility: it does not apply to a plain git remote" in log_text(events)
    gitlab = publish_template(tmp_path / "b", "publish:gitlab", "gitlab.com?owner=grp&repo=lib")
    events = run(gitlab, services=Services(git=settings))
    assert finished(events).status == "completed", log_text(events)
    assert (tmp_path / "default/grp/lib.git/HEAD").exists()


def test_publish_github_without_configuration_names_the_setting(tmp_path: Path) -> None:
    literal = publish_template(tmp_path / "a", "publish:github", "github.com?owner=acme&repo=web")
    with pytest.raises(PrecheckError, match=r"git\.remoteBase \(or git\.hosts\.github\.com\)"):
        TaskRunner().create_task(literal, {})
    templated = write_template(
        tmp_path / "b",
        [{"id": "publish", "action": "publish:github", "input": {"repoUrl": "${{ parameters.repo }}"}}],
    )
    events = run(templated, {"repo": "github.com?owner=acme&repo=web"})
    assert "set git.remoteBase (or git.hosts.github.com) in idp-console.yaml" in finished(events).error


def test_unknown_publish_input_is_refused(tmp_path: Path) -> None:
    template = publish_template(tmp_path, "publish:github", "github.com?owner=a&repo=b", notAnInput=True)
    with pytest.raises(PrecheckError, match="unknown input 'notAnInput'"):
        TaskRunner(services=Services(git=GitSettings(remote_base=str(tmp_path)))).create_task(template, {})


def test_rejected_push_keeps_the_local_result_and_retry_works(
    tmp_path: Path, make_bare: Callable[[str], Path]
) -> None:
    remote = make_bare("svc")
    hook = remote / "hooks/pre-receive"
    hook.write_text("#!/bin/sh\necho 'policy: pushes are closed today' >&2\nexit 1\n")
    hook.chmod(0o755)
    template = publish_template(tmp_path, "publish:git", str(remote))
    task = TaskRunner().create_task(template, {})
    events = list(task.run())
    result = finished(events)
    assert (result.status, result.failed_step) == ("failed", "publish")
    assert "policy: pushes are closed today" in result.error
    local = Path(result.workspace_path or "")
    assert f"the committed result is kept in {local}" in result.error
    assert subprocess.run(
        ["git", "-C", str(local), "log", "--oneline"], capture_output=True, text=True
    ).stdout
    assert (local / "README.md").read_text() == "# svc\n"
    hook.unlink()
    retried = list(task.retry_from("publish"))
    assert finished(retried).status == "completed", log_text(retried)
    assert git_show(remote, "main:README.md") == "# svc\n"


def test_push_to_an_existing_history_is_rejected_cleanly(tmp_path: Path) -> None:
    base = tmp_path / "srv"
    services = Services(git=GitSettings(remote_base=str(base)))
    first = publish_template(tmp_path / "a", "publish:git", "?owner=o&repo=r")
    assert finished(run(first, services=services)).status == "completed"
    other = publish_template(tmp_path / "b", "publish:git", "?owner=o&repo=r", gitCommitMessage="another")
    again = finished(run(other, services=services))
    assert again.status == "failed" and "rejected" in again.error and "hint:" not in again.error


@pytest.mark.parametrize("repo_url", ["?owner=../../etc&repo=x", "?owner=o&repo=../x", "?owner=o&repo=.git"])
def test_repo_names_cannot_escape_the_remote_base(tmp_path: Path, repo_url: str) -> None:
    events = run(
        publish_template(tmp_path, "publish:git", repo_url),
        services=Services(git=GitSettings(remote_base=str(tmp_path / "srv"))),
    )
    assert step_status(events)["publish"] == "failed"
    assert "invalid owner/repository name" in finished(events).error


# -- https with a token -------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
        self.send_response(403)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_https_token_travels_in_a_header_from_the_secret_store(tmp_path: Path, http_server: str) -> None:
    token = "tok-canary-1234567890"
    store = EnvironmentSecretStore({"IDP_CONSOLE_SECRET_GIT_TOKEN": token})
    settings = GitSettings(remote_base=http_server, token_secret="GIT_TOKEN")
    task = TaskRunner(services=Services(git=settings, secret_store=store)).create_task(
        publish_template(tmp_path, "publish:git", "?owner=acme&repo=svc"), {}
    )
    events = list(task.run())
    assert finished(events).status == "failed"  # the fake server refuses; we only check what was sent
    sent = [s for s in _Recorder.seen if "acme/svc.git" in s["path"]]
    assert sent, _Recorder.seen
    assert base64.b64decode(sent[0]["auth"].removeprefix("Basic ")).decode() == f"x-access-token:{token}"
    local = Path(finished(events).workspace_path or "")
    assert token not in (local / ".git/config").read_text()
    assert token not in json.dumps([event_to_dict(e) for e in events], default=str)


def test_auth_environment_never_prompts() -> None:
    env = auth_environment(None)
    assert env["GIT_TERMINAL_PROMPT"] == "0" and "GIT_CONFIG_COUNT" not in env
    assert "BatchMode=yes" in env["GIT_SSH_COMMAND"]


def test_pull_and_merge_requests_become_numbered_branches(tmp_path: Path) -> None:
    base = tmp_path / "srv"
    services = Services(git=GitSettings(remote_base=str(base), hosts={"github.com": str(base)}))
    first = publish_template(tmp_path / "seed", "publish:git", "?owner=acme&repo=mono")
    assert finished(run(first, services=services)).status == "completed"
    template = write_template(
        tmp_path / "pr",
        [
            {"id": "fetch", "action": "fetch:template", "input": {"url": "./s", "values": {"name": "new"}}},
            {
                "id": "pr",
                "action": "publish:github:pull-request",
                "input": {
                    "repoUrl": "github.com?owner=acme&repo=mono",
                    "branchName": "add-${{ parameters.name }}",
                    "title": "Add ${{ parameters.name }}",
                    "description": "${{ parameters.name if parameters.name }}",
                    "targetPath": "services/${{ parameters.name }}",
                    "reviewers": ["someone"],
                },
            },
        ],
        files=SKELETON,
        output={"links": [{"title": "Go to PR", "url": "${{ steps.pr.output.remoteUrl }}"}]},
    )
    events = run(template, {"name": "alpha"}, services=services)
    assert finished(events).status == "completed", log_text(events)
    output = outputs_of(events, "pr")
    remote = base / "acme/mono.git"
    assert output == {
        "remoteUrl": f"{remote.as_uri()}/pull/1",
        "targetBranchName": "main",
        "pullRequestNumber": 1,
    }
    assert git_show(remote, "add-alpha:services/alpha/README.md") == "# new\n"
    assert git_show(remote, "refs/pull/1/head:README.md") == "# svc\n"  # the target branch's files stay
    assert "Ignoring reviewers" in log_text(events)
    again = run(template, {"name": "beta"}, services=services)
    assert outputs_of(again, "pr")["pullRequestNumber"] == 2
    clash = run(template, {"name": "alpha"}, services=services)
    assert "branch add-alpha already exists" in (finished(clash).error or "")

    gitlab = write_template(
        tmp_path / "mr",
        [
            {"id": "fetch", "action": "fetch:plain", "input": {"url": "./s"}},
            {
                "id": "mr",
                "action": "publish:gitlab:merge-request",
                "input": {
                    "repoUrl": "gitlab.com?owner=acme&repo=mono",
                    "branchName": "mr-1",
                    "title": "t",
                    "description": "d",
                    "commitAction": "create",
                    "removeSourceBranch": True,
                },
            },
        ],
        files=SKELETON,
    )
    events = run(gitlab, services=services)
    assert finished(events).status == "completed", log_text(events)
    output = outputs_of(events, "mr")
    assert output["mergeRequestUrl"] == f"{remote.as_uri()}/merge_requests/3"
    assert output["projectPath"] == "acme/mono" and len(output["commitHash"]) == 40


def test_ssh_remote(
    tmp_path: Path, make_bare: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ssh:// remote, with a stand-in ssh that runs the remote git command on this machine."""
    remote = make_bare("over-ssh")
    fake_ssh = tmp_path / "fake-ssh"
    calls = tmp_path / "ssh-calls"
    # ssh is called as: fake-ssh [options] [-p port] user@host "git-receive-pack '/path'"
    fake_ssh.write_text(f'#!/bin/sh\nfor last; do :; done\necho "$@" >> {calls}\nexec sh -c "$last"\n')
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    events = run(publish_template(tmp_path, "publish:git", f"ssh://git@git.example.invalid{remote}"))
    assert finished(events).status == "completed", log_text(events)
    assert git_show(remote, "main:README.md") == "# svc\n"
    assert "git@git.example.invalid" in calls.read_text()
