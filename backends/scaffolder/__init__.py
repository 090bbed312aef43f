"""The scaffolder: Backstage ``scaffolder.backstage.io/v1beta3`` templates, run from a terminal.

Pure Python (no Textual). The wizard screen and ``idp-console scaffold`` are two faces of this API.

Templates::

    library = TemplateLibrary.discover(workspace, catalog)   # golden_paths/ + templates.sources + catalog
    library.list() -> list[Template]; library.find("microservice-golden-path" | "path/to/template.yaml")
    load_template_file(path) -> Template                     # TemplateError with file name on failure
    template.name / .title / .description / .tags / .pages (always a list) / .steps / .output

Form model (one per wizard run; pure data, cheap to call on every keystroke)::

    form = FormModel(template, catalog=catalog, user=workspace.identity, answers={...})
    form.pages() -> list[FormPage]     # only visible pages (``when`` conditions), in order
        page.index, page.title, page.description, page.fields, page.errors, page.valid
    FormField: name, title, description, kind, value (default applied), default, required, error,
        ui_field, widget, help, placeholder, autofocus, readonly, hidden, secret, enum, enum_names,
        choices [(value, label)], options (ui:options), schema
        kind ∈ string text password number integer boolean enum multiselect array object
               entity entities tags repo-url secret
    form.set(name, value) / form.set_text(name, typed_text)   # typed text → the field's JSON type
    form.options(name, query="") -> list[PickerOption(value, label, detail, count)]  # fuzzy, catalog-fed
    form.errors() -> {name: message}; form.missing_required(); form.valid
    form.review() -> list[ReviewItem(page, name, title, display)]   # secrets/passwords masked
    form.parameters() -> dict   # visible non-secret answers, defaults applied → TaskRunner
    form.secrets() -> dict      # Secret fields only → TaskRunner (never logged, never in parameters)
    pickers.RepoUrl.parse("host?owner=o&repo=r") / str(RepoUrl(...))   # RepoUrlPicker parts

Running (events are frozen dataclasses; see ``events.py``)::

    services = Services.from_workspace(workspace, catalog=catalog, applier=cluster_applier,
                                       secret_store=default_secret_store())
    runner = TaskRunner(services=services)
    runner.precheck(template) -> list[str]           # each problem names its step
    task = runner.create_task(template, form.parameters(), form.secrets(), user=workspace.identity,
                              dry_run=False, keep_dir=None)          # PrecheckError: nothing written
    for event in task.run():                          # blocking: call from a thread worker
        TaskStarted(task_id, template, steps=[StepInfo(id, name, action)], dry_run, workspace_path)
        StepStarted(step_id, name, action, index)
        StepLog(step_id | None, message, level)       # anything from a secret: [secret withheld]
        StepFinished(step_id, status: done|skipped|failed, duration, error, output)
        TaskFinished(status: completed|failed|cancelled, outputs={links, text, …}, workspace_path,
                     error, failed_step, dry_run, duration)
    task.cancel()                                     # thread-safe; stops after the running step
    task.can_retry_from(step_id) / task.retryable_steps / task.retry_from(step_id) -> events
    task.step_status, task.log, task.status           # state for a screen that re-mounts
    event_to_dict(event)                              # JSON-ready, with "type": "step-log" …

Output links carry ``url`` or ``entityRef`` (a catalog ref to open in the catalog screen).
``catalog:register`` calls ``services.register`` (the workspace ``Catalog.register``), so the new
entity appears at once; ``kube:apply`` uses ``services.applier`` — anything with
``apply(env, manifests) -> list[str]`` (``ManifestApplier``); without one the step is skipped.
``kube.WorkspaceApplier(workspace, session=deploy_session)`` is that applier over the deploy
area's clusters (pass the app's running ``DeploySession`` to share it; the simulated cluster in
the demo). It refuses environments marked ``production: true`` (production takes ``deploy``) and
changes to an existing object of a catalog component whose owning group the user is not in.

Actions (``default_registry().ids()``): fetch:template, fetch:template:file, fetch:plain,
fetch:plain:file, fs:rename, fs:delete, fs:readdir, debug:log, debug:wait, catalog:write,
catalog:register, catalog:fetch, kube:apply, publish:git, publish:github, publish:gitlab,
publish:github:pull-request, publish:gitlab:merge-request (forge actions mapped onto the
workspace's ``git:`` server). Register your own with ``registry.register(MyAction())``.

Expressions: ``TemplateEngine().render_value(value, context)`` / ``render_string`` / ``evaluate``.
Lint: ``lint(template, default_registry(), services) -> list[LintIssue]``.
"""

from backends.scaffolder.actions import (
    Action,
    ActionContext,
    ActionRegistry,
    ManifestApplier,
    Services,
    StepSkipped,
    default_registry,
)
from backends.scaffolder.errors import (
    ActionFailed,
    ExpressionError,
    InputError,
    LimitExceeded,
    PathEscapeError,
    PrecheckError,
    ScaffolderError,
    TemplateError,
)
from backends.scaffolder.events import (
    StepFinished,
    StepInfo,
    StepLog,
    StepStarted,
    TaskEvent,
    TaskFinished,
    TaskStarted,
    event_to_dict,
)
from backends.scaffolder.expressions import TemplateEngine
from backends.scaffolder.files import Limits
from backends.scaffolder.form import FormField, FormModel, FormPage, ReviewItem
from backends.scaffolder.lint import LintIssue, lint
from backends.scaffolder.pickers import PickerOption, RepoUrl
from backends.scaffolder.runner import TaskRunner, TemplateTask
from backends.scaffolder.template import StepSpec, Template, TemplateLibrary, load_template_file

__all__ = [
    "Action",
    "ActionContext",
    "ActionFailed",
    "ActionRegistry",
    "ExpressionError",
    "FormField",
    "FormModel",
    "FormPage",
    "InputError",
    "LimitExceeded",
    "Limits",
    "LintIssue",
    "ManifestApplier",
    "PathEscapeError",
    "PickerOption",
    "PrecheckError",
    "RepoUrl",
    "ReviewItem",
    "ScaffolderError",
    "Services",
    "StepFinished",
    "StepInfo",
    "StepLog",
    "StepSkipped",
    "StepStarted",
    "StepSpec",
    "TaskEvent",
    "TaskFinished",
    "TaskRunner",
    "TaskStarted",
    "Template",
    "TemplateEngine",
    "TemplateError",
    "TemplateLibrary",
    "TemplateTask",
    "default_registry",
    "event_to_dict",
    "lint",
    "load_template_file",
]
