"""Warm start: the last validated catalog shows at once; revalidation re-reads only what changed."""

from __future__ import annotations

import os
from pathlib import Path

from backends.catalog import load_catalog, sort_entities
from backends.catalog.warm import open_catalog, snapshot_path
from backends.workspace import Workspace, load_workspace
from tests.catalog.test_register_concurrency import GROUP as TEAM
from tests.screens.test_catalog_screen import COMPONENT as SERVICE

LOCATION = """\
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: more
spec:
  targets: [./more/*.yaml]
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    # Written an hour ago: a file changed during the last few seconds is always read again.
    old = path.stat().st_mtime - 3600
    os.utime(path, (old, old))


def workspace(root: Path) -> Workspace:
    write(root / "catalog" / "team.yaml", TEAM)
    for name in ("orders", "payments", "billing"):
        write(root / "catalog" / f"{name}.yaml", SERVICE.format(name=name, title=name.title()))
    write(root / "catalog" / "location.yaml", LOCATION)
    write(root / "catalog" / "more" / "search.yaml", SERVICE.format(name="search", title="Search"))
    (root / "idp-console.yaml").write_text(
        "catalog:\n  sources:\n    - type: dir\n      path: catalog\n", encoding="utf-8"
    )
    return load_workspace(root)


def summary(catalog) -> tuple[list[tuple[str, str, list[str]]], list[str]]:  # noqa: ANN001
    entities = [
        (e.ref.canonical, e.title, [f"{r.type}:{r.target}" for r in e.relations]) for e in catalog.entities
    ]
    return entities, [str(p) for p in catalog.problems]


def test_a_warm_start_shows_what_the_last_full_read_validated(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    first = open_catalog(ws)
    assert not first.warm
    first.revalidate()  # writes the snapshot

    second = open_catalog(ws)

    assert second.warm
    assert summary(second.catalog) == summary(load_catalog(ws))
    assert second.catalog.filter("owner:team-a payments")[0].name == "payments"
    assert (
        second.catalog.get("payments") is not None
        and second.catalog.get("payments").spec["type"] == "service"
    )
    assert second.revalidate() is None  # nothing changed on disk


def everything(entity) -> tuple:  # noqa: ANN001
    return (
        entity.position,
        entity.raw,
        entity.annotations,
        entity.description,
        entity.tags,
        entity.declared_relations,
        entity.relations,
    )


def test_a_warm_start_comes_sorted_and_gives_every_field_when_asked(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    open_catalog(ws).revalidate()

    start = open_catalog(ws)
    snapshot = start.catalog.snapshot()

    # The list's default order (by name) was stored with the snapshot: it shows without sorting.
    assert ("name", False) in snapshot.orders
    assert [snapshot.entities[p] for p in snapshot.sorted_positions("name")] == sort_entities(
        snapshot.entities, "name"
    )
    # What the list does not show is loaded on first use, and is what a full read gives.
    cold = {e.ref.canonical: everything(e) for e in load_catalog(ws).entities}
    assert {e.ref.canonical: everything(e) for e in snapshot.entities} == cold


def test_a_warm_start_reads_its_own_snapshot_even_after_a_newer_one_is_written(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    open_catalog(ws).revalidate()
    start = open_catalog(ws)
    shown = start.catalog.get("payments")
    assert shown is not None

    # Another console writes the next snapshot before this one first asks for a stored field.
    write(tmp_path / "catalog" / "payments.yaml", SERVICE.format(name="payments", title="Payments v2"))
    open_catalog(ws, warm=False).revalidate()

    assert shown.title == "Payments" and shown.raw["metadata"]["title"] == "Payments"
    assert shown.position.file.endswith("payments.yaml")


def test_revalidation_reads_only_the_changed_file_and_publishes_the_change(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    open_catalog(ws).revalidate()
    write(tmp_path / "catalog" / "payments.yaml", SERVICE.format(name="payments", title="Payments v2"))
    (tmp_path / "catalog" / "billing.yaml").unlink()
    write(tmp_path / "catalog" / "more" / "ledger.yaml", SERVICE.format(name="ledger", title="Ledger"))

    start = open_catalog(ws)
    shown = {e.name: e for e in start.catalog.entities}
    assert shown["payments"].title == "Payments"  # the snapshot, not the file: nothing was read yet
    changes = []
    start.catalog.subscribe(changes.append)

    change = start.revalidate()

    assert change is not None and changes == [change]
    now = {e.name: e for e in start.catalog.entities}
    assert now["payments"].title == "Payments v2"
    assert "billing" not in now and now["ledger"].title == "Ledger"  # through the Location's glob
    assert now["orders"] is shown["orders"]  # an unchanged file's entity is reused as it was
    assert {e.name for e in change.added} >= {"payments", "ledger"}
    assert {e.name for e in change.removed} >= {"payments", "billing"}
    assert summary(start.catalog) == summary(load_catalog(ws))
    # ... and the next start shows the revalidated state.
    assert summary(open_catalog(ws).catalog) == summary(load_catalog(ws))


def test_a_start_that_finds_nothing_changed_keeps_its_snapshot(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    open_catalog(ws).revalidate()
    before = snapshot_path(ws).stat()

    start = open_catalog(ws)
    assert start.warm and start.revalidate() is None

    after = snapshot_path(ws).stat()
    # Not written again (writing it made every entity's relations, which the list never needs) ...
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # ... and what the snapshot made on demand is what a full read gives.
    assert summary(start.catalog) == summary(load_catalog(ws))
    assert [e.declared_relations for e in start.catalog.entities] == [
        e.declared_relations for e in load_catalog(ws).entities
    ]


def test_a_damaged_snapshot_means_a_full_read(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    open_catalog(ws).revalidate()
    snapshot_path(ws).write_bytes(b"\x00not a snapshot")

    start = open_catalog(ws)

    assert not start.warm
    assert summary(start.catalog) == summary(load_catalog(ws))


def test_a_new_configuration_is_never_served_from_the_old_snapshot(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    open_catalog(ws).revalidate()
    (tmp_path / "idp-console.yaml").write_text(
        "catalog:\n  sources:\n    - type: dir\n      path: catalog/more\n", encoding="utf-8"
    )

    start = open_catalog(load_workspace(tmp_path))

    assert not start.warm
    assert [e.name for e in start.catalog.entities] == ["search"]


def test_a_file_registered_since_the_snapshot_means_a_full_read(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    open_catalog(ws).revalidate()
    elsewhere = tmp_path / "elsewhere" / "catalog-info.yaml"
    write(elsewhere, SERVICE.format(name="ledger", title="Ledger"))
    load_catalog(ws).register(elsewhere)  # another console, or the CLI

    start = open_catalog(ws)

    assert not start.warm
    assert "ledger" in {e.name for e in start.catalog.entities}
