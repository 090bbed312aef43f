"""Deploy engine figures against the simulated cluster (real HTTP on loopback). Prints, asserts nothing.

    uv run python bench/deploy.py [--samples 200]

1. Engine overhead per canary step: a deploy with a 1 ms bake on a near-instant controller, so what
   remains is the engine (HTTP calls, watch round trips, waiting logic): wall time, API calls and
   CPU time of the engine's thread per step.
2. Event latency: cluster change (an HTTP PATCH of the stable Deployment) → the engine emits the
   RolloutProgress that shows it, while a deploy is paused; p50/p95/max over many samples.
3. Status board: 50 services × 3 environments from one Deployment watch per namespace: time to
   the first full view, then requests made over an idle window (0 = no polling), and the latency
   of a change reaching the board.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.catalog.model import Entity, Relation, SourcePosition  # noqa: E402
from backends.catalog.refs import parse_entity_ref  # noqa: E402
from backends.deploy.engine import DeployContext, DeployEngine  # noqa: E402
from backends.deploy.events import (  # noqa: E402
    DeployFinished,
    Paused,
    RolloutProgress,
    Stage,
    StageFinished,
    StageStarted,
)
from backends.deploy.history import DeployHistory  # noqa: E402
from backends.deploy.status import BoardTarget, StatusBoard  # noqa: E402
from backends.kube.cluster import Cluster  # noqa: E402
from backends.kube.sim import SeedService, start_simulated_cluster  # noqa: E402

SERVICE = "payment-service"


class Catalog:
    def __init__(self, *entities: Entity) -> None:
        self.entities = entities

    def get(self, ref: str, default_kind: str | None = "Component") -> Entity | None:
        wanted = parse_entity_ref(ref, default_kind=default_kind or "Component").canonical
        return next((e for e in self.entities if e.ref.canonical == wanted), None)


def _entity(kind: str, name: str, spec: dict, annotations: dict | None = None, relations=()) -> Entity:
    raw = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    raw["metadata"]["annotations"] = annotations or {}
    return Entity(raw, SourcePosition("bench"), list(relations))


def _context(sim, tmp: Path, deploy: dict) -> DeployContext:
    kubeconfig = sim.kubeconfig(tmp / "kubeconfig")
    catalog = Catalog(
        _entity("Component", SERVICE, {"lifecycle": "production", "owner": "team-payments"}),
        _entity("User", "jane.doe", {}, relations=[Relation("memberOf", "group:default/team-payments")]),
    )
    return DeployContext(
        catalog=catalog,
        environments={
            "production": {"kubeconfig": str(kubeconfig), "context": "simulated", "namespace": "production"}
        },
        deploy={"analysis": {"prometheus": sim.prometheus_url}, "progress_deadline": "30s", **deploy},
        history=DeployHistory(tmp / f"history-{time.monotonic_ns()}.sqlite3"),
        user="jane.doe",
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench_overhead(tmp: Path, rounds: int) -> None:
    seed = [SeedService(SERVICE, ("production",), f"registry.acme.example/{SERVICE}:v1", 4)]
    with start_simulated_cluster(None, time_scale=0.001, attach=False, seed_objects=seed) as sim:
        sim.set_error_rate(SERVICE, "canary", 0.001)
        # The smallest bake the typed config accepts (it refuses 0: a bake is a positive duration).
        context = _context(sim, tmp, {"bake": "1ms"})
        engine = DeployEngine(context)
        walls, calls, cpus = [], [], []
        for round_ in range(rounds):
            run = engine.deploy(SERVICE, "production", f"v{round_ + 2}")
            cluster = None
            started = cpu_started = None
            calls_started = 0
            for event in run.events():
                if isinstance(event, StageStarted) and event.stage is Stage.CANARY:
                    cluster = run.target.cluster
                    started, cpu_started = time.perf_counter(), time.thread_time()
                    calls_started = cluster.stats["calls"]
                elif isinstance(event, StageFinished) and event.stage is Stage.ANALYSIS and started:
                    walls.append(time.perf_counter() - started)
                    cpus.append(time.thread_time() - cpu_started)
                    calls.append(cluster.stats["calls"] - calls_started)
                    started = None
                elif isinstance(event, DeployFinished):
                    assert event.outcome == "succeeded", event
        print("1. engine overhead per canary step (scale canary up, wait ready, scale stable down,")
        print("   analysis incl. one Prometheus query; bake 1 ms; controller at time_scale 0.001)")
        print(
            f"   steps measured: {len(walls)}   wall p50 {statistics.median(walls) * 1000:.0f} ms, "
            f"p95 {pct(walls, 0.95) * 1000:.0f} ms   "
            f"engine-thread CPU p50 {statistics.median(cpus) * 1000:.1f} ms   "
            f"API calls/step {statistics.median(calls):.0f}"
        )


def bench_event_latency(tmp: Path, samples: int) -> None:
    seed = [SeedService(SERVICE, ("production",), f"registry.acme.example/{SERVICE}:v1", 4)]
    with start_simulated_cluster(None, time_scale=0.05, attach=False, seed_objects=seed) as sim:
        sim.set_error_rate(SERVICE, "canary", 0.001)
        context = _context(sim, tmp, {"bake": "10m"})
        run = DeployEngine(context).deploy(SERVICE, "production", "v2")
        events: queue.Queue = queue.Queue()

        def consume() -> None:
            for event in run.events():
                events.put((time.perf_counter(), event))

        thread = threading.Thread(target=consume, daemon=True)
        thread.start()

        def wait_for(predicate, timeout: float = 30.0):
            deadline = time.monotonic() + timeout
            while True:
                at, event = events.get(timeout=max(0.01, deadline - time.monotonic()))
                if predicate(event):
                    return at, event

        wait_for(lambda e: isinstance(e, StageStarted) and e.stage is Stage.ANALYSIS)
        run.pause("bench")
        wait_for(lambda e: isinstance(e, Paused))
        cluster = Cluster.from_kubeconfig(str(tmp / "kubeconfig"), "simulated")
        latencies = []
        for i in range(samples):
            replicas = 5 + i % 2
            began = time.perf_counter()
            cluster.patch("deployments", "production", SERVICE, {"spec": {"replicas": replicas}})
            at, _ = wait_for(lambda e, r=replicas: isinstance(e, RolloutProgress) and e.stable_desired == r)
            latencies.append(at - began)
        run.abort("bench over")
        thread.join(30)
        print("2. event latency: HTTP PATCH of the Deployment → RolloutProgress emitted by the engine")
        print(
            f"   samples {len(latencies)}   p50 {statistics.median(latencies) * 1000:.1f} ms   "
            f"p95 {pct(latencies, 0.95) * 1000:.1f} ms   max {max(latencies) * 1000:.1f} ms   "
            "(goal ≤ 100 ms p95)"
        )


def bench_board(tmp: Path, services: int = 50) -> None:
    envs = ("dev", "staging", "production")
    seed = [
        SeedService(f"svc-{i:02d}", envs, f"registry.acme.example/svc-{i:02d}:v1.{i}", 1)
        for i in range(services)
    ]
    with start_simulated_cluster(None, time_scale=0.05, attach=False) as sim:
        began = time.perf_counter()
        sim.seed(seed)
        seeded = time.perf_counter() - began
        cluster = Cluster.from_kubeconfig(str(sim.kubeconfig(tmp / "kubeconfig")), "simulated")
        targets = [BoardTarget(s.name, env, cluster, env, s.name) for s in seed for env in envs]
        changes: queue.Queue = queue.Queue()
        board = StatusBoard(targets, on_change=lambda svc, env: changes.put((time.perf_counter(), svc, env)))
        calls_before = cluster.stats["calls"]
        began = time.perf_counter()
        board.start()
        board.wait_synced(10)
        view = board.snapshot()
        first_view = time.perf_counter() - began
        complete = sum(1 for stable, _ in view.values() if stable is not None)
        calls_for_view = cluster.stats["calls"] - calls_before
        time.sleep(1.0)  # let the controller's pod/status writes settle
        while not changes.empty():
            changes.get()
        calls_idle_start = cluster.stats["calls"]
        watches_idle_start = sum(w.stats.watches for w in board.watches)
        time.sleep(3.0)
        idle_calls = cluster.stats["calls"] - calls_idle_start
        idle_watches = sum(w.stats.watches for w in board.watches) - watches_idle_start
        latencies = []
        writer = Cluster.from_kubeconfig(str(tmp / "kubeconfig"), "simulated")
        for i in range(50):
            target = targets[(i * 7) % len(targets)]
            while not changes.empty():
                changes.get()
            sent = time.perf_counter()
            writer.patch(
                "deployments", target.namespace, target.deployment, {"metadata": {"labels": {"b": str(i)}}}
            )
            while True:
                at, svc, env = changes.get(timeout=5)
                if (svc, env) == (target.service, target.environment):
                    latencies.append(at - sent)
                    break
        board.stop()
        print(f"3. status board: {services} services × {len(envs)} environments = {len(targets)} cells")
        print(f"   (seeding {len(targets)} Deployments + Services took {seeded:.2f} s, not counted)")
        print(
            f"   first full view {first_view * 1000:.0f} ms ({complete}/{len(targets)} cells, "
            f"{len(board.watches)} watches, {calls_for_view} list requests)   (goal ≤ 1 s)"
        )
        print(f"   idle 3 s: {idle_calls} list/get requests, {idle_watches} new watch requests → no polling")
        print(
            f"   change → board callback: p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p95 {pct(latencies, 0.95) * 1000:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200, help="event latency samples")
    parser.add_argument("--rounds", type=int, default=3, help="deploys for the overhead figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("IDP_CONSOLE_HOME", tmp)
        bench_overhead(Path(tmp), args.rounds)
        bench_event_latency(Path(tmp), args.samples)
        bench_board(Path(tmp))


if __name__ == "__main__":
    main()
