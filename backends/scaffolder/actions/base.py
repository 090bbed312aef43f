"""What an action is, what it gets to work with, and the services the app plugs in."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

import jsonschema

from backends.git.publish import GitSettings
from backends.scaffolder.errors import ActionFailed, InputError
from backends.scaffolder.expressions import is_templated
from backends.scaffolder.files import TaskFiles
from backends.scaffolder.sandbox import Sandbox
from backends.scaffolder.template import Template


@runtime_checkable
class ManifestApplier(Protocol):
    """Applies Kubernetes manifests to an environment; the deploy area's Cluster satisfies it.

    Returns one human-readable line per object (``deployment.apps/x configured``).
    """

    def apply(self, env: str, manifests: list[dict[str, Any]]) -> list[str]: ...


RegisterCallback = Callable[[str], list[Any]]
"""The workspace catalog's ``register(path)``: add the file's entities now, return them."""

ScaffoldedCallback = Callable[[str, str, str], None]
"""Called when a real run that registered an entity completed: (entity ref, template ref, user)."""


@dataclass(slots=True)
class Services:
    """What actions may reach outside the task workspace; every field is optional."""

    catalog: Any = None  # has .entities and .get(ref, default_kind=)
    register: RegisterCallback | None = None
    applier: ManifestApplier | None = None
    environments: list[str] = field(default_factory=list)
    git: GitSettings = field(default_factory=GitSettings)
    secret_store: Any = None  # backends.secrets.SecretStore, for git tokens
    sandbox: Sandbox = field(default_factory=Sandbox)  # where fetch:* may read, expression caps
    registry_settings: Any = None  # backends.registry.RegistrySettings: how images are named
    registry: Any = None  # backends.registry.Registry: where CI pushes (the demo's is a directory)
    on_scaffolded: ScaffoldedCallback | None = None  # the deploy history: time-to-first-deploy starts here
    workspace: Any = None  # backends.workspace.Workspace: infra:request reads its infra: section

    @classmethod
    def from_workspace(
        cls,
        workspace: Any,
        *,
        catalog: Any = None,
        applier: ManifestApplier | None = None,
        secret_store: Any = None,
    ) -> Services:
        """Services configured from ``idp-console.yaml``'s ``git:`` and ``environments:`` sections."""
        from backends.registry import RegistrySettings, open_registry

        register = getattr(catalog, "register", None) if catalog is not None else None
        registry_settings = RegistrySettings.from_config(
            workspace.section("registry") if workspace else {}, is_demo=bool(workspace and workspace.is_demo)
        )
        return cls(
            catalog=catalog,
            register=register if callable(register) else None,
            applier=applier,
            environments=environment_names(workspace.raw.get("environments") if workspace else None),
            git=GitSettings.from_config(
                workspace.section("git") if workspace else {},
                is_demo=bool(workspace and workspace.is_demo),
                root=workspace.root if workspace else None,
            ),
            secret_store=secret_store,
            sandbox=Sandbox.from_workspace(workspace),
            registry_settings=registry_settings,
            registry=open_registry(registry_settings, root=workspace.root) if registry_settings else None,
            on_scaffolded=_history_recorder(workspace) if workspace is not None else None,
            workspace=workspace,
        )


def _history_recorder(workspace: Any) -> ScaffoldedCallback:
    """Record each new entity in the workspace's deploy history (the scorecard's adoption figures)."""

    def record(entity_ref: str, template: str, user: str) -> None:
        from backends.deploy.history import open_history

        open_history(workspace).record_scaffold(entity_ref, template, user)

    return record


def environment_names(section: Any) -> list[str]:
    """Environment names in config order: a mapping ``{dev: {...}}`` or a list of ``{name: dev}``."""
    if isinstance(section, Mapping):
        inner = section.get("environments") if "environments" in section else None
        if isinstance(inner, (list, Mapping)):
            return environment_names(inner)
        return [str(k) for k in section]
    if isinstance(section, list):
        return [str(item.get("name")) for item in section if isinstance(item, Mapping) and item.get("name")]
    return []


class StepSkipped(Exception):
    """Raised by an action that cannot do its work here but should not fail the task."""


@dataclass(slots=True)
class ActionContext:
    """Everything one action run sees."""

    step_id: str
    input: dict[str, Any]
    files: TaskFiles
    template: Template
    services: Services
    dry_run: bool
    logger: Callable[[str], None]
    outputs: dict[str, Any]
    secrets: Mapping[str, str]
    user: Mapping[str, Any]
    task_id: str
    task_state: dict[str, Any]  # shared by the steps of one task (e.g. what was published where)
    cancelled: threading.Event
    add_secret: Callable[[str], None]  # redact this value from now on (e.g. a token read from a store)
    # Input keys whose value was computed from a secret: use them, never log them.
    withheld: frozenset[str] = frozenset()
    # The input as it may be shown: a secret-derived value (at any depth) is ``[secret withheld]``.
    shown_input: Mapping[str, Any] | None = None
    # Hide this value computed from a secret wherever it shows up later (it may be short or partial).
    add_tainted: Callable[[str], None] | None = None

    @property
    def workspace_path(self) -> Path:
        return self.files.root

    def log(self, message: str) -> None:
        self.logger(message)

    def output(self, name: str, value: Any) -> None:
        self.outputs[name] = value

    def source_path(self, url: str) -> Path:
        """A ``url`` input resolved to a local path.

        Relative paths resolve against the template's directory; ``file://`` paths are used as
        they are; repository URLs (``https://github.com/o/r/tree/main/skeleton``, or any git URL,
        ``file://`` included, with ``/tree/<ref>/<dir>`` or ``/blob/…``) are fetched into the
        git cache and resolved inside the checkout.
        """
        if "://" in url or url.startswith("git@"):
            parsed = urlparse(url)
            if parsed.scheme == "file" and "/tree/" not in url and "/blob/" not in url:
                return Path(unquote(parsed.path))
            return _from_repository(url)
        path = Path(url)
        return path if path.is_absolute() else (self.template.base_dir / path).resolve()


def _from_repository(url: str) -> Path:
    from backends.docs.location import parse_repository_url
    from backends.git.checkout import GitSourceError, sync_repository

    repository, ref, subdirectory = parse_repository_url(url)
    try:
        checkout = sync_repository(repository, ref)
    except GitSourceError as error:
        raise ActionFailed(f"cannot fetch {url}: {error}") from error
    root = checkout.path.resolve()
    path = (root / subdirectory).resolve()
    if not path.is_relative_to(root):
        raise ActionFailed(f"{url}: the path leaves the repository")
    return path


class Action:
    """Base class: subclasses set the class attributes and implement ``run``.

    ``schema`` is the JSON Schema of the input (``additionalProperties: false`` like Backstage's);
    ``output_schema`` gives examples used to fake outputs when the action is skipped in a dry-run.
    ``idempotent`` actions may be re-run by "retry from this step".
    """

    id: ClassVar[str] = ""
    description: ClassVar[str] = ""
    schema: ClassVar[dict[str, Any]] = {"type": "object", "additionalProperties": False, "properties": {}}
    output_schema: ClassVar[dict[str, Any]] = {}
    supports_dry_run: ClassVar[bool] = True
    idempotent: ClassVar[bool] = True

    def run(self, ctx: ActionContext) -> None:
        raise NotImplementedError

    def check(self, step_input: Mapping[str, Any], template: Template) -> list[str]:
        """Problems visible before anything runs (only literal values can be checked)."""
        return []

    def validate(self, step_input: Mapping[str, Any]) -> None:
        """Validate a rendered input; raises InputError listing every problem."""
        validator = jsonschema.Draft7Validator(self.schema)
        problems = [_describe(e) for e in validator.iter_errors(dict(step_input))]
        if problems:
            raise InputError(f"invalid input for {self.id}: " + "; ".join(problems))

    def precheck(self, step_input: Mapping[str, Any], template: Template) -> list[str]:
        """Static input check: unknown keys, missing required keys, literal values of wrong type."""
        problems = []
        properties = self.schema.get("properties", {})
        if self.schema.get("additionalProperties") is False:
            problems += [f"unknown input {key!r}" for key in step_input if key not in properties]
        problems += [
            f"missing required input {key!r}"
            for key in self.schema.get("required", [])
            if key not in step_input
        ]
        for key, value in step_input.items():
            if key in properties and not _contains_template(value):
                validator = jsonschema.Draft7Validator(properties[key])
                problems += [f"input {key!r}: {_describe(e)}" for e in validator.iter_errors(value)]
        return problems + self.check(step_input, template)

    def fake_outputs(self) -> dict[str, Any]:
        """Outputs for a step skipped in dry-run: examples from the output schema, else placeholders."""
        fake: dict[str, Any] = {}
        for name, schema in (self.output_schema.get("properties") or {}).items():
            examples = schema.get("examples")
            if examples:
                fake[name] = examples[0]
            else:
                fake[name] = {
                    "string": "<example>",
                    "number": 0,
                    "integer": 0,
                    "boolean": False,
                    "array": [],
                    "object": {},
                }.get(schema.get("type", "string"), "<example>")
        return fake


def _contains_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_templated(value)
    if isinstance(value, Mapping):
        return any(_contains_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_template(v) for v in value)
    return False


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(map(str, error.absolute_path))
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown input")
    return f"{where}: {error.message}" if where else error.message
