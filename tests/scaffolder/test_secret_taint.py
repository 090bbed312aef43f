"""Secrets never reach anything a user sees, whatever a template does to them (taint, not matching).

Each case renders a secret through a filter or string method into a ``debug:log`` message and into
the input of an action that logs it, outputs it and fails quoting it; the real value must reach the
action, and no spelling of it may reach the events, the dry-run display or the CLI's output.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from backends.scaffolder import Action, ActionContext, TaskRunner, default_registry, event_to_dict
from backends.scaffolder.errors import ActionFailed
from backends.scaffolder.expressions import TemplateEngine
from backends.scaffolder.form import FormModel
from console.cli import main
from tests.scaffolder.helpers import finished, step_status, write_template

SECRET = "Canary-Tok3n-9f2b7c"
WITHHELD = "[secret withheld]"
SECRET_FIELD = {"type": "string", "ui:field": "Secret"}
PASSWORD_FIELD = {"type": "string", "ui:widget": "password"}

# Every filter and string method issue 8 names, and more; each reads ``secrets.token``.
# (Jinja2-only spellings such as ``| format``, ``| tojson`` or ``secrets.items()`` are not template
# features any more: Backstage's Nunjucks has none of them.)
TRANSFORMS = [
    "secrets.token",
    "secrets.token | reverse",
    "secrets.token | list | join(' ')",
    "secrets.token.replace('-', '_')",
    "secrets.token.substring(1)",
    "secrets.token.slice(0, 12)",
    "secrets.token | title",
    "secrets.token | upper",
    "secrets.token.toUpperCase()",
    "secrets.token[2:]",
    "secrets.token[::-1]",
    "'x' ~ secrets.token ~ 'y'",
    "'{}-{}'.format(secrets.token, 1)",
    "secrets.token | replace('a', 'A')",
    "secrets.token | truncate(12, true, '')",
    "secrets.token | urlencode",
    "secrets.token | center(30)",
    "secrets.token.split('-') | join('+')",
    "secrets['token'] | reverse",
    "secrets | dump",
    "secrets.token | first",
    "secrets.token | length",
]


def spellings(value: str) -> set[str]:
    """Recognisable forms of ``value`` a reader could undo."""
    forms = {
        value,
        value[::-1],
        value.upper(),
        value.lower(),
        value.title(),
        " ".join(value),
        value.replace("-", "_"),
        value[1:],
        value[2:],
        value[:12],
        base64.b64encode(value.encode()).decode(),
        "+".join(value.split("-")),
    }
    return {form for form in forms if len(form) >= 6}


def assert_nothing_leaks(text: str, *rendered: Any) -> None:
    for form in spellings(SECRET):
        assert form not in text, f"{form!r} leaked"
    for value in rendered:
        value = value if isinstance(value, str) else json.dumps(value)
        if len(value) >= 4:
            assert value not in text, f"rendered value {value!r} leaked"


class Capture(Action):
    """Gets the real value, then logs it, outputs it and fails quoting it (if asked)."""

    id = "test:capture"
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"value": {}, "fail": {"type": "boolean"}},
    }
    received: ClassVar[list[Any]] = []

    def run(self, ctx: ActionContext) -> None:
        value = ctx.input.get("value")
        Capture.received.append(value)
        ctx.log(f"working with {value}")
        ctx.output("echo", value)
        ctx.output("note", "not secret")
        if ctx.input.get("fail"):
            raise ActionFailed(f"cannot use {value}")


def runner() -> TaskRunner:
    registry = default_registry()
    registry.register(Capture())
    return TaskRunner(registry)


def events_text(events: list[Any]) -> str:
    return json.dumps([event_to_dict(e) for e in events], default=str, ensure_ascii=False)


def expected(expression: str) -> Any:
    return TemplateEngine().render_value(f"${{{{ {expression} }}}}", {"secrets": {"token": SECRET}})


@pytest.mark.parametrize("expression", TRANSFORMS)
def test_every_transformation_of_a_secret_is_withheld(tmp_path: Path, expression: str) -> None:
    Capture.received = []
    template = write_template(
        tmp_path / "t",
        [
            {"id": "say", "action": "debug:log", "input": {"message": f"value: ${{{{ {expression} }}}}"}},
            {"id": "use", "action": "test:capture", "input": {"value": f"${{{{ {expression} }}}}"}},
            {
                "id": "nested",
                "action": "test:capture",
                "input": {"value": {"a": [f"${{{{ {expression} }}}}"]}},
            },
            {
                "id": "later",
                "action": "debug:log",
                "input": {"message": "${{ steps.use.output.echo }} again"},
            },
            {
                "id": "fail",
                "action": "test:capture",
                "input": {"value": f"${{{{ {expression} }}}}", "fail": True},
            },
        ],
        parameters={"properties": {"token": SECRET_FIELD}},
        output={"text": [{"title": "echo", "content": "${{ steps.use.output.echo }}"}]},
    )
    real = expected(expression)
    events = list(runner().run(template, {}, {"token": SECRET}))
    text = events_text(events)
    assert Capture.received[0] == real  # the action gets the real value
    assert Capture.received[1] == {"a": [real]}
    assert_nothing_leaks(text, real)
    assert step_status(events) == {
        "say": "done",
        "use": "done",
        "nested": "done",
        "later": "done",
        "fail": "failed",
    }
    logs = [e.message for e in events if type(e).__name__ == "StepLog" and e.step_id == "say"]
    assert logs == [WITHHELD]
    by_step = {e.step_id: e for e in events if type(e).__name__ == "StepFinished"}
    assert by_step["use"].output == {"echo": WITHHELD, "note": "not secret"}
    assert by_step["nested"].output["echo"] == WITHHELD
    assert WITHHELD in (by_step["fail"].error or "")


@pytest.mark.parametrize("expression", TRANSFORMS[:8])
def test_dry_run_shows_inputs_with_the_secret_withheld(tmp_path: Path, expression: str) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "say",
                "action": "debug:log",
                "input": {"message": f"${{{{ {expression} }}}}", "listWorkspace": False},
            }
        ],
        parameters={"properties": {"token": SECRET_FIELD}},
    )
    events = list(runner().run(template, {}, {"token": SECRET}, dry_run=True))
    text = events_text(events)
    assert_nothing_leaks(text, expected(expression))
    shown = [e.message for e in events if type(e).__name__ == "StepLog" and "dry-run mode" in e.message]
    assert shown and '"message": "[secret withheld]"' in shown[0] and '"listWorkspace": false' in shown[0]


def test_password_parameters_are_secrets_too(tmp_path: Path) -> None:
    Capture.received = []
    template = write_template(
        tmp_path / "t",
        [
            {"id": "say", "action": "debug:log", "input": {"message": "${{ parameters.pw | reverse }}"}},
            {"id": "use", "action": "test:capture", "input": {"value": "${{ parameters.pw.substring(2) }}"}},
            {"id": "name", "action": "debug:log", "input": {"message": "name is ${{ parameters.name }}"}},
            {
                "id": "check",
                "action": "debug:log",
                "if": "${{ parameters.pw.replace('-', '.') | parseEntityRef }}",
                "input": {"message": "never"},
            },
        ],
        parameters={"properties": {"pw": PASSWORD_FIELD, "name": {"type": "string"}}},
    )
    events = list(runner().run(template, {"pw": SECRET, "name": "svc"}))
    text = events_text(events)
    assert Capture.received == [SECRET[2:]]
    assert_nothing_leaks(text)
    assert "name is svc" in text  # ordinary parameters still print
    assert step_status(events)["check"] == "failed"  # parseEntityRef's error quotes its input
    assert SECRET.replace("-", ".", 1) not in text
    form = FormModel(template, answers={"pw": SECRET})
    assert form.is_secret("pw") and not form.is_secret("name")
    assert [item.display for item in form.review() if item.name == "pw"] == ["••••••"]


def test_each_over_a_secret_and_a_rendering_error_quoting_it(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "loop",
                "action": "debug:log",
                "each": "${{ secrets.token.split('-') }}",
                "if": "${{ each.value != 'Tok3n' }}",
                "input": {"message": "part ${{ each.value | reverse }}"},
            },
            {
                "id": "bad",
                "action": "debug:log",
                "input": {"message": "${{ secrets.token | reverse | parseEntityRef }}"},
            },
        ],
        parameters={"properties": {"token": SECRET_FIELD}},
    )
    events = list(runner().run(template, {}, {"token": SECRET}))
    text = events_text(events)
    for part in SECRET.split("-"):
        assert part not in text and part[::-1] not in text
    assert_nothing_leaks(text)
    assert step_status(events) == {"loop": "done", "bad": "failed"}
    assert WITHHELD in (finished(events).error or "")


def test_cli_refuses_secrets_on_the_command_line_and_withholds_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_template(
        tmp_path / "t",
        [
            {"id": "say", "action": "debug:log", "input": {"message": "pw ${{ parameters.pw | reverse }}"}},
            {
                "id": "tok",
                "action": "debug:log",
                "input": {"message": "${{ secrets.token.replace('-', '') }}"},
            },
        ],
        parameters={"properties": {"pw": PASSWORD_FIELD, "token": SECRET_FIELD}},
        output={"text": [{"title": "pw", "content": "${{ parameters.pw | title }}"}]},
    )
    path = str(tmp_path / "t/template.yaml")
    for option in ("pw=x", "secrets.token=x"):
        assert main(["scaffold", path, "--set", option]) == 2
        err = capsys.readouterr().err
        name = option.split("=")[0].removeprefix("secrets.")
        assert f"{name} is a secret; export IDP_CONSOLE_SECRET_{name.upper()}" in err
        assert "asked for it without echo" in err
    monkeypatch.setenv("IDP_CONSOLE_SECRET_PW", SECRET)
    monkeypatch.setenv("IDP_CONSOLE_SECRET_TOKEN", SECRET.swapcase())
    for output in ("text", "json"):
        code = main(["scaffold", path, "--output", output])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert_nothing_leaks(out + err)
        for form in spellings(SECRET.swapcase()):
            assert form not in out + err
        assert WITHHELD in out


@pytest.mark.parametrize("expression", ["secrets", "[secrets]", "{'all': secrets}"])
def test_handing_the_whole_secrets_object_on_taints_it(tmp_path: Path, expression: str) -> None:
    Capture.received = []
    template = write_template(
        tmp_path / "t",
        [{"id": "use", "action": "test:capture", "input": {"value": f"${{{{ {expression} }}}}"}}],
        parameters={"properties": {"token": SECRET_FIELD}},
    )
    events = list(runner().run(template, {}, {"token": SECRET}, dry_run=True))
    assert Capture.received == [expected(expression)]  # a plain dict inside, as the action expects
    shown = [e.message for e in events if type(e).__name__ == "StepLog" and "dry-run mode" in e.message]
    assert shown == [
        'Running test:capture in dry-run mode with inputs (secrets redacted): {"value": "[secret withheld]"}'
    ]


SKELETON_TRANSFORMS = [
    "values.token",
    "values.token | reverse",
    "values.token | list | join('_')",
    "values.token.replace('-', '_')",
    "values.token | title",
    "values.token.substring(3)",
    "values.token[::-1]",
    "values.token | length",
]


@pytest.mark.parametrize("expression", SKELETON_TRANSFORMS)
def test_a_skeleton_that_transforms_a_secret_never_shows_it(tmp_path: Path, expression: str) -> None:
    """fetch:template renders names and contents itself: its renderings are tainted like step inputs."""
    fetch = {
        "action": "fetch:template",
        "input": {
            "url": "./skeleton",
            "targetPath": "out",
            "values": {"token": "${{ secrets.token }}", "name": "demo"},
        },
    }
    template = write_template(
        tmp_path / "t",
        [
            {"id": "fetch", **fetch},
            {"id": "again", **fetch},  # every file exists now: "Skipping NAME" for each
            {"id": "list", "action": "debug:log", "input": {"listWorkspace": "with-contents"}},
            {"id": "read", "action": "fs:readdir", "input": {"paths": ["out"], "recursive": True}},
        ],
        parameters={"properties": {"token": SECRET_FIELD}},
        files={
            f"skeleton/${{{{ {expression} }}}}.txt": "plain words",
            "skeleton/notes.md": f"key: ${{{{ {expression} }}}}\n",
            "skeleton/${{ values.name }}.txt": "hello ${{ values.name }}",
        },
    )
    real = str(TemplateEngine().render_value(f"${{{{ {expression} }}}}", {"values": {"token": SECRET}}))
    keep = tmp_path / "kept"
    events = list(runner().run(template, {}, {"token": SECRET}, keep_dir=keep))
    text = events_text(events)
    assert step_status(events) == {"fetch": "done", "again": "done", "list": "done", "read": "done"}
    # The files carry the real text; nothing the user sees does.
    assert (keep / "out" / f"{real}.txt").read_text() == "plain words"
    assert (keep / "out/notes.md").read_text() == f"key: {real}\n"
    assert_nothing_leaks(text, real, f"{real}.txt")
    logs = [e.message for e in events if type(e).__name__ == "StepLog"]
    listing = [e.message for e in events if type(e).__name__ == "StepLog" and e.step_id == "list"]
    pairs = set(zip(listing[::2], listing[1::2], strict=True))  # (name line, contents line) per file
    assert pairs == {
        ("  out/demo.txt", "hello demo"),
        (f"  {WITHHELD}", "plain words"),
        ("  out/notes.md", WITHHELD),
    }
    assert f"Skipping {WITHHELD}: it exists (set replace: true to overwrite)" in logs
    assert "Skipping out/demo.txt: it exists (set replace: true to overwrite)" in logs
