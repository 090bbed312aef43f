"""Kubernetes access for idp-console: one ``Cluster`` over the official client, real HTTP only.

- ``cluster``: :class:`Cluster` (kubeconfig + context, CRUD with retries and conflict re-apply),
  typed errors (:class:`ClusterError`, :class:`ClusterUnreachable`, :class:`NotFound`, :class:`Conflict`).
- ``watch``: :class:`ResourceWatch`, list + watch with ``resourceVersion`` resume and re-list on 410.
- ``rollout``: :func:`rollout_status`, the verdict ``kubectl rollout status`` would print.
- ``environments``: ``environments:`` config → :class:`Environment`, catalog annotations → workload.
- ``sim``: the simulated cluster (Kubernetes API emulator + controller + fake Prometheus) used by the
  demo workspace and the tests; the client code path is the same as for a real cluster.
"""
