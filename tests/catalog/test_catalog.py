"""The loaded catalog: relations both ways, duplicates, warnings, lookups, register/subscribe."""

from __future__ import annotations

from pathlib import Path

from backends.catalog import (
    CatalogChanged,
    CatalogLoaded,
    Severity,
    SourceLoaded,
    SourceStarted,
    load_catalog,
)
from backends.catalog.catalog import catalog_from_files
from backends.workspace import load_demo_workspace, load_workspace

from .conftest import component


def test_demo_workspace_loads_without_problems() -> None:
    events: list[object] = []
    catalog = load_catalog(load_demo_workspace(), on_event=events.append)
    assert catalog.problems == []
    assert isinstance(events[0], SourceStarted) and isinstance(events[1], SourceLoaded)
    assert isinstance(events[-1], CatalogLoaded) and events[-1].entities == len(catalog.entities)
    kinds = {e.kind for e in catalog.entities}
    assert {"Domain", "System", "Component", "API", "Resource", "Group", "User", "Location"} <= kinds
    assert sum(e.kind == "Component" for e in catalog.entities) >= 25
    payment = catalog.get("payment-service")
    assert payment is not None and payment.owner == "team-payments" and payment.system == "billing-platform"
    targets = {(r.type, r.target) for r in payment.relations}
    assert {
        ("dependsOn", "component:default/user-service"),
        ("dependsOn", "resource:default/payments-db"),
        ("providesApi", "api:default/payment-api"),
        ("ownedBy", "group:default/team-payments"),
        ("partOf", "system:default/billing-platform"),
    } <= targets
    jane = catalog.get("user:jane.doe")
    assert jane is not None and ("memberOf", "group:default/team-payments") in {
        (r.type, r.target) for r in jane.relations
    }
    # the API definition came from a $text placeholder file
    assert catalog.get("api:payment-api").spec["definition"].startswith("openapi: 3.0.3")
    # entities pulled in by the data-platform Location
    assert catalog.get("component:warehouse-loader").position.file == "catalog/data-platform/pipelines.yaml"


def test_relations_are_reversed_sorted_and_namespaced(write) -> None:
    path = write(
        "all.yaml",
        """\
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: web, namespace: shop}
        spec: {type: website, lifecycle: production, owner: team-a, system: store,
               dependsOn: [component:api, resource:default/db], providesApis: [web-api]}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Group
        metadata: {name: team-a, namespace: shop}
        spec: {type: team, children: []}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Resource
        metadata: {name: db}
        spec: {type: database, owner: group:shop/team-a}
        """,
    )
    catalog = catalog_from_files([path], root=path.parent)
    web = catalog.get("component:shop/web")
    assert [(r.type, r.target) for r in web.relations] == [
        ("dependsOn", "component:shop/api"),  # namespace defaults to the referring entity's
        ("dependsOn", "resource:default/db"),
        ("ownedBy", "group:shop/team-a"),
        ("partOf", "system:shop/store"),
        ("providesApi", "api:shop/web-api"),
    ]
    team = catalog.get("group:shop/team-a")
    assert [(r.type, r.target) for r in team.relations] == [
        ("ownerOf", "component:shop/web"),
        ("ownerOf", "resource:default/db"),
    ]
    db = catalog.get("resource:db")
    assert ("dependencyOf", "component:shop/web") in [(r.type, r.target) for r in db.relations]
    warnings = [p for p in catalog.problems if p.severity is Severity.WARNING]
    messages = {p.message for p in warnings}
    assert "dependsOn target component:shop/api does not exist in the catalog" in messages
    assert "providesApi target api:shop/web-api does not exist in the catalog" in messages
    assert all(p.position.file == "all.yaml" or p.position.file.endswith("all.yaml") for p in warnings)


def test_missing_owner_is_a_warning_with_file_and_line(write) -> None:
    path = write("a.yaml", "# c\n---\n" + component("orphan", owner="team-nobody"))
    catalog = catalog_from_files([path], root=path.parent)
    [problem] = catalog.problems
    assert problem.severity is Severity.WARNING
    assert problem.message == "owner group:default/team-nobody does not exist in the catalog"
    assert problem.position.line == 2 and problem.ref == "component:default/orphan"


def test_duplicates_are_case_insensitive_first_wins_both_places_named(write) -> None:
    first = write("a.yaml", component("twice", type="service"))
    second = write("b.yaml", "---\n" + component("TWICE", type="library"))
    catalog = catalog_from_files([first, second], root=first.parent)
    assert catalog.get("component:twice").type == "service"
    [duplicate] = [p for p in catalog.problems if "duplicate" in p.message]
    assert duplicate.severity is Severity.ERROR
    assert "a.yaml:1" in duplicate.message and duplicate.position.file.endswith("b.yaml")
    assert duplicate.position.line == 1


def test_invalid_entities_are_problems_and_siblings_still_load(write) -> None:
    path = write(
        "mixed.yaml", component("good") + "---\n" + component("bad", lifecycle="''") + "---\n[unclosed\n"
    )
    catalog = catalog_from_files([path], root=path.parent)
    assert [e.name for e in catalog.entities] == ["good"]
    errors = catalog.errors()
    assert [p.position.line for p in errors] == [9, 18]
    assert "lifecycle must NOT have fewer than 1 characters" in errors[0].message


def test_get_by_name_kind_and_default_kind() -> None:
    catalog = load_catalog(load_demo_workspace())
    assert catalog.get("payment-api").kind == "API"
    assert catalog.get("COMPONENT:Default/Payment-Service").name == "payment-service"
    assert catalog.get("team-payments", default_kind="Group").kind == "Group"
    assert catalog.get("nothing-like-this") is None
    assert catalog.by_ref["component:default/payment-service"] is catalog.get("payment-service")


def test_register_adds_replaces_and_notifies(write, tmp_path: Path) -> None:
    base = write("base.yaml", component("existing"))
    catalog = catalog_from_files([base], root=tmp_path)
    changes: list[CatalogChanged] = []
    unsubscribe = catalog.subscribe(changes.append)
    new = write("new/catalog-info.yaml", component("brand-new", dependsOn="[component:existing]"))
    added = catalog.register(new)
    assert [e.name for e in added] == ["brand-new"]
    assert [e.name for e in changes[-1].added] == ["brand-new"] and changes[-1].removed == ()
    assert ("dependencyOf", "component:default/brand-new") in [
        (r.type, r.target) for r in catalog.get("existing").relations
    ]
    assert [e.name for e in catalog.filter("brand")] == ["brand-new"]
    # registering the file again with other content replaces what came from it
    new.write_text(component("renamed"))
    catalog.register(new)
    assert catalog.get("brand-new") is None and catalog.get("renamed") is not None
    assert [e.name for e in changes[-1].removed] == ["brand-new"]
    unsubscribe()
    catalog.register(new)
    assert len(changes) == 2


def test_git_source_reads_at_ref_and_keeps_last_good_clone(tmp_path: Path) -> None:
    from .test_git import make_repo

    remote = make_repo(tmp_path / "remote", {"catalog/a.yaml": component("from-git")})
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "idp-console.yaml").write_text(
        "catalog:\n  sources:\n"
        f"    - type: git\n      url: {remote}\n      ref: main\n      paths: ['catalog/*.yaml']\n"
    )
    workspace = load_workspace(tmp_path / "ws")
    catalog = load_catalog(workspace)
    entity = catalog.get("from-git")
    assert entity is not None and entity.position.file == f"{remote}@main:catalog/a.yaml"
    remote.rename(tmp_path / "moved")
    events: list[object] = []
    catalog = load_catalog(workspace, on_event=events.append)
    assert catalog.get("from-git") is not None
    loaded = [e for e in events if isinstance(e, SourceLoaded)][0]
    assert loaded.warning is not None and loaded.warning.startswith(f"could not fetch {remote}")
    assert any(p.severity is Severity.WARNING and "could not fetch" in p.message for p in catalog.problems)


def test_unreachable_git_source_without_clone_is_a_problem_and_the_rest_loads(tmp_path: Path, write) -> None:
    write("ws/local/a.yaml", component("local-one"))
    write(
        "ws/idp-console.yaml",
        "catalog:\n  sources:\n"
        f"    - {{type: git, url: {tmp_path / 'nowhere'}}}\n    - {{type: dir, path: local}}\n",
    )
    catalog = load_catalog(load_workspace(tmp_path / "ws"))
    assert catalog.get("local-one") is not None
    [error] = catalog.errors()
    assert "could not clone" in error.message
