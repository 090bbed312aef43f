"""``idp-console scaffold TEMPLATE`` and ``idp-console template lint|list``.

``scaffold`` runs a template without the TUI: answers come from ``--values FILE.yaml`` and
``--set key=value``; missing required answers are prompted for only when stdin is a terminal
(otherwise the command fails listing them). Secret values (``ui:field: Secret``, ``ui:widget:
password``, ``secrets.*``) are read from ``IDP_CONSOLE_SECRET_<NAME>`` or prompted without echo —
never taken from ``--set`` or ``--values``; anything computed from them prints as ``[secret withheld]``.
A ``name`` the catalog already has (any kind, any case) is refused, as the wizard refuses it.
Events stream as text (a line per step, log lines indented) or as JSON lines (``--output json``).
Exit codes: 0 completed, 1 the task failed, 2 usage (unknown template, bad values, failed check).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from console.commands import CommandError, mutating, workspace_from_args

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STATUS_MARK = {"done": "✓", "skipped": "-", "failed": "✗"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``scaffold`` and ``template`` to the top-level parser."""
    scaffold = subparsers.add_parser(
        "scaffold",
        help="run a software template (golden path) without the TUI",
        description="Run a Backstage v1beta3 template: render, publish, provision, register.",
    )
    scaffold.add_argument(
        "template", metavar="TEMPLATE", help="template name in the workspace, or a template.yaml path"
    )
    scaffold.add_argument("--values", metavar="FILE.yaml", help="answers as a YAML mapping")
    scaffold.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="one answer (repeatable); the value is converted to the field's type",
    )
    scaffold.add_argument(
        "--dry-run", action="store_true", help="render only: no push, no apply, no catalog change"
    )
    scaffold.add_argument(
        "--keep", metavar="DIR", help="keep the rendered workspace in DIR (must be empty or new)"
    )
    scaffold.add_argument(
        "--output", choices=("text", "json"), default="text", help="event format (json: one per line)"
    )
    scaffold.set_defaults(handler=run_scaffold)
    mutating(scaffold, when=lambda args: not args.dry_run)

    template = subparsers.add_parser("template", help="list and lint software templates")
    template_commands = template.add_subparsers(dest="template_command", metavar="COMMAND")
    lint = template_commands.add_parser("lint", help="check a template without running it")
    lint.add_argument(
        "template", metavar="TEMPLATE", help="template name in the workspace, or a template.yaml path"
    )
    lint.set_defaults(handler=run_lint)
    listing = template_commands.add_parser("list", help="list the templates of the workspace")
    listing.set_defaults(handler=run_list)
    template.set_defaults(handler=lambda args: template.print_help() or EXIT_USAGE)


# -- shared setup -------------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(workspace, catalog or None, template) for a command naming a TEMPLATE."""
    from backends.scaffolder.errors import TemplateError
    from backends.scaffolder.template import TemplateLibrary

    workspace = workspace_from_args(args)
    catalog = _catalog(workspace)
    library = TemplateLibrary.discover(workspace, catalog)
    try:
        template = library.find(args.template) if getattr(args, "template", None) else None
    except TemplateError as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    return workspace, catalog, template


def _catalog(workspace: Any) -> Any:
    try:
        from backends.catalog import load_catalog
    except ImportError:  # the catalog area not installed: pickers and catalog:* degrade gracefully
        return None
    return load_catalog(workspace)


def _applier(workspace: Any) -> Any:
    """A ManifestApplier for the workspace's environments (None when it has none)."""
    if not workspace.section("environments"):
        return None
    from backends.scaffolder.kube import WorkspaceApplier

    return WorkspaceApplier(workspace)


# -- template list / lint -----------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    from backends.scaffolder.template import TemplateLibrary

    workspace = workspace_from_args(args)
    library = TemplateLibrary.discover(workspace, _catalog(workspace))
    for template in library.list():
        print(f"{template.name:32} {template.display_title}  [{template.type}]")
    for problem in library.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return EXIT_OK


def run_lint(args: argparse.Namespace) -> int:
    from backends.scaffolder.actions import Services, default_registry
    from backends.scaffolder.lint import lint

    workspace, catalog, template = _load(args)
    services = Services.from_workspace(workspace, catalog=catalog)
    issues = lint(template, default_registry(), services)
    for issue in issues:
        print(f"{template.source}: {issue}")
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    print(f"{template.name}: {errors} errors, {warnings} warnings")
    return EXIT_FAILED if errors else EXIT_OK


# -- scaffold -----------------------------------------------------------------------------------


def run_scaffold(args: argparse.Namespace) -> int:
    from backends.scaffolder.actions import Services
    from backends.scaffolder.backstage_runner import task_runner
    from backends.scaffolder.errors import PrecheckError, ScaffolderError
    from backends.scaffolder.events import TaskFinished
    from backends.scaffolder.form import FormModel
    from backends.secrets import EnvironmentSecretStore, default_secret_store

    workspace, catalog, template = _load(args)
    form = FormModel(template, catalog=catalog, user=workspace.identity, answers=_values_file(args.values))
    _refuse_secrets_in_values_file(form, args.values)
    for override in args.overrides:
        key, sep, text = override.partition("=")
        if not sep or not key:
            raise CommandError(f"--set {override!r}: expected KEY=VALUE", EXIT_USAGE)
        _refuse_secret_on_command_line(form, key)
        form.set_text(key, text)
    environment = EnvironmentSecretStore()
    for field in form.fields():
        if form.is_secret(field.name) and field.value is None and environment.get(field.name):
            form.set(field.name, environment.get(field.name))
    interactive = sys.stdin.isatty()
    if interactive:
        _prompt(form)
    missing = form.missing_required()
    if missing:
        names = ", ".join(f"{f.name} ({f.title})" if f.title != f.name else f.name for f in missing)
        raise CommandError(
            f"missing required values: {names}; pass them with --set KEY=VALUE or --values FILE.yaml",
            EXIT_USAGE,
        )
    errors = form.errors()
    if errors:
        raise CommandError(
            "invalid values: " + "; ".join(f"{name}: {message}" for name, message in errors.items()),
            EXIT_USAGE,
        )
    applier = None if args.dry_run else _applier(workspace)
    services = Services.from_workspace(
        workspace, catalog=catalog, applier=applier, secret_store=default_secret_store()
    )
    try:
        runner = task_runner(workspace, services)  # local, or on Backstage (scaffolder.runOn)
    except ScaffolderError as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    try:
        task = runner.create_task(
            template,
            form.parameters(),
            form.secrets(),
            user=workspace.identity,
            dry_run=args.dry_run,
            keep_dir=args.keep,
        )
    except PrecheckError as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    printer = _print_json if args.output == "json" else _TextPrinter().print
    status = "failed"
    try:
        for event in task.run():
            printer(event)
            if isinstance(event, TaskFinished):
                status = event.status
    finally:
        close = getattr(applier, "close", None)
        if callable(close):
            close()  # stops a simulated cluster this command started
    return EXIT_OK if status == "completed" else EXIT_FAILED


def _refuse_secret_on_command_line(form: Any, key: str) -> None:
    """A secret on the command line would sit in shell history and ``ps`` for anyone to read."""
    from backends.secrets import env_name

    name = key.removeprefix("secrets.")
    if key.startswith("secrets.") or form.is_secret(key):
        raise CommandError(
            f"--set {key}: {name} is a secret; export {env_name(name)} instead, "
            "or leave it out to be asked for it without echo",
            EXIT_USAGE,
        )


def _refuse_secrets_in_values_file(form: Any, path: str | None) -> None:
    """A secret in a values file sits on disk in clear, next to answers people share and commit."""
    from backends.secrets import env_name

    secret = next(iter(form.secret_answers()), None)
    if secret is None:
        return
    name = secret.removeprefix("secrets.")
    hint = f"export {env_name(name)}" if name != "secrets" else "export IDP_CONSOLE_SECRET_<NAME>"
    raise CommandError(
        f"--values {path}: {name} is a secret; remove it from the file and {hint} instead, "
        "or leave it out to be asked for it without echo",
        EXIT_USAGE,
    )


def _values_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    import yaml

    from backends.catalog.loader import CatalogFileError, read_catalog_file

    try:
        text = read_catalog_file(path)  # regular UTF-8 text only: a FIFO or a binary file is one line
    except CatalogFileError as error:
        raise CommandError(f"{path}: {error}", EXIT_USAGE) from error
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise CommandError(f"{path}: invalid YAML{_yaml_where(error)}", EXIT_USAGE) from error
    if not isinstance(data, dict):
        raise CommandError(f"{path}: expected a mapping of answers", EXIT_USAGE)
    return data


def _yaml_where(error: Exception) -> str:
    """`` at line L, column C: problem`` from a PyYAML error, on one line."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{where}: {problem}"


def _prompt(form: Any) -> None:
    """Ask for each missing required (or invalid) visible field until the form is complete."""
    for _ in range(200):  # a bound, so a closed terminal cannot spin forever
        pending = [
            f
            for f in form.fields()
            if not f.hidden and not f.readonly and ((f.required and f.value is None) or f.error)
        ]
        if not pending:
            return
        field = pending[0]
        if field.error and field.value is not None:
            print(f"  {field.name}: {field.error}", file=sys.stderr)
        print(field.title + (f" — {field.description}" if field.description else ""))
        if field.help:
            print(f"  {field.help}")
        choices = field.choices or [(o.value, o.label) for o in form.options(field.name, limit=15)]
        if choices:
            print("  choices: " + ", ".join(str(v) + (f" ({t})" if t != str(v) else "") for v, t in choices))
        if field.secret or field.widget == "password":
            text = getpass.getpass(f"{field.name}: ")
        else:
            text = input(f"{field.name}: ")
        form.set_text(field.name, text)


def _print_json(event: Any) -> None:
    from backends.scaffolder.events import event_to_dict

    print(json.dumps(event_to_dict(event), default=str), flush=True)


class _TextPrinter:
    """One line per step status, log lines indented under their step, outputs at the end."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def print(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "TaskStarted":
            self.names = {s.id: s.name for s in event.steps}
            mode = " (dry run)" if event.dry_run else ""
            print(f"Running {event.template}{mode}, {len(event.steps)} steps", flush=True)
        elif kind == "StepLog":
            prefix = "    " if event.step_id else ""
            stream = sys.stderr if event.level == "error" and not event.step_id else sys.stdout
            for line in str(event.message).splitlines() or [""]:
                print(f"{prefix}{line}", file=stream, flush=True)
        elif kind == "StepFinished":
            mark = STATUS_MARK.get(event.status, "?")
            name = self.names.get(event.step_id, event.step_id)
            line = f"{mark} {event.step_id}: {name} — {event.status} ({event.duration:.2f}s)"
            if event.error:
                line += f"\n    error: {event.error}"
            print(line, flush=True)
        elif kind == "TaskFinished":
            self._finished(event)

    def _finished(self, event: Any) -> None:
        for link in event.outputs.get("links") or []:
            target = link.get("url") or link.get("entityRef") or ""
            print(f"→ {link.get('title') or target}: {target}")
        for text in event.outputs.get("text") or []:
            print(f"\n## {text.get('title', '')}\n{str(text.get('content', '')).rstrip()}")
        for key, value in event.outputs.items():
            if key not in ("links", "text"):
                print(f"{key}: {value}")
        if event.workspace_path:
            print(f"Rendered files: {event.workspace_path}")
        summary = f"Task {event.status} in {event.duration:.2f}s"
        if event.error:
            summary += f" — step {event.failed_step}: {event.error}"
        print(summary, file=sys.stderr if event.status != "completed" else sys.stdout, flush=True)
