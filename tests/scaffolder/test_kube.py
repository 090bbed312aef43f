"""kube:apply's applier over the deploy area's clusters."""

from __future__ import annotations

from typing import Any

import pytest

from backends.scaffolder.kube import ApplyError, WorkspaceApplier, apply_manifests

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "svc", "labels": {"app": "svc"}},
    "spec": {"replicas": 2},
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "svc"},
    "spec": {"selector": {"app": "svc"}},
}


class FakeCluster:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.patches: list[tuple[str, str, dict[str, Any]]] = []

    def find(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.objects[(kind, namespace, body["metadata"]["name"])] = body
        return body

    def patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append((kind, name, patch))
        return self.objects[(kind, namespace, name)]


def test_create_then_configure() -> None:
    cluster = FakeCluster()
    assert apply_manifests(cluster, "staging", [DEPLOYMENT, SERVICE]) == [
        "deployment/svc created in staging",
        "service/svc created in staging",
    ]
    assert cluster.objects[("deployments", "staging", "svc")]["metadata"]["namespace"] == "staging"
    assert apply_manifests(cluster, "staging", [DEPLOYMENT]) == ["deployment/svc configured in staging"]
    assert cluster.patches == [
        ("deployments", "svc", {"metadata": {"labels": {"app": "svc"}}, "spec": {"replicas": 2}})
    ]


def test_unsupported_kind_and_missing_name() -> None:
    with pytest.raises(ApplyError, match="cannot apply kind ConfigMap"):
        apply_manifests(FakeCluster(), "ns", [{"kind": "ConfigMap", "metadata": {"name": "x"}}])
    with pytest.raises(ApplyError, match="no metadata.name"):
        apply_manifests(FakeCluster(), "ns", [{"kind": "Service", "metadata": {}}])


def test_workspace_applier_uses_a_shared_session() -> None:
    cluster = FakeCluster()

    class Environment:
        name = "production"
        namespace = "prod-ns"
        production = False  # the guardrails have their own tests (test_kube_guardrails.py)

    class Context:
        catalog = None
        user = "jane"

        def environment(self, name: str) -> Environment:
            assert name == "production"
            return Environment()

        def cluster_for(self, environment: Environment) -> FakeCluster:
            return cluster

    class Session:
        context = Context()
        closed = False

        def close(self) -> None:
            self.closed = True

    session = Session()
    applier = WorkspaceApplier(workspace=None, session=session)
    assert applier.apply("production", [SERVICE]) == ["service/svc created in prod-ns"]
    applier.close()
    assert not session.closed  # a session handed in belongs to the caller
