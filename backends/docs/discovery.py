"""Which catalog entities have docs: the one rule the docs picker, the CLI and the search index share.

* People and pointers (``User``, ``Group``, ``Location``) never have a docs site.
* Any other entity with a ``backstage.io/techdocs-ref`` annotation has one (not checked here: loading
  it may clone a repository, and listing must stay instant at 10k entities).
* Without the annotation, an ``mkdocs.yml``, ``docs/`` folder or README next to the entity's file is
  its docs (the fallback). Several entities often share one file or folder; the folder is listed once,
  under the first entity that can own it. A ``Domain`` never claims a fallback folder: it groups
  systems, and its file usually sits among theirs, so the folder's docs are theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.docs.location import TECHDOCS_REF, locate_docs

NO_DOCS_KINDS = frozenset({"user", "group", "location"})
NO_FALLBACK_KINDS = NO_DOCS_KINDS | {"domain"}


@dataclass(frozen=True, slots=True)
class DocsEntry:
    """An entity that has docs: its canonical ref, its title, and how its docs were found."""

    entity_ref: str
    title: str
    how: str  # the techdocs-ref annotation, or "fallback: <where>"
    entity: Any


def discover_docs(entities: Iterable[Any], *, root: Path | None = None) -> Iterator[DocsEntry]:
    """Every entity that has docs, in catalog order; never fetches anything (see module docstring).

    ``root`` is the workspace directory (local entity positions are relative to it).
    """
    checked_dirs: set[str] = set()  # one fallback look per folder, found or not
    for entity in entities:
        kind = entity.kind.lower()
        if kind in NO_DOCS_KINDS:
            continue
        ref = entity.ref.canonical
        title = entity.title or entity.name
        annotation = entity.annotations.get(TECHDOCS_REF)
        if annotation:
            yield DocsEntry(ref, title, str(annotation), entity)
            continue
        if kind in NO_FALLBACK_KINDS:
            continue
        folder = str(Path(str(entity.position.file)).parent)
        if folder in checked_dirs:
            continue
        checked_dirs.add(folder)
        location = locate_docs(entity, root=root, checkout=_no_fetch)
        if location.error is None:
            yield DocsEntry(ref, title, f"fallback: {location.source}", entity)


def docs_by_title(entities: Iterable[Any], *, root: Path | None = None) -> list[DocsEntry]:
    """Every entity that has docs, in the order the docs picker lists them: by title."""
    return sorted(discover_docs(entities, root=root), key=lambda entry: entry.title.lower())


def _no_fetch(url: str, ref: str) -> Any:
    raise RuntimeError("not fetched while listing docs")  # listing must never clone repositories
