"""Editing a service's ``resources.yaml`` from the TUI: a form built from the ServiceResources schema,
the plan of the edited file before anything is pushed, and the change request.

:class:`ResourcesForm` holds the answers as typed (so nothing is lost when validation fails) and
hands the form widget plain :class:`FormField` views: a checkbox per resource (compute, database,
cache), its fields when it is on, sizes as the choices of ``infra.sizes``. :meth:`ResourcesForm.text`
writes the file in the shape users write it; :func:`check` validates any text (the form's or one
edited in ``$EDITOR``) with file and line; :func:`preview_plan` is ``infra plan`` of the infra ref
with the service's file replaced by the edit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backends.infra.plan import Plan, live_objects, make_plan
from backends.infra.quantity import QuantityError, parse_quantity
from backends.infra.repo import read_tree
from backends.infra.resources import (
    API_VERSION,
    BACKUPS,
    CACHE_TYPES,
    DATABASE_TYPES,
    DEFAULT_COMPUTE,
    EVICTIONS,
    KIND,
    InfraInputError,
    ServiceResources,
    parse_resources,
)
from backends.infra.settings import InfraSettings
from backends.infra.view import resources_file, with_file

if TYPE_CHECKING:
    from backends.infra.apply import InfraSession

RESOURCES = ("compute", "database", "cache")
_FIELDS: dict[str, tuple[str, ...]] = {
    "compute": ("replicas", "cpu", "memory"),
    "database": ("type", "size", "backups"),
    "cache": ("type", "size", "eviction"),
}
_TITLES = {
    "compute": "Compute (the service's own pods)",
    "database": "Database",
    "cache": "Cache",
    "replicas": "Replicas",
    "cpu": "CPU request per pod",
    "memory": "Memory request per pod",
    "type": "Engine",
    "size": "Size",
    "backups": "Backups",
    "eviction": "Eviction",
}
_HELP = {
    "compute.cpu": 'a Kubernetes quantity: "500m", "1", "2"',
    "compute.memory": 'a Kubernetes quantity: "256Mi", "1Gi"',
}
_PATH = re.compile(r"\bspec\.(compute|database|cache)(?:\.(\w+))?:")


@dataclass(frozen=True, slots=True)
class FormField:
    """One field, shaped as the form widget reads it (``widgets.schema_form.FieldView``)."""

    name: str
    title: str
    kind: str  # boolean | integer | string | enum
    value: Any
    error: str | None = None
    description: str = ""
    choices: list[tuple[Any, str]] = field(default_factory=list)
    required: bool = False
    widget: str | None = None
    help: str = ""
    placeholder: str = ""
    autofocus: bool = False
    readonly: bool = False
    hidden: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def owner_name(owner: str) -> str:
    """A catalog owner ref (``group:default/team-payments``) as the infra file names it."""
    return owner.rsplit("/", 1)[-1].split(":", 1)[-1]


class ResourcesForm:
    """The answers of the edit form; the first values come from the file (or the defaults)."""

    def __init__(
        self, service: str, owner: str, settings: InfraSettings, current: ServiceResources | None = None
    ) -> None:
        self.service = service
        self.owner = current.owner if current else owner_name(owner)
        self.approved_by = current.approved_by if current else ()
        self.settings = settings
        self.values: dict[str, Any] = {
            "compute": True if current is None else current.compute is not None,
            "database": bool(current and current.database),
            "cache": bool(current and current.cache),
        }
        compute = current.compute if current and current.compute else None
        self.values.update(
            {
                "compute.replicas": str(compute.replicas if compute else DEFAULT_COMPUTE["replicas"]),
                "compute.cpu": compute.cpu if compute else DEFAULT_COMPUTE["cpu"],
                "compute.memory": compute.memory if compute else DEFAULT_COMPUTE["memory"],
            }
        )
        database = current.database if current and current.database else None
        cache = current.cache if current and current.cache else None
        small = {kind: (settings.size_names(kind) or ["small"])[0] for kind in ("database", "cache")}
        self.values.update(
            {
                "database.type": database.type if database else DATABASE_TYPES[0],
                "database.size": database.size if database else small["database"],
                "database.backups": database.backups if database else "daily",
                "cache.type": cache.type if cache else CACHE_TYPES[0],
                "cache.size": cache.size if cache else small["cache"],
                "cache.eviction": cache.eviction if cache else "lru",
            }
        )
        self.problem: tuple[str, str] | None = None  # (field, why) from the last check of the file

    def set(self, name: str, value: Any) -> None:
        """The user changed ``name`` (text as typed, a choice, a checkbox)."""
        self.values[name] = value
        self.problem = None

    def _choices(self, name: str) -> list[tuple[Any, str]]:
        resource, key = name.split(".")
        options: tuple[str, ...] | list[str] = {
            ("database", "type"): DATABASE_TYPES,
            ("database", "backups"): BACKUPS,
            ("cache", "type"): CACHE_TYPES,
            ("cache", "eviction"): EVICTIONS,
        }.get((resource, key), ())
        if key == "size":
            return [(size, self._size_label(resource, size)) for size in self.settings.size_names(resource)]
        return [(option, option) for option in options]

    def _size_label(self, resource: str, size: str) -> str:
        spec = self.settings.sizes[resource][size]
        price = self.settings.prices.by_size.get(resource, {}).get(size)
        where = f"{spec.cpu} cpu, {spec.memory}" + (f", {spec.storage}" if spec.storage else "")
        return f"{size} ({where}" + (f", {price:,.0f}/month)" if price is not None else ")")

    def fields(self) -> list[FormField]:
        """The form as it stands: a checkbox per resource, its fields while it is on."""
        errors = self.errors()
        out: list[FormField] = []
        for resource in RESOURCES:
            out.append(FormField(resource, _TITLES[resource], "boolean", bool(self.values[resource])))
            for key in _FIELDS[resource]:
                name = f"{resource}.{key}"
                kind = "integer" if key == "replicas" else "string" if resource == "compute" else "enum"
                out.append(
                    FormField(
                        name, _TITLES[key], kind, self.values[name], errors.get(name),
                        choices=self._choices(name) if kind == "enum" else [], required=True,
                        help=_HELP.get(name, ""), hidden=not self.values[resource],
                    )
                )  # fmt: skip
        return out

    def errors(self) -> dict[str, str]:
        """What is wrong with the answers now, per field (checked as the file will be)."""
        errors: dict[str, str] = {}
        if self.values["compute"]:
            replicas = str(self.values["compute.replicas"]).strip()
            if not replicas.isdigit() or not 0 <= int(replicas) <= 1000:
                errors["compute.replicas"] = "a whole number from 0 to 1000"
            for key in ("cpu", "memory"):
                raw = str(self.values[f"compute.{key}"])
                try:
                    if parse_quantity(raw) == 0:
                        errors[f"compute.{key}"] = "a request of zero runs nothing"
                except QuantityError as error:
                    errors[f"compute.{key}"] = str(error)
        if self.problem is not None:
            errors.setdefault(*self.problem)
        return errors

    def text(self) -> str:
        """The answers as ``resources.yaml``, in the shape developers write it."""
        lines = [
            f"apiVersion: {API_VERSION}",
            f"kind: {KIND}",
            "metadata:",
            f"  name: {self.service}",
            f"  owner: {self.owner}",
        ]
        if self.approved_by:
            lines.append(f"  approvedBy: [{', '.join(self.approved_by)}]")
        sections = []
        for resource in RESOURCES:
            if not self.values[resource]:
                continue
            pairs = []
            for key in _FIELDS[resource]:
                value = str(self.values[f"{resource}.{key}"]).strip()
                quoted = resource == "compute" and key != "replicas"
                pairs.append(f"{key}: {json.dumps(value) if quoted else value}")
            sections.append(f"  {resource + ':':<9} {{{', '.join(pairs)}}}")
        lines.append("spec:" if sections else "spec: {}")
        return "\n".join([*lines, *sections]) + "\n"

    def check(self, production: bool) -> str | None:
        """The file the answers make, or None with :attr:`problem` set (the form keeps the answers)."""
        if self.errors():
            return None
        text = self.text()
        file = f"{self.settings.path.strip('/')}/{self.service}/resources.yaml".lstrip("/")
        try:
            parse_resources(text, file, self.settings, production=production, service=self.service)
        except InfraInputError as error:
            match = _PATH.search(str(error))
            name = f"{match[1]}.{match[2]}" if match and match[2] else (match[1] if match else "compute")
            self.problem = (name if name in self.values else "compute", str(error))
            return None
        return text


def check(session: InfraSession, service: str, text: str) -> ServiceResources:
    """Validate an edited file; raises :class:`InfraInputError` (``FILE:LINE: key: why``)."""
    return parse_resources(
        text,
        resources_file(session.settings, service),
        session.settings,
        production=session.target.production,
        service=service,
    )


def preview_plan(session: InfraSession, service: str, text: str) -> Plan:
    """``infra plan SERVICE`` of the infra ref with the service's file replaced by ``text``.

    The cost before is the last recorded apply (as ``infra plan`` says it); when nothing was ever
    applied, the ref's own files: the change request then shows what the edit itself costs."""
    from backends.infra.history import last_applied
    from backends.infra.plan import monthly_cost

    settings = session.settings
    tree = read_tree(settings.repo, settings.ref, settings.path)
    previous = last_applied(session.history, session.target.environment)
    if previous is not None:
        before = dict(previous.costs)
    else:
        before = {}
        for name, source in tree.resources.items():
            try:
                parsed = parse_resources(
                    source, tree.resource_files[name], settings, production=session.target.production
                )
            except InfraInputError:
                continue  # the plan reports it
            before[name] = monthly_cost(parsed, settings)
    edited = with_file(tree, service, resources_file(settings, service), text)
    return make_plan(
        edited, settings, session.target, ref=f"{settings.ref} + your edit",
        live=lambda: live_objects(session.cluster, session.target.namespace, settings),
        costs_before=before, service=service,
    )  # fmt: skip
