"""The filter (facets + free text) and column sorting, as the TUI's `/` uses them."""

from __future__ import annotations

import pytest

from backends.catalog import load_catalog, matches, parse_query, sort_entities
from backends.catalog.query import Query
from backends.workspace import load_demo_workspace


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(load_demo_workspace())


def names(entities) -> list[str]:
    return [e.name for e in entities]


def test_parse_query_facets_words_and_quotes() -> None:
    query = parse_query('Kind:Component kind:API owner:team-a tags:python "order events" k8s:prod pay')
    assert query.facets == {"kind": ("component", "api"), "owner": ("team-a",), "tag": ("python",)}
    assert query.words == ("order events", "k8s:prod", "pay")
    assert parse_query("").is_empty and parse_query('"unbalanced').words == ('"unbalanced',)


def test_facets_combine_and_same_facet_values_are_alternatives(catalog) -> None:
    assert names(catalog.filter("kind:component owner:team-payments lifecycle:production")) == [
        "payment-service",
        "invoice-service",
        "refund-worker",
        "ledger-service",
        "fraud-scoring",
    ]
    both = catalog.filter("kind:api kind:resource system:billing-platform")
    assert {e.kind for e in both} == {"API", "Resource"} and len(both) == 6


def test_owner_and_system_match_name_or_full_ref(catalog) -> None:
    by_name = catalog.filter("owner:team-payments")
    assert (
        by_name
        == catalog.filter("owner:group:default/team-payments")
        == catalog.filter("owner:Group:team-payments")
    )
    assert catalog.get("system:billing-platform") in catalog.filter("system:billing-platform")
    assert catalog.filter("owner:user:nobody") == []


def test_free_text_matches_name_title_description_tags_all_words(catalog) -> None:
    assert names(catalog.filter("PAYMENT service")) == ["payment-service"]
    assert "ledger-service" in names(catalog.filter("money movement"))  # description words
    assert set(names(catalog.filter("tag:grpc"))) == {"payment-service", "order-api"}
    assert "payment-service" in names(catalog.filter("pci"))  # a tag as free text
    assert catalog.filter("zzz-nothing") == []
    assert len(catalog.filter("")) == len(catalog.entities)


def test_single_entity_matches_agrees_with_the_index(catalog) -> None:
    for text in ("kind:component python", "owner:team-identity", "type:service lifecycle:deprecated", "cart"):
        query = parse_query(text)
        assert [e for e in catalog.entities if matches(e, query)] == catalog.filter(query)


def test_sort_by_each_column_empty_values_last(catalog) -> None:
    components = catalog.filter("kind:component")
    by_owner = sort_entities(components, "owner")
    assert [e.owner for e in by_owner] == sorted(e.owner for e in components)
    descending = sort_entities(catalog.entities, "lifecycle", descending=True)
    assert descending[0].lifecycle == "production" and descending[-1].lifecycle == ""
    for column in ("kind", "name", "namespace", "title", "owner", "lifecycle", "type", "system"):
        assert len(sort_entities(catalog.entities, column)) == len(catalog.entities)
    with pytest.raises(ValueError, match="cannot sort by 'color'"):
        sort_entities(components, "color")


def test_query_str_round_trips() -> None:
    assert str(Query({"kind": ("api",)}, ("x",))) == "kind:api x"


def test_narrowing_while_typing_gives_the_same_results_as_fresh_queries(catalog) -> None:
    from backends.catalog.query import SearchIndex

    typed = SearchIndex(catalog.entities)
    for prefix in ("p", "pa", "pay", "paym", "payment", "payment s", "payment se", "pay", "kind:api pay"):
        fresh = SearchIndex(catalog.entities)
        assert typed.positions(parse_query(prefix)) == fresh.positions(parse_query(prefix)), prefix


def test_rare_and_common_words_find_the_same_entities_either_way() -> None:
    from backends.catalog.model import Entity, SourcePosition
    from backends.catalog.query import SearchIndex

    entities = [
        Entity(
            {"kind": "Component", "metadata": {"name": f"svc-{i}", "description": "rare" * (i % 500 == 0)}},
            SourcePosition("x.yaml", i),
        )
        for i in range(5000)
    ]
    index = SearchIndex(entities)
    rare = index.positions(parse_query("rare"))  # found by the joined-string scan
    assert rare == [i for i in range(5000) if i % 500 == 0]
    assert index.positions(parse_query("svc")) == list(range(5000))  # common: every key tested
    assert index.positions(parse_query("svc-49")) == [49] + list(range(490, 500)) + list(range(4900, 5000))


def test_facet_intersection_of_a_few_with_many() -> None:
    from backends.catalog.model import Entity, SourcePosition
    from backends.catalog.query import SearchIndex

    entities = [
        Entity(
            {"kind": "Component", "metadata": {"name": f"c{i}"}, "spec": {"lifecycle": "production"}},
            SourcePosition("x.yaml", i),
            declared_relations=[("ownedBy", f"group:default/team-{'rare' if i % 1000 == 7 else 'many'}")],
        )
        for i in range(4000)
    ]
    index = SearchIndex(entities)
    query = parse_query("kind:component owner:team-rare lifecycle:production")
    assert index.positions(query) == [7, 1007, 2007, 3007]
    assert index.positions(parse_query("owner:team-rare kind:api")) == []
