"""The resource types the simulated API server serves (and advertises in discovery)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource, e.g. ``apps/v1 deployments`` (kind ``Deployment``, namespaced)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()

    @cached_property
    def api_version(self) -> str:
        """``apps/v1`` or, for the core group, ``v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @cached_property
    def key(self) -> str:
        """A stable textual id used in the state file: ``apps/v1/deployments``, ``v1/pods``."""
        return f"{self.api_version}/{self.plural}"

    @property
    def has_status(self) -> bool:
        """Whether ``/status`` is a separate subresource (so main-resource writes keep status)."""
        return "status" in self.subresources

    @property
    def verbs(self) -> tuple[str, ...]:
        """The verbs advertised in discovery (all of them are served)."""
        return _VERBS


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "", "v1", "namespaces", "Namespace", namespaced=False, subresources=("status",), short_names=("ns",)
    ),
    ResourceType("", "v1", "pods", "Pod", subresources=("status", "log"), short_names=("po",)),
    ResourceType("", "v1", "services", "Service", subresources=("status",), short_names=("svc",)),
    ResourceType("", "v1", "events", "Event", short_names=("ev",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    ResourceType("", "v1", "secrets", "Secret"),
    ResourceType(
        "apps", "v1", "deployments", "Deployment", subresources=("status", "scale"), short_names=("deploy",)
    ),
    ResourceType(
        "apps", "v1", "replicasets", "ReplicaSet", subresources=("status", "scale"), short_names=("rs",)
    ),
    ResourceType(
        "apps", "v1", "statefulsets", "StatefulSet", subresources=("status", "scale"), short_names=("sts",)
    ),
    # Crossplane-style claims (infra apply with ``provisioner: crossplane``): stored, not provisioned.
    ResourceType("platform.internal", "v1alpha1", "databaseinstances", "DatabaseInstance"),
    ResourceType("platform.internal", "v1alpha1", "cacheinstances", "CacheInstance"),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease"),
    # Gateway API: a canary's exact traffic weights live on a route's weighted backendRefs.
    ResourceType("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"),
)

BY_KEY: dict[str, ResourceType] = {resource.key: resource for resource in RESOURCES}
BY_GVR: dict[tuple[str, str, str], ResourceType] = {
    (resource.group, resource.version, resource.plural): resource for resource in RESOURCES
}

NAMESPACES = BY_KEY["v1/namespaces"]
PODS = BY_KEY["v1/pods"]
SERVICES = BY_KEY["v1/services"]
EVENTS = BY_KEY["v1/events"]
DEPLOYMENTS = BY_KEY["apps/v1/deployments"]
REPLICASETS = BY_KEY["apps/v1/replicasets"]
STATEFULSETS = BY_KEY["apps/v1/statefulsets"]
LEASES = BY_KEY["coordination.k8s.io/v1/leases"]
HTTPROUTES = BY_KEY["gateway.networking.k8s.io/v1/httproutes"]
