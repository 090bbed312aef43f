"""``idp-console status [SERVICE] [--env ENV] [--output json]`` across services and environments.

With both SERVICE and ``--env`` the deploy command's detailed status of one service answers (see
`console.commands.deploy`); otherwise this one: every service (or SERVICE) × every environment (or
ENV), read once from the same watches the Status mode uses — one list of Deployments and one of
pods per namespace — and printed as a table, or as JSON. An environment whose cluster does not
answer is named on stderr and its cells say ``unreachable``; the others are printed as usual.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from console.commands import CommandError

EXIT_OK, EXIT_USAGE = 0, 2


def overview(args: argparse.Namespace, session: Any) -> int:
    """Print the status of SERVICE or of every service, in ENV or in every environment."""
    from backends.demo.history_seed import ensure_demo_history_quietly
    from backends.deploy.prechecks import DeployRefused
    from backends.deploy.session import SIMULATED_BANNER
    from backends.status import StatusController, status_services, targets_for
    from backends.status.model import ago, cell_summary

    services = _services(session.workspace, args.service, status_services)
    try:
        names = list(session.context.environments())
    except DeployRefused as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    if args.env and args.env not in names:
        raise CommandError(
            f"unknown environment {args.env!r} (known: {', '.join(names) or 'none configured'})"
        )
    environments = [args.env] if args.env else names
    if session.uses_simulation:
        print(SIMULATED_BANNER, file=sys.stderr, flush=True)
    ensure_demo_history_quietly(session.workspace, session.context.history)  # its last deploys
    controller = StatusController(
        targets_for(session.context, services, environments), history=session.context.history
    )
    with controller:
        controller.wait_synced(15)
        cells = {key: controller.cell(*key) for key in controller.keys}
        unreachable = controller.unreachable()
    for env, reason in unreachable.items():
        print(f"idp-console status: {env}: {reason}", file=sys.stderr)
    if args.output == "json":
        data = {
            "environments": environments,
            "unreachable": unreachable,
            "services": [
                {
                    "service": e.name,
                    "environments": {env: cells[(e.name, env)].as_dict() for env in environments},
                }
                for e in services
            ],
        }
        print(json.dumps(data, default=str, ensure_ascii=False))
        return EXIT_OK
    now = time.time()
    width = max([len("SERVICE"), *(len(e.name) for e in services)]) + 2
    rows = [[e.name, *(cell_summary(cells[(e.name, env)], lambda at: ago(at, now)) for env in environments)]
            for e in services]  # fmt: skip
    widths = [width] + [
        max(len(env), *(len(r[i + 1]) for r in rows)) + 2 for i, env in enumerate(environments)
    ]
    print(
        "".join(h.upper().ljust(w) for h, w in zip(["service", *environments], widths, strict=True)).rstrip()
    )
    for row in rows:
        print("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _services(workspace: Any, wanted: str | None, select: Any) -> list[Any]:
    from backends.catalog import load_catalog

    catalog = load_catalog(workspace)
    if wanted:
        entity = catalog.get(wanted, default_kind="Component")
        if entity is None:
            raise CommandError(f"{wanted}: not in the catalog", EXIT_USAGE)
        return [entity]
    services = select(catalog.entities)
    if not services:
        raise CommandError("the catalog has no Component to show", EXIT_USAGE)
    return list(services)
