"""Workloads that already run in the simulated cluster when the demo starts.

Each service gets, per namespace, a Deployment ``<name>`` whose selector is
``app=<name>,track=stable`` and a Service ``<name>`` selecting only ``app=<name>`` — so a
``<name>-canary`` Deployment labelled ``track=canary`` receives a share of the Service's traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from backends.http import tls_context

from .errors import ApiError
from .resources import DEPLOYMENTS, NAMESPACES, SERVICES, ResourceType

if TYPE_CHECKING:  # only the owning process seeds its store directly
    from .store import ObjectStore

KUBERNETES_ID = "backstage.io/kubernetes-id"


@dataclass(frozen=True)
class SeedService:
    """A service to have running: ``image`` with ``replicas`` pods in each of ``namespaces``."""

    name: str
    namespaces: tuple[str, ...]
    image: str
    replicas: int = 2
    port: int = 8080


def _image(name: str, tag: str) -> str:
    return f"registry.acme.example/{name}:{tag}"


DEMO_SERVICES: tuple[SeedService, ...] = (
    SeedService("payment-service", ("staging", "production"), _image("payment-service", "v2.3.0"), 4),
    SeedService("invoice-service", ("staging", "production"), _image("invoice-service", "v1.8.2"), 2),
    SeedService("ledger-service", ("staging", "production"), _image("ledger-service", "v3.1.0"), 3),
    SeedService("checkout-bff", ("staging", "production"), _image("checkout-bff", "v5.0.4"), 3),
    SeedService("cart-service", ("staging", "production"), _image("cart-service", "v2.12.1"), 2),
    SeedService("user-service", ("staging", "production"), _image("user-service", "v4.2.0"), 2),
)


def namespace_manifest(name: str) -> dict[str, Any]:
    """A Namespace object."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment_manifest(service: SeedService, namespace: str) -> dict[str, Any]:
    """The stable Deployment of ``service`` in ``namespace`` (selector ``app`` + ``track: stable``)."""
    labels = {"app": service.name, "track": "stable", KUBERNETES_ID: service.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service.name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": service.replicas,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": service.name, "track": "stable"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": service.name,
                            "image": service.image,
                            "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        }
                    ]
                },
            },
        },
    }


def service_manifest(service: SeedService, namespace: str) -> dict[str, Any]:
    """The Service of ``service``: selects ``app`` only, so stable and canary pods share it."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service.name,
            "namespace": namespace,
            "labels": {"app": service.name, KUBERNETES_ID: service.name},
        },
        "spec": {
            "selector": {"app": service.name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            "type": "ClusterIP",
        },
    }


def seed_manifests(services: Iterable[SeedService]) -> list[tuple[ResourceType, dict[str, Any]]]:
    """``(resource, manifest)`` pairs to create: namespaces first, then workloads."""
    services = list(services)
    namespaces = sorted({ns for service in services for ns in service.namespaces})
    objects: list[tuple[ResourceType, dict[str, Any]]] = [
        (NAMESPACES, namespace_manifest(ns)) for ns in namespaces
    ]
    for service in services:
        for ns in service.namespaces:
            objects.append((DEPLOYMENTS, deployment_manifest(service, ns)))
            objects.append((SERVICES, service_manifest(service, ns)))
    return objects


def _describe(manifest: dict[str, Any]) -> str:
    meta = manifest["metadata"]
    return f"{manifest['kind']}/{meta.get('namespace', '')}/{meta['name']}"


def seed(api_url: str, services: Iterable[SeedService], *, timeout: float = 10.0) -> list[str]:
    """Create the objects that are missing, over the API (so it works when attached, too).

    Existing objects are left alone — a deploy that changed the image survives a restart.
    Returns ``kind/namespace/name`` of what was created.
    """
    created: list[str] = []
    with httpx.Client(base_url=api_url, timeout=timeout, verify=tls_context()) as http:
        for resource, manifest in seed_manifests(services):
            namespace = manifest["metadata"].get("namespace")
            prefix = f"/apis/{resource.api_version}" if resource.group else f"/api/{resource.version}"
            scope = f"/namespaces/{namespace}" if resource.namespaced else ""
            response = http.post(f"{prefix}{scope}/{resource.plural}", json=manifest)
            if response.status_code == 409:
                continue
            response.raise_for_status()
            created.append(_describe(manifest))
    return created


def seed_store(store: ObjectStore, services: Iterable[SeedService]) -> list[str]:
    """`seed`, straight into the store of the process that owns the simulation (no HTTP round trips)."""
    created: list[str] = []
    for resource, manifest in seed_manifests(services):
        try:
            store.create(resource, manifest["metadata"].get("namespace"), manifest)
        except ApiError as exc:
            if exc.status != 409:
                raise
            continue
        created.append(_describe(manifest))
    return created
