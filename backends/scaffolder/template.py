"""The ``scaffolder.backstage.io/v1beta3`` Template model, and where templates come from.

A template is read from a ``template.yaml`` on disk (``golden_paths/``, a workspace template
source, a path on the command line) or from a catalog ``Template`` entity; relative ``url``s in its
steps resolve against ``base_dir``, the directory the file lives in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml_rs

import golden_paths
from backends.globs import glob_files
from backends.scaffolder.errors import TemplateError

API_VERSION = "scaffolder.backstage.io/v1beta3"
GOLDEN_PATHS_DIR = Path(golden_paths.__file__).resolve().parent  # shipped as a package, so it installs
TEMPLATE_FILE = "template.yaml"


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One ``spec.steps[]`` entry exactly as written (inputs are rendered at run time)."""

    id: str
    name: str
    action: str
    input: dict[str, Any] = field(default_factory=dict)
    condition: Any = None  # the ``if`` key: None (always), a bool, or a template string
    each: Any = None
    index: int = 0


@dataclass(slots=True)
class Template:
    """A parsed template; ``pages`` is always a list even when ``spec.parameters`` was one object."""

    name: str
    title: str
    description: str
    tags: list[str]
    owner: str
    type: str
    namespace: str
    pages: list[dict[str, Any]]
    steps: list[StepSpec]
    output: dict[str, Any]
    base_dir: Path
    source: str  # file (or catalog position) it was read from, for messages
    raw: dict[str, Any]

    @property
    def ref(self) -> str:
        """The entity ref Backstage would give it: ``template:default/name``."""
        return f"template:{self.namespace}/{self.name}".lower()

    @property
    def display_title(self) -> str:
        return self.title or self.name

    def secret_parameters(self) -> set[str]:
        """Names of parameters marked secret (``ui:field: Secret`` or ``ui:widget: password``).

        Conditional branches (``dependencies``, ``allOf``/``oneOf`` …) are searched too: a field is
        secret wherever the schema declares it so.
        """
        return {name for page in self.pages for name in _secret_properties(page)}


def template_from_dict(raw: object, base_dir: Path, source: str) -> Template:
    """Build a Template from an entity document; raises TemplateError naming ``source``."""
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{source}: a template must be a mapping")
    if raw.get("kind") != "Template":
        raise TemplateError(f"{source}: kind is {raw.get('kind')!r}, expected 'Template'")
    if raw.get("apiVersion") != API_VERSION:
        raise TemplateError(f"{source}: apiVersion {raw.get('apiVersion')!r} is not {API_VERSION}")
    metadata = _mapping(raw.get("metadata"))
    spec = _mapping(raw.get("spec"))
    name = str(metadata.get("name") or "")
    if not name:
        raise TemplateError(f"{source}: metadata.name is required")
    if not spec.get("type"):
        raise TemplateError(f"{source}: spec.type is required")
    steps_raw = spec.get("steps")
    if not isinstance(steps_raw, list):
        raise TemplateError(f"{source}: spec.steps must be a list")
    parameters = spec.get("parameters") or []
    pages = [parameters] if isinstance(parameters, Mapping) else parameters
    if not isinstance(pages, list) or not all(isinstance(p, Mapping) for p in pages):
        raise TemplateError(f"{source}: spec.parameters must be an object or a list of objects")
    steps: list[StepSpec] = []
    seen: set[str] = set()
    for index, step in enumerate(steps_raw):
        if not isinstance(step, Mapping) or not isinstance(step.get("action"), str):
            raise TemplateError(f"{source}: step {index + 1} needs an 'action'")
        step_id = str(step.get("id") or f"step-{index + 1}")
        if step_id in seen:
            raise TemplateError(f"{source}: duplicate step id {step_id!r}")
        seen.add(step_id)
        step_input = step.get("input") or {}
        if not isinstance(step_input, Mapping):
            raise TemplateError(f"{source}: step {step_id!r}: input must be a mapping")
        steps.append(
            StepSpec(
                id=step_id,
                name=str(step.get("name") or step["action"]),
                action=step["action"],
                input=dict(step_input),
                condition=step.get("if"),
                each=step.get("each"),
                index=index,
            )
        )
    output = _mapping(spec.get("output"))
    tags = metadata.get("tags")
    return Template(
        name=name,
        title=str(metadata.get("title") or ""),
        description=str(metadata.get("description") or ""),
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
        owner=str(spec.get("owner") or ""),
        type=str(spec.get("type")),
        namespace=str(metadata.get("namespace") or "default"),
        pages=[dict(p) for p in pages],
        steps=steps,
        output=dict(output),
        base_dir=base_dir,
        source=source,
        raw=dict(raw),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def load_template_file(path: str | os.PathLike[str]) -> Template:
    """Read one template file (or a directory holding ``template.yaml``)."""
    file = Path(path)
    if file.is_dir():
        file = file / TEMPLATE_FILE
    # The catalog's reader: regular files only (a FIFO would hang), UTF-8 text, a size cap.
    from backends.catalog.loader import CatalogFileError, read_catalog_file

    try:
        text = read_catalog_file(file)
    except CatalogFileError as error:
        raise TemplateError(f"{file}: {error}") from error
    try:
        documents = yaml_rs.loads(text, parse_datetime=False)
    except yaml_rs.YAMLDecodeError as error:
        raise TemplateError(f"{file}: {error}") from error
    if isinstance(documents, list) and documents and all(isinstance(d, Mapping) for d in documents):
        templates = [d for d in documents if d.get("kind") == "Template"]
        if len(templates) != 1:
            raise TemplateError(f"{file}: expected exactly one Template document, found {len(templates)}")
        documents = templates[0]
    return template_from_dict(documents, file.parent.resolve(), str(file))


def template_from_entity(entity: Any, root: Path | None = None) -> Template:
    """A Template from a catalog Entity; relative ``url``s resolve next to the entity's file.

    Local positions are labels relative to the catalog source's root (the workspace directory,
    ``root``); git positions (``<url>@<ref>:<path>``) resolve inside the cached checkout.
    """
    from backends.docs.location import parse_git_position

    label = str(entity.position.file)
    git_position = parse_git_position(label)
    if git_position is not None:
        from backends.git.checkout import GitSourceError, sync_repository

        url, ref, path = git_position
        try:
            base = sync_repository(url, ref).path / Path(path).parent
        except GitSourceError as error:
            raise TemplateError(f"{entity.position}: cannot check out {url}@{ref}: {error}") from error
    else:
        file = Path(label)
        if not file.is_absolute() and root is not None:
            file = Path(root) / file
        base = file.parent
    return template_from_dict(entity.raw, base.resolve(), str(entity.position))


def golden_path_files() -> list[Path]:
    """The ``template.yaml`` of every golden path shipped with the package."""
    return sorted(GOLDEN_PATHS_DIR.glob(f"*/{TEMPLATE_FILE}"))


@dataclass(slots=True)
class TemplateLibrary:
    """Every template the console knows: golden paths, workspace template sources, the catalog.

    Later sources win on a name clash (a workspace may override a golden path), in this order:
    golden paths, workspace ``templates.sources``, catalog Template entities.
    """

    templates: dict[str, Template] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def discover(cls, workspace: Any = None, catalog: Any = None) -> TemplateLibrary:
        """Collect templates; unreadable ones become ``problems`` instead of failing the lot."""
        library = cls()
        for file in golden_path_files():
            library._add_file(file)
        for source in getattr(workspace, "template_sources", None) or []:
            for file in _source_files(source, library.problems):
                library._add_file(file)
        for entity in _catalog_entities(catalog):
            if entity.kind == "Template" and entity.api_version == API_VERSION:
                try:
                    library._add(template_from_entity(entity, getattr(workspace, "root", None)))
                except TemplateError as error:
                    library.problems.append(str(error))
        return library

    def _add_file(self, file: Path) -> None:
        try:
            self._add(load_template_file(file))
        except TemplateError as error:
            self.problems.append(str(error))

    def _add(self, template: Template) -> None:
        self.templates[template.name] = template

    def list(self) -> list[Template]:
        """Templates sorted by title, for a picker."""
        return sorted(self.templates.values(), key=lambda t: t.display_title.lower())

    def find(self, name_or_path: str) -> Template:
        """A template by name, ``template:ns/name`` ref, or a path to a template file/directory."""
        key = (
            name_or_path.rsplit("/", 1)[-1] if name_or_path.lower().startswith("template:") else name_or_path
        )
        if key in self.templates:
            return self.templates[key]
        candidate = Path(name_or_path).expanduser()
        if candidate.exists():
            return load_template_file(candidate)
        known = ", ".join(sorted(self.templates)) or "none"
        raise TemplateError(f"no template named {name_or_path!r} (known: {known}) and no such file")


def _source_files(source: Any, problems: list[str]) -> Iterable[Path]:
    if getattr(source, "type", "dir") != "dir":
        root = _checkout(source, problems)
        if root is None:
            return []
        patterns = [os.path.join(root, pattern.lstrip("/")) for pattern in source.paths]
    else:
        path = Path(source.path)
        if path.is_file():
            return [path]
        patterns = [os.path.join(source.path, "**", "*.yaml") if path.is_dir() else source.path]
    # The catalog's glob rules (node glob: dotfiles only by a dotted segment), so a template source
    # and a catalog source with the same pattern find the same files.
    files = [Path(p) for pattern in patterns for p in glob_files(pattern, dot=False)]
    return [p for p in files if _is_template_file(p)]


def _is_template_file(path: Path) -> bool:
    # Cheap sniff so skeleton YAML files (manifests, catalog-info) are not parsed as templates.
    if path.name != TEMPLATE_FILE:
        if not path.is_file():  # a FIFO named *.yaml must not hang discovery
            return False
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:4000]
        except OSError:
            return False
        return "kind: Template" in head and API_VERSION in head
    return True


def _checkout(source: Any, problems: list[str]) -> Path | None:
    """The files of a git template source at its ref (the catalog area's cached checkouts)."""
    from backends.git.checkout import GitSourceError, sync_repository

    try:
        checkout = sync_repository(source.url, source.ref)
    except GitSourceError as error:
        problems.append(f"git template source {source.url}: {error}")
        return None
    if checkout.warning:
        problems.append(f"git template source {source.url}: {checkout.warning}")
    return checkout.path


def is_secret_schema(schema: Any) -> bool:
    """Whether one property's schema marks its value secret."""
    return isinstance(schema, Mapping) and (
        schema.get("ui:field") == "Secret" or schema.get("ui:widget") == "password"
    )


def _secret_properties(schema: Any) -> Iterable[str]:
    if isinstance(schema, list):
        for item in schema:
            yield from _secret_properties(item)
        return
    if not isinstance(schema, Mapping):
        return
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        yield from (str(name) for name, prop in properties.items() if is_secret_schema(prop))
    for key, value in schema.items():
        if key != "properties" and isinstance(value, (Mapping, list)):
            yield from _secret_properties(value)


def _catalog_entities(catalog: Any) -> Iterable[Any]:
    if catalog is None:
        return []
    entities = getattr(catalog, "entities", None)
    if callable(entities):
        entities = entities()
    if isinstance(entities, Mapping):
        return list(entities.values())
    return list(entities or [])
