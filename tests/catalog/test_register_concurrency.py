"""Registrations never show readers a half-made catalog: each read is the old or the new state."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.catalog import Catalog, Entity, load_catalog
from backends.workspace import load_workspace

GROUP = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
"""

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
  owner: team-a
"""

# The registered file switches between two versions; each has several documents, so a registration
# adds, replaces and removes entities one after the other and relinks the owning group.
VERSION_A = frozenset(f"reg-a{i}" for i in range(6))
VERSION_B = frozenset(f"reg-b{i}" for i in range(6))
REGISTRATIONS = 30
READERS = 3


def write_version(path: Path, names: frozenset[str]) -> None:
    path.write_text("---\n".join(COMPONENT.format(name=n) for n in sorted(names)), encoding="utf-8")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "group.yaml").write_text(GROUP, encoding="utf-8")
    components = "---\n".join(COMPONENT.format(name=f"service-{i}") for i in range(400))
    (folder / "services.yaml").write_text(components, encoding="utf-8")
    (tmp_path / "idp-console.yaml").write_text(
        "name: Concurrency\ncatalog:\n  sources:\n    - type: dir\n      path: catalog\n", encoding="utf-8"
    )
    return load_catalog(load_workspace(tmp_path))


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    # Switch threads every 10 µs instead of 5 ms, so readers land inside registrations often.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def inconsistency(entities: list[Entity]) -> str | None:
    """What is wrong with one read of the catalog's entities, or None when it is a complete state."""
    registered = frozenset(e.name for e in entities if e.name.startswith("reg-"))
    if registered not in (VERSION_A, VERSION_B):
        return f"entities are a mix of two states: {sorted(registered)}"
    group = next(e for e in entities if e.kind == "Group")
    owned = {r.target for r in group.relations if r.type == "ownerOf" and "/reg-" in r.target}
    if owned != {f"component:default/{n}" for n in registered}:
        return f"team-a owns {sorted(owned)} while the entities are {sorted(registered)}"
    return None


def test_readers_see_the_old_or_the_new_catalog_never_a_mix(
    catalog: Catalog, tmp_path: Path, frequent_thread_switches: None
) -> None:
    registered = tmp_path / "registered.yaml"
    write_version(registered, VERSION_A)
    catalog.register(registered)
    assert inconsistency(catalog.entities) is None

    problems: list[str] = []
    reads = [0] * READERS
    writing = threading.Event()
    writing.set()

    def read(number: int) -> None:
        while writing.is_set() and len(problems) < 5:
            reads[number] += 1
            if (found := inconsistency(catalog.entities)) is not None:
                problems.append(f"entities: {found}")
            names = frozenset(e.name for e in catalog.filter("kind:component reg-"))
            if names not in (VERSION_A, VERSION_B):
                problems.append(f"filter: a mix of two states: {sorted(names)}")
            for name in ("reg-a0", "reg-b5"):
                entity = catalog.get(f"component:{name}")
                if entity is not None and not any(r.type == "ownedBy" for r in entity.relations):
                    problems.append(f"get: {name} is in the catalog without its relations")

    readers = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    for reader in readers:
        reader.start()
    try:
        for run in range(REGISTRATIONS):
            version = VERSION_B if run % 2 == 0 else VERSION_A
            write_version(registered, version)
            added = catalog.register(registered)
            assert {e.name for e in added} == version
    finally:
        writing.clear()
        for reader in readers:
            reader.join()

    assert problems == []
    assert all(count > REGISTRATIONS for count in reads)  # the readers really read meanwhile
    final = VERSION_B if REGISTRATIONS % 2 else VERSION_A
    assert frozenset(e.name for e in catalog.entities if e.name.startswith("reg-")) == final
    assert inconsistency(catalog.entities) is None


def test_a_snapshot_stays_as_it_was_after_a_registration(catalog: Catalog, tmp_path: Path) -> None:
    registered = tmp_path / "registered.yaml"
    write_version(registered, VERSION_A)
    catalog.register(registered)
    before = catalog.snapshot()
    group_before = before.get("group:team-a")
    assert group_before is not None
    owned_before = [r.target for r in group_before.relations]

    write_version(registered, VERSION_B)
    catalog.register(registered)

    # The old snapshot is untouched: same entities, same relations, and its filter still answers.
    assert inconsistency(before.entities) is None
    assert frozenset(e.name for e in before.entities if e.name.startswith("reg-")) == VERSION_A
    assert [r.target for r in group_before.relations] == owned_before
    assert before.get("component:reg-b0") is None
    # A view keeps the rows of its snapshot: positions from that snapshot's filter index them.
    assert [before.entities[p].name for p in before.filter_positions("kind:group")] == ["team-a"]
    assert {before.entities[p].name for p in before.filter_positions("reg-")} == VERSION_A
    assert inconsistency(catalog.entities) is None
    assert catalog.get("component:reg-b0") is not None
    assert catalog.get("component:reg-a0") is None
