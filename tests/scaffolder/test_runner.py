"""TaskRunner semantics: events, if/each/always()/failure(), outputs, dry-run, retry, redaction."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from backends.scaffolder import Services, TaskRunner, event_to_dict
from backends.scaffolder.actions import Action, ActionContext, ActionRegistry, default_registry
from backends.scaffolder.errors import ActionFailed, ScaffolderError
from backends.scaffolder.events import StepFinished, StepLog, StepStarted, TaskFinished, TaskStarted
from tests.scaffolder.helpers import FakeCatalog, finished, log_text, run, step_status, write_template

CANARY = "canary-7f3a9b1e-SECRET"


def test_event_sequence_and_default_step_ids(tmp_path: Path) -> None:
    template = write_template(tmp_path / "t", [{"action": "debug:log", "input": {"message": "hi"}}])
    events = run(template)
    assert [type(e) for e in events] == [
        TaskStarted,
        StepStarted,
        StepLog,
        StepFinished,
        StepLog,
        TaskFinished,
    ]
    started = events[0]
    assert started.steps[0].id == "step-1" and started.steps[0].name == "debug:log"
    assert isinstance(events[3].duration, float)
    assert finished(events).status == "completed"
    assert finished(events).workspace_path is None  # a real run cleans its temp workspace up
    assert json.loads(json.dumps(event_to_dict(events[3])))["type"] == "step-finished"


def test_if_conditions(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {"id": "yes", "action": "debug:log", "if": "${{ parameters.on }}", "input": {"message": "a"}},
            {
                "id": "no",
                "action": "debug:log",
                "if": "${{ parameters.on === false }}",
                "input": {"message": "b"},
            },
            {"id": "literal", "action": "debug:log", "if": False, "input": {"message": "c"}},
            {"id": "empty-list", "action": "debug:log", "if": "${{ [] }}", "input": {"message": "d"}},
        ],
    )
    events = run(template, {"on": True})
    assert step_status(events) == {
        "yes": "done",
        "no": "skipped",
        "literal": "skipped",
        "empty-list": "skipped",
    }
    assert "because its if condition is false" in log_text(events)


def test_failure_skips_later_steps_unless_always_or_failure(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {"id": "ok", "action": "debug:log", "input": {"message": "1"}},
            {"id": "boom", "action": "fs:rename", "input": {"files": [{"from": "missing", "to": "x"}]}},
            {"id": "after", "action": "debug:log", "input": {"message": "never"}},
            {
                "id": "cleanup",
                "action": "debug:log",
                "if": "${{ always() }}",
                "input": {"message": "always ran"},
            },
            {
                "id": "on-fail",
                "action": "debug:log",
                "if": "${{ failure() }}",
                "input": {"message": "failure ran"},
            },
        ],
    )
    events = run(template)
    assert step_status(events) == {
        "ok": "done",
        "boom": "failed",
        "after": "skipped",
        "cleanup": "done",
        "on-fail": "done",
    }
    text = log_text(events)
    assert "Skipping step after because a previous step failed" in text
    assert "always ran" in text and "failure ran" in text and "never" not in text
    result = finished(events)
    assert (result.status, result.failed_step) == ("failed", "boom")
    assert result.outputs == {}
    assert result.workspace_path and Path(result.workspace_path).is_dir()  # kept for inspection


def test_failure_function_is_false_without_failure(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [{"id": "f", "action": "debug:log", "if": "${{ failure() }}", "input": {"message": "x"}}],
    )
    assert step_status(run(template)) == {"f": "skipped"}


def test_each_over_list_and_object_makes_output_arrays(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "files",
                "action": "fetch:template:file",
                "each": "${{ parameters.names }}",
                "if": "${{ each.value !== 'skip-me' }}",
                "input": {
                    "url": "./f.txt",
                    "targetPath": "${{ each.value }}.txt",
                    "values": {"n": "${{ each.key }}"},
                },
            },
            {
                "id": "dirs",
                "action": "fs:readdir",
                "each": {"first": ".", "second": "."},
                "input": {"paths": ["${{ each.value }}"]},
            },
            {
                "id": "count",
                "action": "debug:log",
                "input": {"message": "count=${{ steps.dirs.output.files | length }}"},
            },
        ],
        files={"f.txt": "item ${{ values.n }}"},
    )
    events = run(template, {"names": ["a", "skip-me", "b"]}, keep_dir=tmp_path / "out")
    assert step_status(events)["files"] == "done"
    assert (tmp_path / "out/a.txt").read_text() == "item 0"
    assert (tmp_path / "out/b.txt").read_text() == "item 2"
    assert not (tmp_path / "out/skip-me.txt").exists()
    outputs = {e.step_id: e.output for e in events if isinstance(e, StepFinished)}
    assert len(outputs["dirs"]["files"]) == 2  # one entry per item
    assert "count=2" in log_text(events)


def test_each_must_be_array_or_object(tmp_path: Path) -> None:
    template = write_template(tmp_path / "t", [{"action": "debug:log", "each": "${{ 'text' }}"}])
    assert "each must render to an array or an object" in finished(run(template)).error


def test_outputs_links_text_and_if(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [{"id": "s", "action": "debug:log", "input": {"message": "x"}}],
        output={
            "links": [
                {"title": "Repo", "url": "https://git/${{ parameters.name }}"},
                {"title": "Hidden", "url": "https://nope", "if": "${{ parameters.name === 'other' }}"},
                {"title": "Entity", "entityRef": "component:default/${{ parameters.name }}"},
            ],
            "text": [{"title": "Done", "content": "**${{ parameters.name }}** ready"}],
            "remoteUrl": "${{ parameters.name }}.git",
        },
    )
    outputs = finished(run(template, {"name": "svc"})).outputs
    assert outputs == {
        "links": [
            {"title": "Repo", "url": "https://git/svc"},
            {"title": "Entity", "entityRef": "component:default/svc"},
        ],
        "text": [{"title": "Done", "content": "**svc** ready"}],
        "remoteUrl": "svc.git",
    }


def test_user_context(tmp_path: Path, catalog: FakeCatalog) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "action": "debug:log",
                "input": {"message": "${{ user.ref }} in ${{ user.entity.spec.memberOf[0] }}"},
            }
        ],
    )
    events = list(TaskRunner(services=Services(catalog=catalog)).run(template, {}, user="jane"))
    assert "user:default/jane in team-a" in log_text(events)


def test_dry_run_keeps_workspace_and_log_and_skips_side_effects(tmp_path: Path, catalog: FakeCatalog) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {"id": "fetch", "action": "fetch:template", "input": {"url": "./s", "values": {"n": "x"}}},
            {"id": "publish", "action": "publish:git", "input": {"repoUrl": str(tmp_path / "never.git")}},
            {
                "id": "register",
                "action": "catalog:register",
                "input": {"catalogInfoUrl": "catalog-info.yaml"},
            },
            {"id": "wait", "action": "debug:wait", "input": {"seconds": 30}},
            {"id": "broken", "action": "fs:rename", "input": {"files": [{"from": "nope", "to": "x"}]}},
        ],
        files={"s/catalog-info.yaml": "kind: Component\nmetadata: {name: ${{ values.n }}}\n"},
        output={"links": [{"title": "Repo", "url": "${{ steps.publish.output.remoteUrl }}"}]},
    )
    events = run(template, services=Services(catalog=catalog, register=catalog.register), dry_run=True)
    statuses = step_status(events)
    assert statuses == {
        "fetch": "done",
        "publish": "skipped",
        "register": "skipped",
        "wait": "skipped",
        "broken": "failed",
    }
    text = log_text(events)
    assert "Skipping because publish:git does not support dry-run" in text
    assert "Running fetch:template in dry-run mode with inputs (secrets redacted)" in text
    assert not (tmp_path / "never.git").exists()
    assert catalog.registered == []
    result = finished(events)
    assert result.dry_run and result.status == "failed"
    workspace = Path(result.workspace_path or "")
    assert (workspace / "catalog-info.yaml").read_text() == "kind: Component\nmetadata: {name: x}\n"
    assert "fs:rename: 'nope' does not exist" in text  # the full log survives a failure


def test_dry_run_fakes_outputs_of_skipped_actions(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [{"id": "publish", "action": "publish:git", "input": {"repoUrl": "/tmp/x.git"}}],
        output={"links": [{"title": "Repo", "url": "${{ steps.publish.output.remoteUrl }}"}]},
    )
    result = finished(run(template, dry_run=True))
    assert result.status == "completed"
    assert result.outputs["links"] == [{"title": "Repo", "url": "<example>"}]
    assert result.workspace_path and Path(result.workspace_path).is_dir()


def test_keep_dir_must_be_empty(tmp_path: Path) -> None:
    from backends.scaffolder.errors import PrecheckError

    (tmp_path / "busy").mkdir()
    (tmp_path / "busy/file").write_text("x")
    template = write_template(tmp_path / "t", [{"action": "debug:log"}])
    with pytest.raises(PrecheckError, match="not empty"):
        TaskRunner().create_task(template, {}, keep_dir=tmp_path / "busy")


class Flaky(Action):
    """Fails until ``fixed`` is set; records its runs."""

    id = "test:flaky"
    schema = {"type": "object", "additionalProperties": False, "properties": {}}
    fixed = False
    runs = 0

    def run(self, ctx: ActionContext) -> None:
        type(self).runs += 1
        if not type(self).fixed:
            raise ActionFailed("not yet")
        ctx.output("ok", True)


class NotIdempotent(Flaky):
    id = "test:once"
    idempotent = False


def test_retry_from_failed_idempotent_step(tmp_path: Path) -> None:
    registry = default_registry()
    registry.register(Flaky())
    registry.register(NotIdempotent())
    template = write_template(
        tmp_path / "t",
        [
            {"id": "write", "action": "fetch:plain:file", "input": {"url": "./a.txt", "targetPath": "a.txt"}},
            {"id": "flaky", "action": "test:flaky"},
            {
                "id": "after",
                "action": "debug:log",
                "input": {"message": "flaky said ${{ steps.flaky.output.ok }}"},
            },
        ],
        files={"a.txt": "a"},
    )
    Flaky.fixed, Flaky.runs = False, 0
    task = TaskRunner(registry).create_task(template, {})
    first = list(task.run())
    assert finished(first).failed_step == "flaky"
    assert task.retryable_steps == ["write", "flaky"]
    assert not task.can_retry_from("after")
    Flaky.fixed = True
    second = list(task.retry_from("flaky"))
    assert step_status(second) == {"flaky": "done", "after": "done"}
    assert "flaky said true" in log_text(second)
    assert finished(second).status == "completed"
    assert task.step_status == {"write": "done", "flaky": "done", "after": "done"}

    once = write_template(tmp_path / "once", [{"id": "once", "action": "test:once"}])
    NotIdempotent.fixed = False
    task = TaskRunner(registry).create_task(once, {})
    list(task.run())
    assert task.retryable_steps == []
    with pytest.raises(ScaffolderError):
        list(task.retry_from("once"))


class Leaky(Action):
    """Logs, outputs and fails with whatever secret it can find — the redactor must catch it all."""

    id = "test:leaky"
    schema = {"type": "object", "additionalProperties": False, "properties": {"value": {"type": "string"}}}

    def run(self, ctx: ActionContext) -> None:
        ctx.log(f"input value is {ctx.input['value']}")
        ctx.log(f"secret map: {dict(ctx.secrets)}")
        token = "token-from-store-" + CANARY[-6:]
        ctx.add_secret(token)
        ctx.log(f"token {token}")
        ctx.output("echo", ctx.input["value"])
        raise ActionFailed(f"failed while holding {ctx.input['value']}")


def test_secrets_never_reach_events(tmp_path: Path) -> None:
    registry = default_registry()
    registry.register(Leaky())
    template = write_template(
        tmp_path / "t",
        [
            {"id": "log", "action": "debug:log", "input": {"message": "the secret is ${{ secrets.token }}"}},
            {"id": "leak", "action": "test:leaky", "input": {"value": "${{ secrets.token }}"}},
            {
                "id": "cleanup",
                "action": "debug:log",
                "if": "${{ always() }}",
                "input": {"message": "param ${{ parameters.name }} / output ${{ secrets.token | upper }}"},
            },
        ],
        parameters={
            "properties": {"name": {"type": "string"}, "token": {"type": "string", "ui:field": "Secret"}}
        },
    )
    for dry_run in (False, True):
        task = TaskRunner(registry).create_task(template, {"name": "svc"}, {"token": CANARY}, dry_run=dry_run)
        events = list(task.run())
        dumped = json.dumps([event_to_dict(e) for e in events], default=str)
        assert CANARY not in dumped
        assert CANARY[-6:] not in dumped.replace("[secret withheld]", "")  # nor the store token
        assert "[secret withheld]" in dumped
        assert all(CANARY not in repr(dataclasses.asdict(e)) for e in events)
        assert CANARY not in repr(task.log)
        assert CANARY not in json.dumps(task.parameters)
    # Secrets are only available to step input, not to spec.output or conditions' logs.
    assert "secrets" not in TaskRunner(registry).create_task(template, {}, {})._context(with_secrets=False)


def test_custom_action_registry(tmp_path: Path) -> None:
    class Hello(Action):
        id = "acme:hello"
        schema = {"type": "object", "additionalProperties": False, "properties": {"who": {"type": "string"}}}

        def run(self, ctx: ActionContext) -> None:
            ctx.log(f"hello {ctx.input['who']}")
            ctx.output("greeted", ctx.input["who"])

    registry = ActionRegistry([Hello()])
    template = write_template(tmp_path / "t", [{"id": "h", "action": "acme:hello", "input": {"who": "you"}}])
    events: list[Any] = list(TaskRunner(registry).run(template, {}))
    assert "hello you" in log_text(events)
    assert [e.output for e in events if isinstance(e, StepFinished)] == [{"greeted": "you"}]
