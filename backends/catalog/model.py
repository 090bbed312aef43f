"""Typed catalog entities, relations and problems.

An ``Entity`` wraps the document exactly as it was read (Backstage's envelope: apiVersion, kind,
metadata, spec) and remembers where it came from, so every message about it can name file and line.
Relations are computed by the catalog after all documents are read.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
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
        "_lazy",
        "_lifecycle",
        "_name",
        "_namespace",
        "_owner",
        "_position",
        "_raw",
        "_relations",
        "_row",
        "_system",
        "_tags",
        "_text",
        "_title",
        "_type",
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
        self._position = position
        self._relations: list[Relation] = relations if relations is not None else []
        # What the entity's own spec fields declare, ``[(type, canonical target)]``; ``relations``
        # is computed from these plus the reverse relations other entities declare towards it.
        self._declared: list[tuple[str, str]] = declared_relations if declared_relations is not None else []
        # A warm start's entity: the fields the list never shows come from row ``_row`` of ``_lazy``
        # when one of them is first asked for (see entities_from_columns).
        self._lazy: DeferredFields | None = None
        self._row = 0
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

    @property
    def position(self) -> SourcePosition:
        """Where the document starts."""
        if self._lazy is not None:
            self._lazy.fill(self)
        return self._position

    @property
    def source_file(self) -> str:
        """``position.file``, without loading a warm start's other stored fields."""
        lazy = self._lazy
        return lazy.files[self._row] if lazy is not None else self._position.file

    # -- envelope -----------------------------------------------------------------------------
    @property
    def raw(self) -> dict[str, Any]:
        """The document as written (placeholders resolved)."""
        if self._raw is not None:
            return self._raw
        if self._lazy is not None:
            self._lazy.fill(self)
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
        if self._lazy is not None:
            self._lazy.fill(self)
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
        if self._lazy is not None:
            self._lazy.fill(self)
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
    @property
    def relations(self) -> list[Relation]:
        """Declared and reverse relations, as linking computed them."""
        if self._lazy is not None:
            self._lazy.fill(self)
        return self._relations

    @relations.setter
    def relations(self, relations: list[Relation]) -> None:
        if self._lazy is not None:
            self._lazy.fill(self)  # or a later fill would put back the stored ones
        self._relations = relations

    @property
    def declared_relations(self) -> list[tuple[str, str]]:
        """What the entity's own spec fields declare, ``[(type, canonical target)]``; ``relations``
        is computed from these plus the reverse relations other entities declare towards it."""
        if self._lazy is not None:
            self._lazy.fill(self)
        return self._declared

    @declared_relations.setter
    def declared_relations(self, declared: list[tuple[str, str]]) -> None:
        if self._lazy is not None:
            self._lazy.fill(self)
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


# The fields a warm start stores per entity (see backends/catalog/warm.py), as plain values so
# ``marshal`` can write them, one list per field: a list of 100k strings loads in milliseconds, 100k
# tuples of them take ten times longer. The list's fields are loaded before it shows; the others
# (``DEFERRED_COLUMNS``, and the relations, stored by number) the first time an entity is asked for one.
_SUMMARY_FIELDS = tuple(
    name
    for name in Entity.__slots__
    if name
    not in ("_lazy", "_row", "_position", "_relations", "_declared", "_annotations", "_description", "_text")
)
DEFERRED_COLUMNS = ("line", "index", "_annotations", "_description", "_text")


def _filled(entity: Entity) -> Entity:
    if entity._lazy is not None:
        entity._lazy.fill(entity)
    return entity


def entity_state(entity: Entity) -> tuple[Any, ...]:
    """The entity as plain values (its position flattened in front), to compare two of them."""
    position = _filled(entity).position
    return (
        position.file,
        position.line,
        position.index,
        entity._annotations,
        entity._description,
        entity._text,
        *(getattr(entity, name) for name in _SUMMARY_FIELDS),
        entity._declared,
    )


def entity_columns(
    entities: Sequence[Entity], number: Callable[[tuple[str, str]], int]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]], list[list[int]]]:
    """``entities`` as one list per stored field (the list's, then ``DEFERRED_COLUMNS``), and each
    one's declared relations as the numbers ``number`` gives each (type, target) pair;
    ``entities_from_columns`` makes them again."""
    entities = [_filled(e) for e in entities]
    columns = {name: [getattr(e, name) for e in entities] for name in _SUMMARY_FIELDS}
    # Each entity's file goes with the list's fields (see DeferredFields), the rest of its position not.
    columns["file"] = [e._position.file for e in entities]
    deferred: dict[str, list[Any]] = {
        "line": [e._position.line for e in entities],
        "index": [e._position.index for e in entities],
    }
    for name in DEFERRED_COLUMNS[2:]:
        deferred[name] = [getattr(e, name) for e in entities]
    declared = [[number(pair) for pair in e._declared] for e in entities]
    return columns, deferred, declared


# Per entity a run of numbers, all runs in one flat array: (numbers, where each entity's run ends).
NumberRuns = tuple[Sequence[int], Sequence[int]]


@dataclass(frozen=True)
class StoredFields:
    """What ``DeferredFields`` loads: ``DEFERRED_COLUMNS``, every distinct (type, target) pair, and
    per entity the numbers of its declared and linked pairs."""

    columns: dict[str, list[Any]]
    pairs: list[tuple[str, str]]
    declared: NumberRuns
    linked: NumberRuns


class DeferredFields:
    """The fields of a warm start's entities that the list never shows, loaded for all of them the
    first time any entity is asked for one (then filled in per entity, as each is asked).

    Showing 100k entities' list waits for none of it: their positions, texts, annotations,
    descriptions and relations are over half of the snapshot.
    """

    def __init__(
        self,
        load: Callable[[], StoredFields],
        relation_of: Callable[[tuple[str, str]], Relation],
        files: Sequence[str],
    ) -> None:
        # Each entity's file, loaded with the list: a revalidation and a registration group the
        # entities by file, which must not make 100k entities' relations nobody asked for.
        self.files = files
        self._load = load
        self._stored: StoredFields | None = None
        self._lock = threading.Lock()
        self._relation_of = relation_of

    def _fields(self) -> StoredFields:
        stored = self._stored
        if stored is None:
            with self._lock:
                if self._stored is None:
                    self._stored = self._load()
                stored = self._stored
        return stored

    def fill(self, entity: Entity) -> None:
        """Give ``entity`` its stored fields. Two threads may both fill one: the values are equal."""
        stored = self._fields()
        row, columns, pair = entity._row, stored.columns, stored.pairs.__getitem__
        entity._position = SourcePosition(self.files[row], columns["line"][row], columns["index"][row])
        entity._annotations = columns["_annotations"][row]
        entity._description = columns["_description"][row]
        entity._text = columns["_text"][row]
        entity._declared = list(map(pair, _run(stored.declared, row)))
        entity._relations = list(map(self._relation_of, map(pair, _run(stored.linked, row))))
        entity._lazy = None  # last: another thread reading a field sees it filled or fills it too


def _run(runs: NumberRuns, row: int) -> Sequence[int]:
    numbers, ends = runs
    return numbers[ends[row - 1] if row else 0 : ends[row]]


def entities_from_columns(columns: dict[str, list[Any]], deferred: DeferredFields) -> list[Entity]:
    """The entities ``entity_columns`` stored, without parsing or validating anything again.

    Only the fields the list shows are set; the rest come from ``deferred`` when first asked for.
    One assignment per field per entity: at 100k entities even making a ``SourcePosition`` each
    would cost the list's appearance a tenth of a second.
    """
    new = Entity.__new__
    made: list[Entity] = []
    append = made.append
    for row, (
        api_version,
        kind,
        lifecycle,
        name,
        namespace,
        owner,
        raw,
        system,
        tags,
        title,
        type_,
    ) in enumerate(zip(*(columns[name] for name in _SUMMARY_FIELDS), strict=True)):
        entity = new(Entity)
        # marshal keeps strings that were one object one object (the interned kinds, namespaces, tags).
        entity._api_version, entity._kind, entity._lifecycle, entity._name = (
            api_version,
            kind,
            lifecycle,
            name,
        )
        entity._namespace, entity._owner, entity._raw, entity._system = namespace, owner, raw, system
        entity._tags, entity._title, entity._type = tags, title, type_
        entity._lazy, entity._row = deferred, row
        append(entity)
    return made


def _spec_str(spec: dict[str, Any], key: str) -> str:
    value = spec.get(key)
    return sys.intern(value) if isinstance(value, str) else ""


@lru_cache(maxsize=512)
def _parse(text: str) -> dict[str, Any]:
    # Recently viewed entities are parsed once; the text parsed before, so it parses again.
    value = yaml_rs.loads(text, parse_datetime=False)
    return value if isinstance(value, dict) else {}
