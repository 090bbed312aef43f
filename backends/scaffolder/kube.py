"""A ManifestApplier over the deploy area's clusters, for ``kube:apply``.

``apply_manifests`` creates what does not exist and merge-patches what does (labels, annotations,
spec), through any object with the ``backends.kube.Cluster`` verbs ``find/create/patch``.
``WorkspaceApplier`` opens the workspace's deploy session (starting the demo's simulated cluster
on first use) only when a template actually applies something.
"""

from __future__ import annotations

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
        cluster = context.cluster_for(environment)
        return apply_manifests(cluster, environment.namespace or "default", manifests)

    def close(self) -> None:
        if self._session is not None and self._owns_session:
            self._session.close()
            self._session = None
