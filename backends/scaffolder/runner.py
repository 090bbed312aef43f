"""Running a template: precheck, then steps in order, as a stream of typed events.

Semantics follow Backstage's workflow runner: ``if`` (bool or expression) skips a step; after a
failure later steps are skipped unless their ``if`` calls ``always()`` or ``failure()``; ``each``
runs the action once per item (``each.key`` / ``each.value``) and turns outputs into arrays;
``spec.output`` is rendered only after success. Unlike Backstage, a failed run keeps its log and
workspace, and a failed idempotent step can be retried in place.

Secrets never reach an event. Values marked secret (``secrets.*``, parameters of ``ui:field:
Secret`` / ``ui:widget: password`` fields) are read by the renderer through a tracking mapping
(``taint.py``): any step input, output or ``spec.output`` value whose rendering *read* one is
tainted — the action gets the real value, every event shows ``[secret withheld]``. Tainted values,
the secrets themselves and any token an action reads are also replaced wherever they appear in
log lines, outputs and error messages.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.scaffolder.actions import ActionRegistry, Services, StepSkipped, default_registry
from backends.scaffolder.actions.base import ActionContext
from backends.scaffolder.errors import ExpressionError, InputError, PrecheckError, ScaffolderError
from backends.scaffolder.events import (
    StepFinished,
    StepInfo,
    StepLog,
    StepStarted,
    TaskEvent,
    TaskFinished,
    TaskStarted,
)
from backends.scaffolder.expressions import UNDEFINED, TemplateEngine, is_truthy
from backends.scaffolder.files import Limits, TaskFiles
from backends.scaffolder.lint import precheck
from backends.scaffolder.taint import WITHHELD, TaintTracker, TrackedMapping, leaves, plain
from backends.scaffolder.template import StepSpec, Template

REDACTED = WITHHELD
# A tainted rendered value shorter than this is not searched for in free text (a length, a first
# letter would blank out every line); it is still withheld wherever it is shown as a value.
MIN_TAINT_MATCH = 4
_DONE = object()
_STATUS_FUNCTIONS = re.compile(r"\b(always|failure)\s*\(\s*\)")


class Redactor:
    """Replaces every known secret value in text (longest first, so overlapping values stay hidden)."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values: set[str] = set()
        for value in (values or {}).values():
            self.add(value)

    def add(self, value: Any) -> None:
        """Hide ``value`` and the spellings a template filter or JSON dump commonly gives it."""
        if isinstance(value, str) and value:
            escaped = json.dumps(value)[1:-1]
            self._values.update({value, value.upper(), value.lower(), escaped, repr(value)[1:-1]})

    def add_tainted(self, value: Any) -> None:
        """Hide a value computed from a secret, unless it is too short to search for safely."""
        if isinstance(value, str) and len(value) >= MIN_TAINT_MATCH:
            self.add(value)

    def hides(self, text: str) -> bool:
        """Whether ``text`` contains anything this redactor hides."""
        return any(value in text for value in self._values)

    def text(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text

    def value(self, value: Any) -> Any:
        """Redact strings anywhere inside a JSON-like value."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


class TaskRunner:
    """Creates and runs template tasks with one action registry and one set of services."""

    def __init__(
        self,
        registry: ActionRegistry | None = None,
        services: Services | None = None,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.registry = registry or default_registry()
        self.services = services or Services()
        self.limits = limits or Limits()

    def precheck(self, template: Template) -> list[str]:
        """Every problem that would stop the template from running, each naming its step."""
        return precheck(template, self.registry, self.services)

    def create_task(
        self,
        template: Template,
        parameters: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        *,
        user: str | None = None,
        dry_run: bool = False,
        keep_dir: str | Path | None = None,
    ) -> TemplateTask:
        """A task ready to ``run()``; raises PrecheckError before anything is written."""
        problems = self.precheck(template)
        if keep_dir is not None:
            keep = Path(keep_dir)
            if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
                problems.append(f"--keep directory {keep} exists and is not empty")
        if problems:
            raise PrecheckError(problems)
        return TemplateTask(self, template, dict(parameters), dict(secrets or {}), user, dry_run, keep_dir)

    def run(
        self,
        template: Template,
        parameters: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Iterator[TaskEvent]:
        """Convenience: ``create_task(...).run()``."""
        return self.create_task(template, parameters, secrets, **options).run()


class TemplateTask:
    """One run of a template: its workspace, step outputs, log and status.

    Iterate ``run()`` for events; after a failure, ``retry_from(step_id)`` re-runs from that step
    (only when ``can_retry_from`` says the step is idempotent). ``cancel()`` is thread-safe.
    """

    def __init__(
        self,
        runner: TaskRunner,
        template: Template,
        parameters: dict[str, Any],
        secrets: dict[str, str],
        user: str | None,
        dry_run: bool,
        keep_dir: str | Path | None,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.runner = runner
        self.template = template
        self.parameters = parameters
        self.dry_run = dry_run
        self.keep_dir = Path(keep_dir) if keep_dir is not None else None
        self.status: str = "pending"
        self.step_status: dict[str, str] = {step.id: "pending" for step in template.steps}
        self.step_outputs: dict[str, dict[str, Any]] = {}
        self.log: list[StepLog] = []
        self.failed_step: str | None = None
        self.workspace_path: Path | None = None
        self._secrets = secrets
        self._redactor = Redactor(secrets)
        # Taint tracking: which parameters are secret, what a render read, which outputs carry it.
        self._tracker = TaintTracker()
        self._secret_parameters = template.secret_parameters() & set(parameters)
        for name in self._secret_parameters:
            self._redactor.add(parameters[name])
        self._tainted_values: set[str] = set()
        self._tainted_outputs: dict[str, set[str]] = {}
        self._short_taint: dict[str, re.Pattern[str]] = {}
        self._user = self._user_context(user)
        self._user_name = user or ""
        self._state: dict[str, Any] = {}
        self._cancelled = threading.Event()
        self._files: TaskFiles | None = None
        self._engine = TemplateEngine(time_limit=runner.services.sandbox.expression_seconds)
        self._failed = False
        self._engine.add_globals(always=lambda: True, failure=lambda: self._failed)

    # -- public -------------------------------------------------------------------------------
    def run(self) -> Iterator[TaskEvent]:
        """Run every step from the first; yields events as they happen."""
        return self._run_from(0)

    def can_retry_from(self, step_id: str) -> bool:
        """A failed task may be re-run from an idempotent step at or before the failure."""
        if self.status != "failed" or self.failed_step is None:
            return False
        index = self._index(step_id)
        action = self.runner.registry.get(self.template.steps[index].action)
        return index <= self._index(self.failed_step) and bool(action and action.idempotent)

    def retry_from(self, step_id: str) -> Iterator[TaskEvent]:
        """Re-run from ``step_id`` in the same workspace, keeping earlier steps' outputs."""
        if not self.can_retry_from(step_id):
            raise ScaffolderError(f"cannot retry from step {step_id!r}")
        index = self._index(step_id)
        for step in self.template.steps[index:]:
            self.step_outputs.pop(step.id, None)
            self._tainted_outputs.pop(step.id, None)
            self.step_status[step.id] = "pending"
        return self._run_from(index)

    def cancel(self) -> None:
        """Stop after the running step (a waiting step stops at once)."""
        self._cancelled.set()

    @property
    def retryable_steps(self) -> list[str]:
        return [s.id for s in self.template.steps if self.can_retry_from(s.id)]

    # -- the loop -----------------------------------------------------------------------------
    def _run_from(self, start: int) -> Iterator[TaskEvent]:
        started = time.monotonic()
        self._failed = False
        self.failed_step = None
        self.status = "processing"
        error: str | None = None
        if self._files is None:
            self._files = self._make_workspace()
        yield TaskStarted(
            task_id=self.id,
            template=self.template.ref,
            steps=[StepInfo(s.id, s.name, s.action) for s in self.template.steps],
            dry_run=self.dry_run,
            workspace_path=str(self._files.root),
        )
        if self.dry_run:
            yield self._log(None, f"Dry run of {self.template.ref}: nothing is pushed, applied or registered")
        for step in self.template.steps[start:]:
            if self._cancelled.is_set():
                error = error or "cancelled"
                self.step_status[step.id] = "skipped"
                yield StepFinished(step.id, "skipped", 0.0, error="cancelled")
                continue
            step_error = yield from self._run_step(step)
            if step_error is not None and error is None:
                error, self.failed_step = step_error, step.id
        yield from self._finish(error, time.monotonic() - started)

    def _run_step(self, step: StepSpec) -> Generator[TaskEvent, None, str | None]:
        """Run one step; returns its error message (or None) via StopIteration."""
        started = time.monotonic()
        yield StepStarted(step.id, step.name, step.action, step.index)
        self.step_status[step.id] = "processing"
        condition = step.condition
        uses_status = isinstance(condition, str) and bool(_STATUS_FUNCTIONS.search(condition))
        if self._failed and not uses_status:
            yield self._log(step.id, f"Skipping step {step.id} because a previous step failed")
            return (yield from self._finish_step(step, "skipped", started))
        try:
            items, each_tainted = self._each_items(step)
            output: dict[str, Any] = {}
            outputs_per_item: list[dict[str, Any]] = []
            ran_any = False
            for item in items:
                context = self._context(with_secrets=False, each=item, each_tainted=each_tainted)
                if condition is not None and not self._condition_true(condition, context):
                    label = ""
                    if item is not None:
                        label = " for an item" if each_tainted else f" for item {item['key']}"
                    yield self._log(
                        step.id, f"Skipping step {step.id}{label} because its if condition is false"
                    )
                    continue
                ran_any = True
                item_output = yield from self._run_action(step, item, each_tainted)
                outputs_per_item.append(item_output)
            if not ran_any:
                return (yield from self._finish_step(step, "skipped", started))
            if step.each is None:
                output = outputs_per_item[0]
            else:
                keys = {k for o in outputs_per_item for k in o}
                output = {k: [o.get(k) for o in outputs_per_item] for k in sorted(keys)}
            self.step_outputs[step.id] = output
            self._mark_tainted_outputs(step.id, output)
            skipped = self._state.pop("skipped", False)
            return (
                yield from self._finish_step(step, "skipped" if skipped else "done", started, output=output)
            )
        except StepSkipped as reason:
            yield self._log(step.id, str(reason), "warning")
            self.step_outputs[step.id] = {}
            return (yield from self._finish_step(step, "skipped", started))
        except Exception as failure:  # noqa: BLE001 - any action failure fails the step, never the app
            message = self._scrub(
                step.id,
                f"{type(failure).__name__}: {failure}"
                if not isinstance(failure, ScaffolderError)
                else str(failure),
            )
            self._failed = True
            yield self._log(step.id, message, "error")
            return (yield from self._finish_step(step, "failed", started, error=message))

    def _run_action(
        self, step: StepSpec, item: dict[str, Any] | None, each_tainted: bool = False
    ) -> Generator[TaskEvent, None, dict[str, Any]]:
        action = self.runner.registry.get(step.action)
        assert action is not None  # precheck guarantees it
        context = self._context(with_secrets=True, each=item, each_tainted=each_tainted)
        step_input, shown_input = self._render(step.input, context)
        withheld = frozenset(k for k in step_input if shown_input.get(k) != step_input.get(k))
        self._remember_short_taint(step.id, [step_input[k] for k in withheld])
        self._validate(action, step_input, shown_input, withheld)
        if self.dry_run:
            shown = json.dumps(shown_input, default=str, sort_keys=True)
            yield self._log(
                step.id, f"Running {step.action} in dry-run mode with inputs (secrets redacted): {shown}"
            )
            if not action.supports_dry_run:
                yield self._log(step.id, f"Skipping because {step.action} does not support dry-run")
                self._state["skipped"] = True
                return action.fake_outputs()
        outputs: dict[str, Any] = {}
        assert self._files is not None
        action_context = ActionContext(
            step_id=step.id,
            input=step_input,
            files=self._files,
            template=self.template,
            services=self.runner.services,
            dry_run=self.dry_run,
            logger=lambda line: None,
            outputs=outputs,
            secrets=self._secrets,
            user=self._user,
            task_id=self.id,
            task_state=self._state,
            cancelled=self._cancelled,
            add_secret=self._redactor.add,
            withheld=withheld,
            shown_input=shown_input,
            add_tainted=self._add_tainted,
        )
        # The action runs in a helper thread so its log lines stream out (redacted) while it works.
        lines: queue.SimpleQueue[Any] = queue.SimpleQueue()
        action_context.logger = lines.put
        failure: list[BaseException] = []

        def work() -> None:
            try:
                action.run(action_context)
            except BaseException as error:  # noqa: BLE001 - handed back to the caller's thread
                failure.append(error)
            finally:
                lines.put(_DONE)

        worker = threading.Thread(target=work, name=f"scaffolder-{step.id}", daemon=True)
        worker.start()
        while (line := lines.get()) is not _DONE:
            yield self._log(step.id, str(line))
        worker.join()
        if failure:
            raise failure[0]
        return outputs

    def _finish_step(
        self,
        step: StepSpec,
        status: str,
        started: float,
        *,
        output: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Generator[TaskEvent, None, str | None]:
        self.step_status[step.id] = status
        if status != "done":
            self.step_outputs.setdefault(step.id, output or {})
        yield StepFinished(
            step_id=step.id,
            status=status,  # type: ignore[arg-type]
            duration=round(time.monotonic() - started, 4),
            error=error,
            output=self._shown_output(step.id, output or {}),
        )
        return error

    def _finish(self, error: str | None, duration: float) -> Iterator[TaskEvent]:
        assert self._files is not None
        workspace: str | None = str(self._files.root)
        shown_outputs: dict[str, Any] = {}
        if self._cancelled.is_set():
            self.status, error = "cancelled", error or "cancelled"
        elif error is None:
            self.status = "completed"
            try:
                _, shown_outputs = self._render_output()
            except ScaffolderError as failure:
                self.status, error = "failed", f"spec.output: {failure}"
        else:
            self.status = "failed"
        if error is not None:
            yield self._log(
                None, f"Run failed at step {self.failed_step}: {error}; files kept in {workspace}", "error"
            )
        elif not self.dry_run and self.keep_dir is None:
            shutil.rmtree(self._files.root, ignore_errors=True)  # pushed already; nothing to keep
            workspace = None
        if self.status == "completed" and not self.dry_run:
            yield from self._record_scaffolded()
        yield self._log(None, f"Run completed with status: {self.status}")
        yield TaskFinished(
            status=self.status,  # type: ignore[arg-type]
            outputs=self._redactor.value(shown_outputs),
            workspace_path=workspace,
            error=self._redactor.text(error) if error else None,
            failed_step=self.failed_step,
            dry_run=self.dry_run,
            duration=round(duration, 4),
        )

    def _record_scaffolded(self) -> Iterator[TaskEvent]:
        """Tell the services which entities this run registered (a failure is a warning: the
        entity exists whether or not the history heard of it)."""
        callback = self.runner.services.on_scaffolded
        if callback is None:
            return
        for output in self.step_outputs.values():
            ref = output.get("entityRef") if isinstance(output, Mapping) else None
            if not isinstance(ref, str) or not ref:
                continue
            try:
                callback(ref, self.template.ref, self._user_name)
            except Exception as error:  # noqa: BLE001 - any store failure is reported the same way
                yield self._log(None, f"{ref} was not recorded in the deploy history: {error}", "warning")

    # -- helpers ------------------------------------------------------------------------------
    def _make_workspace(self) -> TaskFiles:
        root = self.keep_dir or Path(tempfile.mkdtemp(prefix=f"idp-scaffold-{self.template.name}-"))
        files = TaskFiles(root, self.runner.limits)
        self.workspace_path = files.root
        return files

    def _context(
        self, *, with_secrets: bool, each: dict[str, Any] | None = None, each_tainted: bool = False
    ) -> dict[str, Any]:
        """The names a template sees; everything secret is wrapped so that reading it taints."""
        tracker = self._tracker
        parameters: Mapping[str, Any] = self.parameters
        if self._secret_parameters:
            parameters = TrackedMapping(self.parameters, tracker, self._secret_parameters)
        steps: dict[str, Any] = {}
        for step_id, output in self.step_outputs.items():
            tainted = self._tainted_outputs.get(step_id)
            steps[step_id] = {"output": TrackedMapping(output, tracker, tainted) if tainted else output}
        context: dict[str, Any] = {
            "parameters": parameters,
            "steps": steps,
            "user": self._user,
            "context": {"task": {"id": self.id}},
        }
        if with_secrets:
            context["secrets"] = TrackedMapping(self._secrets, tracker)
        if each is not None:
            context["each"] = TrackedMapping(each, tracker) if each_tainted else each
        return context

    def _render(self, value: Any, context: Mapping[str, Any]) -> tuple[Any, Any]:
        """Render like ``TemplateEngine.render_value``; returns (real value, what may be shown).

        Each string is rendered on its own so that only the values whose rendering read a secret
        are withheld; an error raised while a secret had been read is withheld too (it may quote it).
        """
        if isinstance(value, str):
            before = self._tracker.reads
            try:
                result = plain(
                    self._engine.render_value(value, context, keep_undefined=True, keep_text_on_error=True)
                )
                if result is value and self._tracker.reads != before:
                    # Backstage keeps text it could not render; one that read a secret fails instead
                    raise ExpressionError("the rendering failed")
            except ScaffolderError:
                if self._tracker.reads != before:
                    raise ExpressionError(
                        f"cannot render a value computed from a secret: {WITHHELD}"
                    ) from None
                raise
            if self._tracker.reads == before or result is UNDEFINED:
                return result, result
            for leaf in leaves(result):
                if leaf is not None and not isinstance(leaf, bool):
                    self._tainted_values.add(str(leaf))
                    self._redactor.add_tainted(str(leaf))
            return result, WITHHELD
        if isinstance(value, Mapping):
            real: dict[str, Any] = {}
            shown: dict[str, Any] = {}
            for key, item in value.items():
                result, display = self._render(item, context)
                if result is not UNDEFINED:  # an undefined input is left out; null is kept
                    real[key], shown[key] = result, display
            return real, shown
        if isinstance(value, list):
            pairs = [self._render(item, context) for item in value]
            return [None if p[0] is UNDEFINED else p[0] for p in pairs], [p[1] for p in pairs]
        return value, value

    def _validate(
        self, action: Any, step_input: dict[str, Any], shown: dict[str, Any], withheld: frozenset[str]
    ) -> None:
        """Validate the real input; a schema error about a secret-derived value never quotes it."""
        try:
            action.validate(step_input)
        except InputError:
            if not withheld:
                raise
            action.validate(shown)  # the same complaint, with the secret's place withheld
            raise InputError(
                f"invalid input for {action.id}: {', '.join(sorted(withheld))} (computed from a secret, "
                f"{WITHHELD}) does not fit the input schema"
            ) from None

    def _add_tainted(self, value: str) -> None:
        """A value an action computed from a secret (a rendered file name): withheld from now on."""
        self._tainted_values.add(value)
        self._redactor.add_tainted(value)

    def _remember_short_taint(self, step_id: str, values: list[Any]) -> None:
        # Too short to search for everywhere (a length, an initial); in this step's own log lines
        # and error, where the action is likely to quote its input, they are withheld as words.
        short = {
            str(leaf) for leaf in leaves(values) if leaf is not None and 0 < len(str(leaf)) < MIN_TAINT_MATCH
        }
        if short:
            alternatives = "|".join(re.escape(v) for v in sorted(short, key=len, reverse=True))
            self._short_taint[step_id] = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        else:
            self._short_taint.pop(step_id, None)

    def _mark_tainted_outputs(self, step_id: str, output: Mapping[str, Any]) -> None:
        """Outputs that carry a secret-derived value taint whatever later reads them."""
        tainted = set()
        for key, value in output.items():
            texts = [str(leaf) for leaf in leaves(value) if leaf is not None]
            if any(t in self._tainted_values or self._redactor.hides(t) for t in texts):
                tainted.add(key)
        if tainted:
            self._tainted_outputs[step_id] = tainted
        else:
            self._tainted_outputs.pop(step_id, None)

    def _shown_output(self, step_id: str, output: Mapping[str, Any]) -> dict[str, Any]:
        tainted = self._tainted_outputs.get(step_id, set())
        return {k: WITHHELD if k in tainted else self._redactor.value(v) for k, v in output.items()}

    def _each_items(self, step: StepSpec) -> tuple[list[dict[str, Any] | None], bool]:
        """The items of ``each`` and whether they were computed from a secret."""
        if step.each is None:
            return [None], False
        before = self._tracker.reads
        value, _ = self._render(step.each, self._context(with_secrets=True))
        tainted = self._tracker.reads != before
        if isinstance(value, list):
            return [{"key": str(i), "value": v} for i, v in enumerate(value)], tainted
        if isinstance(value, Mapping):
            return [{"key": k, "value": v} for k, v in value.items()], tainted
        raise ScaffolderError(f"each must render to an array or an object, got {type(value).__name__}")

    def _condition_true(self, condition: Any, context: Mapping[str, Any]) -> bool:
        if isinstance(condition, bool):
            return condition
        value, _ = self._render(condition, context)  # an error quoting a secret is withheld
        return is_truthy(value)

    def _render_output(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``spec.output`` rendered: (real values, what may be shown)."""
        context = self._context(with_secrets=False)
        rendered: dict[str, Any] = {}
        shown: dict[str, Any] = {}
        for key, value in self.template.output.items():
            if key in ("links", "text") and isinstance(value, list):
                items, shown_items = [], []
                for item in value:
                    if not isinstance(item, Mapping):
                        continue
                    if "if" in item and not self._condition_true(item["if"], context):
                        continue
                    body, display = self._render({k: v for k, v in item.items() if k != "if"}, context)
                    items.append(body)
                    shown_items.append(display)
                rendered[key], shown[key] = items, shown_items
            else:
                result, display = self._render(value, context)
                if result is not UNDEFINED:
                    rendered[key], shown[key] = result, display
        return rendered, shown

    def _user_context(self, user: str | None) -> dict[str, Any]:
        if not user:
            return {}
        try:
            ref = parse_entity_ref(user, default_kind="User")
        except EntityRefError:
            return {}
        entity = None
        catalog = self.runner.services.catalog
        if catalog is not None:
            entities = getattr(catalog, "entities", [])
            entities = entities.values() if isinstance(entities, Mapping) else entities
            entity = next((e.raw for e in entities if e.ref.canonical == ref.canonical), None)
        return {"ref": ref.canonical, "entity": entity or {}}

    def _scrub(self, step_id: str | None, text: str) -> str:
        """``text`` without secrets, tainted values, and this step's short tainted inputs as words."""
        text = self._redactor.text(text)
        short = self._short_taint.get(step_id) if step_id else None
        return short.sub(WITHHELD, text) if short else text

    def _log(self, step_id: str | None, message: str, level: str = "info") -> StepLog:
        event = StepLog(step_id, self._scrub(step_id, message), level)  # type: ignore[arg-type]
        self.log.append(event)
        return event

    def _index(self, step_id: str) -> int:
        for index, step in enumerate(self.template.steps):
            if step.id == step_id:
                return index
        raise ScaffolderError(f"no step {step_id!r}")


def collect(
    events: Iterator[TaskEvent], on_event: Callable[[TaskEvent], None] | None = None
) -> list[TaskEvent]:
    """Drain an event stream into a list (optionally calling ``on_event`` for each)."""
    result = []
    for event in events:
        if on_event is not None:
            on_event(event)
        result.append(event)
    return result
