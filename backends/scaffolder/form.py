"""The form model behind the wizard and the CLI prompts: pages, visible fields, defaults, errors.

Pure data in, pure data out: give it a Template and answers, ask for the visible pages. Everything a
screen needs to draw a field (kind, widget, help, options, current value, error) is on ``FormField``;
the screen only renders it and calls ``FormModel.set`` with what was typed.

JSON-Schema conditionals are resolved against the current answers (defaults included):
``dependencies`` (list form = extra required keys; schema form, with ``oneOf`` branches chosen by
``const``/``enum``), ``allOf`` of ``if``/``then``/``else``, ``oneOf``/``anyOf`` at page level, and a page's
``when`` condition (a ``${{ }}`` expression over earlier answers). Answers of fields that are not
visible are dropped from the result, as Backstage's form does.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import yaml

from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.scaffolder import pickers
from backends.scaffolder import schema as schema_rules
from backends.scaffolder.errors import ExpressionError
from backends.scaffolder.expressions import TemplateEngine, is_truthy
from backends.scaffolder.template import Template, _catalog_entities, is_secret_schema

MASK = "••••••"
_FORMAT_CHECKER = jsonschema.Draft7Validator.FORMAT_CHECKER


@dataclass(frozen=True, slots=True)
class FormField:
    """One visible field, ready to draw.

    ``kind`` is one of: string, text (textarea), password, number, integer, boolean, enum (one of
    ``enum`` — radio when ``widget == "radio"``), multiselect (array of enum — checkboxes), array
    (free list of strings), object, entity (EntityPicker/OwnerPicker/OwnedEntityPicker/MyGroupsPicker),
    entities (MultiEntityPicker), tags (EntityTagsPicker), repo-url (RepoUrlPicker), secret.
    """

    name: str
    page: int
    title: str
    description: str
    kind: str
    schema: dict[str, Any]
    required: bool = False
    value: Any = None
    default: Any = None
    error: str | None = None
    ui_field: str | None = None
    widget: str | None = None
    help: str = ""
    placeholder: str = ""
    autofocus: bool = False
    readonly: bool = False
    hidden: bool = False  # ui:widget hidden: keeps its value, never drawn
    secret: bool = False  # ui:field Secret: the value goes to ``secrets``, never ``parameters``
    enum: tuple[Any, ...] | None = None
    enum_names: tuple[str, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # ui:options

    @property
    def choices(self) -> list[tuple[Any, str]]:
        """(value, label) pairs for enum/multiselect fields (enumNames as labels)."""
        values = self.enum or ()
        names = self.enum_names or ()
        return [(v, str(names[i]) if i < len(names) else str(v)) for i, v in enumerate(values)]


@dataclass(frozen=True, slots=True)
class FormPage:
    """A visible page: its fields in display order and the errors of those fields."""

    index: int  # index in the template's ``pages`` (stable even when earlier pages are hidden)
    title: str
    description: str
    fields: list[FormField]

    @property
    def errors(self) -> dict[str, str]:
        return {f.name: f.error for f in self.fields if f.error}

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A line of the review page; secrets and ``ui:backstage.review.mask`` fields are masked."""

    page: str
    name: str
    title: str
    display: str


class FormModel:
    """Answers plus the template's parameter schema → visible pages, errors and final values.

    ``catalog`` is anything with ``.entities`` (list or mapping of Entity); ``user`` is the
    identity (``jane.doe`` or ``user:default/jane.doe``) used by OwnedEntityPicker/MyGroupsPicker.
    """

    def __init__(
        self,
        template: Template,
        *,
        catalog: Any = None,
        user: str | None = None,
        answers: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.user = user
        self.answers: dict[str, Any] = dict(answers or {})
        self._catalog = catalog
        self._entities: list[Any] | None = None
        self._names: dict[str, Any] | None = None  # lowercase entity name → entity, built on first use
        self._engine = TemplateEngine()
        self._options_cache: dict[str, list[pickers.PickerOption]] = {}

    # -- answers ------------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """Record an answer; ``None`` or ``""`` clears it (the default applies again)."""
        if value is None or value == "" or value == []:
            self.answers.pop(name, None)
        else:
            self.answers[name] = value

    def set_text(self, name: str, text: str) -> None:
        """Record what was typed, converted to the field's type (see ``coerce``)."""
        self.set(name, self.coerce(name, text))

    def coerce(self, name: str, text: str) -> Any:
        """Turn typed text into the field's JSON type; unparsable text is kept so validation says why."""
        schema = self._field_schema(name)
        kind = schema.get("type")
        if kind == "string" or (kind is None and not schema.get("enum")):
            return text
        if kind == "array" and isinstance(text, str) and not text.strip().startswith("["):
            return [part.strip() for part in text.split(",") if part.strip()]
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        if (
            kind == "boolean"
            and isinstance(value, str)
            and value.lower() in ("y", "yes", "n", "no", "on", "off")
        ):
            return value.lower() in ("y", "yes", "on")
        return value

    def is_secret(self, name: str) -> bool:
        """Whether ``name`` is a ``Secret`` or ``password`` field (never shown, logged or typed in argv)."""
        return is_secret_schema(self._field_schema(name))

    def secret_answers(self) -> list[str]:
        """Names of answers that hold a secret: a ``Secret``/``password`` field, or ``secrets``.

        Answers from a file or the command line must not carry these: the file sits on disk and the
        command line in shell history, where anyone who can read them reads the secret.
        """
        return [
            str(name)
            for name in self.answers
            if str(name) == "secrets" or str(name).startswith("secrets.") or self.is_secret(str(name))
        ]

    def name_taken(self, value: Any) -> str | None:
        """Why ``value`` cannot be the new entity's ``name``: the catalog already has it (any kind).

        A duplicate would be registered beside the existing entity, shown as a catalog error in every
        later session, and opening it would open the other one — so it is refused before anything runs.
        """
        if not isinstance(value, str) or not value.strip():
            return None
        if self._names is None:
            self._names = {}
            for entity in self.entities():
                self._names.setdefault(str(getattr(entity, "name", "")).lower(), entity)
        taken = self._names.get(value.strip().lower())
        if taken is None:
            return None
        return f"{taken.ref.short} already exists in the catalog: choose another name"

    # -- pages and fields ---------------------------------------------------------------------
    def pages(self) -> list[FormPage]:
        """The visible pages, in order, with their visible fields, values and errors."""
        result = []
        earlier: dict[str, Any] = {}
        for index, page in enumerate(self.template.pages):
            if not self._page_visible(page, earlier):
                continue
            view = self._page_view(index, page)
            result.append(view)
            for item in view.fields:
                if item.value is not None:
                    earlier[item.name] = item.value
        return result

    def page(self, index: int) -> FormPage:
        """One visible page by its position among the visible pages."""
        return self.pages()[index]

    def fields(self) -> list[FormField]:
        """Every visible field of every visible page."""
        return [f for p in self.pages() for f in p.fields]

    def errors(self) -> dict[str, str]:
        """field name → error, over all visible pages."""
        return {f.name: f.error for f in self.fields() if f.error}

    def missing_required(self) -> list[FormField]:
        """Required visible fields that have neither an answer nor a default."""
        return [f for f in self.fields() if f.required and _empty(f.value)]

    @property
    def valid(self) -> bool:
        return not self.errors()

    def parameters(self) -> dict[str, Any]:
        """The values to run with: visible, non-secret fields, defaults applied."""
        return {f.name: f.value for f in self.fields() if not f.secret and f.value is not None}

    def secrets(self) -> dict[str, str]:
        """Values of ``Secret`` fields: they go to ``secrets.*`` only."""
        return {f.name: str(f.value) for f in self.fields() if f.secret and f.value is not None}

    def review(self) -> list[ReviewItem]:
        """What the review page shows; secrets, passwords and ``review.mask`` fields are masked."""
        items = []
        for page in self.pages():
            for item in page.fields:
                review = _mapping(_mapping(item.schema.get("ui:backstage")).get("review"))
                if review.get("show") is False or item.value is None:
                    continue
                masked = item.secret or item.widget == "password" or bool(review.get("mask"))
                mask = review.get("mask")
                display = (mask if isinstance(mask, str) else MASK) if masked else _display(item)
                items.append(ReviewItem(page=page.title, name=item.name, title=item.title, display=display))
        return items

    # -- pickers ------------------------------------------------------------------------------
    def options(self, name: str, query: str = "", limit: int = 50) -> list[pickers.PickerOption]:
        """Choices for a picker field, fuzzy-filtered by ``query`` (catalog-fed; enum for others)."""
        return pickers.fuzzy_filter(self._cached_options(name), query, limit)

    def _cached_options(self, name: str) -> list[pickers.PickerOption]:
        if name not in self._options_cache:
            self._options_cache[name] = self._all_options(name)
        return self._options_cache[name]

    def _all_options(self, name: str) -> list[pickers.PickerOption]:
        schema = self._field_schema(name)
        ui_field = schema.get("ui:field")
        ui_options = _mapping(schema.get("ui:options"))
        entities = self.entities()
        if ui_field in ("EntityPicker", "MultiEntityPicker"):
            return pickers.entity_options(entities, ui_options)
        if ui_field == "OwnedEntityPicker":
            return pickers.owned_entity_options(entities, ui_options, self.user)
        if ui_field == "OwnerPicker":
            return pickers.owner_options(entities, ui_options)
        if ui_field == "MyGroupsPicker":
            return pickers.my_groups_options(entities, self.user)
        if ui_field == "EntityTagsPicker":
            return pickers.tag_options(entities, ui_options)
        if ui_field == "RepoUrlPicker":
            return [pickers.PickerOption(value=h, label=h) for h in ui_options.get("allowedHosts") or []]
        enum = schema.get("enum") or (schema.get("items") or {}).get("enum") or []
        names = schema.get("enumNames") or (schema.get("items") or {}).get("enumNames") or []
        return [
            pickers.PickerOption(value=v, label=str(names[i]) if i < len(names) else str(v))
            for i, v in enumerate(enum)
        ]

    def entities(self) -> list[Any]:
        """The catalog's entities (read once per form)."""
        if self._entities is None:
            self._entities = list(_catalog_entities(self._catalog))
        return self._entities

    # -- internals ----------------------------------------------------------------------------
    def _page_visible(self, page: Mapping[str, Any], earlier: Mapping[str, Any]) -> bool:
        condition = page.get("when")
        if condition is None and isinstance(page.get("if"), (str, bool)):
            condition = page["if"]  # a JSON-Schema ``if`` is a mapping and is resolved, not obeyed
        if condition is None:
            return True
        if isinstance(condition, bool):
            return condition
        try:
            value = self._engine.render_value(str(condition), {"parameters": earlier})
        except ExpressionError:
            return True  # a broken condition must not hide a page: validation will show the rest
        return is_truthy(value)

    def _page_view(self, index: int, page: Mapping[str, Any]) -> FormPage:
        properties, required = self._resolve(page)
        order = schema_rules.ordered(list(properties), page.get("ui:order"))
        values = {}
        for name in order:
            value = self.answers.get(name)
            if _empty(value) and "default" in properties[name]:
                value = copy.deepcopy(properties[name]["default"])
            if not _empty(value):
                values[name] = value
        errors = self._validate(page, properties, values)
        for name in required:
            # Conditional branches report a failed oneOf at the root; name the missing field instead.
            if name in properties and _empty(values.get(name)):
                errors.setdefault(name, "is required")
        if "name" in values and "name" not in errors:
            taken = self.name_taken(values["name"])
            if taken:
                errors["name"] = taken
        fields = [
            self._field(index, name, properties[name], name in required, values.get(name), errors.get(name))
            for name in order
        ]
        return FormPage(
            index=index,
            title=str(page.get("title") or f"Step {index + 1}"),
            description=str(page.get("description") or ""),
            fields=fields,
        )

    def _resolve(self, page: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], builtins.set[str]]:
        # Defaults can switch branches on, and a newly shown branch can bring more defaults.
        properties: dict[str, dict[str, Any]] = {}
        required: builtins.set[str] = set()  # builtins.: the name set is FormModel.set here
        for _ in range(4):
            answers = self._with_defaults(properties)
            new_properties, new_required = schema_rules.resolve(page, answers)
            if new_properties.keys() == properties.keys() and new_required == required:
                break
            properties, required = new_properties, new_required
        return properties, required

    def _with_defaults(self, properties: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        answers = dict(self.answers)
        for name, schema in properties.items():
            if _empty(answers.get(name)) and "default" in schema:
                answers[name] = schema["default"]
        return {k: v for k, v in answers.items() if not _empty(v)}

    def _validate(
        self, page: Mapping[str, Any], properties: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any]
    ) -> dict[str, str]:
        schema = {k: v for k, v in page.items() if k not in ("title", "description", "when")}
        if not isinstance(schema.get("if"), Mapping):
            schema.pop("if", None)
        schema.setdefault("type", "object")
        errors: dict[str, str] = {}
        validator = jsonschema.Draft7Validator(schema, format_checker=_FORMAT_CHECKER)
        for error in validator.iter_errors(dict(values)):
            name = schema_rules.error_field(error)
            if name and name in properties and name not in errors:
                errors[name] = schema_rules.error_message(error, properties[name])
        for name, prop in properties.items():
            if name not in errors and not _empty(values.get(name)):
                problem = self._extension_error(name, prop, values[name])
                if problem:
                    errors[name] = problem
        return errors

    def _extension_error(self, name: str, schema: Mapping[str, Any], value: Any) -> str | None:
        ui_field = schema.get("ui:field")
        ui_options = _mapping(schema.get("ui:options"))
        if ui_field == "EntityNamePicker" and not _valid_entity_name(value):
            return pickers.ENTITY_NAME_MESSAGE
        if ui_field == "RepoUrlPicker":
            return pickers.repo_url_error(value, ui_options)
        if ui_field in pickers.ENTITY_PICKERS:
            refs = value if isinstance(value, list) else [value]
            default_kind = ui_options.get("defaultKind") or ("Group" if ui_field == "OwnerPicker" else None)
            for ref in refs:
                try:
                    parse_entity_ref(
                        str(ref),
                        default_kind=default_kind or "Component",
                        default_namespace=str(ui_options.get("defaultNamespace") or "default"),
                    )
                except EntityRefError as error:
                    return str(error)
            if ui_options.get("allowArbitraryValues") is False and self.entities():
                # Only the catalog's own entities may be chosen here.
                allowed = {o.value.lower() for o in self._cached_options(name)}
                for ref in refs:
                    if _normalise_ref(str(ref), default_kind) not in allowed:
                        return f"{ref!r} is not one of the offered entities"
        return None

    def _field(
        self, page: int, name: str, schema: dict[str, Any], required: bool, value: Any, error: str | None
    ) -> FormField:
        ui_field = schema.get("ui:field")
        widget = schema.get("ui:widget")
        items = _mapping(schema.get("items"))
        enum = schema.get("enum")
        enum_names = schema.get("enumNames")
        kind = _kind(schema, ui_field, widget)
        if kind == "multiselect":
            enum, enum_names = items.get("enum"), items.get("enumNames")
        ui_options = _mapping(schema.get("ui:options"))
        return FormField(
            name=name,
            page=page,
            title=str(schema.get("title") or name),
            description=str(schema.get("description") or ""),
            kind=kind,
            schema=schema,
            required=required,
            value=value,
            default=schema.get("default"),
            error=error,
            ui_field=ui_field,
            widget=widget,
            help=str(schema.get("ui:help") or ""),
            placeholder=str(schema.get("ui:placeholder") or ""),
            autofocus=bool(schema.get("ui:autofocus")),
            readonly=bool(schema.get("ui:readonly")),
            hidden=widget == "hidden",
            secret=ui_field == "Secret",
            enum=tuple(enum) if isinstance(enum, list) else None,
            enum_names=tuple(str(n) for n in enum_names) if isinstance(enum_names, list) else None,
            options=dict(ui_options),
        )

    def _field_schema(self, name: str) -> dict[str, Any]:
        for page in self.template.pages:
            properties, _ = self._resolve(page)
            if name in properties:
                return properties[name]
        for page in self.template.pages:
            found = schema_rules.all_properties(page).get(name)
            if found is not None:
                return found
        return {}


def _kind(schema: Mapping[str, Any], ui_field: Any, widget: Any) -> str:
    if ui_field == "Secret":
        return "secret"
    if ui_field == "RepoUrlPicker":
        return "repo-url"
    if ui_field == "MultiEntityPicker":
        return "entities"
    if ui_field == "EntityTagsPicker":
        return "tags"
    if ui_field in pickers.ENTITY_PICKERS:
        return "entity"
    kind = schema.get("type")
    items = _mapping(schema.get("items"))
    if kind == "array":
        return "multiselect" if "enum" in items or widget == "checkboxes" else "array"
    if "enum" in schema:
        return "enum"
    if kind == "string":
        return {"textarea": "text", "password": "password"}.get(str(widget), "string")
    if kind in ("number", "integer", "boolean", "object"):
        return str(kind)
    return "string"


def _valid_entity_name(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(pickers.ENTITY_NAME.match(value))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _normalise_ref(ref: str, default_kind: str | None) -> str:
    try:
        parsed = parse_entity_ref(ref, default_kind=default_kind or "Component")
    except EntityRefError:
        return ref.lower()
    return parsed.canonical


def _display(item: FormField) -> str:
    value = item.value
    if item.enum and item.enum_names and not isinstance(value, list):
        labels = dict(item.choices)
        return labels.get(value, str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, Mapping):
        return yaml.safe_dump(dict(value), sort_keys=False).strip()
    return str(value)


def required_of(fields: Iterable[FormField]) -> list[str]:
    """Names of required fields in ``fields`` (helper for CLI messages)."""
    return [f.name for f in fields if f.required]
