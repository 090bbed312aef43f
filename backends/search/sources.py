"""Adapters that turn catalog entities, docs pages and templates into ``SearchDocument``s.

Every document of one entity (the entity itself, its docs pages) shares ``group`` = the entity's
canonical ref, so a catalog change can drop and re-add exactly that entity's documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from backends.docs import DocSite, load_page, load_site
from backends.docs.discovery import discover_docs
from backends.docs.location import Checkout
from backends.docs.markdown import plain_text
from backends.search.model import ResultType, SearchDocument, SearchTarget, Section

TEMPLATE_KIND = "template"


def entity_ref_of(item: Any) -> str:
    """The canonical ref of an entity, an ``EntityRef`` or a ref string."""
    ref = getattr(item, "ref", item)
    canonical = getattr(ref, "canonical", None)
    return str(canonical if canonical is not None else ref).lower()


def entity_document(entity: Any) -> SearchDocument:
    """The document for a catalog entity; ``Template`` entities become template results."""
    ref = entity_ref_of(entity)
    kind = entity.kind.lower()
    owner = entity.owner
    spec_type = entity.type
    is_template = kind == TEMPLATE_KIND
    result_type = ResultType.TEMPLATE if is_template else ResultType.ENTITY
    details = [d for d in (kind, spec_type, f"owner {_short(owner)}" if owner else "") if d]
    return SearchDocument(
        id=f"{result_type.value}:{ref}",
        type=result_type,
        kind=kind,
        title=entity.title or entity.name,
        subtitle=" · ".join(details),
        target=SearchTarget(result_type, ref),
        group=ref,
        fields={
            "name": entity.name,
            "title": entity.title,
            "description": entity.description,
            "tags": " ".join(entity.tags),
            "owner": _short(owner),
            "kind": f"{entity.kind} {spec_type}".strip(),
        },
    )


def template_document(template: Any) -> SearchDocument:
    """A template from any loader: an object or mapping with name, title, description, tags.

    Template entities from the catalog go through ``entity_document``; this accepts whatever the
    scaffolder's own loader yields without importing it.
    """
    if hasattr(template, "raw") and hasattr(template, "kind"):
        return entity_document(template)

    def read(key: str) -> Any:
        if isinstance(template, dict):
            return template.get(key) or template.get("metadata", {}).get(key)
        return getattr(template, key, None)

    name = str(read("name") or "")
    ref = str(read("ref") or f"template:default/{name}").lower()
    tags = read("tags") or []
    return SearchDocument(
        id=f"template:{ref}",
        type=ResultType.TEMPLATE,
        kind=TEMPLATE_KIND,
        title=str(read("title") or name),
        subtitle="template",
        target=SearchTarget(ResultType.TEMPLATE, ref),
        group=ref,
        fields={
            "name": name,
            "title": str(read("title") or ""),
            "description": str(read("description") or ""),
            "tags": " ".join(map(str, tags)) if isinstance(tags, list | tuple) else str(tags),
        },
    )


def page_documents(site: DocSite) -> list[SearchDocument]:
    """One document per readable page of ``site`` (pages with errors are skipped)."""
    documents: list[SearchDocument] = []
    for info in site.pages:
        page = load_page(site, info.path)
        if page.error:
            continue
        body, sections = _sections(page.markdown, [(h.line, h.anchor, h.text) for h in page.headings])
        documents.append(
            SearchDocument(
                id=f"docs:{site.entity_ref}:{info.path}",
                type=ResultType.DOCS,
                kind="docs",
                title=page.title,
                subtitle=f"{site.title} docs · {info.path}",
                target=SearchTarget(ResultType.DOCS, site.entity_ref, info.path),
                group=site.entity_ref,
                fields={
                    "title": page.title,
                    "headings": " ".join(h.text for h in page.headings),
                    "body": body,
                },
                sections=tuple(sections),
            )
        )
    return documents


def docs_documents(
    entities: Iterable[Any],
    *,
    root: Path | None = None,
    checkout: Checkout | None = None,
    claimed: dict[Path, str] | None = None,
) -> Iterator[SearchDocument]:
    """Pages of every entity's docs, each docs directory indexed once.

    Entities without a techdocs-ref may share a fallback ``docs/`` folder (several entities in one
    file); the first one claims it, recorded in ``claimed`` (docs root → entity ref) so a later
    update can release it. ``checkout`` defaults to *not* fetching remote repositories, so
    indexing never blocks on the network; pass ``default_checkout`` to include them. ``root`` is
    the workspace directory (local entity positions are relative to it).
    """
    checkout = checkout or _no_remote_checkout
    claimed = claimed if claimed is not None else {}
    for entry in discover_docs(entities, root=root):
        site = load_site(entry.entity, root=root, checkout=checkout, probe_titles=False)
        if site.root is None:
            continue
        owner = claimed.setdefault(site.root, site.entity_ref)
        if owner != site.entity_ref:
            continue
        yield from page_documents(site)


def _no_remote_checkout(url: str, ref: str) -> Any:
    raise RuntimeError("remote docs are not indexed")


def _sections(markdown: str, headings: list[tuple[int, str, str]]) -> tuple[str, list[Section]]:
    """Plain text of a page, with the offset where each heading's section starts.

    ``plain_text`` keeps line numbers, so a heading's line maps straight to an offset.
    """
    lines = plain_text(markdown).split("\n")
    line_offsets: list[int] = []
    offset = 0
    for line in lines:
        line_offsets.append(offset)
        offset += len(line) + 1
    sections = [
        Section(line_offsets[min(max(line - 1, 0), len(lines) - 1)], anchor, title)
        for line, anchor, title in headings
    ]
    return "\n".join(lines), sections


def _short(ref: str) -> str:
    """``group:default/team-payments`` → ``team-payments`` for display and search."""
    if not ref:
        return ""
    return ref.rsplit("/", 1)[-1].split(":", 1)[-1]
