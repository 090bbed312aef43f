"""Registered catalog files survive a restart: what one process registers, the next one loads."""

from __future__ import annotations

from pathlib import Path

from backends.catalog import load_catalog
from backends.workspace import load_workspace

SERVICE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: experimental
  owner: team-a
"""


def make_workspace(root: Path) -> Path:
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "a.yaml").write_text(SERVICE.format(name="existing"), encoding="utf-8")
    (root / "idp-console.yaml").write_text(
        "catalog:\n  sources:\n    - type: dir\n      path: catalog\n", encoding="utf-8"
    )
    return root


def test_registration_is_loaded_again_by_the_next_process(tmp_path: Path) -> None:
    workspace = load_workspace(make_workspace(tmp_path / "ws"))
    new_repo = tmp_path / "repos" / "orders"
    new_repo.mkdir(parents=True)
    (new_repo / "catalog-info.yaml").write_text(SERVICE.format(name="orders"), encoding="utf-8")

    first = load_catalog(workspace)
    assert [e.name for e in first.register(new_repo / "catalog-info.yaml")] == ["orders"]

    second = load_catalog(workspace)
    assert sorted(e.name for e in second.entities) == ["existing", "orders"]
    assert not second.errors()

    # Registering the same file again does not duplicate it.
    second.register(new_repo / "catalog-info.yaml")
    assert sorted(e.name for e in load_catalog(workspace).entities) == ["existing", "orders"]


def test_a_registered_file_that_disappeared_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    workspace = load_workspace(make_workspace(tmp_path / "ws"))
    gone = tmp_path / "gone.yaml"
    gone.write_text(SERVICE.format(name="temporary"), encoding="utf-8")
    load_catalog(workspace).register(gone)
    gone.unlink()

    catalog = load_catalog(workspace)
    assert [e.name for e in catalog.entities] == ["existing"]
    assert any("no longer exists" in p.message and p.severity.value == "warning" for p in catalog.problems)


def test_registrations_are_per_workspace(tmp_path: Path) -> None:
    one = load_workspace(make_workspace(tmp_path / "one"))
    other = load_workspace(make_workspace(tmp_path / "other"))
    extra = tmp_path / "extra.yaml"
    extra.write_text(SERVICE.format(name="only-in-one"), encoding="utf-8")
    load_catalog(one).register(extra)
    assert [e.name for e in load_catalog(other).entities] == ["existing"]


def test_filter_positions_point_at_the_same_entities_as_filter(tmp_path: Path) -> None:
    catalog = load_catalog(load_workspace(make_workspace(tmp_path / "ws")))
    catalog.register(tmp_path / "ws" / "catalog" / "a.yaml")
    for query in ("existing", "kind:component", "nothing-like-this", ""):
        positions = catalog.filter_positions(query)
        assert [catalog.entities[p] for p in positions] == catalog.filter(query)
