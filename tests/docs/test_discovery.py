"""One rule says which entities have docs: the docs picker and the search index agree on it."""

from __future__ import annotations

from pathlib import Path

from backends.docs.discovery import discover_docs, docs_by_title
from backends.search.sources import docs_documents
from tests.docs.helpers import SITE, make_entity, write_files


def test_a_domain_with_a_techdocs_ref_has_docs_but_never_claims_a_shared_folder(tmp_path: Path) -> None:
    write_files(tmp_path, SITE)
    write_files(tmp_path / "platform-docs", SITE)
    catalog_file = tmp_path / "catalog-info.yaml"
    entities = [
        make_entity(catalog_file, "payments", kind="Domain"),  # first in the file: no fallback claim
        make_entity(catalog_file, "payment-service"),
        make_entity(catalog_file, "alice", kind="User"),
        make_entity(catalog_file, "platform", kind="Domain", techdocs_ref="dir:platform-docs"),
    ]

    listed = {entry.entity_ref: entry.how for entry in discover_docs(entities, root=tmp_path)}

    assert sorted(listed) == ["component:default/payment-service", "domain:default/platform"]
    assert listed["component:default/payment-service"].startswith("fallback: ")
    assert listed["domain:default/platform"] == "dir:platform-docs"
    # The search index files the shared folder's pages under the same entity the picker shows.
    groups = {document.group for document in docs_documents(entities, root=tmp_path)}
    assert groups == set(listed)


def test_the_picker_lists_docs_by_title_whatever_the_case(tmp_path: Path) -> None:
    catalog_file = tmp_path / "catalog-info.yaml"
    entities = [
        make_entity(catalog_file, "zeta", techdocs_ref="dir:.", title="zeta service"),
        make_entity(catalog_file, "alpha", techdocs_ref="dir:.", title="Alpha"),
        make_entity(catalog_file, "bob", kind="User", techdocs_ref="dir:."),  # people have no docs
        make_entity(catalog_file, "mid", techdocs_ref="dir:.", title="Middle"),
    ]

    listed = [entry.title for entry in docs_by_title(entities, root=tmp_path)]

    assert listed == ["Alpha", "Middle", "zeta service"]
