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

import re
import shlex
import threading
from bisect import bisect_left, bisect_right
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


def _facet_values(entity: Entity) -> list[tuple[str, str]]:
    """One entity's (facet, value) pairs, from its summary fields only (never re-parses a document)."""
    name = entity.name.lower()
    namespace = entity.namespace.lower()
    values = [("kind", entity.kind.lower()), ("namespace", namespace), ("name", name)]
    values.extend(("tag", tag.lower()) for tag in entity.tags)
    if entity.lifecycle:
        values.append(("lifecycle", entity.lifecycle.lower()))
    if entity.type:
        values.append(("type", entity.type.lower()))
    for relation_type, target in entity.declared_relations:
        if relation_type == OWNED_BY:
            values.append(("owner", target))
            values.append(("owner", target[target.rindex("/") + 1 :]))
        elif relation_type == PART_OF and target.startswith("system:"):
            values.append(("system", target))
            values.append(("system", target[target.rindex("/") + 1 :]))
    if entity.kind == "System":  # `system:x` also finds the System itself
        values.append(("system", f"system:{namespace}/{name}"))
        values.append(("system", name))
    return values


def _search_key(entity: Entity) -> str:
    return f"{entity.name}\n{entity.title}\n{entity.description}\n{' '.join(entity.tags)}".lower()


def _postings_of(entity: Entity, position: int, postings: dict[str, dict[str, list[int]]]) -> str:
    """Add one entity's facet values to ``postings``; return its free-text search key.

    Entities are added in position order, so a bucket already holding ``position`` has it last.
    """
    for facet, value in _facet_values(entity):
        bucket = postings[facet].get(value)
        if bucket is None:
            postings[facet][value] = [position]
        elif bucket[-1] != position:
            bucket.append(position)
    return _search_key(entity)


class SearchIndex:
    """Precomputed lowercase keys and facet postings for a fixed list of entities.

    Free text is matched two ways, chosen per word by sampling how common it is: a common word is
    tested against every key (one C-level pass), a rare one is found by a regex scan over all keys
    joined into one string, which costs one pass of ``str`` search plus one step per hit. The last
    result is remembered: while a person types, each new query usually narrows the previous one, so
    only the previous hits need checking.
    """

    def __init__(self, entities: Sequence[Entity]) -> None:
        self.entities = list(entities)
        postings: dict[str, dict[str, list[int]]] = {facet: {} for facet in FACETS}
        self._postings: dict[str, dict[str, list[int]]] | None = postings
        self._keys: list[str] | None = [
            _postings_of(e, position, postings) for position, e in enumerate(self.entities)
        ]
        self._parts: Callable[[], tuple[list[str], dict[str, dict[str, list[int]]]]] | None = None
        self._parts_lock = threading.Lock()
        self._joined: str | None = None  # keys joined by NUL, built on the first rare-word search
        self._starts: list[int] = []
        self._last: tuple[Query, list[int]] | None = None

    @classmethod
    def from_parts(
        cls, entities: Sequence[Entity], keys: list[str], postings: dict[str, dict[str, list[int]]]
    ) -> SearchIndex:
        """The index of ``entities`` from the ``keys`` and ``postings`` an earlier one computed for
        exactly these entities in this order."""
        return cls.deferred(entities, lambda: (keys, postings))

    @classmethod
    def deferred(
        cls,
        entities: Sequence[Entity],
        parts: Callable[[], tuple[list[str], dict[str, dict[str, list[int]]]]],
    ) -> SearchIndex:
        """Like ``from_parts``, with ``parts`` giving ``(keys, postings)`` on first use: a warm start
        shows the list without waiting for 100k entities' keys and postings."""
        index = cls.__new__(cls)
        index.entities = list(entities)
        index._keys = index._postings = None
        index._parts, index._parts_lock = parts, threading.Lock()
        index._joined, index._starts, index._last = None, [], None
        return index

    def changed(
        self, entities: Sequence[Entity], replaced: dict[int, Entity], removed: dict[int, Entity]
    ) -> SearchIndex:
        """The index of ``entities``: this index's entities with the one at each position of
        ``replaced`` replaced and each of ``removed`` taken out (positions in this index; the old
        entity is the value), and any beyond them appended.

        A registration adds, replaces or removes a handful of entities among 100k: this copies the
        keys and the changed facets' dicts (C-level copies) and only the posting lists the changed
        entities are in (or that hold a position that moved), instead of computing every entity's
        key and values again (seconds of Python against the UI's keystrokes).
        """
        entities = list(entities)
        keys = list(self.keys)
        old_postings = self.postings
        postings = old_postings.copy()
        owned: set[int] = set()  # ids of the posting lists this index made (the rest are shared)

        def facet_dict(facet: str) -> dict[str, list[int]]:
            if postings[facet] is old_postings[facet]:
                postings[facet] = old_postings[facet].copy()  # one clone of the table (see from_snapshot)
            return postings[facet]

        def bucket(facet: str, value: str) -> list[int]:
            values = facet_dict(facet)
            found = values.get(value)
            if found is None or id(found) not in owned:
                found = values[value] = list(found) if found is not None else []
                owned.add(id(found))
            return found

        for position, old in [*replaced.items(), *removed.items()]:
            for facet, value in dict.fromkeys(_facet_values(old)):
                positions = bucket(facet, value)
                at = bisect_left(positions, position)
                if at < len(positions) and positions[at] == position:
                    del positions[at]
                if not positions:
                    del postings[facet][value]
        gone = sorted(removed)
        if gone:
            first = gone[0]
            later = self.entities[first + 1 :]  # the entities whose positions move down
            if len(later) <= _FEW_MOVED:
                # Usually a registered entity, near the end: only its followers' lists change, and
                # in those only the tail after it.
                affected = {pair for entity in later for pair in _facet_values(entity)}
                for facet, value in affected:
                    if value in postings[facet]:
                        positions = bucket(facet, value)
                        at = bisect_right(positions, first)
                        positions[at:] = [p - bisect_left(gone, p) for p in positions[at:]]
            else:
                moved = _moved_positions(len(keys), gone)
                for facet in FACETS:
                    # Only lists holding a position after the first one removed change (C-level maps).
                    shifted = {v: ps for v, ps in postings[facet].items() if ps[-1] > first}
                    if shifted:
                        values = facet_dict(facet)
                        for value, positions in shifted.items():
                            values[value] = list(map(moved.__getitem__, positions))
                            owned.add(id(values[value]))
            for position in reversed(gone):
                del keys[position]
        new_positions = [p - bisect_left(gone, p) for p in replaced]
        for position in [*new_positions, *range(len(keys), len(entities))]:
            entity = entities[position]
            for facet, value in dict.fromkeys(_facet_values(entity)):
                positions = bucket(facet, value)
                at = bisect_left(positions, position)
                if at == len(positions) or positions[at] != position:
                    positions.insert(at, position)
            if position < len(keys):
                keys[position] = _search_key(entity)
            else:
                keys.append(_search_key(entity))
        return SearchIndex.from_parts(entities, keys, postings)

    @property
    def keys(self) -> list[str]:
        """Each entity's lowercase free-text search key, in catalog order."""
        if self._keys is None:
            self._load_parts()
        assert self._keys is not None
        return self._keys

    @property
    def postings(self) -> dict[str, dict[str, list[int]]]:
        """Per facet, per value, the positions of the entities with that value."""
        if self._postings is None:
            self._load_parts()
        assert self._postings is not None
        return self._postings

    def _load_parts(self) -> None:
        with self._parts_lock:
            if self._parts is not None:
                keys, postings = self._parts()
                self._postings = {facet: postings.get(facet, {}) for facet in FACETS}
                self._keys, self._parts = keys, None

    def positions(self, query: Query) -> list[int]:
        """Positions (in catalog order) of the entities matching ``query``."""
        last = self._last
        if last is not None and _narrows(last[0], query):
            candidates: list[int] | None = last[1]
        else:
            candidates = self._facet_positions(query)
        if candidates is not None and not candidates:
            return []
        keys = self.keys
        # Longest word first: it usually narrows the most.
        for word in sorted(query.words, key=len, reverse=True):
            if candidates is None:
                candidates = self._scan(word)
            else:
                candidates = [p for p in candidates if word in keys[p]]
            if not candidates:
                break
        result = list(range(len(keys))) if candidates is None else list(candidates)
        self._last = (query, result)
        return list(result)

    def _facet_positions(self, query: Query) -> list[int] | None:
        """Entities matching every facet (None: the query has no facets)."""
        candidates: list[int] | None = None
        # Smallest posting lists first: intersections then stay small.
        groups = []
        for facet, values in query.facets.items():
            postings = self.postings.get(facet, {})
            buckets = [
                postings[k] for value in values for k in self._facet_keys(facet, value) if k in postings
            ]
            if not buckets:
                return []
            # Posting lists are already in catalog order; only a union of several needs sorting.
            groups.append(buckets[0] if len(buckets) == 1 else sorted(set().union(*buckets)))
        for matched in sorted(groups, key=len):
            candidates = matched if candidates is None else _intersect(candidates, matched)
            if not candidates:
                return []
        return candidates

    def _scan(self, word: str) -> list[int]:
        keys = self.keys
        sample = keys[:: max(1, len(keys) // 400)]
        hits = sum(1 for key in sample if word in key)
        if len(keys) < 2000 or hits * 20 > len(sample):  # common (> 5% of entities): test every key
            return list(compress(range(len(keys)), map(contains, keys, repeat(word))))
        if self._joined is None:
            self._joined = "\x00".join(keys)
            starts, offset = [], 0
            for key in keys:
                starts.append(offset)
                offset += len(key) + 1
            self._starts = starts
        # Each match swallows the rest of its key, so an entity is reported at most once.
        pattern = re.compile(re.escape(word) + "[^\x00]*")
        locate = bisect_right
        starts = self._starts
        return [locate(starts, match.start()) - 1 for match in pattern.finditer(self._joined)]

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


# Up to this many entities after a removed one, their posting lists are adjusted one by one.
_FEW_MOVED = 5_000


def _moved_positions(count: int, removed: list[int]) -> list[int]:
    """Where each of ``count`` positions goes once the (sorted) ``removed`` ones are taken out."""
    moved = list(range(count))
    bounds = [*removed, count]
    for shift, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False), start=1):
        moved[start + 1 : end] = range(start + 1 - shift, end - shift)
    return moved


def _intersect(small: list[int], large: list[int]) -> list[int]:
    """Positions in both sorted lists (``small`` is the shorter one)."""
    if len(small) * 16 < len(large):
        # Few candidates: binary search in the long list beats building a set of it.
        found = []
        for position in small:
            at = bisect_left(large, position)
            if at < len(large) and large[at] == position:
                found.append(position)
        return found
    wanted = set(large)
    return [p for p in small if p in wanted]


def _narrows(previous: Query, query: Query) -> bool:
    """Can ``query`` only match a subset of what ``previous`` matched (same facets, longer words)?"""
    if previous.is_empty or previous.facets != query.facets:
        return False
    return all(any(old in new for new in query.words) for old in previous.words)


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
    items = list(entities)
    return [items[i] for i in sort_positions(items, column, descending)]


def sort_positions(entities: Sequence[Entity], column: str, descending: bool = False) -> list[int]:
    """The positions in ``entities`` in the order ``sort_entities`` gives them."""
    try:
        column_key = SORT_COLUMNS[column]
    except KeyError:
        raise ValueError(f"cannot sort by {column!r}; columns: {', '.join(SORT_COLUMNS)}") from None
    # Each key computed once and the positions sorted by them (C-level lookups): the list of 100k
    # entities waits for this sort before it shows.
    values = list(map(column_key, entities))
    canonical = [f"{e.kind}:{e.namespace}/{e.name}".lower() for e in entities]  # = e.ref.canonical
    present = [i for i, value in enumerate(values) if value]
    missing = [i for i, value in enumerate(values) if not value]
    present.sort(key=canonical.__getitem__)
    present.sort(key=values.__getitem__, reverse=descending)
    missing.sort(key=canonical.__getitem__)
    return present + missing


def resorted_positions(
    order: Sequence[int],
    entities: Sequence[Entity],
    column: str,
    descending: bool,
    dropped: Sequence[int],
    removed: Sequence[int],
    added: Sequence[int],
) -> list[int]:
    """``order`` (what ``sort_positions`` gave for the entities before a change) made right for
    ``entities``: the positions in ``dropped`` (old entities replaced or removed) taken out, every
    later one moved down past the ``removed`` ones, and the ``added`` positions (of ``entities``)
    inserted where ``sort_positions`` would put them. A registration changes a handful of 100k
    entities: this avoids sorting them all again."""
    column_key = SORT_COLUMNS[column]
    order = list(order)
    for position in dropped:
        del order[order.index(position)]  # a C-level scan each
    gone = sorted(removed)
    if gone:
        order = list(map(_moved_positions(len(order) + len(dropped), gone).__getitem__, order))

    def rank(position: int) -> tuple[bool, str, str]:
        entity = entities[position]
        value = column_key(entity)
        return (not value, value, f"{entity.kind}:{entity.namespace}/{entity.name}".lower())

    def before(a: tuple[bool, str, str], b: tuple[bool, str, str]) -> bool:
        """Whether an entity ranked ``a`` comes before one ranked ``b`` in sort_positions' order."""
        if a[0] != b[0]:
            return not a[0]  # present values first, in either direction
        if a[1] != b[1] and not a[0]:
            return a[1] > b[1] if descending else a[1] < b[1]
        return a[2] < b[2]

    for position in added:
        wanted, low, high = rank(position), 0, len(order)
        while low < high:
            middle = (low + high) // 2
            if before(rank(order[middle]), wanted):
                low = middle + 1
            else:
                high = middle
        order.insert(low, position)
    return order
