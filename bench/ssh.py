"""SSH benchmarks for ``idp-console serve-ssh`` (prints figures; never asserted in tests).

- first paint (process start → the demo's "SIMULATED CLUSTER" banner on screen) over SSH — the real
  ``ssh`` client to the built-in server — vs the same TUI started locally on a pty, alternated in
  the same run; goal ≤ 1.2×;
- N concurrent sessions held for a while, each idle 1–3 s between keys (↓/↑ in the catalog): time
  from a key to the first answering byte, p50/p95/max; goal p95 ≤ 200 ms at 20 sessions;
- memory per session's app process — RSS (every page it maps), PSS (shared pages split among their
  users) and USS (pages only it holds: what ending it gives back) — on the catalog, then with the
  deploy board open (``3``); ``--preload`` forks every session from one preloaded process.

``--cluster`` serves a copy of the demo workspace whose environments are a cluster reached by
kubeconfig (a simulated one served by this script, as a real cluster would be): what a bastion
session costs without the demo's simulation client.

Usage: uv run python bench/ssh.py [--sessions 20] [--hold 60] [--paints 3] [--preload] [--cluster]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sshkit import (  # noqa: E402
    PtyClient,
    ServeSsh,
    environ_of,
    keygen,
    pss_kib,
    rss_kib,
    ssh_client,
    uss_kib,
)

BANNER = "SIMULATED CLUSTER"  # the first paint on the demo; with --cluster, the mode tabs
TABS = "scaffold"
DOWN, UP = b"\x1b[B", b"\x1b[A"


def cluster_workspace(root: Path, stack: contextlib.ExitStack) -> Path:
    """The demo workspace, copied, its environments pointed at a cluster this script serves."""
    from backends.kube.sim import DEMO_SERVICES, start_simulated_cluster
    from backends.workspace import DEMO_WORKSPACE_DIR

    sim = stack.enter_context(start_simulated_cluster(None, attach=False, seed_objects=DEMO_SERVICES))
    kubeconfig = sim.kubeconfig(root / "kubeconfig")
    workspace = root / "workspace"
    shutil.copytree(DEMO_WORKSPACE_DIR, workspace)
    config = workspace / "idp-console.yaml"
    text = config.read_text()
    # Only the settings (indented), not the comment that mentions them.
    config.write_text(
        text.replace("    cluster: simulated", f"    kubeconfig: {kubeconfig}\n    context: simulated")
    )
    return workspace


def first_paint_local(home: Path, workspace: Path | None = None) -> float:
    env = {**os.environ, "IDP_CONSOLE_HOME": str(home), "TERM": "xterm-256color"}
    started = time.monotonic()
    where = ["--workspace", str(workspace)] if workspace else []
    client = PtyClient([sys.executable, "-m", "console.cli", *where], env=env)
    try:
        if not client.expect(BANNER if workspace is None else TABS, 120):
            raise RuntimeError(f"no first paint locally: {client.text()[-400:]}")
        return time.monotonic() - started
    finally:
        client.close()


def first_paint_ssh(server: ServeSsh, key: Path, marker: str) -> float:
    started = time.monotonic()
    with ssh_client(server.port, key) as client:
        if not client.expect(marker, 120):
            raise RuntimeError(f"no first paint over SSH: {client.text()[-400:]}")
        elapsed = time.monotonic() - started
    wait_for_apps(server, 0, 30)  # the next measurement starts on an idle machine
    return elapsed


def wait_for_apps(server: ServeSsh, count: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while len(server.apps()) != count and time.monotonic() < end:
        time.sleep(0.1)


def hold(clients: list[PtyClient], seconds: float) -> list[float | None]:
    """Every session presses ↓/↑ after 1–3 s idle until ``seconds`` have passed; answer times."""
    answers: list[float | None] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def session(client: PtyClient, seed: int) -> None:
        rng, key = random.Random(seed), DOWN
        while True:
            time.sleep(rng.uniform(1.0, 3.0))
            if time.monotonic() >= end:
                return
            answer = client.answer_time(key, timeout=10)
            key = UP if key == DOWN else DOWN
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=session, args=(c, i)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def mib(kib_values: list[int]) -> str:
    return f"mean {statistics.mean(kib_values) / 1024:.0f} MiB, max {max(kib_values) / 1024:.0f} MiB"


def memory(apps: list[int]) -> None:
    for name, measure in (("RSS", rss_kib), ("PSS", pss_kib), ("USS", uss_kib)):
        print(f"  {name} {mib([measure(pid) for pid in apps])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--hold", type=float, default=60.0, help="seconds the sessions are held")
    parser.add_argument("--paints", type=int, default=3, help="first paints measured each way")
    parser.add_argument("--preload", action="store_true", help="serve-ssh --preload (a zygote)")
    parser.add_argument("--cluster", action="store_true", help="environments on a kubeconfig cluster")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ssh-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        home.mkdir()
        os.environ["IDP_CONSOLE_HOME"] = str(home)
        os.environ["IDP_CONSOLE_SIM_IDLE_EXIT"] = "5"  # the demo's shared cluster leaves with us
        key = keygen(tmp / "key", "bench.user@bench")
        (tmp / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
        mode = "serve-ssh --preload (sessions forked from one zygote)" if args.preload else "serve-ssh"
        stack = contextlib.ExitStack()
        workspace = cluster_workspace(tmp, stack) if args.cluster else None
        where = "demo workspace, environments on a kubeconfig cluster" if workspace else "demo workspace"
        marker = TABS if workspace else BANNER
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {where}; {mode}")
        with (
            stack,
            ServeSsh(
                tmp / "server",
                "--authorized-keys",
                str(tmp / "authorized_keys"),
                "--max-sessions",
                str(args.sessions + 1),
                "--max-per-user",
                str(args.sessions + 1),
                *(["--preload"] if args.preload else []),
                workspace=workspace,
            ) as server,
        ):
            first_paint_local(home, workspace)  # warm the page cache and bytecode for both sides alike
            local, remote = [], []
            for _ in range(args.paints):
                local.append(first_paint_local(home, workspace))
                remote.append(first_paint_ssh(server, key, marker))
            l_med, r_med = statistics.median(local), statistics.median(remote)
            print(
                f"first paint: local {l_med:.2f} s, over SSH {r_med:.2f} s (median of {args.paints} each, "
                f"alternated) → {r_med / l_med:.2f}× (goal ≤ 1.2×); best of each: {min(local):.2f} s vs "
                f"{min(remote):.2f} s → {min(remote) / min(local):.2f}×"
            )
            print("  local: " + ", ".join(f"{v:.2f}" for v in local))
            print("  ssh:   " + ", ".join(f"{v:.2f}" for v in remote))

            if args.sessions < 1:
                return
            with contextlib.ExitStack() as stack:
                started = time.monotonic()
                clients = [stack.enter_context(ssh_client(server.port, key)) for _ in range(args.sessions)]
                painted = [c.expect(marker, 600) for c in clients]
                print(
                    f"{args.sessions} sessions opened at once: all painted after "
                    f"{time.monotonic() - started:.1f} s ({sum(painted)}/{len(painted)} painted)"
                )
                time.sleep(5)  # let the catalogs finish loading before measuring idle answers
                answers = hold(clients, args.hold)
                answered = [a for a in answers if a is not None]
                if answered:
                    p50, p95 = (percentile(answered, q) * 1000 for q in (0.5, 0.95))
                    print(
                        f"held {args.hold:.0f} s, keys every 1–3 s per session: {len(answered)} answers, "
                        f"{len(answers) - len(answered)} unanswered; p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
                        f"max {max(answered) * 1000:.0f} ms (goal p95 ≤ 200 ms)"
                    )
                apps = server.apps()
                print(f"per session ({len(apps)} apps), catalog:")
                memory(apps)
                for client in clients:
                    mark = client.mark()
                    client.send(b"3")
                    client.expect("live from the cluster", 120, mark)
                time.sleep(5)  # watches started, first events in
                print("per session, deploy board open:")
                memory(apps)
                zygote = server.zygote()
                if zygote is not None:
                    print(
                        f"the zygote (counted once): RSS {rss_kib(zygote) / 1024:.0f} MiB, "
                        f"USS {uss_kib(zygote) / 1024:.0f} MiB"
                    )
                print(f"RSS of the serve-ssh server: {rss_kib(server.process.pid) / 1024:.0f} MiB")
                sims = _simulations(home)
                if sims:
                    print(f"RSS of the shared simulated cluster: {mib([rss_kib(p) for p in sims])}")
        for pid in _simulations(home):  # it would leave by itself when idle; no need to wait
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def _simulations(home: Path) -> list[int]:
    """The demo's shared simulated cluster started for this run (it carries its IDP_CONSOLE_HOME)."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if not entry.isdigit() or b"backends.kube.sim" not in Path(f"/proc/{entry}/cmdline").read_bytes():
                continue
            if environ_of(int(entry)).get("IDP_CONSOLE_HOME") == str(home):
                found.append(int(entry))
    return found


if __name__ == "__main__":
    main()
