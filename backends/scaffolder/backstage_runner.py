"""Templates run on a Backstage's scaffolder (``scaffolder.runOn: backstage``), seen as a local run.

The task is created with ``POST /api/scaffolder/v2/tasks`` (template ref, values, secrets — the
secrets travel in the request body as Backstage expects and never reach a log here) and followed
through ``GET /api/scaffolder/v2/tasks/ID/eventstream``. Each Backstage event becomes one of our
scaffolder events, so the wizard and ``idp-console scaffold`` show the same live step list and log as
for a local run:

    log {stepId, status: processing}          -> StepStarted
    log {stepId, status: completed|skipped|failed} -> StepFinished (done | skipped | failed)
    log {stepId?, message}                    -> StepLog (terminal colours stripped)
    completion {output}                       -> TaskFinished (status read back from the task)

Actions run on Backstage, with its integrations: a ``catalog:register`` step registers in that
Backstage, and the next poll of the ``type: backstage`` catalog source shows the new entity here.
A dry run uses Backstage's dry-run endpoint with the files beside the template and writes the files
it rendered into the run's directory, so a preview is byte for byte what Backstage would make.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Generator, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from backends.catalog.backstage import BackstageClient, BackstageError
from backends.scaffolder.errors import ScaffolderError
from backends.scaffolder.events import (
    StepFinished,
    StepInfo,
    StepLog,
    StepStarted,
    TaskEvent,
    TaskFinished,
    TaskStarted,
    TaskStatus,
)
from backends.scaffolder.template import Template

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LEVEL = re.compile(r"^(info|warn|warning|error|debug): ", re.IGNORECASE)
TASKS = "/api/scaffolder/v2/tasks"


def task_runner(workspace: Any, services: Any) -> Any:
    """The runner ``scaffolder.runOn`` asks for: local (``TaskRunner``) or that Backstage's scaffolder."""
    from backends.scaffolder.runner import TaskRunner

    if workspace is None or workspace.typed.scaffolder.run_on != "backstage":
        return TaskRunner(services=services)
    source = next((s for s in workspace.catalog_sources if s.type == "backstage"), None)
    if source is None:
        raise ScaffolderError(
            "scaffolder.runOn: backstage needs a catalog source of type: backstage (its url)"
        )
    from backends.secrets import default_secret_store

    return BackstageTaskRunner(source.url, default_secret_store().get(source.token_secret))


class BackstageTaskRunner:
    """Creates tasks that run on the Backstage at ``url`` (same interface as ``TaskRunner``)."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token

    def precheck(self, template: Template) -> list[str]:
        return []  # Backstage checks the template and its actions itself; its refusal is the run's error

    def create_task(
        self,
        template: Template,
        parameters: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        *,
        user: str | None = None,
        dry_run: bool = False,
        keep_dir: str | Path | None = None,
    ) -> BackstageTask:
        return BackstageTask(self, template, dict(parameters), dict(secrets or {}), dry_run, keep_dir)


class BackstageTask:
    """One run on Backstage: ``run()`` yields events as Backstage reports them; ``cancel()`` stops it."""

    def __init__(
        self,
        runner: BackstageTaskRunner,
        template: Template,
        parameters: dict[str, Any],
        secrets: dict[str, str],
        dry_run: bool,
        keep_dir: str | Path | None,
    ) -> None:
        self.runner = runner
        self.template = template
        self.parameters = parameters
        self.dry_run = dry_run
        self.keep_dir = Path(keep_dir) if keep_dir is not None else None
        self.id = ""
        self.status = "pending"
        self.step_status: dict[str, str] = {step.id: "pending" for step in template.steps}
        self.log: list[StepLog] = []
        self.failed_step: str | None = None
        self.retryable_steps: list[str] = []
        self._secrets = secrets
        self._client: BackstageClient | None = None
        self._cancel_requested = False
        self._started: dict[str, float] = {}

    # -- the interface the wizard and the CLI use ------------------------------------------------------
    def run(self) -> Iterator[TaskEvent]:
        started = time.monotonic()
        self.status = "processing"
        yield TaskStarted(
            task_id=self.id or "backstage",
            template=self.template.ref,
            steps=[StepInfo(s.id, s.name, s.action) for s in self.template.steps],
            dry_run=self.dry_run,
            workspace_path=str(self.keep_dir or ""),
        )
        for warning in rounded_numbers(self.parameters):
            line = StepLog(None, warning, "warning")
            self.log.append(line)
            yield line
        self._client = BackstageClient(self.runner.url, self.runner.token, timeout=60)
        try:
            if self.dry_run:
                finished = yield from self._dry_run()
            else:
                finished = yield from self._task()
        except BackstageError as error:
            finished = TaskFinished("failed", {}, None, str(error), self.failed_step, self.dry_run)
        finally:
            self._client.close()
        self.status = finished.status
        yield TaskFinished(
            finished.status,
            finished.outputs,
            finished.workspace_path,
            finished.error,
            self.failed_step,
            self.dry_run,
            time.monotonic() - started,
        )

    def cancel(self) -> None:
        """Ask Backstage to cancel the task (it stops after the running step)."""
        self._cancel_requested = True
        if self.id and self._client is not None:
            with contextlib.suppress(BackstageError):  # the run's own stream reports how it ended
                self._client.request("POST", f"{TASKS}/{self.id}/cancel")

    def can_retry_from(self, step_id: str) -> bool:
        return False  # Backstage's own retry is for recoverable tasks only; run again instead

    def retry_from(self, step_id: str) -> Iterator[TaskEvent]:
        raise ScaffolderError("a run on Backstage cannot be retried from a step: run the template again")

    # -- a real task -------------------------------------------------------------------------------------
    def _task(self) -> Generator[TaskEvent, None, TaskFinished]:
        assert self._client is not None
        body = {"templateRef": self.template.ref, "values": self.parameters, "secrets": self._secrets}
        created = self._client.json("POST", TASKS, json=body)
        self.id = str(created.get("id") or "") if isinstance(created, dict) else ""
        if not self.id:
            raise BackstageError(f"Backstage at {self.runner.url} created no task (answer: {created!r:.200})")
        outputs: dict[str, Any] = {}
        for event in self._events():
            payload: dict[str, Any] = event.get("body") or {}
            if event.get("type") == "completion":
                outputs = payload.get("output") or {}
                break
            yield from self._step_event(payload)
        status, error = self._final_status()
        return TaskFinished(status, outputs, None, error, self.failed_step, False)

    def _events(self) -> Iterator[dict[str, Any]]:
        """The task's events from its server-sent event stream (``data:`` lines of JSON)."""
        assert self._client is not None
        http = self._client._http
        try:
            with http.stream("GET", f"{TASKS}/{self.id}/eventstream", timeout=None) as response:
                if response.status_code >= 400:
                    code = response.status_code
                    raise BackstageError(
                        f"Backstage at {self.runner.url}: task {self.id}'s events: HTTP {code}"
                    )
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        try:
                            event = json.loads("\n".join(data))
                        except ValueError:
                            event = None
                        data = []
                        if isinstance(event, dict):
                            yield event
                            if event.get("type") == "completion":
                                return
        except BackstageError:
            raise
        except Exception as error:  # noqa: BLE001 - httpx/network errors: one line, not a traceback
            raise BackstageError(
                f"Backstage at {self.runner.url}: lost the task's event stream: {error}"
            ) from error

    def _final_status(self) -> tuple[TaskStatus, str | None]:
        assert self._client is not None
        task = self._client.json("GET", f"{TASKS}/{self.id}")
        said = str(task.get("status") or "") if isinstance(task, dict) else ""
        status: TaskStatus = (
            "completed" if said == "completed" else "cancelled" if said == "cancelled" else "failed"
        )
        if status == "completed":
            return status, None
        failing = next((line.message for line in reversed(self.log) if line.level == "error"), None)
        where = f" at step {self.failed_step}" if self.failed_step else ""
        return status, failing or f"the task {status}{where} on Backstage"

    def _step_event(self, body: dict[str, Any]) -> Iterator[TaskEvent]:
        step_id = body.get("stepId")
        status = body.get("status")
        message = _ANSI.sub("", str(body.get("message") or ""))
        step = next((s for s in self.template.steps if s.id == step_id), None)
        if step is not None and status == "processing":
            self.step_status[step.id] = "running"
            self._started[step.id] = time.monotonic()
            yield StepStarted(step.id, step.name, step.action, self.template.steps.index(step))
            return
        if step is not None and status in ("completed", "skipped", "failed", "cancelled"):
            result = {"completed": "done", "skipped": "skipped"}.get(status, "failed")
            self.step_status[step.id] = result
            duration = time.monotonic() - self._started.get(step.id, time.monotonic())
            error = None
            if result == "failed":
                self.failed_step = step.id
                error = next(
                    (line.message for line in reversed(self.log) if line.step_id == step.id), message
                )
            yield StepFinished(step.id, result, duration, error)  # type: ignore[arg-type]
            return
        level = "info"
        matched = _LEVEL.match(message)
        if matched:
            word = matched.group(1).lower()
            level = "error" if word == "error" else "warning" if word.startswith("warn") else "info"
            message = message[matched.end() :]
        line = StepLog(step_id if step is not None else None, message, level)  # type: ignore[arg-type]
        self.log.append(line)
        yield line

    # -- a dry run -----------------------------------------------------------------------------------------
    def _dry_run(self) -> Generator[TaskEvent, None, TaskFinished]:
        assert self._client is not None
        base = Path(self.template.base_dir)
        if not base.is_dir():
            raise BackstageError(
                f"a dry run on Backstage sends the template's files, and {base} is not a directory here"
            )
        body = {
            "template": self.template.raw,
            "values": self.parameters,
            "secrets": self._secrets,
            "directoryContents": _directory_contents(base),
        }
        answer = self._client.json("POST", "/api/scaffolder/v2/dry-run", json=body)
        if not isinstance(answer, dict):
            raise BackstageError(f"Backstage at {self.runner.url}: the dry run answered {answer!r:.200}")
        for entry in answer.get("log") or ():
            yield from self._step_event((entry or {}).get("body") or {})
        target = self.keep_dir or Path(tempfile.mkdtemp(prefix="idp-backstage-dry-run-"))
        for item in answer.get("directoryContents") or ():
            _write_file(target, item)
        failed = self.failed_step is not None
        error = f"step {self.failed_step} failed on Backstage" if failed else None
        return TaskFinished(
            "failed" if failed else "completed", answer.get("output") or {}, str(target), error
        )


JS_SAFE_INTEGER = 2**53  # beyond it a JavaScript number cannot hold every integer


def rounded_numbers(values: Any, path: str = "") -> Iterator[str]:
    """A warning per integer answer Backstage will round (it reads JSON numbers as doubles).

    Here such a value keeps its digits (see tests/scaffolder/fidelity DEVIATIONS); on Backstage an
    18-digit ID would silently become another number, so the run says so before it starts.
    """
    if isinstance(values, dict):
        for key, value in values.items():
            yield from rounded_numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(values, list):
        for number, value in enumerate(values):
            yield from rounded_numbers(value, f"{path}[{number}]")
    elif isinstance(values, int) and not isinstance(values, bool) and abs(values) > JS_SAFE_INTEGER:
        shown = format(Decimal(repr(float(values))), "f")  # as JavaScript prints the double
        yield (
            f"{path} = {values} is beyond 2**53: Backstage reads it as {shown} "
            "(pass it as a string to keep every digit)"
        )


def _directory_contents(base: Path) -> list[dict[str, Any]]:
    """Every file beside the template, as the dry-run endpoint takes them (path + base64)."""
    files = []
    for folder, _, names in os.walk(base):
        for name in sorted(names):
            path = Path(folder) / name
            files.append(
                {
                    "path": path.relative_to(base).as_posix(),
                    "base64Content": base64.b64encode(path.read_bytes()).decode(),
                    "executable": os.access(path, os.X_OK),
                }
            )
    return files


def _write_file(target: Path, item: dict[str, Any]) -> None:
    relative = Path(str(item.get("path") or ""))
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackstageError(f"the dry run returned a file outside its directory: {relative}")
    path = target / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(str(item.get("base64Content") or "")))
    if item.get("executable"):
        path.chmod(0o755)
