"""The template sandbox: no VCS metadata, no commands run by git, no reads outside, capped expressions."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from backends.git.publish import PublishError, publish_directory
from tests.scaffolder.helpers import finished, git_services, run, step_status, write_template


def _hostile_git_dir(marker: Path) -> dict[str, str]:
    """A ``.git`` directory whose fsmonitor and hooks would each create ``marker``."""
    hook = f"#!/bin/sh\ntouch {marker}\n"
    return {
        "HEAD": "ref: refs/heads/main\n",
        "config": (
            "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
            f'\tfsmonitor = "touch {marker}; true"\n'
            f'[filter "x"]\n\tclean = "touch {marker}; cat"\n'
        ),
        "hooks/pre-commit": hook,
        "hooks/post-checkout": hook,
        "hooks/pre-push": hook,
        "objects/info/.keep": "",
        "refs/heads/.keep": "",
    }


def _make_executable(directory: Path) -> None:
    for hook in (directory / "hooks").glob("*"):
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


def _exploit_template(tmp_path: Path, marker: Path, dir_name: str, value: str) -> Any:
    """The issue's exploit; ``value`` may be ``${{ parameters.g }}`` to hide it from precheck."""
    files = {f"skeleton/{dir_name}/{k}": v for k, v in _hostile_git_dir(marker).items()}
    files["skeleton/README.md"] = "hello\n"
    files["skeleton/.gitattributes"] = "* filter=x\n"
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "fetch",
                "action": "fetch:template",
                "input": {"url": "./skeleton", "values": {"g": value}},
            },
            {"id": "publish", "action": "publish:git", "input": {"repoUrl": "?owner=o&repo=r"}},
        ],
        files=files,
    )
    _make_executable(tmp_path / "t" / "skeleton" / dir_name)
    return template


@pytest.mark.parametrize("value", [".git", ".GIT", "sub/.Git", ".git.", "a/../.git"])
def test_a_rendered_git_directory_is_refused_and_nothing_runs(tmp_path: Path, value: str) -> None:
    marker = tmp_path / "pwned"
    template = _exploit_template(tmp_path, marker, "${{ values.g }}", "${{ parameters.g }}")
    services = git_services(tmp_path / "remotes")
    events = run(template, {"g": value}, services=services, keep_dir=tmp_path / "out")
    done = finished(events)
    assert done.status == "failed"
    assert step_status(events) == {"fetch": "failed", "publish": "skipped"}
    assert "version-control metadata" in (done.error or "")
    assert not marker.exists()
    assert not (tmp_path / "remotes" / "o" / "r.git").exists()


@pytest.mark.parametrize(
    "step",
    [
        {"action": "fetch:template", "input": {"url": "./skeleton", "targetPath": "${{ parameters.p }}/x"}},
        {
            "action": "fetch:plain:file",
            "input": {"url": "./skeleton/README.md", "targetPath": "a/${{ parameters.p }}/config"},
        },
        {
            "action": "fetch:plain",
            "input": {"url": "./skeleton", "targetPath": "${{ parameters.p | replace('git', 'hg') }}"},
        },
        {
            "action": "fs:rename",
            "input": {"files": [{"from": "README.md", "to": "${{ parameters.p }}/hooks/pre-commit"}]},
        },
    ],
)
def test_no_action_may_write_vcs_metadata(tmp_path: Path, step: dict[str, Any]) -> None:
    template = write_template(
        tmp_path / "t",
        [{"id": "prepare", "action": "fetch:plain", "input": {"url": "./skeleton"}}, {"id": "bad", **step}],
        files={"skeleton/README.md": "hello\n"},
    )
    events = run(template, {"p": ".GIT"})
    done = finished(events)
    assert done.status == "failed" and step_status(events)["bad"] == "failed"
    assert "version-control metadata" in (done.error or "") and "step bad" in _failure_line(events)


def _failure_line(events: list[Any]) -> str:
    return next(e.message for e in events if type(e).__name__ == "StepLog" and "Run failed" in e.message)


def test_a_skeleton_symlink_into_git_metadata_is_refused(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [{"id": "fetch", "action": "fetch:plain", "input": {"url": "./skeleton"}}],
        files={"skeleton/.gitkeep": ""},
    )
    (tmp_path / "t" / "skeleton" / "cfg").symlink_to(".git")
    done = finished(run(template))
    assert done.status == "failed" and "version-control metadata" in (done.error or "")


def test_a_hostile_kept_repository_is_refused_without_running_anything(tmp_path: Path) -> None:
    """A work dir that already holds a ``.git`` idp-console did not write: refused, nothing runs."""
    marker = tmp_path / "pwned"
    work = tmp_path / "work"
    (work / "README.md").parent.mkdir(parents=True)
    (work / "README.md").write_text("hello\n")
    (work / ".gitattributes").write_text("* filter=x\n")
    for relative, content in _hostile_git_dir(marker).items():
        (work / ".git" / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / ".git" / relative).write_text(content)
    _make_executable(work / ".git")
    remote = tmp_path / "remotes" / "r.git"
    with pytest.raises(PublishError) as raised:
        publish_directory(work, str(remote))
    assert "core.fsmonitor" in str(raised.value) and "filter.x.clean" in str(raised.value)
    assert not marker.exists()


def test_git_runs_without_hooks_or_fsmonitor_on_a_repository_it_made(tmp_path: Path) -> None:
    """Even with a global hooks dir and fsmonitor set for the user, publishing runs neither."""
    marker = tmp_path / "pwned"
    hooks = tmp_path / "global-hooks"
    hooks.mkdir()
    for name in ("pre-commit", "post-commit", "pre-push", "post-checkout"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / name).chmod(0o755)
    (tmp_path / "gitconfig").write_text(
        f'[core]\n\thooksPath = {hooks}\n\tfsmonitor = "touch {marker}; true"\n'
    )
    template = write_template(
        tmp_path / "t",
        [
            {"id": "fetch", "action": "fetch:plain", "input": {"url": "./skeleton"}},
            {"id": "publish", "action": "publish:git", "input": {"repoUrl": "?owner=o&repo=r"}},
        ],
        files={"skeleton/README.md": "hello\n"},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
        events = run(template, services=git_services(tmp_path / "remotes"))
    assert finished(events).status == "completed", finished(events).error
    assert not marker.exists()
    shown = subprocess.run(
        ["git", "--git-dir", str(tmp_path / "remotes/o/r.git"), "show", "main:README.md"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == "hello\n"


# -- fetch:* reads only the template's directory, template sources and allowed hosts -------------


@pytest.mark.parametrize(
    ("action", "url"),
    [
        ("fetch:plain", "/etc/ssh"),
        ("fetch:plain:file", "/etc/shadow"),
        ("fetch:plain:file", "file:///etc/hostname"),
        ("fetch:plain", "../../.."),
        ("fetch:template", "../outside"),
        ("fetch:plain", "https://evil.example/acme/secrets/tree/main/keys"),
        ("fetch:plain", "git@evil.example:acme/secrets.git"),
    ],
)
def test_fetch_outside_the_sandbox_is_refused(tmp_path: Path, action: str, url: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret\n")
    step: dict[str, Any] = {"id": "grab", "action": action, "input": {"url": "${{ parameters.u }}"}}
    if action.endswith(":file"):
        step["input"]["targetPath"] = "grabbed"
    template = write_template(tmp_path / "templates" / "t", [step])
    events = run(template, {"u": url}, keep_dir=tmp_path / "out")
    done = finished(events)
    assert done.status == "failed"
    assert repr(url) in (done.error or "") and "\n" not in (done.error or "")
    assert any(word in (done.error or "") for word in ("outside the template", "not allowed"))
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_a_symlink_out_of_the_template_directory_is_refused(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [{"id": "grab", "action": "fetch:plain:file", "input": {"url": "./host", "targetPath": "x"}}],
    )
    (tmp_path / "t" / "host").symlink_to("/etc/hostname")
    errors = lint_errors(template)
    assert any("outside the template's directory" in e for e in errors), errors


def test_template_sources_and_their_repositories_are_allowed(tmp_path: Path) -> None:
    from backends.scaffolder import Services
    from backends.scaffolder.sandbox import Sandbox

    shared = tmp_path / "library" / "shared"
    shared.mkdir(parents=True)
    (shared / "LICENSE").write_text("MIT\n")
    repo = tmp_path / "repo"
    (repo / "skel").mkdir(parents=True)
    (repo / "skel" / "a.txt").write_text("${{ values.n }}\n")
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"],
    ):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    template = write_template(
        tmp_path / "library" / "t",
        [
            {
                "action": "fetch:plain:file",
                "input": {"url": "${{ parameters.lic }}", "targetPath": "LICENSE"},
            },
            {"action": "fetch:template", "input": {"url": "${{ parameters.skel }}", "values": {"n": "ok"}}},
        ],
    )
    parameters = {"lic": "../shared/LICENSE", "skel": f"{repo.as_uri()}/tree/main/skel"}
    sandbox = Sandbox(roots=(tmp_path / "library",), repositories=(repo.as_uri(),))
    events = run(template, parameters, services=Services(sandbox=sandbox), keep_dir=tmp_path / "out")
    assert finished(events).status == "completed", finished(events).error
    assert (tmp_path / "out" / "a.txt").read_text() == "ok\n"
    refused = run(template, parameters, keep_dir=tmp_path / "out2")  # no sources configured
    assert "outside the template's directory" in (finished(refused).error or "")


def lint_errors(template: Any, services: Any = None) -> list[str]:
    from backends.scaffolder import default_registry
    from backends.scaffolder.lint import lint

    return [str(i) for i in lint(template, default_registry(), services) if i.severity == "error"]


def test_lint_reports_the_exploit_and_reads_outside(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    template = _exploit_template(tmp_path, marker, "${{ values.g }}", ".git")
    errors = lint_errors(template)
    assert any("renders to '.git'" in e and "version-control metadata" in e for e in errors), errors
    outside = write_template(
        tmp_path / "o",
        [
            {"id": "a", "action": "fetch:plain", "input": {"url": "/etc/ssh"}},
            {
                "id": "b",
                "action": "fetch:plain:file",
                "input": {"url": "file:///etc/hostname", "targetPath": "h"},
            },
            {"id": "c", "action": "fetch:plain", "input": {"url": "https://evil.example/a/b/tree/main/x"}},
            {"id": "d", "action": "fs:rename", "input": {"files": [{"from": "a", "to": "x/.Git/config"}]}},
            {"id": "e", "action": "fetch:plain", "input": {"url": "./skeleton", "targetPath": ".svn"}},
        ],
        files={"skeleton/a": "a\n"},
    )
    errors = lint_errors(outside)
    for step in "abcde":
        assert any(f"step {step!r}" in e for e in errors), (step, errors)


def test_lint_accepts_a_clean_template(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "action": "fetch:template",
                "input": {"url": "./skeleton", "values": {"name": "${{ parameters.n }}"}},
            }
        ],
        files={"skeleton/${{ values.name }}/.gitignore": "*.pyc\n", "skeleton/.github/ci.yaml": "x\n"},
    )
    assert lint_errors(template) == []


# -- expressions run under time and memory caps -------------------------------------------------

_NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
_EXPONENTIAL_MACRO = (
    "{% macro f(n) %}{% if n %}${{ f(n - 1) }}${{ f(n - 1) }}{% endif %}{% endmacro %}${{ f(60) }}"
)


@pytest.mark.parametrize("source", [_NESTED_LOOPS, _EXPONENTIAL_MACRO])
def test_a_runaway_expression_stops_at_the_time_limit(source: str) -> None:
    from backends.scaffolder.errors import ExpressionError
    from backends.scaffolder.expressions import TemplateEngine

    engine = TemplateEngine(time_limit=0.2)
    with pytest.raises(ExpressionError, match=r"template expression exceeded the time limit \(0.2 s"):
        engine.render_string(source, {})
    assert engine.render_string("${{ 1 + 1 }}", {}) == "2"  # the next render has its own budget


@pytest.mark.parametrize(
    "source",
    [
        "${{ 'x'.ljust(300000000) }}",
        "${{ 'x'.center(300000000) }}",
        "${{ 'x' * 10**9 }}",
        "${{ range(10**9) }}",
        "${{ '%999999999d' % 1 }}",
        "${{ '%*d' % (999999999, 1) }}",
        "${{ '{:>999999999}'.format(1) }}",
        "${{ 'x' | center(999999999) }}",
        "${{ 'a\nb' | indent(999999999) }}",
        "${{ [1] | batch(999999999, 0) | list }}",
        "${{ ('x' * 999999).replaceAll('x', 'yyyyyyyyyyyyyyyyyyyy') }}",
        "${{ ('x' * 999999) | replace('x', 'yyyyyyyyyyyyyyyyyyyy') }}",
        "${{ [('x' * 999999)] * 1000 }}",
        "${{ ([('x' * 999999)] * 1000) | join }}",
        "${{ ([('x' * 999999)] * 1000) | dump }}",
        "${{ ('ab' * 499999) | list | join(' ' * 999999) }}",
        "${{ ('{0}' * 333333).format('x' * 999999) }}",
        "${{ ('%(a)s' * 166666) % {'a': 'x' * 999999} }}",
        "${{ ([[1] * 999999] * 999999) | sum(start=[]) | length }}",
        "${{ (9 ** 1000) ** 999 }}",
        "{% for i in range(100000) %}${{ 'x' * 999999 }}{% endfor %}",
        "{% set ns = namespace(s='x' * 999999) %}"
        "{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}${{ ns.s | length }}",
        "{% set ns = namespace(l=[1] * 999999) %}"
        "{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}${{ ns.l | length }}",
    ],
)
def test_a_huge_value_is_refused_before_it_is_built(source: str) -> None:
    # (Jinja2's format, map and wordwrap filters and padStart are gone: Backstage has none of them.)
    from backends.scaffolder.errors import ExpressionError
    from backends.scaffolder.expressions import TemplateEngine

    with pytest.raises(ExpressionError, match="template expression exceeded the (memory|range) cap"):
        TemplateEngine().render_string(source, {})


def test_a_runaway_step_input_fails_its_step_not_the_run(tmp_path: Path) -> None:
    from backends.scaffolder import Services
    from backends.scaffolder.sandbox import Sandbox

    template = write_template(
        tmp_path / "t",
        [
            {"id": "spin", "action": "debug:log", "input": {"message": _NESTED_LOOPS + "done"}},
            {"id": "grow", "action": "fetch:template", "input": {"url": "./s"}},
        ],
        files={"s/a.txt": "${{ 'x'.ljust(300000000) }}"},
    )
    events = run(template, services=Services(sandbox=Sandbox(expression_seconds=0.2)))
    assert step_status(events) == {"spin": "failed", "grow": "skipped"}
    assert "template expression exceeded the time limit (0.2 s" in (finished(events).error or "")
    template.steps.pop(0)
    events = run(template)
    assert "template expression exceeded the memory cap" in (finished(events).error or "")


def test_ordinary_templates_are_unaffected() -> None:
    from backends.scaffolder.expressions import TemplateEngine

    engine = TemplateEngine()
    source = (
        "{% for x in values.items %}${{ loop.index }}:${{ x | upper }}${{ ',' if not loop.last }}{% endfor %}"
        " ${{ 'x-y'.replaceAll('-', '_') }} ${{ 'a' ~ 'b' }}"
        " ${{ values.items | join('+') }} ${{ '%05d' % 42 }} ${{ range(3) | list | length }}"
    )
    rendered = engine.render_string(source, {"values": {"items": ["a", "b"]}})
    assert rendered == "1:A,2:B x_y ab a+b 00042 3"


def test_the_workspace_configures_the_sandbox(tmp_path: Path) -> None:
    from backends.scaffolder import Services
    from backends.workspace import load_workspace

    (tmp_path / "templates" / "shared").mkdir(parents=True)
    (tmp_path / "templates" / "shared" / "NOTICE").write_text("n\n")
    (tmp_path / "idp-console.yaml").write_text(
        "templates:\n"
        "  sources: [{type: dir, path: templates}]\n"
        "  allowedHosts: [git.acme.example]\n"
        "  expressionTimeLimit: 0.2\n"
    )
    services = Services.from_workspace(load_workspace(tmp_path))
    template = write_template(
        tmp_path / "templates" / "svc",
        [
            {
                "id": "notice",
                "action": "fetch:plain:file",
                "input": {"url": "../shared/NOTICE", "targetPath": "N"},
            },
            {"id": "spin", "action": "debug:log", "input": {"message": _NESTED_LOOPS}},
        ],
    )
    events = run(template, services=services)
    assert step_status(events) == {"notice": "done", "spin": "failed"}
    assert "exceeded the time limit (0.2 s" in (finished(events).error or "")
    sandbox = services.sandbox
    assert sandbox.url_problem("https://git.acme.example/p/r/tree/main/s", tmp_path) is None
    assert sandbox.url_problem("https://github.com/p/r/tree/main/s", tmp_path) is not None


def _seed_repository(tmp_path: Path) -> Path:
    """A bare ``acme/mono`` repository whose tree holds ``docs``, a symlink to ``.git``."""
    work = tmp_path / "seed"
    work.mkdir()
    (work / "README.md").write_text("# mono\n")
    (work / "docs").symlink_to(".git")
    bare = tmp_path / "srv" / "acme" / "mono.git"
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "seed"],
    ):
        subprocess.run(["git", "-C", str(work), *command], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


@pytest.mark.parametrize("target", [".git", "docs", "docs/hooks"])
def test_a_change_request_cannot_write_into_the_clones_git_dir(tmp_path: Path, target: str) -> None:
    from backends.git.publish import GitSettings
    from backends.scaffolder import Services

    marker = tmp_path / "pwned"
    _seed_repository(tmp_path)
    template = write_template(
        tmp_path / "t",
        [
            {"id": "fetch", "action": "fetch:plain", "input": {"url": "./s"}},
            {
                "id": "pr",
                "action": "publish:github:pull-request",
                "input": {
                    "repoUrl": "github.com?owner=acme&repo=mono",
                    "branchName": "hostile",
                    "title": "t",
                    "description": "d",
                    "targetPath": "${{ parameters.target }}",
                },
            },
        ],
        files={
            "s/config": f'[core]\n\tfsmonitor = "touch {marker}; true"\n',
            "s/pre-commit": f"#!/bin/sh\ntouch {marker}\n",
        },
    )
    (tmp_path / "t" / "s" / "pre-commit").chmod(0o755)
    services = Services(git=GitSettings(hosts={"github.com": str(tmp_path / "srv")}))
    events = run(template, {"target": target}, services=services)
    done = finished(events)
    assert done.status == "failed" and step_status(events)["pr"] == "failed"
    assert "git metadata" in (done.error or "")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("allowedHosts: github.com", "templates.allowedHosts: expected a list of host names"),
        ("expressionTimeLimit: -1", "templates.expressionTimeLimit: expected seconds above 0"),
        ("expressionTimeLimit: .nan", "templates.expressionTimeLimit: expected seconds above 0"),
        ("allowedHost: [github.com]", "unknown key 'allowedHost'"),
    ],
)
def test_bad_sandbox_settings_are_one_line_errors(tmp_path: Path, setting: str, message: str) -> None:
    from backends.workspace import WorkspaceError, load_workspace

    (tmp_path / "idp-console.yaml").write_text(f"templates:\n  {setting}\n")
    with pytest.raises(WorkspaceError) as raised:
        load_workspace(tmp_path)
    assert message in str(raised.value) and "\n" not in str(raised.value)
