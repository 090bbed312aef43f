"""A registration relinks only what it touches, and the result is what reading everything gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.catalog import Catalog, catalog_from_files, load_catalog, query, sort_entities
from backends.catalog.warm import open_catalog
from backends.workspace import load_workspace

TEAMS = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-b
spec:
  type: team
  children: []
"""

SERVICE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  title: {title}
spec:
  type: service
  lifecycle: production
  owner: {owner}
  dependsOn: [{depends}]
"""

# `billing` waits for `ledger`, which a registration brings.
EXISTING = {
    "orders": ("Orders", "team-a", "component:payments"),
    "payments": ("Payments", "team-a", "resource:db"),
    "billing": ("Billing", "team-b", "component:ledger"),
}


def service(name: str, title: str, owner: str, depends: str) -> str:
    return SERVICE.format(name=name, title=title, owner=owner, depends=depends)


def state(catalog: Catalog) -> tuple[dict[str, list[str]], list[tuple[str, ...]], dict[str, list[str]]]:
    """Every entity's relations, the problems, and what some filters find: what a user reads."""
    relations = {e.ref.canonical: [f"{r.type}:{r.target}" for r in e.relations] for e in catalog.entities}
    queries = ("owner:team-a", "owner:team-b", "kind:component", "ledger", "tag:x", "lifecycle:production")
    found = {q: sorted(e.ref.canonical for e in catalog.filter(q)) for q in queries}
    # (the same file is labelled differently read as a source and registered)
    problems = sorted(
        (p.severity.value, p.message, p.ref or "", Path(p.position.file).name) for p in catalog.problems
    )
    return relations, problems, found


def workspace(root: Path) -> Catalog:
    folder = root / "catalog"
    folder.mkdir(parents=True)
    (folder / "teams.yaml").write_text(TEAMS, encoding="utf-8")
    for name, (title, owner, depends) in EXISTING.items():
        (folder / f"{name}.yaml").write_text(service(name, title, owner, depends), encoding="utf-8")
    (root / "idp-console.yaml").write_text(
        "catalog:\n  sources:\n    - type: dir\n      path: catalog\n", encoding="utf-8"
    )
    return load_catalog(load_workspace(root))


def read_everything(root: Path, registered: Path) -> Catalog:
    return catalog_from_files([*sorted((root / "catalog").glob("*.yaml")), registered], root=root)


def test_registrations_give_what_reading_everything_gives(tmp_path: Path) -> None:
    catalog = workspace(tmp_path)
    registered = tmp_path / "new" / "ledger.yaml"
    registered.parent.mkdir()
    versions = [
        # new: completes billing's dependsOn, depends on an existing and a missing entity
        service("ledger", "Ledger", "team-a", "component:payments, component:missing"),
        # replaced: another owner, what it depends on changes
        service("ledger", "Ledger v2", "team-b", "component:orders"),
        # and a second entity in the same file
        service("ledger", "Ledger v3", "team-b", "component:orders")
        + "---\n"
        + service("audit", "Audit", "team-a", "component:ledger"),
        # one gone again: every later position shifts
        service("audit", "Audit", "team-a", "component:ledger"),
    ]
    orders = [
        (column, descending)
        for column in ("name", "owner", "title", "system")
        for descending in (False, True)
    ]
    for text in versions:
        for column, descending in orders:  # the orders a list showed: a registration keeps them current
            catalog.snapshot().sorted_positions(column, descending)
        registered.write_text(text, encoding="utf-8")
        catalog.register(registered, root=tmp_path)
        assert state(catalog) == state(read_everything(tmp_path, registered)), text
        snapshot = catalog.snapshot()
        for column, descending in orders:
            kept = [snapshot.entities[p].ref for p in snapshot.sorted_positions(column, descending)]
            assert kept == [e.ref for e in sort_entities(snapshot.entities, column, descending)], text


def test_a_registered_entity_replaced_again_keeps_its_place(tmp_path: Path) -> None:
    catalog = workspace(tmp_path)
    registered = tmp_path / "ledger.yaml"
    registered.write_text(service("ledger", "Ledger", "team-a", "component:orders"), encoding="utf-8")
    catalog.register(registered)
    registered.parent.joinpath("later.yaml").write_text(
        service("later", "Later", "team-a", "component:orders"), encoding="utf-8"
    )
    catalog.register(registered.parent / "later.yaml")
    before = [e.ref.canonical for e in catalog.entities]

    registered.write_text(service("ledger", "Ledger v2", "team-b", "component:orders"), encoding="utf-8")
    catalog.register(registered)

    # The list's load order (and `catalog list` without --sort) does not move an entity re-registered.
    assert [e.ref.canonical for e in catalog.entities] == before
    assert [e.title for e in catalog.filter("owner:team-b ledger")] == ["Ledger v2"]
    assert catalog.filter("owner:team-a ledger") == []


@pytest.mark.parametrize("few_moved", [5_000, 0], ids=["list by list", "every list"])
def test_an_entity_removed_from_the_middle_moves_the_later_ones_in_the_filter_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, few_moved: int
) -> None:
    # Both ways of moving the positions after a removed entity (by its followers' lists, or all lists).
    monkeypatch.setattr(query, "_FEW_MOVED", few_moved)
    catalog = workspace(tmp_path)
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(
        service("alpha", "Alpha", "team-a", "component:orders")
        + "---\n"
        + service("beta", "Beta", "team-b", "component:alpha"),
        encoding="utf-8",
    )
    second.write_text(service("gamma", "Gamma", "team-b", "component:beta"), encoding="utf-8")
    catalog.register(first)
    catalog.register(second)
    catalog.filter("owner:team-b")  # the index remembers a query: the next one must not trust it blindly

    first.write_text(service("beta", "Beta", "team-b", "component:alpha"), encoding="utf-8")
    catalog.register(first)

    assert [e.name for e in catalog.filter("owner:team-b")] == ["billing", "beta", "gamma"]
    assert [e.name for e in catalog.filter("gamma")] == ["gamma"]
    assert catalog.filter("alpha") == []
    everything = catalog_from_files(
        [*sorted((tmp_path / "catalog").glob("*.yaml")), first, second], root=tmp_path
    )
    assert state(catalog) == state(everything)


def test_a_registration_after_a_warm_start_gives_what_reading_everything_gives(tmp_path: Path) -> None:
    workspace(tmp_path)
    ws = load_workspace(tmp_path)
    open_catalog(ws).revalidate()  # the snapshot the next start shows
    start = open_catalog(ws)
    assert start.warm
    registered = tmp_path / "ledger.yaml"
    registered.write_text(service("ledger", "Ledger", "team-b", "component:orders"), encoding="utf-8")

    start.catalog.register(registered)

    assert state(start.catalog) == state(read_everything(tmp_path, registered))
