"""Typed catalog entities, relations and problems.

An ``Entity`` wraps the document exactly as it was read (Backstage's envelope: apiVersion, kind,
metadata, spec) and remembers where it came from, so every message about it can name file and line.
Relations are computed by the catalog after all documents are read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from itertools import chain, pairwise
from typing import Any

import yaml_rs

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


class Entity:
    """One catalog entity: Backstage's document (``raw``) plus where it came from and its relations.

    ``Entity(raw, position, relations)`` wraps a parsed document. Entities the catalog loads are made
    with ``Entity.from_text`` instead: they keep the document's YAML text and a summary of the fields
    lists, filters and relations need (kind, name, title, owner, tags, annotations, …), and parse the
    full document again only when ``raw``/``metadata``/``spec`` is asked for (a detail screen, JSON
    output). A parsed document costs ~3.5 KB of Python objects, its text a fifth of that, which is
    what keeps 100k entities within the console's memory budget. Treat ``raw`` as read-only.
    """

    __slots__ = (
        "_annotations",
        "_api_version",
        "_declared",
        "_description",
        "_kind",
        "_lifecycle",
        "_name",
        "_namespace",
        "_owner",
        "_raw",
        "_relations",
        "_system",
        "_tags",
        "_text",
        "_title",
        "_type",
        "position",
    )

    def __init__(
        self,
        raw: dict[str, Any],
        position: SourcePosition,
        relations: list[Relation] | None = None,
        declared_relations: list[tuple[str, str]] | None = None,
    ) -> None:
        self._raw: dict[str, Any] | None = raw
        self._text: str | None = None
        self.position = position
        self._relations: list[Relation] | Callable[[], list[Relation]] = (
            relations if relations is not None else []
        )
        # What the entity's own spec fields declare, ``[(type, canonical target)]``; ``relations``
        # is computed from these plus the reverse relations other entities declare towards it.
        self._declared: list[tuple[str, str]] | Callable[[], list[tuple[str, str]]] = (
            declared_relations if declared_relations is not None else []
        )
        self._summarise(raw)

    @classmethod
    def from_text(
        cls,
        text: str,
        raw: dict[str, Any],
        position: SourcePosition,
        declared_relations: list[tuple[str, str]] | None = None,
    ) -> Entity:
        """An entity that keeps ``text`` (whose YAML parses to ``raw``) instead of the parsed dict."""
        entity = cls(raw, position, None, declared_relations)
        entity._raw = None
        entity._text = text
        return entity

    def _summarise(self, raw: dict[str, Any]) -> None:
        intern = sys.intern
        metadata = raw.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        spec = raw.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        self._api_version = intern(str(raw.get("apiVersion", "")))
        self._kind = intern(str(raw.get("kind", "")))
        self._name = str(metadata.get("name", ""))
        self._namespace = intern(str(metadata.get("namespace") or DEFAULT_NAMESPACE))
        self._title = str(metadata.get("title") or "")
        self._description = str(metadata.get("description") or "")
        tags = metadata.get("tags")
        self._tags = tuple(intern(str(t)) for t in tags) if isinstance(tags, list) else ()
        annotations = metadata.get("annotations")
        self._annotations = annotations if isinstance(annotations, dict) and annotations else None
        self._owner = _spec_str(spec, "owner")
        self._lifecycle = _spec_str(spec, "lifecycle")
        self._type = _spec_str(spec, "type")
        self._system = _spec_str(spec, "system")

    def __repr__(self) -> str:
        return f"Entity({self.ref.canonical!r} at {self.position})"

    # -- envelope -----------------------------------------------------------------------------
    @property
    def raw(self) -> dict[str, Any]:
        """The document as written (placeholders resolved)."""
        if self._raw is not None:
            return self._raw
        return _parse(self._text or "")

    @property
    def api_version(self) -> str:
        return self._api_version

    @property
    def kind(self) -> str:
        return self._kind

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
        return self._name

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self._kind, self._namespace, self._name)

    @property
    def title(self) -> str:
        return self._title

    @property
    def description(self) -> str:
        return self._description

    @property
    def tags(self) -> list[str]:
        return list(self._tags)

    @property
    def labels(self) -> dict[str, Any]:
        value = self.metadata.get("labels")
        return value if isinstance(value, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        return self._annotations if self._annotations is not None else {}

    @property
    def links(self) -> list[dict[str, Any]]:
        value = self.metadata.get("links")
        return [link for link in value if isinstance(link, dict)] if isinstance(value, list) else []

    # -- common spec fields -------------------------------------------------------------------
    @property
    def type(self) -> str:
        return self._type

    @property
    def lifecycle(self) -> str:
        return self._lifecycle

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def system(self) -> str:
        return self._system

    # -- relations ----------------------------------------------------------------------------
    # A warm start hands each entity callables that make these lists on first use: making them for
    # 100k entities is a third of loading the snapshot, and the list never shows them (see
    # entities_from_columns). Two threads may both make one; the lists are equal.
    @property
    def relations(self) -> list[Relation]:
        """Declared and reverse relations, as linking computed them."""
        relations = self._relations
        if type(relations) is not list:
            relations = self._relations = relations()  # type: ignore[operator]
        return relations

    @relations.setter
    def relations(self, relations: list[Relation]) -> None:
        self._relations = relations

    @property
    def declared_relations(self) -> list[tuple[str, str]]:
        """What the entity's own spec fields declare, ``[(type, canonical target)]``; ``relations``
        is computed from these plus the reverse relations other entities declare towards it."""
        declared = self._declared
        if type(declared) is not list:
            declared = self._declared = declared()  # type: ignore[operator]
        return declared

    @declared_relations.setter
    def declared_relations(self, declared: list[tuple[str, str]]) -> None:
        self._declared = declared

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


# The fields a warm start stores per entity (see backends/catalog/warm.py): everything but the
# relations, which are stored by number. Plain values only, so ``marshal`` can write them.
_STATE_FIELDS = (
    *(name for name in Entity.__slots__ if name not in ("position", "_relations", "_declared")),
    "declared_relations",
)
# Stored as columns, one list per field: a list of 100k strings loads in milliseconds, 100k tuples
# of them take ten times longer. Declared relations are stored as numbers (see entity_columns).
_COLUMNS = ("file", "line", "index", *(n for n in _STATE_FIELDS if n != "declared_relations"))


def entity_state(entity: Entity) -> tuple[Any, ...]:
    """The entity as plain values (its position flattened in front), to compare two of them."""
    position = entity.position
    return (
        position.file,
        position.line,
        position.index,
        *(getattr(entity, name) for name in _STATE_FIELDS),
    )


def entity_columns(
    entities: Sequence[Entity], number: Callable[[tuple[str, str]], int]
) -> tuple[dict[str, list[Any]], list[list[int]]]:
    """``entities`` as one list per stored field, and each one's declared relations as the numbers
    ``number`` gives each (type, target) pair; ``entities_from_columns`` makes them again."""
    columns: dict[str, list[Any]] = {
        "file": [e.position.file for e in entities],
        "line": [e.position.line for e in entities],
        "index": [e.position.index for e in entities],
    }
    for name in _COLUMNS[3:]:
        columns[name] = [getattr(e, name) for e in entities]
    declared = [[number(pair) for pair in e.declared_relations] for e in entities]
    return columns, declared


# Per entity a run of numbers, all runs in one flat array: (numbers, where each entity's run ends).
NumberRuns = tuple[Sequence[int], Sequence[int]]


def entities_from_columns(
    columns: dict[str, list[Any]],
    declared: NumberRuns,
    relations: NumberRuns,
    pair: Callable[[int], tuple[str, str]],
    relation_of: Callable[[tuple[str, str]], Relation],
) -> list[Entity]:
    """The entities ``entity_columns`` stored, without parsing or validating anything again.

    ``declared`` and ``relations`` hold each entity's declared and linked relations as numbers;
    ``pair`` gives a number's (type, target) and ``relation_of`` the shared ``Relation`` of a pair.
    Each entity makes both lists the first time they are asked for, so showing the list never
    waits for 100k entities' relations (a third of loading them).
    """
    new, position_of = Entity.__new__, SourcePosition
    declared_numbers, declared_ends = declared
    relation_numbers, relation_ends = relations
    made: list[Entity] = []
    append = made.append
    for (
        file,
        line,
        index,
        annotations_,
        api_version,
        description,
        kind,
        lifecycle,
        name,
        namespace,
        owner,
        raw,
        system,
        tags,
        text,
        title,
        type_,
        (declared_start, declared_end),
        (relations_start, relations_end),
    ) in zip(
        *(columns[name] for name in _COLUMNS),
        pairwise(chain((0,), declared_ends)),
        pairwise(chain((0,), relation_ends)),
        strict=True,
    ):
        entity = new(Entity)
        entity.position = position_of(file, line, index)
        entity._annotations, entity._api_version, entity._description = annotations_, api_version, description
        # marshal keeps strings that were one object one object (the interned kinds, namespaces, tags).
        entity._kind, entity._namespace, entity._tags = kind, namespace, tags
        entity._lifecycle, entity._name, entity._owner, entity._raw = lifecycle, name, owner, raw
        entity._system, entity._text, entity._title, entity._type = system, text, title, type_
        entity._declared = _pairs_maker(declared_numbers, declared_start, declared_end, pair)
        entity._relations = _relations_maker(
            relation_numbers, relations_start, relations_end, pair, relation_of
        )
        append(entity)
    return made


def _pairs_maker(
    numbers: Sequence[int], start: int, end: int, pair: Callable[[int], tuple[str, str]]
) -> Callable[[], list[tuple[str, str]]]:
    return lambda: list(map(pair, numbers[start:end]))


def _relations_maker(
    numbers: Sequence[int],
    start: int,
    end: int,
    pair: Callable[[int], tuple[str, str]],
    relation_of: Callable[[tuple[str, str]], Relation],
) -> Callable[[], list[Relation]]:
    return lambda: list(map(relation_of, map(pair, numbers[start:end])))


def _spec_str(spec: dict[str, Any], key: str) -> str:
    value = spec.get(key)
    return sys.intern(value) if isinstance(value, str) else ""


@lru_cache(maxsize=512)
def _parse(text: str) -> dict[str, Any]:
    # Recently viewed entities are parsed once; the text parsed before, so it parses again.
    value = yaml_rs.loads(text, parse_datetime=False)
    return value if isinstance(value, dict) else {}
