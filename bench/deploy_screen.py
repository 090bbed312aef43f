"""Deploy screen figures against the simulated cluster, headless (prints, asserts nothing).

1. Event → screen: every engine event of a full canary deploy, from its creation in the engine
   (``event.at``) to the screen's handler having folded it into the view (the step list, the log).
2. Cluster change → tree: an HTTP PATCH of the stable Deployment's replicas (as another client
   would do) until the rollout tree shows the new desired count — watch, coalescing message and
   redraw included.
3. The same change until the status board shows it.

    uv run python bench/deploy_screen.py [--changes 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("IDP_CONSOLE_HOME", tempfile.mkdtemp(prefix="idp-bench-"))

from textual.pilot import Pilot  # noqa: E402

from backends.deploy.events import DeployEvent  # noqa: E402
from backends.deploy.reducer import LogEntry  # noqa: E402
from backends.kube.cluster import Cluster  # noqa: E402
from backends.workspace import load_demo_workspace  # noqa: E402
from console.app import IdpConsoleApp  # noqa: E402
from screens.deploy import DeployScreen  # noqa: E402
from screens.deploy_view import RunState  # noqa: E402
from widgets.rollout_tree import RolloutTree, RolloutTreeData  # noqa: E402

SERVICE = "payment-service"


def figures(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    p50 = statistics.median(ms)
    return f"{name:<34} n={len(ms):<4} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {ms[-1]:6.1f} ms"


async def wait(pilot: Pilot, condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await pilot.pause(0.002)


async def main(changes: int) -> None:
    DeployScreen.SESSION_TIME_SCALE = 0.02
    workspace = load_demo_workspace()
    workspace.raw["deploy"] = {**workspace.raw["deploy"], "bake": "0.2s"}
    app = IdpConsoleApp(workspace)
    event_latency: list[float] = []
    tree_seen: dict[int, float] = {}

    original_event = RunState.apply
    original_show = RolloutTree.show

    def apply_event(state: RunState, event: DeployEvent) -> LogEntry | None:
        entry = original_event(state, event)
        event_latency.append(time.time() - event.at)
        return entry

    def show(tree: RolloutTree, data: RolloutTreeData | None) -> None:
        original_show(tree, data)
        for track in data.tracks if data else ():
            if track.track == "stable":
                tree_seen.setdefault(track.desired, time.monotonic())

    RunState.apply = apply_event  # type: ignore[method-assign]
    RolloutTree.show = show  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        while app.catalog is None:
            await pilot.pause(0.05)
        started = time.monotonic()
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await wait(pilot, lambda: screen.board is not None and screen.desk.board.stable(SERVICE, "staging"))
        first_view = 1000 * (time.monotonic() - started)
        print(f"{'board: first full view':<34} {first_view:6.1f} ms (cluster start included)")

        # 1. a whole deploy, every event
        assert screen.desk is not None
        screen.start_run(screen.desk.deploy_question(SERVICE, "staging", "v2.3.1"))
        await wait(pilot, lambda: screen.state is not None and screen.state.finished and not screen.driving)
        print(figures("engine event → screen", event_latency))

        # 2./3. another client changes the Deployment; the tree and the board follow by watch
        assert screen.session is not None and screen.session.simulated is not None
        kubeconfig = screen.session.simulated.kubeconfig(Path(tempfile.mkdtemp()) / "kubeconfig")
        cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
        tree_latency: list[float] = []
        board_latency: list[float] = []
        for index in range(changes):
            replicas = 5 + index % 2  # 5, 6, 5, 6 …: each patch is a visible change
            tree_seen.pop(replicas, None)
            sent = time.monotonic()
            cluster.patch("deployments", "staging", SERVICE, {"spec": {"replicas": replicas}})
            await wait(pilot, lambda r=replicas: r in tree_seen)
            tree_latency.append(tree_seen[replicas] - sent)
            await wait(
                pilot,
                lambda r=replicas: getattr(screen.desk.board.stable(SERVICE, "staging"), "desired", 0) == r,
            )
            board_latency.append(time.monotonic() - sent)
            await pilot.pause(0.05)
        print(figures("cluster PATCH → rollout tree", tree_latency))
        print(figures("cluster PATCH → status board", board_latency))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=40)
    asyncio.run(main(parser.parse_args().changes))
