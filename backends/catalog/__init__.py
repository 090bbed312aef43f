"""The software catalog: Backstage-format YAML entities, validated and linked, ready to browse.

Public API (everything the TUI, the CLI and other backends need)::

    catalog = load_catalog(workspace, on_event=print)   # blocking; events per source
    catalog.entities, catalog.problems, catalog.by_ref
    catalog.get("payment-service"), catalog.get("api:payment-api")
    catalog.filter("kind:component owner:team-payments python")
    sort_entities(entities, "owner", descending=False)
    catalog.register(path)  +  catalog.subscribe(callback)  ->  CatalogChanged(added, removed)
    read_documents(paths, ReadOptions(...))              # per-document verdicts (catalog validate)
"""

from backends.catalog.catalog import Catalog, catalog_from_files, load_catalog
from backends.catalog.events import (
    CatalogChanged,
    CatalogEvent,
    CatalogLoaded,
    SourceFailed,
    SourceLoaded,
    SourceStarted,
)
from backends.catalog.model import Entity, Problem, Relation, Severity, SourcePosition
from backends.catalog.query import FACETS, SORT_COLUMNS, Query, matches, parse_query, sort_entities
from backends.catalog.reader import DocumentResult, ReadOptions, read_documents
from backends.catalog.refs import DEFAULT_NAMESPACE, EntityRef, EntityRefError, parse_entity_ref
from backends.catalog.relations import REVERSE as RELATION_REVERSE
from backends.catalog.validation import validate_entity

__all__ = [
    "DEFAULT_NAMESPACE",
    "FACETS",
    "RELATION_REVERSE",
    "SORT_COLUMNS",
    "Catalog",
    "CatalogChanged",
    "CatalogEvent",
    "CatalogLoaded",
    "DocumentResult",
    "Entity",
    "EntityRef",
    "EntityRefError",
    "Problem",
    "Query",
    "ReadOptions",
    "Relation",
    "Severity",
    "SourceFailed",
    "SourceLoaded",
    "SourcePosition",
    "SourceStarted",
    "catalog_from_files",
    "load_catalog",
    "matches",
    "parse_entity_ref",
    "parse_query",
    "read_documents",
    "sort_entities",
    "validate_entity",
]
