"""Pre-deployment checks, and the target they resolve: which cluster, namespace and Deployment.

The checks, each refusing with a sentence a person can act on: the version is an image tag; the
service exists in the catalog; the environment exists and allows the service's lifecycle; in
production the user belongs to the owning group (identity matched to the catalog's ``User`` and
its ``memberOf``); the settings are valid; the cluster answers and the service's Deployment is
there. The lease (no concurrent deploy) is taken by the run itself. A refusal changes nothing, so
it is not recorded as a deploy.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from backends.catalog.model import Entity
from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.deploy import canary
from backends.deploy.analysis import Prometheus
from backends.deploy.config import REPLICAS_LIMIT, DeployConfigError, DeploySettings
from backends.deploy.lease import LeaseHeld
from backends.kube.cluster import Cluster, ClusterError
from backends.kube.environments import Environment, WorkloadRef, workload_for


class DeployRefused(Exception):
    """A pre-check said no; the message says why and what to do."""


# The OCI distribution spec's tag grammar: what a registry accepts after the ``:`` of an image.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def check_version(version: str) -> None:
    """Refuse a version that is not an image tag (it becomes ``image:VERSION`` in the Deployment)."""
    if _TAG.fullmatch(version):
        return
    if "@" in version:
        raise DeployRefused(f"version {version!r} is a digest; deploy a tag (such as v2.3.1)")
    raise DeployRefused(
        f"version {version!r} is not an image tag: 1-128 of A-Z a-z 0-9 _ . - "
        "(not starting with . or -), such as v2.3.1"
    )


def check_replicas(replicas: int) -> None:
    """Refuse a replica count no Kubernetes API server would store (before asking one)."""
    if not 0 <= replicas <= REPLICAS_LIMIT:
        raise DeployRefused(f"replicas: expected 0..{REPLICAS_LIMIT}, got {replicas}")


def above_ceiling(replicas: int, settings: DeploySettings) -> str | None:
    """Why scaling to ``replicas`` needs a confirmation (``deploy.max_replicas``), or None."""
    if replicas <= settings.max_replicas:
        return None
    return (
        f"{replicas} pods is above the ceiling of {settings.max_replicas} (deploy.max_replicas in "
        "idp-console.yaml)"
    )


def lease_refusal(error: LeaseHeld, service: str, environment: str) -> str:
    """The refusal for a held lease; when its holder's process is gone, how to resume or abort."""
    holder = error.holder
    pid = holder.get("pid")
    dead = holder.get("host") == socket.gethostname() and isinstance(pid, int) and not process_alive(pid)
    if not dead:
        return str(error)
    return (
        f"deploy {holder.get('deploy', '?')} of {service} to {environment} was interrupted (its process "
        f"{pid} has exited): continue it with `idp-console deploy {service} --env {environment} --resume` "
        "or roll it back with `--abort`"
    )


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (one we may not signal counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CatalogLike(Protocol):
    def get(self, ref: str, default_kind: str | None = ...) -> Entity | None: ...  # noqa: D102


@dataclass
class DeployTarget:
    """Everything a run needs to know about where the service lives."""

    entity: Entity
    environment: Environment
    cluster: Cluster
    workload: WorkloadRef
    stable_name: str
    settings: DeploySettings
    prometheus: Prometheus | None
    # Set when this deploy created the workload (its first to the environment; see provision.py).
    provisioned: Any = None
    # What the registry check found: a ResolvedImage (the Deployment is pinned to its digest), a
    # string saying why nothing was checked (--skip-image-check), or None (no image to check).
    image: Any = None

    @property
    def service(self) -> str:
        return self.entity.name

    @property
    def namespace(self) -> str:
        return self.workload.namespace

    @property
    def canary_name(self) -> str:
        return canary.canary_name(self.stable_name)


def find_service(catalog: CatalogLike, service: str) -> Entity:
    """The catalog Component for ``service`` (a name or any entity ref)."""
    try:
        entity = catalog.get(service, default_kind="Component")
    except (EntityRefError, ValueError) as error:
        raise DeployRefused(f"{service!r} is not a valid entity reference: {error}") from error
    if entity is None:
        raise DeployRefused(f"{service}: no such service in the catalog")
    if entity.kind.lower() != "component":
        raise DeployRefused(f"{service}: is a {entity.kind}, only Components can be deployed")
    return entity


def check_lifecycle(entity: Entity, environment: Environment) -> None:
    if not environment.allows(entity.lifecycle):
        allowed = ", ".join(environment.lifecycles)
        how = "a commit to" if environment.lifecycle_change == "commit" else "a change request for"
        wanted = "production" if "production" in environment.lifecycles else environment.lifecycles[0]
        raise DeployRefused(
            f"{entity.name} has lifecycle {entity.lifecycle or '(none)'!r}; "
            f"{environment.name} accepts only {allowed} — promote it with `idp-console catalog promote "
            f"{entity.name} --lifecycle {wanted}` ({how} its catalog-info.yaml)"
        )


def group_memberships(catalog: CatalogLike, user: str) -> set[str] | None:
    """Canonical refs of the groups ``user`` belongs to; None when the user is not in the catalog."""
    entity = catalog.get(user, default_kind="User")
    if entity is None:
        return None
    groups = set(entity.relations_of("memberOf"))
    # A catalog built without relations still has spec.memberOf; read it the same way.
    for raw in entity.spec.get("memberOf") or []:
        try:
            groups.add(
                parse_entity_ref(str(raw), default_kind="Group", default_namespace=entity.namespace).canonical
            )
        except EntityRefError:
            continue
    return groups


def check_owner(catalog: CatalogLike, entity: Entity, environment: Environment, user: str) -> None:
    """In production, only members of the owning group (or the owning user) may deploy."""
    if not environment.production:
        return
    if not entity.owner:
        raise DeployRefused(f"{entity.name} has no owner in the catalog; production deploys need one")
    owner = parse_entity_ref(entity.owner, default_kind="Group", default_namespace=entity.namespace)
    user_ref = parse_entity_ref(user, default_kind="User")
    if owner.canonical == user_ref.canonical:
        return
    groups = group_memberships(catalog, user)
    if groups is None:
        raise DeployRefused(f"{user} is not a User in the catalog, so cannot deploy to {environment.name}")
    if owner.canonical not in groups:
        raise DeployRefused(
            f"{user} is not a member of {owner.short.removeprefix('group:')}, which owns {entity.name}; "
            f"only its members may deploy to {environment.name}"
        )


def find_stable_deployment(cluster: Cluster, workload: WorkloadRef) -> dict[str, Any]:
    """The service's stable Deployment: by label selector when annotated, else by name."""
    try:
        if workload.label_selector:
            items, _ = cluster.list("deployments", workload.namespace, workload.label_selector)
            stable = [
                d
                for d in items
                if (d["metadata"].get("labels") or {}).get(canary.TRACK) != "canary"
                and not d["metadata"]["name"].endswith("-canary")
            ]
            named = [d for d in stable if d["metadata"]["name"] == workload.name]
            if named or len(stable) == 1:
                return (named or stable)[0]
        found = cluster.find("deployments", workload.namespace, workload.name)
    except ClusterError as error:
        raise DeployRefused(str(error)) from error
    if found is None:
        how = (
            f"label {workload.label_selector} or name {workload.name}"
            if workload.label_selector
            else workload.name
        )
        raise DeployRefused(f"no Deployment for {how} in namespace {workload.namespace} ({cluster.name})")
    return found


def resolve_target(
    catalog: CatalogLike,
    service: str,
    environment: Environment,
    user: str,
    *,
    cluster_for: Callable[[Environment], Cluster],
    settings_for: Callable[[str], DeploySettings],
    prometheus_for: Callable[[DeploySettings], Prometheus | None],
    check_permissions: bool = True,
    check_image: Callable[[Entity], Any] | None = None,
    provision: Callable[[Entity, Cluster, WorkloadRef], Any] | None = None,
) -> tuple[DeployTarget, dict[str, Any]]:
    """Run the pre-checks; the target and the stable Deployment as it is now.

    ``check_image`` refuses a version the registry does not have (before the cluster is asked
    anything) and returns what it found; ``provision`` creates a missing workload (a first deploy,
    :mod:`backends.deploy.provision`) and returns what it created."""
    entity = find_service(catalog, service)
    if check_permissions:
        check_lifecycle(entity, environment)
        check_owner(catalog, entity, environment, user)
    try:
        settings = settings_for(entity.name)  # before any API call: a bad setting touches nothing
    except DeployConfigError as error:
        raise DeployRefused(f"idp-console.yaml: {error}") from error
    image = check_image(entity) if check_image is not None else None
    try:
        cluster = cluster_for(environment)
    except ClusterError as error:
        raise DeployRefused(str(error)) from error
    workload = workload_for(entity, environment)
    provisioned = None
    try:
        stable = find_stable_deployment(cluster, workload)
    except DeployRefused:
        if provision is None or cluster.find("deployments", workload.namespace, workload.name) is not None:
            raise
        provisioned = provision(entity, cluster, workload)
        stable = provisioned.deployment
    target = DeployTarget(
        image=image,
        provisioned=provisioned,
        entity=entity,
        environment=environment,
        cluster=cluster,
        workload=workload,
        stable_name=stable["metadata"]["name"],
        settings=settings,
        prometheus=prometheus_for(settings),
    )
    return target, stable
