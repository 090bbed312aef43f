"""TUI benchmarks for the catalog screen (prints figures; never asserted in tests).

- cold start → first paint with a 10k-entity workspace vs a bare one-widget Textual app,
  both as whole processes started from here (interpreter start and imports included);
- spawn → the whole catalog list shown, cold (no snapshot) and warm (the previous run's snapshot);
- filter keystroke → list repainted, at 10k and 100k entities, driven by Pilot (p50/p95).

Spawn figures are the fastest and median wall time and the median CPU time of the process: on a
shared machine the CPU time is the steadier one.

Usage: uv run python bench/tui.py [--sizes 10000,100000] [--keystrokes 40 (0: none)]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._corpus import write_corpus  # noqa: E402

BARE_APP = textwrap.dedent(
    """
    import sys, time
    t0 = float(sys.argv[1])
    from textual.app import App
    from textual.widgets import Static
    class Bare(App):
        def compose(self):
            yield Static("hello")
        def on_mount(self):
            self.call_after_refresh(self.done)
        def done(self):
            print(time.time() - t0, time.process_time())
            self.exit()
    Bare().run(headless=True, size=(140, 40))
    """
)

IDP_APP = textwrap.dedent(
    """
    import sys, time
    t0 = float(sys.argv[1])
    from backends.workspace import load_workspace
    from console.app import IdpConsoleApp
    class Timed(IdpConsoleApp):
        def on_mount(self):
            super().on_mount()
            self.call_after_refresh(self.done)
        def done(self):
            print(time.time() - t0, time.process_time())
            self.exit()
    Timed(load_workspace(sys.argv[2])).run(headless=True, size=(140, 40))
    """
)

# Spawn → the catalog list shows every entity (not just the first frame): a cold start reads and
# validates every file; a warm one shows the snapshot the previous run left in the state dir.
LIST_APP = textwrap.dedent(
    """
    import sys, time
    t0 = float(sys.argv[1])
    from backends.workspace import load_workspace
    from console.app import IdpConsoleApp
    from screens.catalog import CatalogScreen
    class Timed(IdpConsoleApp):
        def on_mount(self):
            super().on_mount()
            self.set_interval(0.005, self.check)
        def check(self):
            screen = self.screen
            if self.catalog is not None and isinstance(screen, CatalogScreen) and screen.is_ready:
                print(time.time() - t0, time.process_time(), flush=True)
                self.exit()
    Timed(load_workspace(sys.argv[2])).run(headless=True, size=(140, 40))
    """
)


Sample = tuple[float, float]  # (wall seconds from spawn, CPU seconds of the process by then)


def summary(samples: list[Sample]) -> str:
    """Fastest and median wall time, and the median CPU time: on a shared machine the CPU time is
    the steadier figure (the wall time also counts waiting for a core)."""
    walls = sorted(wall for wall, _ in samples)
    cpu = statistics.median(cpu for _, cpu in samples)
    return (
        f"fastest {walls[0] * 1000:.0f} ms, median {statistics.median(walls) * 1000:.0f} ms "
        f"(CPU median {cpu * 1000:.0f} ms; {len(samples)} runs)"
    )


def run_timed(script: str, *args: str, env: dict[str, str] | None = None) -> Sample:
    """Spawn ``script``; it prints the wall seconds since ``argv[1]`` and its CPU seconds."""
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", script, repr(start), *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def list_shown(workspace: Path, home: Path, *, warm: bool, runs: int = 3) -> list[Sample]:
    """Spawn → the full list, cold (fresh state dir) or warm (primed one), ``runs`` times."""
    import os
    import shutil

    env = {**os.environ, "IDP_CONSOLE_HOME": str(home)}
    if warm:  # the snapshot a finished previous session leaves (the timed app exits before writing)
        prime = "import sys; from backends.catalog.warm import open_catalog; from backends.workspace import "
        prime += "load_workspace; open_catalog(load_workspace(sys.argv[1]), warm=False).revalidate()"
        subprocess.run([sys.executable, "-c", prime, str(workspace)], check=True, env=env, cwd=ROOT)
    samples = []
    for _ in range(runs):
        if not warm:
            shutil.rmtree(home, ignore_errors=True)
        home.mkdir(exist_ok=True)
        samples.append(run_timed(LIST_APP, str(workspace), env=env))
    return samples


def first_paint(script: str, *args: str, runs: int = 5) -> list[Sample]:
    """Spawn → the first refresh of the first screen, ``runs`` times."""
    return [run_timed(script, *args) for _ in range(runs)]


async def filter_latencies(workspace: Path, keystrokes: int) -> list[float]:
    from textual import events

    from backends.workspace import load_workspace
    from console.app import IdpConsoleApp
    from screens.catalog import CatalogScreen
    from widgets.virtual_table import VirtualTable

    app = IdpConsoleApp(load_workspace(workspace))
    timings: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        while not screen.is_ready:
            await pilot.pause(0.1)
        await pilot.pause()
        await pilot.press("slash")
        # Type queries a user would: a facet, then words, then delete back (every key counts).
        typed = "kind:component owner:team-1 svc"[: keystrokes // 2]
        keys = list(typed) + ["backspace"] * len(typed)
        table = screen.query_one("#entities", VirtualTable)
        driver = app._driver
        assert driver is not None
        for key in keys:
            await pilot.pause()
            before = table._rows
            start = time.perf_counter()
            # Send the key as the terminal would, then yield to the event loop until the screen
            # has filtered and handed new rows to the table (Pilot's own press() also waits for
            # the CPU to go idle, which measures the machine, not the app).
            driver.send_message(events.Key(key, key if len(key) == 1 else None))
            while table._rows is before:
                await asyncio.sleep(0)
            # Paint the whole screen as the terminal would receive it.
            app.screen._compositor.render_update(full=True)
            timings.append(time.perf_counter() - start)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--keystrokes", type=int, default=40, help="0: no filter keystroke figures")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="idp-bench-tui-") as tmp:
        workspaces = {
            size: write_corpus(Path(tmp) / f"c{size}", entities=size, files=max(size // 10, 1))
            for size in sizes
        }
        if 10000 in workspaces:
            bare = first_paint(BARE_APP)
            idp = first_paint(IDP_APP, str(workspaces[10000]))
            print(f"first paint: bare Textual app {summary(bare)}")
            print(f"first paint: idp-console, 10k-entity workspace {summary(idp)}")
            ratio = statistics.median(w for w, _ in idp) / statistics.median(w for w, _ in bare)
            print(f"first paint ratio: {ratio:.2f}x median (goal <= 1.5x)")
        for size, workspace in workspaces.items():
            home = Path(tmp) / f"home{size}"
            print(
                f"list shown, {size} entities, cold start: {summary(list_shown(workspace, home, warm=False))}"
            )
            print(
                f"list shown, {size} entities, warm start: {summary(list_shown(workspace, home, warm=True))} "
                "(goal <= 1500 ms at 100k)"
            )
        for size, workspace in workspaces.items():
            if not args.keystrokes:
                break
            timings = asyncio.run(filter_latencies(workspace, args.keystrokes))
            timings.sort()
            p50 = statistics.median(timings) * 1000
            p95 = timings[int(len(timings) * 0.95) - 1] * 1000
            print(
                f"filter keystroke -> repainted, {size} entities: p50 {p50:.1f} ms, "
                f"p95 {p95:.1f} ms over {len(timings)} keys (goal p95 <= 50 ms at 100k)"
            )


if __name__ == "__main__":
    main()
