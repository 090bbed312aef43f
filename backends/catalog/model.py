"""Typed catalog entities, relations and problems.

An ``Entity`` wraps the document exactly as it was read (Backstage's envelope: apiVersion, kind,
metadata, spec) and remembers where it came from, so every message about it can name file and line.
Relations are computed by the catalog after all documents are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from backends.catalog.refs import DEFAULT_NAMESPACE, EntityRef


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a document starts: file (path or ``git:url@ref:path``), 1-based line, document index."""

    file: str
    line: int = 1
    index: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """A validation error or warning, always with the place it was found."""

    severity: Severity
    message: str
    position: SourcePosition
    ref: str | None = None  # canonical ref of the entity concerned, when known

    def __str__(self) -> str:
        where = f"{self.position}"
        about = f" [{self.ref}]" if self.ref else ""
        return f"{where}: {self.severity}{about}: {self.message}"


@dataclass(frozen=True, slots=True)
class Relation:
    """One edge, as Backstage stores it: ``{type, targetRef}`` with a lowercase target."""

    type: str
    target: str  # canonical ref

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "targetRef": self.target}


@dataclass(slots=True, eq=False)
class Entity:
    raw: dict[str, Any]
    position: SourcePosition
    relations: list[Relation] = field(default_factory=list)
    # What the entity's own spec fields declare, ``[(type, canonical target)]``; ``relations`` is
    # computed from these plus the reverse relations other entities declare towards this one.
    declared_relations: list[tuple[str, str]] = field(default_factory=list)

    # -- envelope -----------------------------------------------------------------------------
    @property
    def api_version(self) -> str:
        return str(self.raw.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.raw.get("kind", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.raw.get("metadata")
        return value if isinstance(value, dict) else {}

    @property
    def spec(self) -> dict[str, Any]:
        value = self.raw.get("spec")
        return value if isinstance(value, dict) else {}

    # -- metadata -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or DEFAULT_NAMESPACE)

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.kind, self.namespace, self.name)

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or "")

    @property
    def description(self) -> str:
        return str(self.metadata.get("description") or "")

    @property
    def tags(self) -> list[str]:
        tags = self.metadata.get("tags")
        return [str(t) for t in tags] if isinstance(tags, list) else []

    @property
    def labels(self) -> dict[str, Any]:
        value = self.metadata.get("labels")
        return value if isinstance(value, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        value = self.metadata.get("annotations")
        return value if isinstance(value, dict) else {}

    @property
    def links(self) -> list[dict[str, Any]]:
        value = self.metadata.get("links")
        return [link for link in value if isinstance(link, dict)] if isinstance(value, list) else []

    # -- common spec fields -------------------------------------------------------------------
    def _spec_str(self, key: str) -> str:
        value = self.spec.get(key)
        return value if isinstance(value, str) else ""

    @property
    def type(self) -> str:
        return self._spec_str("type")

    @property
    def lifecycle(self) -> str:
        return self._spec_str("lifecycle")

    @property
    def owner(self) -> str:
        return self._spec_str("owner")

    @property
    def system(self) -> str:
        return self._spec_str("system")

    def relations_of(self, relation_type: str) -> list[str]:
        """Canonical target refs of this entity's relations of one type."""
        return [r.target for r in self.relations if r.type == relation_type]

    def as_dict(self, *, with_relations: bool = True) -> dict[str, Any]:
        """The entity as Backstage would serve it, plus where it was read from."""
        data = dict(self.raw)
        if with_relations:
            data["relations"] = [r.as_dict() for r in self.relations]
        data["source"] = {"file": self.position.file, "line": self.position.line}
        return data
