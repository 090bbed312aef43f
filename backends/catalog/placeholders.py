"""``$text`` / ``$json`` / ``$yaml`` placeholders (Backstage's ``PlaceholderProcessor``).

A mapping with exactly one key ``$text``, ``$json`` or ``$yaml`` is replaced by the content of the
file it names, resolved relative to the entity's own file. Unlike Backstage (which only checks that a
URL stays in the same repository), a local path must stay inside the source root: a catalog file
from a cloned repository must not be able to read ``~/.ssh`` into an entity.
URLs are not fetched (the console works offline): the value becomes a visible stub and a warning.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from backends.catalog.loader import CatalogFileError, parse_documents, read_catalog_file

_URL = re.compile(r"[a-z][a-z0-9+.\-]*://", re.IGNORECASE)
_KINDS = ("text", "json", "yaml")


class PlaceholderError(Exception):
    """A placeholder that cannot be resolved; the entity is invalid (as in Backstage)."""


@dataclass(slots=True)
class PlaceholderContext:
    """Where relative paths start (the entity file's directory) and where they must stay."""

    base_dir: str
    root: str | None  # None: no restriction (e.g. `catalog validate` on files the user named)
    warnings: list[str] = field(default_factory=list)


def resolve_placeholders(data: Any, context: PlaceholderContext) -> Any:
    """``data`` with every placeholder replaced (a new structure where something changed)."""
    if isinstance(data, list):
        items = [resolve_placeholders(item, context) for item in data]
        return items if any(a is not b for a, b in zip(items, data, strict=True)) else data
    if not isinstance(data, dict):
        return data
    keys = list(data)
    if not any(isinstance(k, str) and k.startswith("$") for k in keys):
        changed = False
        result = {}
        for key, value in data.items():
            new = resolve_placeholders(value, context)
            changed = changed or new is not value
            result[key] = new
        return result if changed else data
    if len(keys) != 1:
        return data  # Backstage leaves mixed mappings alone
    kind = str(keys[0])[1:]
    if kind not in _KINDS:
        return data  # an unknown resolver is left as written
    value = data[keys[0]]
    if not isinstance(value, str):
        raise PlaceholderError(
            f"Placeholder ${kind} expected a string value parameter, in the form of an absolute URL or a "
            "relative path"
        )
    if _URL.match(value):
        context.warnings.append(f"placeholder ${kind}: {value} is a URL; not fetched")
        return f"<unresolved ${kind} {value}>" if kind == "text" else {}
    return _read(kind, value, context)


def _read(kind: str, value: str, context: PlaceholderContext) -> Any:
    path = os.path.realpath(os.path.join(context.base_dir, value))
    if context.root is not None:
        root = os.path.realpath(context.root)
        if path != root and not path.startswith(root.rstrip(os.sep) + os.sep):
            raise PlaceholderError(
                f"Placeholder ${kind} {value} points outside the source root {context.root}"
            )
    try:
        text = read_catalog_file(path)
    except CatalogFileError as error:
        raise PlaceholderError(f"Placeholder ${kind} could not read {value}: {error}") from error
    if kind == "text":
        return text
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise PlaceholderError(
                f"Placeholder $json failed to parse JSON data at {value}, {error}"
            ) from error
    documents = parse_documents(text)
    if len(documents) != 1:
        raise PlaceholderError(
            f"Placeholder $yaml expected to find exactly one document of data at {value}, "
            f"found {len(documents)}"
        )
    if documents[0].error:
        raise PlaceholderError(
            f"Placeholder $yaml failed to parse YAML data at {value}, {documents[0].error}"
        )
    return documents[0].data
