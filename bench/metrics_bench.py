"""The scorecard over a large history (issue 12: ≤ 200 ms over 100k deploy records, org-wide, 90 days).
Prints, asserts nothing.

    uv run python bench/metrics_bench.py [--records 100000] [--services 500] [--no-postgres]

Builds a synthetic organisation (50 teams, 500 services) and a 90-day history of deploys and
rollbacks across staging and production with realistic outcomes, commit times, scaffolds and
feedback, in SQLite and (when the server binaries are there: tests/pg.py) in a private PostgreSQL.
Then times the whole scorecard (every figure, catalog ones included) and its SQL part alone.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("IDP_CONSOLE_HOME", tempfile.mkdtemp(prefix="idp-metrics-bench-"))

from backends.catalog import catalog_from_files  # noqa: E402
from backends.deploy.history import open_history  # noqa: E402
from backends.metrics import compute_scorecard, resolve_scope  # noqa: E402
from backends.metrics.queries import Frame, deploy_figures  # noqa: E402
from backends.workspace import Workspace  # noqa: E402

DAY = 86400.0
# A fixed moment, so every run prints the same figures (with the clock, this quarter's NPS took in
# one more response every few minutes and a before/after comparison could not tell).
NOW = 1_796_000_000.0  # 2026-11-30


def write_catalog(root: Path, services: int, teams: int) -> Any:
    docs = []
    for t in range(teams):
        docs.append(
            f"apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {{name: team-{t}}}\n"
            "spec: {type: team, children: []}\n"
        )
    for s in range(services):
        note = (
            "    backstage.io/source-template: template:default/microservice-golden-path\n" if s % 3 else ""
        )
        docs.append(
            f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc-{s}\n"
            f"  annotations:\n    backstage.io/techdocs-ref: dir:.\n{note}"
            f"spec: {{type: service, lifecycle: production, owner: team-{s % teams}}}\n"
        )
    (root / "catalog").mkdir(parents=True, exist_ok=True)
    path = root / "catalog" / "catalog-info.yaml"
    path.write_text("---\n".join(docs), encoding="utf-8")
    return catalog_from_files([path], root=root)


def fill(history: Any, records: int, services: int) -> None:
    rng = random.Random(7)
    deploys, outcomes = [], []
    versions = {s: 0 for s in range(services)}
    for n in range(records):
        s = rng.randrange(services)
        env = "production" if rng.random() < 0.6 else "staging"
        started = NOW - rng.uniform(0, 90) * DAY
        kind = "rollback" if rng.random() < 0.03 else "deploy"
        versions[s] += 1
        version = f"v1.{versions[s] // 10}.{versions[s] % 10}"
        roll = rng.random()
        outcome = (
            "succeeded"
            if roll < 0.9
            else "rolled-back"
            if roll < 0.96
            else "aborted"
            if roll < 0.98
            else "failed"
        )
        commit = started - rng.uniform(0.2, 72) * 3600 if rng.random() < 0.7 else None
        deploy_id = f"bench-{n:07d}"
        deploys.append(
            (deploy_id, kind, f"svc-{s}", env, env, f"svc-{s}", f"user-{s % 97}", "v0", version,
             None, commit, started, 0, "bench")
        )  # fmt: skip
        outcomes.append((deploy_id, started + rng.uniform(60, 900), outcome, version, ""))
    store = history.store
    store.executemany(
        'INSERT INTO deploys (id, kind, service, environment, namespace, deployment, "user", from_version, '
        "to_version, commit_sha, commit_time, started_at, pid, host) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        deploys,
    )
    store.executemany(
        "INSERT INTO outcomes (deploy_id, finished_at, outcome, version, reason) VALUES (?, ?, ?, ?, ?)",
        outcomes,
    )
    for s in range(0, services, 25):
        history.record_scaffold(
            f"component:default/svc-{s}", "template:default/x", "bench", NOW - rng.uniform(1, 80) * DAY
        )
    for _ in range(500):
        history.record_feedback(
            f"user-{rng.randrange(97)}", rng.randint(0, 10), "", at=NOW - rng.uniform(0, 180) * DAY
        )


RUNS = 7


@dataclass
class Timing:
    """Wall and CPU time of this process over RUNS runs, and for PostgreSQL the server's CPU time.
    The 2-core machine is shared: the CPU time is what the work itself cost (SQLite's in this
    process, PostgreSQL's in its server processes), and the fastest run is the one the other
    processes disturbed least."""

    walls: list[float]
    cpus: list[float]
    server: list[float]

    def text(self) -> str:
        def ms(values: list[float]) -> str:
            return f"{min(values) * 1000:.0f} / {statistics.median(values) * 1000:.0f} ms"

        server = f", CPU in the server {ms(self.server)}" if self.server else ""
        return f"wall {ms(self.walls)}, CPU here {ms(self.cpus)}{server} (fastest / median of {RUNS})"


# Seconds of CPU the PostgreSQL server spent so far on the benchmark (None: SQLite).
ServerClock = Any


def timed(function: Any, server_cpu: ServerClock = None) -> tuple[Timing, Any]:
    timing, result = Timing([], [], []), None
    for _ in range(RUNS):
        before = server_cpu() if server_cpu else 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        timing.walls.append(time.perf_counter() - wall)
        timing.cpus.append(time.process_time() - cpu)
        if server_cpu:
            timing.server.append(server_cpu() - before)
    return timing, result


def _proc_cpu(pid: int, children: bool = False) -> float:
    """User + system CPU seconds of a process (with children: of its exited children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # it ended: a parallel worker's time is then in the postmaster's children's
    first = 13 if children else 11  # utime stime (cutime cstime), counted from the state field
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu(server: Any, database: str) -> ServerClock:
    """A clock of the server's CPU for ``database``: its client backends (the history store's
    pool) plus what the postmaster's exited children (parallel workers) used."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])

    def clock() -> float:
        with server.admin(database) as conn:
            pids = [
                int(pid)
                for (pid,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'",
                    (database,),
                )
            ]
        return sum(_proc_cpu(pid) for pid in pids) + _proc_cpu(postmaster, children=True)

    return clock


def bench(
    label: str,
    history: Any,
    catalog: Any,
    root: Path,
    records: int,
    services: int,
    settle: Any = None,
    server_cpu: ServerClock = None,
) -> None:
    started = time.perf_counter()
    fill(history, records, services)
    if settle is not None:
        settle()
    print(f"\n{label}: {records} deploy records loaded in {time.perf_counter() - started:.1f} s")
    scope = resolve_scope(catalog)
    frame = Frame(NOW, 90, ("production",), None)
    sql, _ = timed(lambda: deploy_figures(history, frame), server_cpu)
    card_timing, card = timed(
        lambda: compute_scorecard(
            history, catalog, scope, window_days=90, now=NOW, production=("production",), workspace_root=root
        ),
        server_cpu,
    )
    print(f"  load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  DORA SQL (one statement): {sql.text()}")
    print(f"  whole scorecard, org-wide, 90 days: {card_timing.text()} (goal ≤ 200 ms)")
    team = resolve_scope(catalog, team="team-3")
    team_timing, _ = timed(
        lambda: compute_scorecard(
            history, catalog, team, window_days=30, now=NOW, production=("production",), workspace_root=root
        ),
        server_cpu,
    )
    print(f"  one team, 30 days: {team_timing.text()}")
    for figure in card.figures:
        print(f"    {figure.title:<38} {figure.display:>9} {figure.band or '':<7} {figure.universe}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="idp-metrics-bench-"))
    catalog = write_catalog(root, args.services, 50)

    def workspace(history: str) -> Workspace:
        return Workspace(root=root, config_file=root / "idp-console.yaml", name="bench", is_demo=False,
                         raw={"history": history})  # fmt: skip

    bench(
        "SQLite",
        open_history(workspace(str(root / "history.sqlite3"))),
        catalog,
        root,
        args.records,
        args.services,
    )
    if args.no_postgres:
        return
    try:
        from tests.pg import TEST_PASSWORD, running_server
    except ImportError as error:
        print(f"\nPostgreSQL: skipped ({error})")
        return
    try:
        with running_server() as server:
            os.environ["IDP_CONSOLE_SECRET_HISTORY"] = TEST_PASSWORD
            database = server.new_database()
            history = open_history(workspace(server.url(database)))

            def settle() -> None:
                # What autovacuum does on a live server after many inserts: the visibility map
                # lets the scorecard read changes_in_order alone (an index-only scan, no sort).
                with server.admin(database) as conn:
                    conn.execute("VACUUM ANALYZE")

            clock = postgres_cpu(server, database)
            bench("PostgreSQL", history, catalog, root, args.records, args.services, settle, clock)
    except Exception as error:  # noqa: BLE001 - a bench without a server says so and ends
        print(f"\nPostgreSQL: not run ({type(error).__name__}: {error})")


if __name__ == "__main__":
    main()
