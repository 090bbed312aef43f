"""The obviously best match comes first."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.search import ResultType, SearchService
from tests.search import corpus


@pytest.fixture
def service(tmp_path: Path) -> SearchService:
    service = SearchService()
    stats = service.index_entities(corpus.build(tmp_path))
    assert (stats.entities, stats.templates, stats.pages) == (14, 2, 4)
    return service


@pytest.mark.parametrize(
    ("query", "group", "expected_title"),
    [
        ("payment service", ResultType.ENTITY, "Payment Service"),
        ("payment-service", ResultType.ENTITY, "Payment Service"),
        ("Payment Service", ResultType.ENTITY, "Payment Service"),
        ("payments db", ResultType.ENTITY, "Payments database"),
        ("payment api", ResultType.ENTITY, "Payment API"),
        ("refund", ResultType.ENTITY, "Refund Worker"),
        ("fraud", ResultType.ENTITY, "Fraud Scoring"),
        ("auth", ResultType.ENTITY, "Auth Service"),
        ("checkout", ResultType.ENTITY, "Checkout Web"),
        ("cart serv", ResultType.ENTITY, "Cart Service"),  # as-you-type prefix
        ("ledg", ResultType.ENTITY, "Ledger Service"),
        ("kafka cluster", ResultType.ENTITY, "Event bus"),
        ("python microservice", ResultType.TEMPLATE, "Python service"),
        ("react", ResultType.TEMPLATE, "React web app"),
        ("runbook", ResultType.DOCS, "Payment Service runbook"),
        ("rollback", ResultType.DOCS, "Payment Service runbook"),
        ("data flow", ResultType.DOCS, "Architecture"),
        ("replay events", ResultType.DOCS, "Ledger"),
    ],
)
def test_best_match_first(service: SearchService, query: str, group: ResultType, expected_title: str) -> None:
    results = service.search(query)
    hits = results.groups.get(group, [])
    assert hits, f"no {group} hits for {query!r}"
    assert hits[0].document.title == expected_title, [h.document.title for h in hits]


def test_exact_name_beats_everything_in_other_groups(service: SearchService) -> None:
    best = service.search("payment service").best
    assert best is not None and best.document.title == "Payment Service"
    assert best.document.type is ResultType.ENTITY


def test_docs_hit_points_at_the_matching_heading(service: SearchService) -> None:
    hit = service.search("rollback").groups[ResultType.DOCS][0]
    assert hit.target.page == "runbook.md"
    assert hit.target.anchor == "rollback"
    assert hit.heading == "Rollback"
    assert hit.target.ref == "component:default/payment-service"
    start, end = hit.snippet.highlights[0]
    assert hit.snippet.text[start:end].lower().startswith("rollback")


def test_acquirer_section(service: SearchService) -> None:
    hit = service.search("acquirer outage").groups[ResultType.DOCS][0]
    assert hit.target.anchor == "acquirer-outage"


def test_snippet_highlights_where_words_matched(service: SearchService) -> None:
    hit = service.search("pci").groups[ResultType.ENTITY][0]
    assert hit.snippet.field == "tags"
    text = hit.snippet.text
    assert [text[s:e] for s, e in hit.snippet.highlights] == ["pci"]


def test_grouped_and_limited(service: SearchService) -> None:
    results = service.search("payment", limit=2)
    assert list(results.groups) == [ResultType.ENTITY, ResultType.DOCS]
    assert len(results.groups[ResultType.ENTITY]) == 2
    assert results.totals[ResultType.ENTITY] > 2
    assert [h.document.type for h in results.hits][:2] == [ResultType.ENTITY, ResultType.ENTITY]


@pytest.mark.parametrize(
    ("kind", "types"),
    [
        ("entity", {ResultType.ENTITY}),
        ("docs", {ResultType.DOCS}),
        ("template", {ResultType.TEMPLATE}),
        ("api", {ResultType.ENTITY}),
        ("API", {ResultType.ENTITY}),
    ],
)
def test_kind_filter(service: SearchService, kind: str, types: set[ResultType]) -> None:
    results = service.search("payment python", kind=kind)
    assert results.hits
    assert {h.document.type for h in results.hits} == types
    if kind.lower() == "api":
        assert {h.document.kind for h in results.hits} == {"api"}


def test_owner_and_kind_fields(service: SearchService) -> None:
    titles = [h.document.title for h in service.search("team-identity").groups[ResultType.ENTITY]]
    assert set(titles[:2]) == {"Auth Service", "User Service"}


@pytest.mark.parametrize("query", ["", "   ", "!!!", "zzzzqqq"])
def test_nothing_matches(service: SearchService, query: str) -> None:
    assert service.search(query).hits == []


def test_results_serialise_to_json(service: SearchService) -> None:
    import json

    data = json.loads(json.dumps(service.search("rollback").as_dict()))
    hit = data["groups"]["docs"]["hits"][0]
    assert hit["target"] == {
        "type": "docs",
        "ref": "component:default/payment-service",
        "page": "runbook.md",
        "anchor": "rollback",
    }


def test_every_word_must_match_unless_nothing_has_them_all(service: SearchService) -> None:
    results = service.search("payment rollback")
    assert not results.partial
    assert [h.document.title for h in results.hits] == ["Payment Service runbook"]
    typo = service.search("payment rolback")
    assert typo.partial
    assert typo.groups[ResultType.ENTITY][0].document.title in ("Payment Service", "Payment API")
