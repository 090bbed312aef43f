"""A ManifestApplier over the deploy area's clusters, for ``kube:apply``.

``apply_manifests`` creates what does not exist and merge-patches what does (labels, annotations,
spec), through any object with the ``backends.kube.Cluster`` verbs ``find/create/patch``.
``WorkspaceApplier`` opens the workspace's deploy session (starting the demo's simulated cluster
on first use) only when a template actually applies something.

Guardrails (``check_guardrails``): a template is not a deploy — no canary, analysis, lease or
history — so ``kube:apply`` never writes into an environment marked ``production: true`` (deploy
there with ``idp-console deploy``), and never changes an existing object that belongs to a catalog
component unless the user is a member of its owning group (in any environment).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# Manifest kinds → the resource names backends.kube.Cluster understands.
KIND_RESOURCES = {
    "Deployment": "deployments",
    "Service": "services",
    "ReplicaSet": "replicasets",
    "Pod": "pods",
}


class ClusterVerbs(Protocol):
    def find(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def create(self, kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]: ...


class ApplyError(Exception):
    """A manifest that cannot be applied (unsupported kind, no name)."""


class ApplyRefused(ApplyError):
    """A guardrail said no; the message says why and what to do instead."""


class CatalogLookup(Protocol):
    def get(self, ref: str, default_kind: str = ...) -> Any: ...


def apply_manifests(cluster: ClusterVerbs, namespace: str, manifests: list[dict[str, Any]]) -> list[str]:
    """Create or update each manifest in ``namespace``; one ``kind/name created|configured`` line each."""
    unsupported = sorted({str(m.get("kind")) for m in manifests if m.get("kind") not in KIND_RESOURCES})
    if unsupported:
        raise ApplyError(
            f"cannot apply kind {', '.join(unsupported)} (supported: {', '.join(sorted(KIND_RESOURCES))})"
        )
    lines = []
    for manifest in manifests:
        resource = KIND_RESOURCES[manifest["kind"]]
        metadata = manifest.get("metadata") or {}
        name = metadata.get("name")
        if not name:
            raise ApplyError(f"a {manifest['kind']} manifest has no metadata.name")
        body = {**manifest, "metadata": {**metadata, "namespace": namespace}}
        label = f"{manifest['kind'].lower()}/{name}"
        if cluster.find(resource, namespace, name) is None:
            cluster.create(resource, namespace, body)
            lines.append(f"{label} created in {namespace}")
        else:
            patch = {"metadata": {k: metadata[k] for k in ("labels", "annotations") if k in metadata}}
            if "spec" in manifest:
                patch["spec"] = manifest["spec"]
            cluster.patch(resource, namespace, name, patch)
            lines.append(f"{label} configured in {namespace}")
    return lines


def check_guardrails(
    cluster: ClusterVerbs,
    environment: Any,
    namespace: str,
    manifests: list[dict[str, Any]],
    *,
    catalog: CatalogLookup | None,
    user: str,
) -> None:
    """Refuse what a template must not do to ``environment`` (a ``backends.kube`` Environment)."""
    refuse_production(environment)
    for manifest in manifests:
        resource = KIND_RESOURCES.get(str(manifest.get("kind")))
        name = (manifest.get("metadata") or {}).get("name")
        if resource is None or not name:
            continue  # apply_manifests reports these
        existing = cluster.find(resource, namespace, str(name))
        if existing is None or not _changes(existing, manifest):
            continue
        owner = owning_component(catalog, existing, environment, namespace)
        if owner is None or _is_owner(catalog, owner, user):
            continue
        change = ", ".join(_changes(existing, manifest))
        raise ApplyRefused(
            f"kube:apply would change {manifest['kind'].lower()}/{name} in {environment.name} ({change}), "
            f"which belongs to {owner.ref.short} owned by {owner.owner}; {user} is not a member of it — "
            f"ask its owners, or deploy with `idp-console deploy {owner.name} {environment.name} VERSION`"
        )


def refuse_production(environment: Any) -> None:
    """Production changes go through ``deploy`` (canary, analysis, lease, history), never a template."""
    if environment.production:
        raise ApplyRefused(
            f"kube:apply into production is refused ({environment.name} is marked production: true); "
            f"deploy with `idp-console deploy SERVICE {environment.name} VERSION`"
        )


def _changes(existing: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[str]:
    """What a merge patch of ``manifest`` would change in ``existing``, in a person's words."""
    changes = []
    if manifest.get("kind") == "Deployment":
        old_spec, new_spec = existing.get("spec") or {}, manifest.get("spec") or {}
        if "replicas" in new_spec and new_spec.get("replicas") != old_spec.get("replicas"):
            changes.append(f"replicas {old_spec.get('replicas')} → {new_spec.get('replicas')}")
        old_images, new_images = _images(existing), _images(manifest)
        for container, image in new_images.items():
            if old_images.get(container) != image:
                changes.append(f"image {old_images.get(container) or '(none)'} → {image}")
    metadata = manifest.get("metadata") or {}
    old_metadata = existing.get("metadata") or {}
    for key in ("labels", "annotations"):
        if key in metadata and not _contained(metadata[key], old_metadata.get(key) or {}):
            changes.append(key)
    if not changes and "spec" in manifest and not _contained(manifest["spec"], existing.get("spec") or {}):
        changes.append("spec")
    return changes


def _images(deployment: Mapping[str, Any]) -> dict[str, str]:
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {
        str(c.get("name")): str(c.get("image")) for c in pod.get("containers") or [] if isinstance(c, Mapping)
    }


def _contained(patch: Any, current: Any) -> bool:
    """Whether merge-patching ``current`` with ``patch`` leaves it as it is."""
    if isinstance(patch, Mapping) and isinstance(current, Mapping):
        return all(key in current and _contained(value, current[key]) for key, value in patch.items())
    return patch == current


def owning_component(
    catalog: CatalogLookup | None, obj: Mapping[str, Any], environment: Any, namespace: str
) -> Any:
    """The catalog Component whose workload ``obj`` is in ``environment`` (None if no one's)."""
    if catalog is None:
        return None
    from backends.kube.environments import ANNOTATION_ID, workload_for

    metadata = obj.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    name = str(metadata.get("name") or "")
    candidates = [labels.get(ANNOTATION_ID), labels.get("app.kubernetes.io/name"), labels.get("app")]
    candidates += [name, name.removesuffix("-canary")]
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            entity = catalog.get(candidate, default_kind="Component")
        except Exception:  # noqa: BLE001 - a label that is no valid entity ref names no component
            continue
        if entity is None or str(getattr(entity, "kind", "")).lower() != "component":
            continue
        workload = workload_for(entity, environment)
        if workload.namespace != namespace:
            continue
        if name in (workload.name, f"{workload.name}-canary") or (
            workload.labels and all(labels.get(k) == v for k, v in workload.labels.items())
        ):
            return entity
    return None


def _is_owner(catalog: Any, entity: Any, user: str) -> bool:
    """Whether ``user`` is the component's owner or a member of its owning group."""
    from backends.catalog.refs import EntityRefError, parse_entity_ref
    from backends.deploy.prechecks import group_memberships

    if not entity.owner:
        return False
    try:
        owner = parse_entity_ref(entity.owner, default_kind="Group", default_namespace=entity.namespace)
        if owner.canonical == parse_entity_ref(user, default_kind="User").canonical:
            return True
    except EntityRefError:
        return False
    return owner.canonical in (group_memberships(catalog, user) or set())


class WorkspaceApplier:
    """Applies to an environment of ``workspace`` through its deploy session.

    Pass the app's running ``DeploySession`` to share its clusters; without one, a session is
    opened on the first ``apply`` and closed by ``close()``.
    """

    def __init__(self, workspace: Any, session: Any = None) -> None:
        self.workspace = workspace
        self._session: Any = session
        self._owns_session = session is None

    def apply(self, env: str, manifests: list[dict[str, Any]]) -> list[str]:
        if self._session is None:
            from backends.deploy.session import open_deploy

            self._session = open_deploy(self.workspace)
        context = self._session.context
        environment = context.environment(env)
        refuse_production(environment)  # before any cluster is even contacted
        cluster = context.cluster_for(environment)
        namespace = environment.namespace or "default"
        check_guardrails(
            cluster, environment, namespace, manifests, catalog=context.catalog, user=context.user
        )
        return apply_manifests(cluster, namespace, manifests)

    def close(self) -> None:
        if self._session is not None and self._owns_session:
            self._session.close()
            self._session = None
