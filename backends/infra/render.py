"""ServiceResources → the Kubernetes objects that run them.

* ``compute`` patches the service's own Deployment (replicas, its container's requests/limits): the
  deploy area owns the rest of that object, infra only these fields.
* ``database`` / ``cache``: a StatefulSet + Service + Secret each (``provisioner: statefulset``, what
  the demo's simulated cluster runs), or one Crossplane-style claim each (``provisioner: crossplane``),
  whose composition the cluster's Crossplane provides.

Every object infra creates carries :data:`MANAGED_BY` and the service's label, so objects that no
file describes any more are found (and pruned) by label; and the hash of what was rendered, so an
unchanged object is recognised without comparing fields the API server defaulted.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from backends.infra.resources import Cache, Database, ServiceResources
from backends.infra.settings import InfraSettings

FIELD_MANAGER = "idp-console-infra"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "idp-console-infra"
SERVICE_LABEL = "platform.internal/service"
HASH_ANNOTATION = "platform.internal/infra-hash"
IMAGES = {"postgres": "postgres:16", "mysql": "mysql:8.4", "redis": "redis:7.4", "memcached": "memcached:1.6"}
PORTS = {"postgres": 5432, "mysql": 3306, "redis": 6379, "memcached": 11211}
CLAIM_KINDS = {
    "database": ("databaseinstances", "DatabaseInstance"),
    "cache": ("cacheinstances", "CacheInstance"),
}
# The kinds infra creates (and may prune), per provisioner.
OWNED_KINDS = {
    "statefulset": ("statefulsets", "services", "secrets"),
    "crossplane": ("databaseinstances", "cacheinstances"),
}
REDIS_POLICIES = {
    "lru": "allkeys-lru",
    "lfu": "allkeys-lfu",
    "random": "allkeys-random",
    "noeviction": "noeviction",
}


@dataclass(slots=True)
class Desired:
    """One object infra wants in the cluster."""

    kind: str  # the plural, as backends.kube.cluster names it
    name: str
    service: str
    body: dict[str, Any]
    create_only: bool = False  # a Secret: generated once, never rewritten
    patch_of_deployment: bool = False  # compute: fields of the service's own Deployment
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


def content_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _labels(service: str, role: str) -> dict[str, str]:
    return {
        MANAGED_BY_LABEL: MANAGED_BY,
        SERVICE_LABEL: service,
        "app": f"{service}-{role}",
        "platform.internal/role": role,
    }


def _stamped(body: dict[str, Any]) -> dict[str, Any]:
    body["metadata"].setdefault("annotations", {})[HASH_ANNOTATION] = content_hash(body)
    return body


def render(resources: ServiceResources, settings: InfraSettings, namespace: str) -> list[Desired]:
    """The objects one file asks for in ``namespace``."""
    out: list[Desired] = []
    name = resources.name
    if resources.compute:
        c = resources.compute
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": c.replicas,
                "template": {"spec": {"containers": [{
                    "name": name,
                    "resources": {
                        "requests": {"cpu": c.cpu, "memory": c.memory}, "limits": {"memory": c.memory},
                    },
                }]}},
            },
        }  # fmt: skip
        out.append(Desired("deployments", name, name, body, patch_of_deployment=True,
                           summary={"replicas": c.replicas, "cpu": c.cpu, "memory": c.memory}))  # fmt: skip
    for role, spec in (("db", resources.database), ("cache", resources.cache)):
        if spec is None:
            continue
        if settings.provisioner == "crossplane":
            out.append(_claim(resources, role, spec, settings, namespace))
        else:
            out.extend(_statefulset(resources, role, spec, settings, namespace))
    return out


def _claim(
    resources: ServiceResources, role: str, spec: Database | Cache, settings: InfraSettings, namespace: str
) -> Desired:
    kind_key = "database" if role == "db" else "cache"
    plural, kind = CLAIM_KINDS[kind_key]
    name = f"{resources.name}-{role}"
    parameters: dict[str, Any] = {"engine": spec.type, "size": spec.size}
    if isinstance(spec, Database):
        parameters["backups"] = spec.backups
    else:
        parameters["eviction"] = spec.eviction
    body = _stamped({
        "apiVersion": "platform.internal/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": _labels(resources.name, role)},
        "spec": {
            "parameters": parameters,
            "compositionSelector": {"matchLabels": {"engine": spec.type}},
            "writeConnectionSecretToRef": {"name": name},
        },
    })  # fmt: skip
    return Desired(plural, name, resources.name, body, summary=parameters)


def _statefulset(
    resources: ServiceResources, role: str, spec: Database | Cache, settings: InfraSettings, namespace: str
) -> list[Desired]:
    kind_key = "database" if role == "db" else "cache"
    size = settings.sizes[kind_key][spec.size]
    name = f"{resources.name}-{role}"
    labels = _labels(resources.name, role)
    selector = {"app": labels["app"]}
    port = PORTS[spec.type]
    container: dict[str, Any] = {
        "name": spec.type,
        "image": IMAGES[spec.type],
        "ports": [{"name": spec.type, "containerPort": port}],
        "resources": {
            "requests": {"cpu": size.cpu, "memory": size.memory},
            "limits": {"memory": size.memory},
        },
        "envFrom": [{"secretRef": {"name": name}}],
    }
    annotations: dict[str, str] = {}
    if isinstance(spec, Cache):
        summary: dict[str, Any] = {"engine": spec.type, "size": spec.size, "eviction": spec.eviction}
        if spec.type == "redis":
            container["args"] = [
                "--maxmemory",
                size.memory.replace("i", "b").lower(),
                "--maxmemory-policy",
                REDIS_POLICIES[spec.eviction],
            ]
    else:
        summary = {"engine": spec.type, "size": spec.size, "backups": spec.backups}
        annotations["platform.internal/backups"] = spec.backups
    sts: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": {**labels}}, "spec": {"containers": [container]}},
        },
    }
    if size.storage:
        sts["spec"]["volumeClaimTemplates"] = [{
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size.storage}}},
        }]  # fmt: skip
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"selector": selector, "ports": [{"name": spec.type, "port": port, "targetPort": port}]},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "type": "Opaque",
        # Generated when the Secret is first created, never again: rewriting it would lock the
        # service out of its own database. The hash covers only what is stable.
        "stringData": {"PASSWORD": ""},
    }
    _stamped(secret)
    secret["stringData"] = {
        "PASSWORD": secrets.token_urlsafe(24),
        "HOST": f"{name}.{namespace}.svc",
        "PORT": str(port),
    }
    return [
        Desired("statefulsets", name, resources.name, _stamped(sts), summary=summary),
        Desired("services", name, resources.name, _stamped(service)),
        Desired("secrets", name, resources.name, secret, create_only=True),
    ]
