"""A simulated cluster on loopback per test, and a deploy engine pointed at it through a real
kubeconfig (the same client code path as a real cluster; nothing is monkeypatched)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backends.catalog.model import Entity, Relation, SourcePosition
from backends.catalog.refs import parse_entity_ref
from backends.deploy.engine import DeployContext, DeployEngine
from backends.deploy.events import DeployEvent
from backends.deploy.history import DeployHistory
from backends.deploy.run import DeployRun
from backends.kube.cluster import Cluster, RetryPolicy
from backends.kube.sim import SeedService, start_simulated_cluster
from backends.kube.sim.cluster import SimulatedCluster

SERVICE = "payment-service"
OLD = "v2.3.0"
IMAGE = f"registry.acme.example/{SERVICE}:{OLD}"
TIME_SCALE = 0.02  # pods ready in ~0.1 s; a 600 s progress deadline is 12 s


# The catalog of a test workspace on disk: the service, its owning team and a member of it.
CATALOG_YAML = f"""\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {SERVICE}
  annotations: {{backstage.io/kubernetes-id: {SERVICE}}}
spec: {{type: service, lifecycle: production, owner: team-payments}}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {{name: team-payments}}
spec: {{type: team, children: []}}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {{name: jane.doe}}
spec: {{memberOf: [team-payments]}}
"""


class FakeCatalog:
    """Just enough catalog: entities by ref (the engine only calls ``get``)."""

    def __init__(self, *entities: Entity) -> None:
        self.entities = list(entities)

    def get(self, ref: str, default_kind: str | None = "Component") -> Entity | None:
        wanted = parse_entity_ref(ref, default_kind=default_kind or "Component").canonical
        return next((e for e in self.entities if e.ref.canonical == wanted), None)


def entity(
    kind: str, name: str, spec: dict[str, Any], annotations: dict | None = None, relations=()
) -> Entity:
    raw = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": spec,
    }
    return Entity(raw, SourcePosition("test-catalog.yaml"), list(relations))


def demo_catalog() -> FakeCatalog:
    return FakeCatalog(
        entity(
            "Component",
            SERVICE,
            {"type": "service", "lifecycle": "production", "owner": "team-payments"},
            {"backstage.io/kubernetes-id": SERVICE},
        ),
        entity("User", "jane.doe", {}, relations=[Relation("memberOf", "group:default/team-payments")]),
        entity("User", "omar", {}, relations=[Relation("memberOf", "group:default/team-checkout")]),
    )


@pytest.fixture
def sim() -> Iterator[SimulatedCluster]:
    seed = [SeedService(SERVICE, ("staging", "production"), IMAGE, 4)]
    with start_simulated_cluster(None, time_scale=TIME_SCALE, attach=False, seed_objects=seed) as cluster:
        cluster.set_error_rate(SERVICE, "canary", 0.002)
        cluster.set_error_rate(SERVICE, "stable", 0.002)
        yield cluster


@dataclass
class Harness:
    sim: SimulatedCluster
    kubeconfig: Path
    context: DeployContext
    engine: DeployEngine
    history: DeployHistory

    @property
    def cluster(self) -> Cluster:
        return self.context.cluster_for(self.context.environment("production"))

    def deployment(self, name: str = SERVICE, namespace: str = "production") -> dict[str, Any] | None:
        return self.cluster.find("deployments", namespace, name)


def make_context(
    sim: SimulatedCluster, tmp_path: Path, *, deploy: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[DeployContext, Path]:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    environments = {
        env: {
            "kubeconfig": str(kubeconfig),
            "context": "simulated",
            "namespace": env,
            "lifecycles": ["production"] if env == "production" else [],
            "production": env == "production",
        }
        for env in ("staging", "production")
    }
    settings = {
        "bake": "0.3s",
        "progress_deadline": "15s",
        "analysis": {"prometheus": sim.prometheus_url, "threshold": 0.01},
    }
    settings.update(deploy or {})
    context = DeployContext(
        catalog=kwargs.pop("catalog", demo_catalog()),
        environments=environments,
        deploy=settings,
        history=DeployHistory(tmp_path / "history.sqlite3"),
        user=kwargs.pop("user", "jane.doe"),
        retry=kwargs.pop("retry", RetryPolicy(attempts=6, base_delay=0.05, max_delay=0.5)),
        **kwargs,
    )
    return context, kubeconfig


@pytest.fixture
def harness(sim: SimulatedCluster, tmp_path: Path) -> Harness:
    context, kubeconfig = make_context(sim, tmp_path)
    return Harness(sim, kubeconfig, context, DeployEngine(context), context.history)


def collect(run: DeployRun, on_event: Callable[[DeployEvent], None] | None = None) -> list[DeployEvent]:
    """Run to the end, calling ``on_event`` for each event as it arrives."""
    events = []
    for event in run.events():
        events.append(event)
        if on_event is not None:
            on_event(event)
    return events
