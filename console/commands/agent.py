"""``idp-console agent``: the bastion's supervisor. Every interval it adopts the deploys whose
runner died (see :mod:`backends.deploy.adopt`) and applies each environment's ``on_orphan`` policy.
Run it as a systemd service (README: "A shared bastion"); ``--once`` for cron or a test."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from console.commands import mutating, workspace_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("agent", help="adopt deploys whose runner died (run as a service)")
    parser.add_argument("--interval", type=float, default=15.0, metavar="SECONDS", help="default 15")
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text")
    parser.set_defaults(handler=_agent)
    mutating(parser)  # it resumes, pauses or rolls back other people's deploys


def _agent(args: argparse.Namespace) -> int:
    from backends.deploy.adopt import adopt_orphans, default_policy
    from backends.deploy.attach import DetachedEngine
    from backends.deploy.session import open_deploy

    workspace = workspace_from_args(args)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    handled: set[str] = set()
    with open_deploy(workspace) as session:
        engine = DetachedEngine(session.engine, None if workspace.is_demo else str(workspace.root))

        def policy_for(environment: str) -> str:
            return default_policy(session.context.environment(environment))

        while True:
            for adoption in adopt_orphans(engine, policy_for, skip=handled):
                _report(adoption, args.output)
            if args.once or stop.wait(args.interval):
                return 0


def _report(adoption: object, output: str) -> None:
    from backends.deploy.adopt import Adoption

    assert isinstance(adoption, Adoption)
    if output == "json":
        print(
            json.dumps(
                {
                    "deploy_id": adoption.deploy_id,
                    "service": adoption.service,
                    "environment": adoption.environment,
                    "policy": adoption.policy,
                    "error": adoption.error or None,
                }
            ),
            flush=True,
        )
    else:
        print(f"idp-console agent: {adoption.describe()}", file=sys.stdout, flush=True)
