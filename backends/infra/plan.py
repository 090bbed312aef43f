"""``infra plan``: what applying the infra repository at a ref would do, and whether policy allows it.

A plan reads every file of the ref (the budget policy needs a team's whole bill, pruning needs every
service), validates them, renders the objects, and compares them with what is applied: the cluster's
objects carrying infra's label (one list per kind, not a read per service) and, for the cost before,
the last apply recorded in the history. Each policy is then evaluated on each service's object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backends.infra.policy import Evaluator, Policy, Verdict, load_policies
from backends.infra.quantity import GIB, parse_quantity
from backends.infra.render import (
    HASH_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    OWNED_KINDS,
    SERVICE_LABEL,
    Desired,
    render,
)
from backends.infra.repo import RESOURCES_FILE, InfraTree
from backends.infra.resources import InfraInputError, ServiceResources, parse_resources
from backends.infra.settings import InfraSettings

if TYPE_CHECKING:
    from backends.kube.cluster import Cluster

EXIT_CLEAN, EXIT_DENIED, EXIT_INVALID = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Change:
    action: str  # create | change | delete
    kind: str
    name: str
    service: str

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "kind": self.kind, "name": self.name, "service": self.service}


@dataclass(slots=True)
class ServicePlan:
    service: str
    owner: str
    cost_before: float
    cost_after: float
    changes: list[Change] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    ref: str
    commit: str
    environment: str
    namespace: str
    services: list[ServicePlan] = field(default_factory=list)
    teams: dict[str, tuple[float, float]] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # What apply needs and a reader does not: the rendered objects and the live ones to delete.
    desired: list[Desired] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    costs: dict[str, float] = field(default_factory=dict)

    @property
    def denied(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.outcome == "deny"]

    @property
    def exit_code(self) -> int:
        if self.errors:
            return EXIT_INVALID
        return EXIT_DENIED if self.denied else EXIT_CLEAN

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "environment": self.environment,
            "errors": self.errors,
            "services": [
                {
                    "service": s.service, "owner": s.owner,
                    "cost": {"before": round(s.cost_before, 2), "after": round(s.cost_after, 2)},
                    "changes": [c.as_dict() for c in s.changes],
                }
                for s in self.services
            ],
            "teams": {
                team: {"before": round(before, 2), "after": round(after, 2)}
                for team, (before, after) in sorted(self.teams.items())
            },
            "verdicts": [v.as_dict() for v in self.verdicts],
            "exit_code": self.exit_code,
        }  # fmt: skip


def monthly_cost(resources: ServiceResources, settings: InfraSettings) -> float:
    """What a service's resources cost per month, from the price table."""
    prices = settings.prices
    total = Decimal(0)
    if resources.compute:
        c = resources.compute
        per_replica = parse_quantity(c.cpu) * Decimal(str(prices.cpu)) + parse_quantity(
            c.memory
        ) / GIB * Decimal(str(prices.memory))
        total += per_replica * c.replicas
    if resources.database:
        total += Decimal(str(prices.by_size["database"][resources.database.size]))
    if resources.cache:
        total += Decimal(str(prices.by_size["cache"][resources.cache.size]))
    return float(round(total, 2))


LiveObjects = dict[tuple[str, str], dict[str, Any]]


def live_objects(
    cluster: Cluster, namespace: str, settings: InfraSettings
) -> tuple[LiveObjects, LiveObjects]:
    """Infra's own objects in ``namespace`` (by label) and the namespace's Deployments."""
    owned: LiveObjects = {}
    for kind in OWNED_KINDS[settings.provisioner]:
        items, _ = cluster.list(kind, namespace, label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}")
        for item in items:
            owned[(kind, item["metadata"]["name"])] = item
    deployments, _ = cluster.list("deployments", namespace)
    return owned, {("deployments", d["metadata"]["name"]): d for d in deployments}


def _deployment_differs(desired: Desired, live: dict[str, Any]) -> bool:
    want = desired.body["spec"]
    spec = live.get("spec") or {}
    if spec.get("replicas") != want["replicas"]:
        return True
    wanted_container = want["template"]["spec"]["containers"][0]
    for container in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
        if container.get("name") == wanted_container["name"]:
            return (container.get("resources") or {}) != wanted_container["resources"]
    return True


def diff(desired: list[Desired], owned: LiveObjects, deployments: LiveObjects) -> list[Change]:
    """Creates and changes for ``desired``, deletes for owned objects no file describes."""
    changes: list[Change] = []
    wanted = set()
    for item in desired:
        wanted.add(item.key)
        if item.patch_of_deployment:
            live = deployments.get(item.key)
            if live is not None and _deployment_differs(item, live):
                changes.append(Change("change", item.kind, item.name, item.service))
            continue  # no Deployment yet: the first deploy creates it, the next apply sizes it
        live = owned.get(item.key)
        if live is None:
            changes.append(Change("create", item.kind, item.name, item.service))
        elif not item.create_only:
            annotations = live["metadata"].get("annotations") or {}
            if annotations.get(HASH_ANNOTATION) != item.body["metadata"]["annotations"][HASH_ANNOTATION]:
                changes.append(Change("change", item.kind, item.name, item.service))
    for key, live in sorted(owned.items()):
        if key not in wanted:
            service = (live["metadata"].get("labels") or {}).get(SERVICE_LABEL, "")
            changes.append(Change("delete", key[0], key[1], service))
    return changes


@dataclass(frozen=True, slots=True)
class Target:
    """Where a plan is applied: the environment's name, namespace and whether it is production."""

    environment: str
    namespace: str
    production: bool


def make_plan(
    tree: InfraTree,
    settings: InfraSettings,
    target: Target,
    *,
    ref: str,
    live: Callable[[], tuple[LiveObjects, LiveObjects]] | None,
    costs_before: dict[str, float],
    service: str | None = None,
) -> Plan:
    """The plan for ``tree`` (``service``: show only that one; all are still checked)."""
    plan = Plan(ref=ref, commit=tree.commit, environment=target.environment, namespace=target.namespace)
    parsed: dict[str, ServiceResources] = {}
    for name in sorted(tree.resources):
        try:
            parsed[name] = parse_resources(
                tree.resources[name],
                tree.resource_files[name],
                settings,
                production=target.production,
                service=name,
            )
        except InfraInputError as error:
            plan.errors.append(str(error))
    if service is not None and service not in parsed and not any(service in e for e in plan.errors):
        plan.errors.append(f"no {settings.path.rstrip('/')}/{service}/{RESOURCES_FILE} at {ref}")
    if plan.errors:
        return plan
    policies: list[Policy] = load_policies(tree.policies)
    plan.costs = {name: monthly_cost(res, settings) for name, res in parsed.items()}
    team_before: dict[str, float] = {}
    team_after: dict[str, float] = {}
    for name, res in parsed.items():
        team_after[res.owner] = team_after.get(res.owner, 0.0) + plan.costs[name]
    owner_of = {name: res.owner for name, res in parsed.items()}
    for name, cost in costs_before.items():
        team = owner_of.get(name)
        if team is not None or name not in parsed:
            team = team or "(removed)"
            team_before[team] = team_before.get(team, 0.0) + cost
    for res in parsed.values():
        plan.desired.extend(render(res, settings, target.namespace))
    owned, deployments = live() if live is not None else ({}, {})
    plan.changes = diff(plan.desired, owned, deployments)
    environment = {"name": target.environment, "production": target.production}
    shown = [service] if service is not None else sorted(set(parsed) | set(costs_before))
    by_service: dict[str, list[Change]] = {}
    for change in plan.changes:
        by_service.setdefault(change.service, []).append(change)
    owners: dict[str, dict[str, Any]] = {}
    evaluator = Evaluator(policies, environment)
    for name in shown:
        found = parsed.get(name)
        owner = found.owner if found else ""
        plan.services.append(
            ServicePlan(
                name, owner, costs_before.get(name, 0.0), plan.costs.get(name, 0.0), by_service.get(name, [])
            )
        )
        if found is None:
            continue
        if owner not in owners:
            owners[owner] = {"name": owner, "monthlyCost": round(team_after.get(owner, 0.0), 2)}
            if owner in settings.budgets:
                owners[owner]["budget"] = settings.budgets[owner]
        plan.verdicts.extend(evaluator.verdicts(name, found.as_object(), owners[owner]))
    teams = {owner for owner in (owner_of.get(s) for s in shown) if owner}
    if service is None:
        teams |= set(team_before)
    plan.teams = {
        t: (round(team_before.get(t, 0.0), 2), round(team_after.get(t, 0.0), 2)) for t in sorted(teams)
    }
    return plan
