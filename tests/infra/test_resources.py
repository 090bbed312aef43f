"""The ServiceResources file on its own: Kubernetes quantities, defaults, the price table, rendering."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from backends.infra.plan import Target, make_plan, monthly_cost
from backends.infra.quantity import QuantityError, parse_quantity
from backends.infra.render import render
from backends.infra.repo import InfraTree
from backends.infra.resources import InfraInputError, parse_resources
from backends.infra.settings import parse_infra_settings

SETTINGS = parse_infra_settings({"repo": "/nowhere"}, Path("/"))
assert SETTINGS is not None
FILE = """apiVersion: platform.internal/v1
kind: ServiceResources
metadata:
  name: orders
  owner: team-orders
spec:
  compute:  {replicas: 3, cpu: "500m", memory: "512Mi"}
  database: {type: postgres, size: small}
  cache:    {type: redis, size: small}
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", Decimal("0.5")), ("2", Decimal(2)), ("512Mi", Decimal(512 * 2**20)),
     ("1.5Gi", Decimal(3 * 2**29)), ("1e3", Decimal(1000)), ("100k", Decimal(100_000)),
     (".5", Decimal("0.5"))],
)  # fmt: skip
def test_kubernetes_quantities(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["500 m", "512MB", "1gi", "-1", "", "m", "1.2.3", "0x10"])
def test_what_kubernetes_refuses_is_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_the_platform_fills_in_defaults_by_environment() -> None:
    production = parse_resources(FILE, "f.yaml", SETTINGS, production=True)
    staging = parse_resources(FILE, "f.yaml", SETTINGS, production=False)
    assert production.database is not None and production.database.backups == "daily"
    assert staging.database is not None and staging.database.backups == "none"
    assert production.cache is not None and production.cache.eviction == "lru"


def test_monthly_cost_from_the_price_table() -> None:
    resources = parse_resources(FILE, "f.yaml", SETTINGS, production=True)
    # 3 × (0.5 core × 25 + 0.5 GiB × 4) + small database 40 + small cache 15
    assert monthly_cost(resources, SETTINGS) == 3 * 14.5 + 40 + 15


def test_a_name_outside_its_directory_is_refused_with_its_line() -> None:
    with pytest.raises(
        InfraInputError, match=r"^f.yaml:4: metadata.name: 'orders' sits in the directory of 'cart'"
    ):
        parse_resources(FILE, "f.yaml", SETTINGS, production=True, service="cart")


def test_crossplane_renders_claims_instead_of_statefulsets() -> None:
    settings = parse_infra_settings({"repo": "/nowhere", "provisioner": "crossplane"}, Path("/"))
    assert settings is not None
    resources = parse_resources(FILE, "f.yaml", settings, production=True)
    objects = {(o.body["kind"], o.name): o.body for o in render(resources, settings, "production")}
    assert set(objects) == {
        ("Deployment", "orders"), ("DatabaseInstance", "orders-db"), ("CacheInstance", "orders-cache"),
    }  # fmt: skip
    claim = objects[("DatabaseInstance", "orders-db")]
    assert claim["spec"]["parameters"] == {"engine": "postgres", "size": "small", "backups": "daily"}
    assert claim["spec"]["writeConnectionSecretToRef"] == {"name": "orders-db"}


def test_objects_no_file_describes_are_planned_for_deletion() -> None:
    tree = InfraTree("c0ffee", {"orders": FILE}, {"orders": "infrastructure/orders/resources.yaml"}, {})
    stale = {"metadata": {"name": "gone-db", "labels": {"platform.internal/service": "gone"}}}
    plan = make_plan(
        tree, SETTINGS, Target("production", "production", True), ref="main",
        live=lambda: ({("statefulsets", "gone-db"): stale}, {}), costs_before={"gone": 40.0},
    )  # fmt: skip
    assert [c.as_dict() for c in plan.changes if c.action == "delete"] == [
        {"action": "delete", "kind": "statefulsets", "name": "gone-db", "service": "gone"}
    ]
    assert {s.service: (s.cost_before, s.cost_after) for s in plan.services}["gone"] == (40.0, 0.0)


def test_a_bad_infra_section_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    from backends.workspace import WorkspaceError, load_workspace

    (tmp_path / "idp-console.yaml").write_text(
        "name: x\ninfra:\n  repo: /srv/infra.git\n  sizes:\n"
        "    cache:\n      small: {cpu: 1 core, memory: 1Gi}\n"
    )
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'idp-console.yaml'}:6: infra.sizes.cache.small.cpu: "
        '\'1 core\' is not a Kubernetes quantity (e.g. "500m", "2", "512Mi", "1Gi")'
    )
