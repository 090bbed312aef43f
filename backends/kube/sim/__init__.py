"""The simulated Kubernetes cluster: a real HTTP Kubernetes API on loopback, a controller, a Prometheus.

Point the official ``kubernetes`` client (or kubectl) at it exactly as at a real cluster::

    from backends.kube.sim import DEMO_SERVICES, start_simulated_cluster

    with start_simulated_cluster(state_dir() / "simulated-cluster.json", seed_objects=DEMO_SERVICES) as sim:
        kubeconfig = sim.kubeconfig(tmp / "kubeconfig")        # context "simulated"
        api = kubernetes.config.new_client_from_config(str(kubeconfig), context="simulated")
        sim.set_error_rate("payment-service", "canary", 0.07)  # for canary analysis
        sim.controller.set_fault("payment-service-canary", PodFault(crash_loop=True))
        sim.faults.fail_next(2, method="PATCH", path="/deployments/")

Public API
----------
``start_simulated_cluster(state_file, *, time_scale=0.1, seed_objects=None, attach=True,
detached=False, idle_exit=600, timings=None, owner_wait=30)``
    → `SimulatedCluster` (context manager; ``stop()``). Runs API server, controller and Prometheus
    on an event loop in a daemon thread, on 127.0.0.1 with ephemeral ports — or, with
    ``detached=True``, in a background process shared by every caller (exits when idle).
``SimulatedCluster``
    ``api_url``, ``prometheus_url``, ``kubeconfig(path, context="simulated")``,
    ``set_error_rate(service, track, value | None, namespace=None, keep_existing=False)``,
    ``seed(services)``, ``save()``,
    ``attached``; owner only: ``faults`` (`ApiFaults`), ``controller`` (`SimulatedController`),
    ``prometheus`` (`FakePrometheus`), ``store`` (`ObjectStore`).
``ApiFaults``: ``fail_next(n, method=, path=regex, status=500)``, ``hang_next(n, method=, path=,
    seconds=)`` (then 504), ``stall(seconds, method=, path=)`` (every request until then is held,
    then 504, not applied), ``drop_watches(path=None, abrupt=True)``, ``clear()``, ``hits``.
``SimulatedController``: ``set_fault(match, PodFault | None)`` where ``match`` is a Deployment name,
    a full image or an image tag; ``clear_faults()``; ``time_scale``.
    ``PodFault(crash_loop=False, image_pull_error=False, ready_after=None)``. Without a rule, an
    image tag containing ``crashloop`` crash-loops, ``pullerror`` fails to pull, and ``slow``
    becomes ready after 60 simulated seconds — usable from the CLI (``--version v2.3.1-crashloop``).
``SeedService``, ``DEMO_SERVICES`` (payment-service v2.3.0 ×4 in staging and production, and
    more), ``deployment_manifest``, ``service_manifest``: Deployment ``<name>`` with selector
    ``app=<name>,track=stable``; Service ``<name>`` selecting ``app=<name>`` only.

Time: ``time_scale`` is real seconds per simulated second. Pods take 2 s to start and 3 s more to
become ready (`PodTimings`), crash-looping containers exit after 3 s with 10 s, 20 s … back-off,
``progressDeadlineSeconds`` counts simulated seconds. With the default 0.1 a rollout of 4 pods
takes well under a second and a 600 s progress deadline expires after 60 s.

Prometheus query convention
---------------------------
``GET {prometheus_url}/api/v1/query?query=...``: the PromQL text must contain the label matchers
``service="<service>"`` and ``track="<stable|canary>"`` (optionally ``namespace="<ns>"``), e.g.
``sum(rate(http_requests_total{service="payment-service",track="canary",code=~"5.."}[1m])) /
sum(rate(http_requests_total{service="payment-service",track="canary"}[1m]))``. The answer is the
error-rate *ratio* set for that service/track as a one-sample vector
(``{"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[ts,"0.07"]}]}}``),
or an empty ``result`` (no data → the engine must treat it as inconclusive) when it is set to
``None``. Where no rate is set, every workload has series derived from what runs (new ones too):
100 requests/s per service and namespace, split by an HTTPRoute's backendRef weights when one
routes to it (``gateway.networking.k8s.io/v1`` HTTPRoutes are served), else by ready pods; a
version whose image tag contains ``errors`` fails 7 % of them, any other 0.2 %; a track that
serves nothing has no data. A query without ``/`` gets requests/s (failing ones with ``code=~"5.."``).

API server behaviour worth knowing (it is Kubernetes behaviour)
--------------------------------------------------------------
- ``resourceVersion`` is one cluster-wide counter; lists return it in ``metadata.resourceVersion``;
  watches resume from it, and answer an ``ERROR`` event with code 410 once it is too old (the
  history keeps the last 5000 changes, and none survive a restart from the state file).
- ``generation`` changes on spec changes only; ``/status`` writes change only status, and main
  resource writes ignore status. A write carrying a stale ``metadata.resourceVersion`` gets 409.
- Status counts that are 0 are omitted, as Kubernetes does (read a missing count as 0).
- PATCH supports strategic merge (default of the Python client for dicts; containers merge by
  name), JSON merge and JSON patch; server-side apply (``fieldManager`` required, recorded in
  ``managedFields``; field ownership approximated by a strategic merge, so never a conflict) creates
  missing objects. PUT on a missing
  object is 404. DELETE removes at once and garbage-collects owned objects (no finalizers).
  ``dryRun=All`` on create, update, patch and delete answers without changing anything.
- Namespaces are not enforced: objects can be created in a namespace that does not exist.
- Watches honour ``labelSelector``/``fieldSelector`` (an object leaving the selection arrives as
  DELETED), ``timeoutSeconds`` and ``allowWatchBookmarks`` (BOOKMARK after 5 s of silence).
- kubectl works too (discovery, ``get`` with server-side Table columns, ``rollout status``,
  ``describe``, ``set image``, ``scale``); the controller writes core/v1 Events
  (``ScalingReplicaSet``, ``BackOff``, ``Failed``).

Persistence: every write the API accepts is on disk before the API answers — one line appended
to the state file's journal (``<state_file>.journal.<N>``) and fsynced, so a write costs the same
with 10 objects or 10,000 — and survives a ``kill -9``; the controller's own changes are journaled
shortly after. The journal is folded into the state file (atomic replace) once it outgrows it, in
a thread that leaves the watches streaming, at ``save()``/``stop()`` and at start (see `journal`).
Pods restored from it keep their age.

Several processes: the first `start_simulated_cluster` for a state file owns the servers — it
holds an exclusive flock on ``<state_file>.owner`` for its lifetime — and writes
``<state_file>.endpoint.json``; later ones (CLI while the TUI runs) attach to it. An owner that
does not answer (stalled) is waited for, never replaced (``SimulationUnavailable`` after
``owner_wait`` seconds). When the owner exits, attached processes lose the API; ``detached=True``
avoids that: the demo's CLI and TUI use it (see `cluster` and `backends.deploy.session`).
Attached clusters have no ``controller``/``faults``/``prometheus`` objects: use
``set_error_rate`` (works over HTTP) and the image-tag fault words instead. An attached process
runs at the owner's ``time_scale``, and its ``stop()`` leaves the owner's servers running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.lazy import lazy_exports

# Each name is imported from its module on first use: a console that only reaches the shared demo
# simulation (``cluster`` + ``seed``) must not load the emulator, kmock and aiohttp behind the rest.
__getattr__ = lazy_exports(
    __name__,
    {
        "DEFAULT_TIME_SCALE": "cluster",
        "SimulatedCluster": "cluster",
        "start_simulated_cluster": "cluster",
        "SimulatedController": "controller",
        "SimulatedApiServer": "emulator",
        "ApiFaults": "faults",
        "FaultRule": "faults",
        "PodFault": "kubelet",
        "PodTimings": "kubelet",
        "FakePrometheus": "prometheus",
        "DEMO_SERVICES": "seed",
        "SeedService": "seed",
        "deployment_manifest": "seed",
        "namespace_manifest": "seed",
        "service_manifest": "seed",
        "ObjectStore": "store",
    },
)

if TYPE_CHECKING:
    from .cluster import DEFAULT_TIME_SCALE, SimulatedCluster, start_simulated_cluster
    from .controller import SimulatedController
    from .emulator import SimulatedApiServer
    from .faults import ApiFaults, FaultRule
    from .kubelet import PodFault, PodTimings
    from .prometheus import FakePrometheus
    from .seed import DEMO_SERVICES, SeedService, deployment_manifest, namespace_manifest, service_manifest
    from .store import ObjectStore

__all__ = [
    "DEFAULT_TIME_SCALE",
    "DEMO_SERVICES",
    "ApiFaults",
    "FakePrometheus",
    "FaultRule",
    "ObjectStore",
    "PodFault",
    "PodTimings",
    "SeedService",
    "SimulatedApiServer",
    "SimulatedCluster",
    "SimulatedController",
    "deployment_manifest",
    "namespace_manifest",
    "service_manifest",
    "start_simulated_cluster",
]
