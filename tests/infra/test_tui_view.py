"""The Infra tab's controller (backends/infra/view.py, edit.py) against a real infra repository and
the simulated cluster over HTTP: live state, drift, and the plan of an edit before it is pushed."""

from __future__ import annotations

import re
from typing import Any

import yaml

from backends.infra.apply import open_infra
from backends.infra.edit import ResourcesForm, preview_plan
from backends.infra.view import Drift, load_view
from backends.workspace import load_workspace
from tests.infra.conftest import Infra, wait_for
from tests.screens.helpers import UNREACHABLE_KUBECONFIG

PAYMENT = "infrastructure/payment-service/resources.yaml"


def _view(infra: Infra) -> Any:
    with open_infra(load_workspace(infra.workspace)) as session:
        return load_view(session, "payment-service")


def test_drift_names_each_field_whose_applied_value_differs_from_the_file(infra: Infra) -> None:
    code, _, err = infra.cli("infra", "apply")
    assert code == 0, err
    wait_for(
        lambda: (
            (s := infra.cluster.get("statefulsets", "production", "payment-service-db"))
            and (s.get("status") or {}).get("readyReplicas") == 1
        )
    )
    view = _view(infra)
    assert view.drift == []
    states = {s.resource: s for s in view.states}
    assert states["database"].ready is True
    assert states["database"].fields == (("type", "postgres"), ("size", "small"), ("backups", "daily"))
    assert "StatefulSet 1/1 ready" in states["database"].live
    assert states["compute"].fields == (("replicas", "4"), ("cpu", "500m"), ("memory", "512Mi"))
    assert view.cost == 98.0

    # Someone scales by hand; the file gains a cache and a bigger database nobody applied yet.
    infra.cluster.patch("deployments", "production", "payment-service", {"spec": {"replicas": 2}})

    def change(doc: dict[str, Any]) -> None:
        doc["spec"]["database"]["size"] = "medium"
        doc["spec"]["cache"] = {"type": "redis", "size": "small", "eviction": "lru"}

    infra.edit(PAYMENT, change)
    view = _view(infra)
    assert Drift("compute", "replicas", "4", "2") in view.drift
    assert Drift("database", "size", "medium", "small") in view.drift
    assert Drift("cache", "", "redis small lru", "—") in view.drift
    assert len(view.drift) == 3
    assert {(c.action, c.kind, c.name) for c in view.pending} >= {
        ("create", "statefulsets", "payment-service-cache"),
        ("change", "statefulsets", "payment-service-db"),
        ("change", "deployments", "payment-service"),
    }
    assert {v.policy: v.outcome for v in view.verdicts}["cache-size-approval"] == "pass"

    # The file drops the database: what still runs is drift the other way (apply deletes it).
    infra.edit(PAYMENT, lambda doc: doc["spec"].pop("database"))
    view = _view(infra)
    assert Drift("database", "", "—", "postgres small daily") in view.drift


def test_the_form_writes_the_file_users_write_and_plans_it_before_any_push(infra: Infra) -> None:
    head = infra.git("ls-remote", str(infra.repo), "refs/heads/main").split()[0]
    with open_infra(load_workspace(infra.workspace)) as session:
        view = load_view(session, "payment-service")
        form = ResourcesForm(
            "payment-service", "group:default/team-payments", session.settings, view.resources
        )
        form.set("cache", True)
        text = form.check(production=True)
        assert text is not None
        assert text.endswith(
            "spec:\n"
            '  compute:  {replicas: 4, cpu: "500m", memory: "512Mi"}\n'
            "  database: {type: postgres, size: small, backups: daily}\n"
            "  cache:    {type: redis, size: small, eviction: lru}\n"
        )
        plan = preview_plan(session, "payment-service", text)
        form.set("compute.cpu", "500 m")
        assert form.check(production=True) is None
        assert "compute.cpu" in form.errors()
        assert form.values["compute.cpu"] == "500 m"  # kept as typed
    # Nothing applied yet: the cost before is the file on the ref.
    service = plan.services[0]
    assert (service.cost_before, service.cost_after) == (98.0, 113.0)
    assert plan.teams["team-payments"] == (352.0, 367.0)
    assert ("create", "statefulsets", "payment-service-cache") in {
        (c.action, c.kind, c.name) for c in service.changes
    }
    assert infra.git("ls-remote", str(infra.repo), "refs/heads/main").split()[0] == head


def test_an_unreachable_cluster_leaves_the_file_cost_and_verdicts_on_the_tab(infra: Infra) -> None:
    config_file = infra.workspace / "idp-console.yaml"
    config = yaml.safe_load(config_file.read_text())
    unreachable = infra.workspace / "unreachable-kubeconfig"
    unreachable.write_text(UNREACHABLE_KUBECONFIG)
    config["environments"]["production"].update(kubeconfig=str(unreachable), context="prod")
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    view = _view(infra)
    assert view.live_error
    assert view.errors == []
    assert view.cost == 98.0
    assert [s.live.startswith("unknown: ") for s in view.states] == [True, True]
    assert view.drift == [] and view.pending == []  # unknown, not "nothing differs"
    assert {v.outcome for v in view.verdicts} == {"pass"}


def test_a_service_without_a_file_gets_one_from_the_form(infra: Infra) -> None:
    with open_infra(load_workspace(infra.workspace)) as session:
        view = load_view(session, "search-service")
        assert view.text is None and view.states == []
        assert view.errors == ["no infrastructure/search-service/resources.yaml at main yet: e writes one"]
        form = ResourcesForm("search-service", "group:default/team-search", session.settings, None)
        text = form.check(production=True)
        assert text is not None and "  owner: team-search\n" in text
        plan = preview_plan(session, "search-service", text)
    assert plan.errors == []
    assert (plan.services[0].cost_before, plan.services[0].cost_after) == (0.0, 7.25)
    denied = [(v.policy, v.service) for v in plan.denied]
    assert denied == [("production-replicas", "search-service")]  # the platform's 1 replica


def test_another_services_broken_file_is_named_on_the_tab(infra: Infra) -> None:
    infra.edit(
        "infrastructure/cart-service/resources.yaml", lambda doc: doc["spec"]["cache"].update(size="huge")
    )
    view = _view(infra)
    assert len(view.errors) == 1
    assert re.match(
        r"infrastructure/cart-service/resources\.yaml:\d+: spec\.cache\.size: unknown size 'huge'",
        view.errors[0],
    )
    assert [s.resource for s in view.states] == ["compute", "database"]  # its own file still shows
    assert view.verdicts == []
