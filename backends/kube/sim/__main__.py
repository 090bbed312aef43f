"""Run the simulated cluster in the foreground: ``python -m backends.kube.sim --state-file F``.

Other processes started on the same state file attach to it. Prints one JSON line with the
URLs once it is serving, then runs until interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from .cluster import DEFAULT_TIME_SCALE, start_simulated_cluster
from .seed import DEMO_SERVICES


def main(argv: list[str] | None = None) -> int:
    """Serve until a signal arrives; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m backends.kube.sim", description=__doc__)
    parser.add_argument("--state-file", type=Path, default=None, help="JSON state file (default: in memory)")
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE)
    parser.add_argument("--seed-demo", action="store_true", help="create the demo services if absent")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="also write a kubeconfig here")
    parser.add_argument(
        "--idle-exit", type=float, default=0.0, help="stop after this many seconds without clients (0: never)"
    )
    args = parser.parse_args(argv)

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    seed = DEMO_SERVICES if args.seed_demo else None
    with start_simulated_cluster(args.state_file, time_scale=args.time_scale, seed_objects=seed) as sim:
        if args.kubeconfig is not None:
            sim.kubeconfig(args.kubeconfig)
        info = {"api_url": sim.api_url, "prometheus_url": sim.prometheus_url, "attached": sim.attached}
        print(json.dumps(info), flush=True)
        if sim.attached:
            return 0  # someone else serves this state file already
        assert sim.api_server is not None
        while not done.wait(1.0):
            if args.idle_exit and sim.api_server.idle_for() > args.idle_exit:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
