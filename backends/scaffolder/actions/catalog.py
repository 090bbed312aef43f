"""``catalog:write``, ``catalog:register``, ``catalog:fetch`` against the workspace catalog."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from backends import paths
from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.git.publish import PublishError, clone_or_update
from backends.scaffolder.actions.base import Action, ActionContext, StepSkipped
from backends.scaffolder.errors import ActionFailed

SOURCE_TEMPLATE_ANNOTATION = "backstage.io/source-template"


class _BackstageYamlDumper(yaml.SafeDumper):
    """YAML laid out as Backstage's ``catalog:write`` writes it (the ``yaml`` package's defaults):
    list items indented under their key, double quotes where quoting is needed, and multi-line
    strings as ``|`` blocks, so a file written here is byte-identical to one written there."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text.rstrip("\n") or (text.endswith("\n") and "\n" in text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BackstageYamlDumper.add_representer(str, _represent_text)


class CatalogWrite(Action):
    id = "catalog:write"
    description = "Write a catalog-info.yaml for an entity into the workspace."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["entity"],
        "properties": {"entity": {"type": "object"}, "filePath": {"type": "string"}},
    }

    def run(self, ctx: ActionContext) -> None:
        entity = dict(ctx.input["entity"])
        metadata = dict(entity.get("metadata") or {})
        annotations = dict(metadata.get("annotations") or {})
        annotations[SOURCE_TEMPLATE_ANNOTATION] = ctx.template.ref
        metadata["annotations"] = annotations
        entity["metadata"] = metadata
        dest = ctx.files.resolve(ctx.input.get("filePath") or "catalog-info.yaml", what="filePath")
        text = yaml.dump(entity, Dumper=_BackstageYamlDumper, sort_keys=False, allow_unicode=True)
        ctx.files.write_bytes(dest, text.encode("utf-8"))
        ctx.log(f"Writing {ctx.files.relative(dest)}")


class CatalogRegister(Action):
    id = "catalog:register"
    description = "Add the entities of a catalog file to the workspace catalog."
    supports_dry_run = False
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "catalogInfoUrl": {"type": "string"},
            "repoContentsUrl": {"type": "string"},
            "catalogInfoPath": {"type": "string"},
            "optional": {"type": "boolean"},
        },
        "oneOf": [{"required": ["catalogInfoUrl"]}, {"required": ["repoContentsUrl"]}],
    }
    output_schema = {
        "type": "object",
        "properties": {"entityRef": {"type": "string"}, "catalogInfoUrl": {"type": "string"}},
    }

    def run(self, ctx: ActionContext) -> None:
        location = ctx.input.get("catalogInfoUrl") or (
            str(ctx.input["repoContentsUrl"]).rstrip("/")
            + "/"
            + str(ctx.input.get("catalogInfoPath") or "/catalog-info.yaml").lstrip("/")
        )
        ctx.output("catalogInfoUrl", location)
        if ctx.services.register is None:
            raise StepSkipped(f"no catalog is attached to this run; {location} was not registered")
        try:
            path = _local_file(ctx, location)
            if not path.is_file():
                raise ActionFailed(f"{path} does not exist")
            ctx.log(f"Registering {location}")
            entities = ctx.services.register(str(path))
        except StepSkipped:
            raise
        except Exception as error:  # noqa: BLE001 - registration failures of any kind end up here
            if ctx.input.get("optional"):
                ctx.log(f"Registration of {location} failed (optional): {error}")
                return
            raise ActionFailed(f"cannot register {location}: {error}") from error
        entities = list(entities or [])
        if not entities:
            problems = [
                p.message
                for p in getattr(ctx.services.catalog, "problems", None) or []
                if os.path.abspath(str(getattr(p.position, "file", ""))) == os.path.abspath(path)
            ]
            detail = "; ".join(problems) if problems else "the file holds no valid entity"
            if ctx.input.get("optional"):
                ctx.log(f"Nothing registered from {location} (optional): {detail}")
                return
            raise ActionFailed(f"nothing registered from {location}: {detail}")
        chosen = next((e for e in entities if e.kind.lower() != "location"), entities[0])
        ctx.output("entityRef", chosen.ref.canonical)
        ctx.log(f"Registered {', '.join(e.ref.canonical for e in entities)}")


def _local_file(ctx: ActionContext, location: str) -> Path:
    """A local file for ``location``: a path, a file:// URL, or a file in a repository this task pushed.

    Pushed repositories are checked out (once) under the data dir so the registration survives the
    task workspace being cleaned up.
    """
    if location.startswith("file://") and "/blob/" not in location:
        return Path(unquote(urlparse(location).path))
    if os.path.isabs(location):
        return Path(location)
    published: dict[str, dict[str, Any]] = ctx.task_state.get("published", {})
    for contents_url, record in published.items():
        if location.startswith(contents_url.rstrip("/") + "/"):
            relative = location[len(contents_url.rstrip("/")) + 1 :]
            owner, repo = record["owner"] or "_", record["repo"]
            checkout = paths.data_dir() / "repos" / owner / repo
            try:
                clone_or_update(record["remote"], record["branch"], checkout, token=record.get("token"))
            except PublishError as error:
                raise ActionFailed(str(error)) from error
            ctx.log(f"Working copy of {record['remote']} is at {checkout}")
            path = (checkout / relative).resolve()
            if not path.is_relative_to(checkout.resolve()):
                raise ActionFailed(f"{location}: path leaves the repository")
            return path
    if "://" not in location and not location.startswith("git@"):
        return ctx.files.resolve(location, what="catalogInfoUrl")
    raise ActionFailed(
        f"{location}: only local files and repositories published by this task can be registered"
    )


class CatalogFetch(Action):
    id = "catalog:fetch"
    description = "Look entities up in the workspace catalog."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "entityRef": {"type": "string"},
            "entityRefs": {"type": "array", "items": {"type": "string"}},
            "optional": {"type": "boolean"},
            "defaultKind": {"type": "string"},
            "defaultNamespace": {"type": "string"},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {"entity": {"type": "object"}, "entities": {"type": "array"}},
    }

    def run(self, ctx: ActionContext) -> None:
        if "entityRef" not in ctx.input and "entityRefs" not in ctx.input:
            raise ActionFailed("catalog:fetch needs entityRef or entityRefs")
        optional = bool(ctx.input.get("optional"))
        if "entityRef" in ctx.input:
            entity = self._lookup(ctx, ctx.input["entityRef"])
            if entity is None and not optional:
                raise ActionFailed(f"entity {ctx.input['entityRef']} not found")
            ctx.output("entity", entity)
        if "entityRefs" in ctx.input:
            found = [self._lookup(ctx, ref) for ref in ctx.input["entityRefs"]]
            missing = [ref for ref, e in zip(ctx.input["entityRefs"], found, strict=True) if e is None]
            if missing and not optional:
                raise ActionFailed(f"entities not found: {', '.join(missing)}")
            ctx.output("entities", found)

    def _lookup(self, ctx: ActionContext, ref: str) -> dict[str, Any] | None:
        try:
            wanted = parse_entity_ref(
                ref,
                default_kind=ctx.input.get("defaultKind"),
                default_namespace=ctx.input.get("defaultNamespace") or "default",
            ).canonical
        except EntityRefError as error:
            raise ActionFailed(str(error)) from error
        catalog = ctx.services.catalog
        if catalog is None:
            raise ActionFailed("no catalog is attached to this run")
        entities = getattr(catalog, "entities", [])
        entities = entities.values() if isinstance(entities, Mapping) else entities
        for entity in entities:
            if entity.ref.canonical == wanted:
                return entity.as_dict() if hasattr(entity, "as_dict") else dict(entity.raw)
        return None
