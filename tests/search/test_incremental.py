"""The index follows catalog changes document by document, without rebuilding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.catalog.model import Entity, SourcePosition
from backends.search import ResultType, SearchDocument, SearchIndex, SearchService, SearchTarget
from tests.docs.helpers import write_files
from tests.search import corpus


def doc(doc_id: str, title: str, body: str = "", group: str = "") -> SearchDocument:
    return SearchDocument(
        id=doc_id,
        type=ResultType.ENTITY,
        title=title,
        target=SearchTarget(ResultType.ENTITY, doc_id),
        fields={"name": title.lower().replace(" ", "-"), "title": title, "description": body},
        kind="component",
        group=group,
    )


def titles(index: SearchIndex, query: str) -> list[str]:
    return [hit.document.title for hit in index.search(query).hits]


def test_add_replace_remove_one_document() -> None:
    index = SearchIndex()
    index.add_many([doc("a", "Alpha Gateway"), doc("b", "Beta Store")])
    assert titles(index, "gateway") == ["Alpha Gateway"]
    index.add(doc("a", "Alpha Router", "routes traffic"))  # same id: replaced
    assert titles(index, "gateway") == []
    assert titles(index, "router") == ["Alpha Router"]
    assert len(index) == 2
    assert index.remove("a") is True
    assert index.remove("a") is False
    assert titles(index, "alpha") == []
    assert titles(index, "rou") == []  # the vocabulary no longer offers the removed word
    assert len(index) == 1


def test_prefix_vocabulary_follows_small_and_bulk_additions() -> None:
    index = SearchIndex()
    index.add_many([doc(f"bulk-{i}", f"Service {i} word{i}") for i in range(3000)])  # bulk path
    index.add(doc("new", "Zebra crossing"))  # incremental path
    assert titles(index, "zeb") == ["Zebra crossing"]
    assert len(index.search("word29").hits) == 10


def test_remove_group_removes_every_member() -> None:
    index = SearchIndex()
    index.add_many(
        [doc("p1", "Page one", group="g"), doc("p2", "Page two", group="g"), doc("x", "Page other")]
    )
    assert index.remove_group("g") == 2
    assert titles(index, "page") == ["Page other"]
    assert index.documents("g") == []


def test_incremental_results_match_a_rebuild() -> None:
    documents = [doc(f"d{i}", f"Thing {i}", f"alpha beta gamma {i % 7} delta") for i in range(200)]
    incremental = SearchIndex()
    for item in documents:
        incremental.add(item)
    for item in documents[::3]:
        incremental.remove(item.id)
    rebuilt = SearchIndex()
    rebuilt.add_many([d for d in documents if d not in documents[::3]])
    for query in ("alpha", "thing 5", "gam", "delta 3"):
        a = [(h.document.id, round(h.score, 6)) for h in incremental.search(query, limit=50).hits]
        b = [(h.document.id, round(h.score, 6)) for h in rebuilt.search(query, limit=50).hits]
        assert a == b, query


@dataclass
class CatalogChanged:
    added: list[Entity] = field(default_factory=list)
    removed: list[Any] = field(default_factory=list)


@dataclass
class FakeCatalog:
    """The surface SearchService needs: ``entities`` and ``subscribe(callback)``."""

    entities: list[Entity]
    callbacks: list[Callable[[CatalogChanged], None]] = field(default_factory=list)

    def subscribe(self, callback: Callable[[CatalogChanged], None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def emit(self, change: CatalogChanged) -> None:
        for callback in list(self.callbacks):
            callback(change)


def entity(name: str, description: str, file: Path, techdocs: str | None = None) -> Entity:
    metadata: dict[str, Any] = {"name": name, "description": description}
    if techdocs:
        metadata["annotations"] = {"backstage.io/techdocs-ref": techdocs}
    return Entity(
        {"kind": "Component", "metadata": metadata, "spec": {"owner": "team-x"}}, SourcePosition(str(file))
    )


def test_service_follows_catalog_changes(tmp_path: Path) -> None:
    catalog = FakeCatalog(corpus.build(tmp_path))
    service = SearchService()
    stop = service.watch(catalog)
    before = len(service.index)
    assert service.search("rollback").groups[ResultType.DOCS]

    # A scaffolder catalog:register: one new entity with docs.
    write_files(tmp_path / "new-docs", {"docs/index.md": "# Quasar\n\n## Warp drive\n\nEngage.\n"})
    new = entity("quasar-service", "Brand new service", tmp_path / "new.yaml", "dir:new-docs")
    catalog.emit(CatalogChanged(added=[new]))
    assert len(service.index) == before + 2
    assert service.search("quasar").groups[ResultType.ENTITY][0].document.title == "quasar-service"
    docs_hit = service.search("warp drive").groups[ResultType.DOCS][0]
    assert (docs_hit.target.ref, docs_hit.target.anchor) == ("component:default/quasar-service", "warp-drive")

    # Changed: the same entity with a new description; old words disappear.
    changed = entity("quasar-service", "Renamed pulsar thing", tmp_path / "new.yaml", "dir:new-docs")
    catalog.emit(CatalogChanged(added=[changed]))
    assert service.search("brand").hits == []
    assert service.search("pulsar").groups[ResultType.ENTITY][0].document.title == "quasar-service"
    assert service.search("warp").groups[ResultType.DOCS]  # docs re-read, not lost
    assert len(service.index) == before + 2

    # Removed by ref string, and by entity: entity and its pages go.
    catalog.emit(CatalogChanged(removed=["component:default/quasar-service"]))
    assert service.search("quasar").hits == []
    assert service.search("warp").hits == []
    payment = next(e for e in catalog.entities if e.name == "payment-service")
    catalog.emit(CatalogChanged(removed=[payment.ref]))
    assert service.search("rollback").hits == []
    assert len(service.index) == before - 3 - 1  # the entity and its three pages

    stop()
    assert catalog.callbacks == []


def test_shared_fallback_docs_are_indexed_once_and_released(tmp_path: Path) -> None:
    write_files(tmp_path, {"docs/index.md": "# Shared handbook\n"})
    a = entity("alpha", "first", tmp_path / "catalog.yaml")
    b = entity("beta", "second", tmp_path / "catalog.yaml")
    service = SearchService()
    service.index_entities([a, b])
    assert len(service.search("handbook").groups[ResultType.DOCS]) == 1
    service.remove_entities([a])
    assert service.search("handbook").hits == []
    service.index_entities([b])  # the folder is free again: beta claims it
    hits = service.search("handbook").groups[ResultType.DOCS]
    assert [h.target.ref for h in hits] == ["component:default/beta"]


def test_templates_from_a_loader(tmp_path: Path) -> None:
    service = SearchService()
    service.index_templates(
        [
            {
                "name": "go-service",
                "title": "Go service",
                "description": "gRPC service in Go",
                "tags": ["go"],
            },
            type("T", (), {"name": "docs-site", "title": "Docs site", "description": "mkdocs", "tags": []})(),
        ]
    )
    hit = service.search("go service").groups[ResultType.TEMPLATE][0]
    assert hit.target.ref == "template:default/go-service"
    assert service.search("mkdocs").groups[ResultType.TEMPLATE][0].document.title == "Docs site"


def test_clear_keeps_the_lock_that_other_threads_wait_on() -> None:
    # clear() runs under the lock: replacing it would let a thread blocked on the old lock run
    # alongside one that takes the new lock.
    index = SearchIndex()
    index.add(doc("a", "Payments"))
    lock = index._lock
    index.clear()
    assert index._lock is lock
    assert len(index) == 0 and titles(index, "payments") == []
    index.add(doc("b", "Payments"))
    assert titles(index, "payments") == ["Payments"]
