"""Location entities and placeholders: relative targets, globs, presence, cycles, the root boundary."""

from __future__ import annotations

from pathlib import Path

from backends.catalog.catalog import catalog_from_files
from backends.catalog.reader import ReadOptions, read_documents

from .conftest import component


def location(name: str, *targets: str, presence: str = "required") -> str:
    items = ", ".join(f'"{t}"' for t in targets)
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\n"
        f"metadata: {{name: {name}}}\nspec: {{targets: [{items}], presence: {presence}}}\n"
    )


def test_relative_glob_braces_and_nested_locations(write, tmp_path: Path) -> None:
    root = write("catalog/root.yaml", location("root", "./teams/*.yaml", "./{apis,extra}/**/*.yaml"))
    write("catalog/teams/a.yaml", component("a"))
    write("catalog/teams/.hidden.yaml", component("hidden"))
    write("catalog/teams/notes.txt", "not yaml")
    write("catalog/apis/deep/x/b.yaml", component("b"))
    write("catalog/extra/c.yaml", location("nested", "../more/d.yaml"))
    write("catalog/more/d.yaml", component("d"))
    catalog = catalog_from_files([root], root=tmp_path)
    assert sorted(e.name for e in catalog.entities) == ["a", "b", "d", "nested", "root"]
    assert catalog.problems == [] or all(
        "does not exist in the catalog" in p.message for p in catalog.problems
    )


def test_missing_required_target_is_an_error_optional_is_not(write, tmp_path: Path) -> None:
    path = write(
        "l.yaml",
        location("req", "./missing/*.yaml") + "---\n" + location("opt", "./gone.yaml", presence="optional"),
    )
    results = list(read_documents([str(path)], ReadOptions(root=str(tmp_path))))
    # As in Backstage, the Location stays valid; its missing target is a record of its own.
    assert [(r.ref, r.valid, r.target) for r in results] == [
        ("location:default/req", True, None),
        ("location:default/req", False, "./missing/*.yaml"),
        ("location:default/opt", True, None),
    ]
    assert results[1].errors == [
        f"file ./missing/*.yaml does not exist (resolved to {tmp_path}/missing/*.yaml)"
    ]


def test_plain_relative_target_is_relative_to_the_base_not_the_file(write, tmp_path: Path) -> None:
    path = write("deep/dir/l.yaml", location("plain", "top.yaml"))
    write("top.yaml", component("top"))
    catalog = catalog_from_files([path], root=tmp_path)
    assert catalog.get("top") is not None


def test_location_cycle_is_an_error_not_a_loop(write, tmp_path: Path) -> None:
    a = write("a.yaml", location("a", "./b.yaml"))
    write("b.yaml", location("b", "./a.yaml") + "---\n" + component("in-b"))
    results = list(read_documents([str(a)], ReadOptions(root=str(tmp_path))))
    assert [(r.ref, r.valid, r.target) for r in results] == [
        ("location:default/a", True, None),
        ("location:default/b", True, None),
        ("location:default/b", False, "./a.yaml"),  # the target's problem, on the Location b
        ("component:default/in-b", True, None),
    ]
    assert results[2].errors[0].startswith("Location cycle: ")


def test_self_including_glob_is_a_cycle_not_a_duplicate(write, tmp_path: Path) -> None:
    root = write("all.yaml", location("all", "./*.yaml"))
    write("other.yaml", component("other"))
    catalog = catalog_from_files([root], root=tmp_path)
    assert catalog.get("other") is not None
    assert [p.message.split(":")[0] for p in catalog.errors()] == ["Location cycle"]


def test_location_outside_the_root_is_refused(write, tmp_path: Path) -> None:
    write("outside/x.yaml", component("outside"))
    path = write("ws/l.yaml", location("escape", "../outside/x.yaml"))
    catalog = catalog_from_files([path], root=tmp_path / "ws")
    assert catalog.get("outside") is None
    [error] = catalog.errors()
    assert "points outside the source root" in error.message and error.position.line == 1


def test_symlink_out_of_the_root_is_refused(write, tmp_path: Path) -> None:
    write("outside/x.yaml", component("outside"))
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "link.yaml").symlink_to(tmp_path / "outside" / "x.yaml")
    path = write("ws/l.yaml", location("via-link", "./link.yaml"))
    catalog = catalog_from_files([path], root=tmp_path / "ws")
    assert catalog.get("outside") is None
    assert "outside the source root" in catalog.errors()[0].message


def test_placeholders_resolve_relative_to_the_entity_file(write, tmp_path: Path) -> None:
    write("apis/spec/openapi.yaml", "openapi: 3.0.0\n")
    write("apis/settings.json", '{"a": [1, 2]}')
    path = write(
        "apis/api.yaml",
        """\
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata: {name: x}
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition: {$text: ./spec/openapi.yaml}
          settings: {$json: settings.json}
        """,
    )
    catalog = catalog_from_files([path], root=tmp_path)
    api = catalog.get("api:x")
    assert api.spec["definition"] == "openapi: 3.0.0\n" and api.spec["settings"] == {"a": [1, 2]}


def test_placeholder_outside_the_source_root_is_an_error(write, tmp_path: Path) -> None:
    write("secret.txt", "top secret")
    path = write("ws/api.yaml", component("leaky", definitionish="{$text: ../secret.txt}"))
    catalog = catalog_from_files([path], root=tmp_path / "ws")
    assert catalog.get("leaky") is None
    assert "points outside the source root" in catalog.errors()[0].message


def test_missing_placeholder_file_is_an_error(write, tmp_path: Path) -> None:
    path = write("api.yaml", component("x", extra="{$text: ./nope.txt}"))
    [result] = read_documents([str(path)], ReadOptions(root=str(tmp_path)))
    assert result.valid is False and "could not read ./nope.txt" in result.errors[0]
