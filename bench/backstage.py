"""Benchmarks of a ``type: backstage`` catalog source against a real Backstage backend (prints figures).

- full refresh: every entity through ``by-query`` pages into a catalog (no offline cache), and a
  quiet incremental poll (the ``fields`` projection of every entity, nothing changed);
- first paint and the whole list shown, from the offline cache, vs a bare one-widget Textual app
  (whole processes, interpreter start and imports included), with Backstage up and with it stopped;
- an entity added in Backstage → shown in the open console (from the moment Backstage's API has it).

Needs the oracle install (``shared/oracles/backstage-backend/setup.sh DIR``) and node >= 20.
Usage: uv run python bench/backstage.py --oracle DIR [--entities 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._corpus import write_corpus  # noqa: E402
from bench.tui import BARE_APP, IDP_APP, LIST_APP  # noqa: E402

TOKEN = "backstage-oracle-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
NEW = """
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: bench-added-component
spec:
  type: service
  lifecycle: production
  owner: group:default/bench-owner
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def count(url: str) -> int:
    try:
        answer = httpx.get(
            f"{url}/api/catalog/entities/by-query", params={"limit": 1}, headers=HEADERS, timeout=30
        )
        return int(answer.json().get("totalItems", 0)) if answer.status_code == 200 else -1
    except (httpx.HTTPError, ValueError):
        return -1


def wait_filled(url: str, expected: int, process: subprocess.Popen[bytes]) -> float:
    """Seconds until Backstage has processed ``expected`` entities (or stopped growing for 20 s)."""
    start, last, last_change = time.monotonic(), -1, time.monotonic()
    while True:
        if process.poll() is not None:
            raise SystemExit(f"Backstage exited with {process.returncode}")
        now = count(url)
        if now != last:
            last, last_change = now, time.monotonic()
        if now >= expected or (now > 0 and time.monotonic() - last_change > 20):
            return time.monotonic() - start
        time.sleep(0.5)


def wait_settled(url: str, timeout: float = 300.0) -> float:
    """Seconds until two listings of every entity's etag in a row are the same (stitching is done)."""
    from backends.catalog.backstage import VERSION_FIELDS, BackstageClient

    client = BackstageClient(url, TOKEN, timeout=60)
    start, before = time.monotonic(), None
    while time.monotonic() - start < timeout:
        now = {
            item["metadata"]["uid"]: item["metadata"]["etag"] for item in client.query(fields=VERSION_FIELDS)
        }
        if now == before:
            break
        before = now
        time.sleep(2)
    client.close()
    return time.monotonic() - start


def spawn_median(script: str, *args: str, env: dict[str, str], runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        start = time.time()
        out = subprocess.run(
            [sys.executable, "-c", script, repr(start), *args],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=ROOT,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1].split()[0]))  # seconds come first
    return statistics.median(samples)


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (user + system): what a poll costs Backstage, whatever
    else the machine is doing."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def full_refresh(workspace: Path, home: Path, pid: int) -> tuple[float, float, int]:
    """Seconds for a cold load through Backstage (no offline cache), then for one quiet poll."""
    os.environ["IDP_CONSOLE_HOME"] = str(home)
    from backends.catalog import load_catalog
    from backends.catalog.backstage import BackstageClient, backstage_sources, forget_mirrors, poll_once
    from backends.workspace import load_workspace

    forget_mirrors()
    loaded = load_workspace(workspace)
    start = time.perf_counter()
    catalog = load_catalog(loaded)
    cold = time.perf_counter() - start
    # Backstage keeps reprocessing every entity in the background: what it burns meanwhile is
    # measured first and taken off each poll's share.
    idle_start, used = time.perf_counter(), cpu_seconds(pid)
    time.sleep(3)
    background = (cpu_seconds(pid) - used) / (time.perf_counter() - idle_start)
    quiet, server = [], []
    for _ in range(5):
        start, used = time.perf_counter(), cpu_seconds(pid)
        poll_once(catalog, backstage_sources(loaded))
        quiet.append(time.perf_counter() - start)
        server.append(cpu_seconds(pid) - used - background * quiet[-1])
    print(
        f"  a quiet poll costs Backstage {statistics.median(server) * 1000:.0f} ms of CPU (median of 5; "
        f"{background * 100:.0f}% of a core in the background besides)"
    )
    url = backstage_sources(loaded)[0].url
    start = time.perf_counter()
    fetched = sum(1 for _ in BackstageClient(url, TOKEN).query())
    print(f"  of which the by-query pages alone: {time.perf_counter() - start:.2f} s ({fetched} entities)")
    forget_mirrors()
    return cold, statistics.median(quiet), len(catalog.entities)


async def change_to_screen(workspace: Path, url: str, files: list[Path], samples: int = 3) -> list[float]:
    """Seconds from Backstage having a new entity to the open console showing it (filtered list),
    once per sample: a component appended to a file, that file's Location refreshed."""
    from backends.workspace import load_workspace
    from console.app import IdpConsoleApp
    from screens.catalog import CatalogScreen

    locations = httpx.get(
        f"{url}/api/catalog/entities/by-query",
        params={"filter": "kind=location", "limit": 10_000},
        headers=HEADERS,
        timeout=60,
    ).json()["items"]
    location_of = {e["spec"].get("target"): e["metadata"]["name"] for e in locations}
    app = IdpConsoleApp(load_workspace(workspace))
    latencies: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        while not screen.is_ready:
            await pilot.pause(0.1)
        await pilot.press("slash", *"bench-added")
        await pilot.press("enter")
        for sample in range(samples):
            name = f"bench-added-component-{sample}"
            file = files[sample % len(files)]
            with file.open("a") as handle:
                handle.write(NEW.replace("bench-added-component", name))
            seen: list[float] = []

            def watch_api(name: str = name, file: Path = file, seen: list[float] = seen) -> None:
                # Time starts when the API serves the entity (after Backstage reprocessed the file).
                ref = f"location:default/{location_of[str(file)]}"
                httpx.post(f"{url}/api/catalog/refresh", json={"entityRef": ref}, headers=HEADERS, timeout=30)
                body = {"entityRefs": [f"component:default/{name}"]}
                while True:
                    try:
                        answer = httpx.post(
                            f"{url}/api/catalog/entities/by-refs", json=body, headers=HEADERS, timeout=60
                        )
                        items = answer.json()["items"]
                    except (httpx.HTTPError, ValueError, KeyError):
                        items = []  # a busy machine: ask again
                    if items and items[0]:
                        seen.append(time.perf_counter())
                        return
                    time.sleep(0.1)  # a light probe: a tight loop would slow the server being measured

            threading.Thread(target=watch_api, daemon=True).start()
            text = ""
            while name not in text:
                await pilot.pause(0.02)
                text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
            shown = time.perf_counter()
            while not seen:
                await pilot.pause(0.02)
            latencies.append(shown - seen[0])
            await pilot.pause(1.0)  # the next change lands at another point of the poll cycle
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracle", default=os.environ.get("IDP_CONSOLE_BACKSTAGE_ORACLE"), required=False)
    parser.add_argument("--entities", type=int, default=10_000)
    args = parser.parse_args()
    if not args.oracle or not (Path(args.oracle) / "start.sh").is_file():
        raise SystemExit(
            "--oracle DIR (or IDP_CONSOLE_BACKSTAGE_ORACLE): a shared/oracles/backstage-backend install"
        )
    os.environ["IDP_CONSOLE_SECRET_BACKSTAGE"] = TOKEN
    with tempfile.TemporaryDirectory(prefix="idp-bench-backstage-") as tmp:
        corpus = write_corpus(
            Path(tmp) / "corpus", entities=args.entities, files=max(args.entities // 100, 1)
        )
        files = sorted((corpus / "catalog").rglob("*.yaml"))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(Path(tmp) / "backstage.log", "wb")  # noqa: SIM115 - closed at the end
        process = subprocess.Popen(
            ["bash", str(Path(args.oracle) / "start.sh"), str(port), *map(str, files)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            # Every entity plus the Location Backstage makes for each file, then no etag moving any more.
            filled = wait_filled(url, args.entities + len(files), process)
            settled = wait_settled(url)
            print(
                f"Backstage processed {count(url)} entities ({len(files)} files) in {filled:.0f} s "
                f"(+{settled:.0f} s until every etag stayed put)"
            )
            workspace = Path(tmp) / "ws"
            workspace.mkdir()
            (workspace / "idp-console.yaml").write_text(
                f"name: bench\ncatalog:\n  sources:\n    - type: backstage\n      url: {url}\n"
            )
            home = Path(tmp) / "home"
            cold, quiet, entities = full_refresh(workspace, home, process.pid)  # start.sh execs node
            print(f"full refresh (no offline cache): {cold:.2f} s for {entities} entities (goal <= 5 s)")
            print(f"incremental poll, nothing changed: {quiet * 1000:.0f} ms (median of 5)")

            env = {**os.environ, "IDP_CONSOLE_HOME": str(home)}
            bare = spawn_median(BARE_APP, env=env)
            paint = spawn_median(IDP_APP, str(workspace), env=env)
            shown = spawn_median(LIST_APP, str(workspace), env=env, runs=3)
            print(
                f"first paint: bare Textual app {bare * 1000:.0f} ms, idp-console on the offline cache "
                f"{paint * 1000:.0f} ms: ratio {paint / bare:.2f}x (goal <= 1.5x)"
            )
            print(f"list shown from the offline cache (Backstage up): {shown * 1000:.0f} ms")

            latencies = asyncio.run(change_to_screen(workspace, url, files))
            shown_ms = ", ".join(f"{latency * 1000:.0f}" for latency in latencies)
            print(
                f"entity added in Backstage -> shown in the console: median "
                f"{statistics.median(latencies) * 1000:.0f} ms ({shown_ms} ms; goal <= 2 s)"
            )

            os.killpg(process.pid, 15)
            process.wait(timeout=30)
            bare = spawn_median(BARE_APP, env=env)  # again: the machine's load moves between phases
            paint = spawn_median(IDP_APP, str(workspace), env=env)
            shown = spawn_median(LIST_APP, str(workspace), env=env, runs=3)
            print(
                f"Backstage stopped: first paint {paint * 1000:.0f} ms ({paint / bare:.2f}x bare), "
                f"list shown from the offline cache {shown * 1000:.0f} ms"
            )
        finally:
            if process.poll() is None:
                os.killpg(process.pid, 15)
                process.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    main()
