"""Infra plan and apply figures at scale (prints them; never asserted in a test).

    uv run python bench/infra.py [--services 500] [--policies 50] [--samples 5]

1. plan: 500 services' resources.yaml (compute, and a database or a cache each) and 50 CEL policies
   in a real git repository, read at a ref, validated, costed, rendered, diffed against the
   simulated cluster and every policy evaluated on every service (goal ≤ 1 s);
   the same without the cluster (repository + validation + policies only) for comparison;
2. apply of an unchanged repository: writes the simulated API server received (goal 0).

Creating the repository, seeding the cluster and the first apply are not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from backends.infra.apply import open_infra  # noqa: E402
from backends.infra.plan import make_plan  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--policies", type=int, default=50)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-infra-"))
    os.environ["IDP_CONSOLE_HOME"] = str(root / "home")
    (root / "home").mkdir()
    repo = _repo(root, args.services, args.policies)
    seed = [
        SeedService(f"svc-{i:04d}", ("production",), "registry.acme.example/svc:v1", 1)
        for i in range(args.services)
    ]
    with start_simulated_cluster(None, time_scale=0.01, attach=False, seed_objects=seed) as sim:
        kubeconfig = sim.kubeconfig(root / "kubeconfig")
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
            print(f"plan, {args.services} services × {args.policies} policies ({verdicts} verdicts):")
            print(f"  with the cluster diff: median {statistics.median(online) * 1000:.0f} ms "
                  f"({statistics.median(online_cpu) * 1000:.0f} ms of CPU, the API server's included), "
                  f"max {max(online) * 1000:.0f} ms (goal ≤ 1000 ms)")  # fmt: skip
            median = statistics.median(offline) * 1000
            cpu_ms = statistics.median(offline_cpu) * 1000
            print(
                f"  repository + validation + policies only: median {median:.0f} ms ({cpu_ms:.0f} ms of CPU)"
            )
            load = os.getloadavg()[0]
            print(f"  (load average while measuring: {load:.1f} on {os.cpu_count()} cores; the simulated "
                  "API server runs in this process, so the cluster diff includes its work)")  # fmt: skip
            assert sim.api_server is not None
            before = sim.api_server.write_count
            started = time.perf_counter()
            again = session.apply()
            writes = sim.api_server.write_count - before
            took = time.perf_counter() - started
            print(f"apply of the unchanged repository: {writes} writes at the API server "
                  f"({again.writes} by its own count) in {took:.2f} s (goal 0 writes)")  # fmt: skip


if __name__ == "__main__":
    main()
