"""Kubernetes access for idp-console: one ``Cluster`` over the official client, real HTTP only.

- ``cluster``: :class:`Cluster` — ``Cluster.from_kubeconfig(path=None, context=None)`` honours
  ``$KUBECONFIG`` (read at call time, path lists allowed) and a context name as kubectl's
  ``--context``; ``get/find/list/create/patch/delete/update`` on deployments, replicasets, pods,
  services and leases as plain dicts; 5xx/429/timeouts retried with backoff; ``update`` re-reads
  and re-applies on 409; typed errors :class:`ClusterError`, :class:`ClusterUnreachable`,
  :class:`NotFound`, :class:`Conflict`, :class:`Gone`.
- ``watch``: :class:`ResourceWatch` — list + watch with ``resourceVersion`` resume after a dropped
  stream and re-list on 410 Gone; ``objects()``, ``wait_until(check, timeout)``, listeners.
- ``rollout``: :func:`rollout_status` — the verdict ``kubectl rollout status`` would print.
- ``environments``: the ``environments:`` config → :class:`Environment`; catalog annotations →
  :class:`WorkloadRef`.
- ``sim``: the simulated cluster (Kubernetes API emulator + controller + fake Prometheus) used by the
  demo workspace and the tests; the client code path is the same as for a real cluster.
"""

from typing import TYPE_CHECKING

from backends.lazy import lazy_exports

# Imported on first use: the environments config is validated on every workspace load and must not
# pull in the official client (~0.4 s) for commands that never talk to a cluster.
_EXPORTS = {
    "Cluster": "cluster",
    "ClusterError": "cluster",
    "ClusterUnreachable": "cluster",
    "Conflict": "cluster",
    "Gone": "cluster",
    "NotFound": "cluster",
    "RetryPolicy": "cluster",
    "merge_patch": "cluster",
    "Environment": "environments",
    "WorkloadRef": "environments",
    "parse_environments": "environments",
    "workload_for": "environments",
    "RolloutPhase": "rollout",
    "RolloutStatus": "rollout",
    "rollout_status": "rollout",
    "ResourceWatch": "watch",
}

if TYPE_CHECKING:
    from backends.kube.cluster import (
        Cluster,
        ClusterError,
        ClusterUnreachable,
        Conflict,
        Gone,
        NotFound,
        RetryPolicy,
        merge_patch,
    )
    from backends.kube.environments import Environment, WorkloadRef, parse_environments, workload_for
    from backends.kube.rollout import RolloutPhase, RolloutStatus, rollout_status
    from backends.kube.watch import ResourceWatch


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "Cluster",
    "ClusterError",
    "ClusterUnreachable",
    "Conflict",
    "Environment",
    "Gone",
    "NotFound",
    "ResourceWatch",
    "RetryPolicy",
    "RolloutPhase",
    "RolloutStatus",
    "WorkloadRef",
    "merge_patch",
    "parse_environments",
    "rollout_status",
    "workload_for",
]
