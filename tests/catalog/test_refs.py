"""Entity refs parse exactly like Backstage's parseEntityRef (the reference's table)."""

from __future__ import annotations

import pytest

from backends.catalog.refs import EntityRef, EntityRefError, parse_entity_ref
from backends.catalog.relations import RelationError, target_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team-a", "group:prod/team-a"),
        ("ns/a:b", "group:ns/a:b"),
        ("a:b:c", "a:prod/b:c"),
        ("a:b/c/d", "a:b/c/d"),
        ("User:Other/Jane", "user:other/jane"),
    ],
)
def test_reference_table(text: str, expected: str) -> None:
    assert parse_entity_ref(text, default_kind="Group", default_namespace="prod").canonical == expected
    assert target_ref(text, "Group", "prod") == expected


@pytest.mark.parametrize("text", [":x", "x/", "a:/b", ""])
def test_empty_parts_are_errors(text: str) -> None:
    with pytest.raises(EntityRefError):
        parse_entity_ref(text, default_kind="Group")
    with pytest.raises(RelationError):
        target_ref(text, "Group", "default")


def test_missing_kind_without_default_says_so() -> None:
    with pytest.raises(EntityRefError, match="missing or empty kind"):
        parse_entity_ref("payment-service")
    with pytest.raises(RelationError, match="missing or empty kind"):
        target_ref("payment-service", None, "default")


def test_canonical_is_lowercase_and_short_hides_default_namespace() -> None:
    ref = EntityRef("Component", "default", "Payment-Service")
    assert ref.canonical == "component:default/payment-service"
    assert ref.short == "component:Payment-Service"
    assert EntityRef("API", "music", "x").short == "api:music/x"


def test_compound_object_refs_work_where_the_schema_allows_them() -> None:
    assert target_ref({"kind": "Component", "name": "X"}, None, "ns") == "component:ns/x"
    with pytest.raises(RelationError, match="missing or empty name"):
        target_ref({"kind": "Component"}, None, "ns")
