"""Infra plan and apply figures at scale (prints them; never asserted in a test).

    uv run python bench/infra.py [--services 500] [--policies 50] [--samples 5] [--in-process]

1. plan: 500 services' resources.yaml (compute, and a database or a cache each) and 50 CEL policies
   in a real git repository, read at a ref, validated, costed, rendered, diffed against the
   simulated cluster and every policy evaluated on every service (goal ≤ 1 s);
   the same without the cluster (repository + validation + policies only) for comparison;
2. apply of an unchanged repository: writes the simulated API server received (goal 0), objects
   whose resourceVersion changed (or that appeared or went), and the apply's own count.

The simulated cluster runs in a child process, as an API server never shares the CLI's process
(``--in-process``: in this one, as the bench first did — its controller's threads then compete
with the plan for this process's interpreter, and the CPU figures include their work). Creating the
repository, seeding the cluster and the first apply are not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from backends.infra.apply import open_infra  # noqa: E402
from backends.infra.plan import make_plan  # noqa: E402
from backends.infra.render import OWNED_KINDS  # noqa: E402
from backends.infra.repo import read_tree  # noqa: E402
from backends.kube.sim import SeedService, start_simulated_cluster  # noqa: E402
from backends.workspace import load_workspace  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "backends" / "demo"
TEAMS = 25


def _service(index: int) -> str:
    kind = "database: {type: postgres, size: small}" if index % 2 else "cache: {type: redis, size: small}"
    return (
        "apiVersion: platform.internal/v1\nkind: ServiceResources\n"
        f"metadata: {{name: svc-{index:04d}, owner: team-{index % TEAMS:02d}}}\n"
        f'spec:\n  compute: {{replicas: 2, cpu: "250m", memory: "256Mi"}}\n  {kind}\n'
    )


def _policies(count: int) -> dict[str, str]:
    shipped = sorted((DEMO / "infra" / "policies").glob("*.yaml"))
    files = {f"policies/{p.name}": p.read_text() for p in shipped}
    for n in range(count - len(files)):
        files[f"policies/rule-{n:02d}.yaml"] = (
            f"apiVersion: platform.internal/v1\nkind: InfraPolicy\nmetadata: {{name: rule-{n:02d}}}\nspec:\n"
            f'  expression: "!has(object.spec.compute) || object.spec.compute.replicas <= {100 + n}"\n'
            f"  message: at most {100 + n} replicas\n  action: warn\n"
        )
    return files


def _repo(root: Path, services: int, policies: int) -> Path:
    tree = root / "tree"
    for index in range(services):
        folder = tree / "infrastructure" / f"svc-{index:04d}"
        folder.mkdir(parents=True)
        (folder / "resources.yaml").write_text(_service(index))
    for name, text in _policies(policies).items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    repo = root / "infrastructure.git"
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip
    dirs = [f"--git-dir={repo}", f"--work-tree={tree}"]
    for args in (["init", "-q", "--bare", "--initial-branch=main", str(repo)], [*dirs, "add", "-A"],
                 [*dirs, "commit", "-q", "-m", "bench"]):  # fmt: skip
        subprocess.run(["git", *args], check=True, capture_output=True, env=env)
    return repo


def _seed(services: int) -> list[SeedService]:
    return [
        SeedService(f"svc-{i:04d}", ("production",), "registry.acme.example/svc:v1", 1)
        for i in range(services)
    ]


def _serve_cluster(services: int, kubeconfig: str, conn: Any) -> None:
    """The child: the simulated cluster in memory, answering "writes" until told to stop."""
    with start_simulated_cluster(None, time_scale=0.01, attach=False, seed_objects=_seed(services)) as sim:
        sim.kubeconfig(Path(kubeconfig))
        assert sim.api_server is not None
        conn.send("ready")
        while conn.recv() == "writes":
            conn.send(sim.api_server.write_count)


@contextlib.contextmanager
def _cluster_process(services: int, kubeconfig: Path) -> Iterator[Callable[[], int]]:
    """A simulated cluster in a child process; yields how to ask its API server's write count."""
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=_serve_cluster, args=(services, str(kubeconfig), theirs), daemon=True
    )
    child.start()
    if ours.recv() != "ready":
        raise SystemExit("the simulated cluster did not start")

    def writes() -> int:
        ours.send("writes")
        return int(ours.recv())

    try:
        yield writes
    finally:
        ours.send("stop")
        child.join(timeout=30)


def _versions(session: object) -> dict[tuple[str, str], str]:
    """Every object infra reads, by resourceVersion: any write at the API server changes one."""
    cluster, namespace = session.cluster, session.target.namespace  # type: ignore[attr-defined]
    kinds = [*OWNED_KINDS[session.settings.provisioner], "deployments"]  # type: ignore[attr-defined]
    return {
        (kind, item["metadata"]["name"]): item["metadata"].get("resourceVersion", "")
        for kind in kinds
        for item in cluster.list(kind, namespace)[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--policies", type=int, default=50)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="run the simulated cluster in this process")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-infra-"))
    os.environ["IDP_CONSOLE_HOME"] = str(root / "home")
    (root / "home").mkdir()
    repo = _repo(root, args.services, args.policies)
    kubeconfig = root / "kubeconfig"
    with contextlib.ExitStack() as stack:
        if args.in_process:
            sim = stack.enter_context(
                start_simulated_cluster(
                    None, time_scale=0.01, attach=False, seed_objects=_seed(args.services)
                )
            )
            sim.kubeconfig(kubeconfig)
            assert sim.api_server is not None
            server = sim.api_server
            write_count = lambda: server.write_count  # noqa: E731
        else:
            write_count = stack.enter_context(_cluster_process(args.services, kubeconfig))
        demo = yaml.safe_load((DEMO / "workspace" / "idp-console.yaml").read_text())
        infra = {
            **demo["infra"],
            "repo": str(repo),
            "budgets": {f"team-{t:02d}": 10_000 for t in range(TEAMS)},
        }
        config = {
            "name": "bench",
            "environments": {"production": {"context": "simulated", "kubeconfig": str(kubeconfig),
                                            "namespace": "production", "production": True}},
            "infra": infra,
        }  # fmt: skip
        (root / "ws").mkdir()
        (root / "ws" / "idp-console.yaml").write_text(yaml.safe_dump(config))
        workspace = load_workspace(root / "ws")
        with open_infra(workspace) as session:
            started = time.perf_counter()
            first = session.apply()
            print(
                f"first apply: {first.writes} writes in {time.perf_counter() - started:.1f} s (not counted)"
            )
            offline, online, offline_cpu, online_cpu = [], [], [], []
            for _ in range(args.samples):
                started, cpu = time.perf_counter(), time.process_time()
                tree = read_tree(str(repo), "main", "infrastructure/")
                plan = make_plan(
                    tree, session.settings, session.target, ref="main", live=None, costs_before={}
                )
                offline.append(time.perf_counter() - started)
                offline_cpu.append(time.process_time() - cpu)
                started, cpu = time.perf_counter(), time.process_time()
                plan = session.plan()
                online.append(time.perf_counter() - started)
                online_cpu.append(time.process_time() - cpu)
            verdicts = len(plan.verdicts)
            where = "CPU, the simulation's threads included" if args.in_process else "this process's CPU"
            print(f"plan, {args.services} services × {args.policies} policies ({verdicts} verdicts):")
            print(f"  with the cluster diff: median {statistics.median(online) * 1000:.0f} ms "
                  f"({statistics.median(online_cpu) * 1000:.0f} ms of {where}), "
                  f"max {max(online) * 1000:.0f} ms (goal ≤ 1000 ms)")  # fmt: skip
            median = statistics.median(offline) * 1000
            cpu_ms = statistics.median(offline_cpu) * 1000
            print(
                f"  repository + validation + policies only: median {median:.0f} ms ({cpu_ms:.0f} ms of CPU)"
            )
            load = os.getloadavg()[0]
            print(f"  (load average while measuring: {load:.1f} on {os.cpu_count()} cores)")
            before, count = _versions(session), write_count()
            started = time.perf_counter()
            again = session.apply()
            took = time.perf_counter() - started
            writes = write_count() - count
            after = _versions(session)
            changed = sum(1 for key in before.keys() | after.keys() if before.get(key) != after.get(key))
            print(f"apply of the unchanged repository: {writes} writes at the API server, {changed} objects "
                  f"changed ({again.writes} by its own count) in {took:.2f} s (goal 0 writes)")  # fmt: skip


if __name__ == "__main__":
    main()
