"""The catalog filter: ``kind:component owner:team-a tag:python payment`` in a few milliseconds.

A query is facets plus free-text words. Values of the same facet are alternatives (``kind:api
kind:component`` = either), different facets must all hold, and every word must occur in the
entity's name, title, description or tags (case-insensitive substring). ``owner:`` and ``system:``
match the bare name (``owner:team-a`` matches ``group:default/team-a``) or a full ref
(``owner:user:jane.doe``). A token with an unknown facet (``k8s:prod``) is a free-text word.

Speed comes from the ``SearchIndex``: one lowercase search key per entity and, per facet, the
positions of the entities with each value, built once when the catalog loads.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import contains

from backends.catalog.model import Entity
from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.catalog.relations import OWNED_BY, PART_OF

FACETS = ("kind", "namespace", "owner", "lifecycle", "type", "tag", "system", "name")
_REF_FACET_KINDS = {"owner": "group", "system": "system"}


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed filter: ``facets`` maps a facet to its accepted values (lowercase); ``words`` all match."""

    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    words: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.facets and not self.words

    def __str__(self) -> str:
        parts = [f"{facet}:{value}" for facet, values in self.facets.items() for value in values]
        return " ".join([*parts, *self.words])


def parse_query(text: str) -> Query:
    """Parse the filter a person types; quotes group words (``"order events"``), case is ignored."""
    try:
        tokens = shlex.split(text)
    except ValueError:  # an unbalanced quote while typing: treat quotes as plain characters
        tokens = text.split()
    facets: dict[str, list[str]] = {}
    words: list[str] = []
    for token in tokens:
        token = token.lower()
        facet, colon, value = token.partition(":")
        if colon and value and (facet in FACETS or facet == "tags"):
            facet = "tag" if facet == "tags" else facet
            facets.setdefault(facet, [])
            if value not in facets[facet]:
                facets[facet].append(value)
        elif token:
            words.append(token)
    return Query({k: tuple(v) for k, v in facets.items()}, tuple(words))


def _ref_values(ref: str) -> tuple[str, str]:
    """A canonical ref and its bare name: both are indexed so either can be typed."""
    return ref, ref.rsplit("/", 1)[-1]


def _postings_of(entity: Entity, position: int, postings: dict[str, dict[str, list[int]]]) -> str:
    """Add one entity's facet values to ``postings``; return its free-text search key.

    Reads the raw document rather than the ``Entity`` properties: this runs for every entity when
    the index is built, and an entity in the catalog is valid, so the types are known.
    """

    def add(facet: str, value: str) -> None:
        bucket = postings[facet].get(value)
        if bucket is None:
            postings[facet][value] = [position]
        elif bucket[-1] != position:
            bucket.append(position)

    raw = entity.raw
    metadata = raw["metadata"]
    spec = raw.get("spec") or {}
    name = metadata["name"].lower()
    namespace = (metadata.get("namespace") or "default").lower()
    add("kind", raw["kind"].lower())
    add("namespace", namespace)
    add("name", name)
    tags = metadata.get("tags") or ()
    for tag in tags:
        add("tag", tag.lower())
    for facet in ("lifecycle", "type"):
        value = spec.get(facet)
        if value and isinstance(value, str):
            add(facet, value.lower())
    for relation_type, target in entity.declared_relations:
        if relation_type == OWNED_BY:
            add("owner", target)
            add("owner", target[target.rindex("/") + 1 :])
        elif relation_type == PART_OF and target.startswith("system:"):
            add("system", target)
            add("system", target[target.rindex("/") + 1 :])
    if raw["kind"] == "System":  # `system:x` also finds the System itself
        add("system", f"system:{namespace}/{name}")
        add("system", name)
    title = metadata.get("title") or ""
    description = metadata.get("description") or ""
    return f"{metadata['name']}\n{title}\n{description}\n{' '.join(tags)}".lower()


class SearchIndex:
    """Precomputed lowercase keys and facet postings for a fixed list of entities."""

    def __init__(self, entities: Sequence[Entity]) -> None:
        self.entities = list(entities)
        self.postings: dict[str, dict[str, list[int]]] = {facet: {} for facet in FACETS}
        postings = self.postings
        self.keys: list[str] = [
            _postings_of(e, position, postings) for position, e in enumerate(self.entities)
        ]

    def positions(self, query: Query) -> list[int]:
        """Positions (in catalog order) of the entities matching ``query``."""
        candidates: list[int] | None = None
        for facet, values in query.facets.items():
            postings = self.postings.get(facet, {})
            buckets = [
                postings[key] for value in values for key in self._facet_keys(facet, value) if key in postings
            ]
            if not buckets:
                return []
            # Posting lists are already in catalog order; only a union of several needs sorting.
            matched = buckets[0] if len(buckets) == 1 else sorted(set().union(*buckets))
            if candidates is None:
                candidates = matched
            else:
                wanted = set(matched)
                candidates = [p for p in candidates if p in wanted]
            if not candidates:
                return []
        keys = self.keys
        # Longest word first: it usually narrows the most.
        for word in sorted(query.words, key=len, reverse=True):
            if candidates is None:
                candidates = list(compress(range(len(keys)), map(contains, keys, repeat(word))))
            else:
                candidates = [p for p in candidates if word in keys[p]]
            if not candidates:
                return []
        return list(range(len(keys))) if candidates is None else list(candidates)

    @staticmethod
    def _facet_keys(facet: str, value: str) -> tuple[str, ...]:
        default_kind = _REF_FACET_KINDS.get(facet)
        if default_kind is None or (":" not in value and "/" not in value):
            return (value,)
        try:
            return (parse_entity_ref(value, default_kind=default_kind).canonical,)
        except EntityRefError:
            return (value,)

    def filter(self, query: Query | str) -> list[Entity]:
        if isinstance(query, str):
            query = parse_query(query)
        entities = self.entities
        return [entities[p] for p in self.positions(query)]


def matches(entity: Entity, query: Query) -> bool:
    """Does one entity match (exactly the index's rules, on a one-entity index)."""
    return bool(SearchIndex([entity]).positions(query))


# -- sorting ----------------------------------------------------------------------------------------
SORT_COLUMNS: dict[str, Callable[[Entity], str]] = {
    "kind": lambda e: e.kind.lower(),
    "name": lambda e: e.name.lower(),
    "namespace": lambda e: e.namespace.lower(),
    "title": lambda e: (e.title or e.name).lower(),
    "owner": lambda e: e.owner.lower(),
    "lifecycle": lambda e: e.lifecycle.lower(),
    "type": lambda e: e.type.lower(),
    "system": lambda e: e.system.lower(),
}


def sort_entities(entities: Iterable[Entity], column: str, descending: bool = False) -> list[Entity]:
    """Entities ordered by a column (kind, name, namespace, title, owner, lifecycle, type, system).

    Ties are broken by the canonical ref so the order is stable between runs; entities without a
    value sort last in either direction (an empty owner is not "smaller" than any owner).
    """
    try:
        column_key = SORT_COLUMNS[column]
    except KeyError:
        raise ValueError(f"cannot sort by {column!r}; columns: {', '.join(SORT_COLUMNS)}") from None
    items = list(entities)
    present = [e for e in items if column_key(e)]
    missing = [e for e in items if not column_key(e)]
    present.sort(key=lambda e: e.ref.canonical)
    present.sort(key=column_key, reverse=descending)
    missing.sort(key=lambda e: e.ref.canonical)
    return present + missing
