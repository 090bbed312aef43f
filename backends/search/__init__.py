"""One search over catalog entities, docs pages and templates.

Typical use::

    service = SearchService()
    service.watch(catalog)                 # index now, then follow CatalogChanged events
    results = service.search("payment runbook", kind="docs")
    for hit in results.hits: print(hit.document.title, hit.snippet.text, hit.target)

``SearchIndex`` alone accepts any ``SearchDocument``s, so other sources can feed it.
"""

from backends.search.index import SearchIndex, normalise, tokenize
from backends.search.model import (
    FIELD_BOOSTS,
    ResultType,
    SearchDocument,
    SearchHit,
    SearchResults,
    SearchTarget,
    Section,
    Snippet,
)
from backends.search.service import IndexStats, SearchService
from backends.search.sources import docs_documents, entity_document, page_documents, template_document

__all__ = [
    "FIELD_BOOSTS",
    "IndexStats",
    "ResultType",
    "SearchDocument",
    "SearchHit",
    "SearchIndex",
    "SearchResults",
    "SearchService",
    "SearchTarget",
    "Section",
    "Snippet",
    "docs_documents",
    "entity_document",
    "normalise",
    "page_documents",
    "template_document",
    "tokenize",
]
