"""Typed search documents and results.

The index knows nothing about entities, docs or templates: every source turns its items into
``SearchDocument``s (plain text fields + a target saying what to open), so a new source only
needs a small adapter (see ``backends.search.sources``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ResultType(StrEnum):
    """The groups results are shown in, in this order."""

    ENTITY = "entity"
    DOCS = "docs"
    TEMPLATE = "template"


# How much a word found in each field counts. Names and titles are what people type, so a match
# there must beat any number of mentions in a long body.
FIELD_BOOSTS: dict[str, float] = {
    "name": 10.0,
    "title": 8.0,
    "tags": 4.0,
    "headings": 4.0,
    "description": 3.0,
    "owner": 2.0,
    "kind": 2.0,
    "body": 1.0,
}

# Fields whose filler words ("the", "and") are not indexed; names and titles keep every word.
PROSE_FIELDS = frozenset({"body", "headings", "description"})


@dataclass(frozen=True, slots=True)
class SearchTarget:
    """What opening a result shows: an entity, a docs page (at a heading) or a template."""

    type: ResultType
    ref: str  # entity ref (for docs: the entity whose docs these are; for templates: its ref/name)
    page: str | None = None  # docs: docs-relative page path
    anchor: str | None = None  # docs: heading anchor, filled per hit with the best-matching section

    def as_dict(self) -> dict[str, str | None]:
        return {"type": self.type.value, "ref": self.ref, "page": self.page, "anchor": self.anchor}


@dataclass(frozen=True, slots=True)
class Section:
    """Where a heading's section starts in a document's ``body`` text."""

    offset: int
    anchor: str
    title: str


@dataclass(slots=True)
class SearchDocument:
    """One searchable item.

    ``id`` is unique in an index (adding the same id again replaces the document). ``group`` ties
    documents that come and go together — e.g. all pages of one entity's docs — so they can be
    removed at once. ``kind`` is what ``--kind`` filters on besides the type (``component``, ``api``).
    """

    id: str
    type: ResultType
    title: str
    target: SearchTarget
    fields: dict[str, str]
    kind: str = ""
    subtitle: str = ""
    group: str = ""
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True, slots=True)
class Snippet:
    """A short excerpt of the field where the query matched, with the matched spans."""

    field: str
    text: str
    highlights: tuple[tuple[int, int], ...] = ()  # (start, end) offsets into ``text``


@dataclass(slots=True)
class SearchHit:
    """One result: the document, its score, a snippet and where opening it leads."""

    document: SearchDocument
    score: float
    snippet: Snippet
    target: SearchTarget  # the document's target, with the anchor of the best-matching section
    heading: str = ""  # title of that section (docs)

    def as_dict(self) -> dict[str, object]:
        return {
            "type": self.document.type.value,
            "kind": self.document.kind,
            "title": self.document.title,
            "subtitle": self.document.subtitle,
            "score": round(self.score, 4),
            "target": self.target.as_dict(),
            "heading": self.heading or None,
            "snippet": {
                "field": self.snippet.field,
                "text": self.snippet.text,
                "highlights": [list(span) for span in self.snippet.highlights],
            },
        }


@dataclass(slots=True)
class SearchResults:
    """Ranked hits, grouped by type (each group best first) with the total matches per group.

    Hits match every query word; when none does, ``partial`` is set and hits match some words.
    """

    query: str
    groups: dict[ResultType, list[SearchHit]] = field(default_factory=dict)
    totals: dict[ResultType, int] = field(default_factory=dict)
    elapsed_ms: float = 0.0
    partial: bool = False  # no document matched every word: these match some of them

    @property
    def hits(self) -> list[SearchHit]:
        """Every returned hit, group by group in ``ResultType`` order."""
        return [hit for kind in ResultType for hit in self.groups.get(kind, [])]

    def ranked_groups(self) -> list[tuple[ResultType, list[SearchHit]]]:
        """Groups ordered by their best hit, so the group holding the best match comes first."""
        return sorted(self.groups.items(), key=lambda item: -item[1][0].score if item[1] else 0.0)

    @property
    def best(self) -> SearchHit | None:
        """The single best hit across groups (highest score)."""
        return max(self.hits, key=lambda hit: hit.score, default=None)

    def as_dict(self) -> dict[str, object]:
        return {
            "query": self.query,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "partial": self.partial,
            "groups": {
                kind.value: {"total": self.totals.get(kind, 0), "hits": [h.as_dict() for h in hits]}
                for kind, hits in self.groups.items()
            },
        }
