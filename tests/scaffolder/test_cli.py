"""``idp-console scaffold`` and ``idp-console template lint|list``, end to end on the demo workspace."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from console.cli import main
from tests.scaffolder.helpers import git_show, write_template

SERVICE = ["--set", "name=cli-svc", "--set", "owner=group:default/team-payments", "--set", "language=python"]


def test_scaffold_golden_path_non_interactively(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["scaffold", "microservice-golden-path", *SERVICE, "--set", "database=postgres"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "✓ fetch-service: Render the service source — done" in out
    assert "✓ publish: Publish to git — done" in out
    assert "✓ database: Generate the database passwords — done" in out
    assert "Simulated CI run" in out and "registry.acme.example/team-payments/cli-svc:v0.1.0" in out
    assert "✓ ci: First CI run — done" in out
    assert "✓ register: Register in the catalog — done" in out
    assert "Registered component:default/cli-svc" in out
    assert "→ Open in catalog: component:default/cli-svc" in out
    remote = isolated_home / "data/git/team-payments/cli-svc.git"
    assert f"→ Repository: {remote}" in out
    assert (remote / "HEAD").is_file()
    assert (isolated_home / "data/repos/team-payments/cli-svc/catalog-info.yaml").is_file()


def test_values_file_dry_run_and_keep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("name: from-file\nowner: group:default/team-checkout\nlanguage: go\ndatabase: none\n")
    keep = tmp_path / "kept"
    code = main(
        ["scaffold", "microservice-golden-path", "--values", str(values), "--dry-run", "--keep", str(keep)]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    assert "(dry run)" in out and "Skipping because publish:git does not support dry-run" in out
    assert f"Rendered files: {keep}" in out
    assert (keep / "main.go").is_file() and (keep / "catalog-info.yaml").is_file()
    assert not (keep / ".git").exists()


def test_json_output_is_one_event_per_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scaffold", "microservice-golden-path", *SERVICE, "--dry-run", "--output", "json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert lines[0]["type"] == "task-started" and lines[-1]["type"] == "task-finished"
    assert {line["type"] for line in lines} >= {"step-started", "step-log", "step-finished"}
    final = lines[-1]
    assert final["status"] == "completed" and final["dry_run"] is True
    assert Path(final["workspace_path"]).is_dir()


def test_missing_required_values_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scaffold", "microservice-golden-path", "--set", "language=go"])
    err = capsys.readouterr().err
    assert code == 2
    assert "missing required values: name (Name), owner (Owner)" in err
    assert "--set KEY=VALUE" in err


def test_invalid_values_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["scaffold", "microservice-golden-path", *SERVICE, "--set", "name=Not_Valid", "--set", "port=80"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "name: must match pattern ^[a-z][a-z0-9-]*$" in err and "port: must be ≥ 1024" in err


def test_unknown_template_and_bad_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "no-such-template"]) == 2
    assert "no template named 'no-such-template'" in capsys.readouterr().err
    assert main(["scaffold", "docs-site", "--set", "novalue"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_template_path_task_failure_exit_code_and_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_template(
        tmp_path / "t",
        [
            {"id": "say", "action": "debug:log", "input": {"message": "token=${{ secrets.token }}"}},
            {"id": "boom", "action": "fs:rename", "input": {"files": [{"from": "nope", "to": "x"}]}},
        ],
        parameters={"properties": {"token": {"type": "string", "ui:field": "Secret"}}},
    )
    assert main(["scaffold", str(tmp_path / "t/template.yaml"), "--set", "token=abc"]) == 2
    assert "token is a secret; export IDP_CONSOLE_SECRET_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("IDP_CONSOLE_SECRET_TOKEN", "canary-cli-0042")
    code = main(["scaffold", str(tmp_path / "t/template.yaml")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "[secret withheld]" in out and "canary-cli-0042" not in out + err
    assert "✗ boom: fs:rename — failed" in out and "Task failed" in err


def test_interactive_prompts_when_stdin_is_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["Bad Name", "asked-svc", "group:default/team-payments"])
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    code = main(["scaffold", "microservice-golden-path", "--dry-run", "--keep", str(tmp_path / "k")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "must match pattern" in err
    assert "choices:" in out and "group:default/team-payments" in out
    assert "asked-svc" in (tmp_path / "k/catalog-info.yaml").read_text()


def test_template_lint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["template", "lint", "microservice-golden-path"]) == 0
    assert "microservice-golden-path: 0 errors, 0 warnings" in capsys.readouterr().out
    steps: list[dict[str, Any]] = [
        {
            "id": "fetch",
            "action": "fetch:template",
            "input": {"url": "./s", "copyWithoutRender": [".github/*"]},
        },
        {"id": "oops", "action": "debug:log", "input": {"message": "${{ parameters.undeclared }}"}},
        {"id": "late", "action": "debug:log", "input": {"message": "${{ steps.later.output.x }}"}},
        {"id": "later", "action": "debug:log"},
    ]
    write_template(tmp_path / "t", steps, files={"s/a": "a"})
    assert main(["template", "lint", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert "warning: step 'fetch' (fetch:template): copyWithoutRender is ignored" in out
    assert "parameters.undeclared is not declared" in out
    assert "refers to step 'later', which runs later" in out
    write_template(tmp_path / "bad", [{"id": "x", "action": "publish:nowhere"}])
    assert main(["template", "lint", str(tmp_path / "bad")]) == 1
    assert "error: step 'x' (publish:nowhere): unknown action" in capsys.readouterr().out


def test_template_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["template", "list"]) == 0
    out = capsys.readouterr().out
    assert "microservice-golden-path" in out and "docs-site" in out


def test_workspace_config_templates_and_catalog_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``templates.sources``, Template entities in the catalog, and a relative ``git.remoteBase``."""
    workspace = tmp_path / "ws"
    (workspace / "catalog/tpl/skeleton").mkdir(parents=True)
    (workspace / "templates/web/skeleton").mkdir(parents=True)
    (workspace / "idp-console.yaml").write_text(
        "name: test\n"
        "catalog:\n  sources:\n    - {type: dir, path: catalog}\n"
        "templates:\n  sources:\n    - {type: dir, path: templates}\n"
        "git:\n  remoteBase: ./git-server\n"
    )
    (workspace / "catalog/all.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: tpl}\n"
        "spec: {targets: [./tpl/template.yaml]}\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {type: team}\n"
    )
    template = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: NAME}
spec:
  owner: group:default/team-a
  type: service
  parameters: {required: [name], properties: {name: {type: string}}}
  steps:
    - id: fetch
      action: fetch:template
      input: {url: ./skeleton, values: {name: '${{ parameters.name }}'}}
    - id: publish
      action: publish:git
      input: {repoUrl: '?owner=team-a&repo=${{ parameters.name }}'}
"""
    (workspace / "catalog/tpl/template.yaml").write_text(template.replace("NAME", "from-catalog"))
    (workspace / "catalog/tpl/skeleton/README.md").write_text("# ${{ values.name }}\n")
    (workspace / "templates/web/template.yaml").write_text(template.replace("NAME", "from-source"))
    (workspace / "templates/web/skeleton/index.html").write_text("<h1>${{ values.name }}</h1>\n")

    assert main(["--workspace", str(workspace), "template", "list"]) == 0
    listing = capsys.readouterr().out
    assert "from-catalog" in listing and "from-source" in listing and "microservice-golden-path" in listing

    for name, expected in (("from-catalog", "README.md"), ("from-source", "index.html")):
        code = main(["--workspace", str(workspace), "scaffold", name, "--set", f"name={name}-svc"])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        remote = workspace / f"git-server/team-a/{name}-svc.git"
        assert (remote / "HEAD").is_file(), out
        assert f"{name}-svc" in git_show(remote, f"main:{expected}")


@pytest.mark.parametrize(
    ("schema", "answers"),
    [
        ({"type": "string", "ui:field": "Secret"}, "token: canary-file-0042\n"),
        ({"type": "string", "ui:widget": "password"}, "token: canary-file-0042\n"),
        ({"type": "string", "ui:field": "Secret"}, "secrets:\n  token: canary-file-0042\n"),
    ],
)
def test_values_file_with_a_secret_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schema: dict[str, Any], answers: str
) -> None:
    write_template(
        tmp_path / "t",
        [{"id": "say", "action": "debug:log", "input": {"message": "hello"}}],
        parameters={"properties": {"token": schema}},
    )
    values = tmp_path / "values.yaml"
    values.write_text(answers)
    code = main(["scaffold", str(tmp_path / "t/template.yaml"), "--values", str(values)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "is a secret; remove it from the file and export IDP_CONSOLE_SECRET_" in err
    assert "canary-file-0042" not in out + err and "hello" not in out


@pytest.mark.parametrize("taken", ["payment-service", "team-payments"])
def test_a_name_the_catalog_already_has_is_refused(capsys: pytest.CaptureFixture[str], taken: str) -> None:
    args = ["--set", f"name={taken}", "--set", "owner=group:default/team-payments", "--set", "language=go"]
    code = main(["scaffold", "microservice-golden-path", *args, "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "already exists in the catalog: choose another name" in err
    assert "Running" not in out


def test_a_taken_name_is_refused_whatever_its_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_template(
        tmp_path / "t",
        [{"id": "say", "action": "debug:log", "input": {"message": "made ${{ parameters.name }}"}}],
        parameters={"properties": {"name": {"type": "string"}}},
    )
    code = main(["scaffold", str(tmp_path / "t/template.yaml"), "--set", "name=Payment-Service "])
    out, err = capsys.readouterr()
    assert code == 2
    assert "component:payment-service already exists in the catalog" in err
    assert "made" not in out
