"""``idp-console infra``: infrastructure by pull request (see backends/infra).

``infra plan [SERVICE] [--ref BRANCH] [--output json]`` validates the infra repository at a ref and
shows what applying it would change, the monthly cost before → after per service and per team, and
every policy verdict: exit 0 clean, 1 a policy denies, 2 invalid input. ``infra request`` opens a
change request, ``infra merge N`` merges one on a plain git server. ``infra apply [--ref main]``
(what CI runs on merge) applies it server-side and records it; ``infra reconcile --watch`` applies
every new commit of the ref.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from console.commands import CommandError, mutating, workspace_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("infra", help="infrastructure by pull request: plan, apply, reconcile")
    commands = parser.add_subparsers(dest="infra_command", metavar="COMMAND", required=True)
    plan = commands.add_parser(
        "plan", help="validate, diff, cost and policy verdicts for a ref of the infra repo"
    )
    plan.add_argument("service", nargs="?", help="show only this service (all are still checked)")
    plan.add_argument("--ref", help="branch, tag, refs/pull/N/head or commit (default: infra.ref)")
    plan.add_argument("--output", choices=("text", "json"), default="text")
    plan.set_defaults(handler=_plan)
    apply = commands.add_parser("apply", help="apply the infra repo at a ref (refused when a policy denies)")
    apply.add_argument("--ref", help="default: infra.ref")
    apply.set_defaults(handler=_apply)
    mutating(apply)
    request = commands.add_parser(
        "request", help="open a change request: a service's new resources.yaml on a branch, with its plan"
    )
    request.add_argument("service")
    request.add_argument("--file", required=True, metavar="PATH", help="the new resources.yaml ('-': stdin)")
    request.set_defaults(handler=_request)
    mutating(request)
    merge = commands.add_parser(
        "merge",
        help="merge change request N into infra.ref (plain git servers; refused when a policy denies)",
    )
    merge.add_argument("number", type=int, metavar="N", help="the change request (refs/pull/N/head)")
    merge.set_defaults(handler=_merge)
    mutating(merge)
    reconcile = commands.add_parser("reconcile", help="apply the ref now, and with --watch every new commit")
    reconcile.add_argument("--ref", help="default: infra.ref")
    reconcile.add_argument("--watch", action="store_true", help="keep running, applying each new commit")
    reconcile.add_argument("--interval", type=float, default=10.0, metavar="S", help="seconds between checks")
    reconcile.set_defaults(handler=_reconcile)
    mutating(reconcile)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _print_plan(plan: Any) -> None:
    print(f"infra plan of {plan.ref} ({plan.commit[:8]}) for {plan.environment} (namespace {plan.namespace})")
    for service in plan.services:
        delta = service.cost_after - service.cost_before
        print(
            f"  {service.service} ({service.owner or 'removed'}): {_money(service.cost_before)} → "
            f"{_money(service.cost_after)} /month ({'+' if delta >= 0 else ''}{_money(delta)})"
        )
        for change in service.changes:
            mark = {"create": "+", "change": "~", "delete": "-"}[change.action]
            print(f"    {mark} {change.action} {change.kind}/{change.name}")
        if not service.changes:
            print("    no change")
    if plan.teams:
        print("teams:")
        for team, (before, after) in plan.teams.items():
            print(f"  {team}: {_money(before)} → {_money(after)} /month")
    print("policies:")
    for verdict in plan.verdicts:
        if verdict.outcome == "pass":
            print(f"  ✔ pass  {verdict.policy} ({verdict.service})")
        else:
            mark = "✖ deny" if verdict.outcome == "deny" else "! warn"
            print(f"  {mark}  {verdict.policy} ({verdict.service}): {verdict.message} [{verdict.where}]")
    if not plan.verdicts:
        print("  (none)")


def _open(args: argparse.Namespace) -> Any:
    from backends.infra.apply import open_infra

    return open_infra(workspace_from_args(args))


def _errors() -> tuple[type[Exception], ...]:
    from backends.history.errors import HistoryError
    from backends.infra.apply import InfraError
    from backends.infra.repo import InfraRepoError
    from backends.kube.cluster import ClusterError

    return (InfraError, InfraRepoError, ClusterError, HistoryError)


def _plan(args: argparse.Namespace) -> int:
    try:
        with _open(args) as infra:
            plan = infra.plan(args.ref, args.service)
    except _errors() as error:
        raise CommandError(str(error), 2) from None
    if args.output == "json":
        print(json.dumps(plan.as_dict(), indent=2))
        return plan.exit_code
    if plan.errors:
        for line in plan.errors:
            print(line, file=sys.stderr)
        return plan.exit_code
    _print_plan(plan)
    if plan.denied:
        print(
            f"denied by {len(plan.denied)} policy verdict(s): this change cannot be applied", file=sys.stderr
        )
    return plan.exit_code


def _apply(args: argparse.Namespace) -> int:
    from backends.infra.apply import ApplyRefused

    def written(change: Any) -> None:
        print(f"{change.action}d {change.kind}/{change.name}", flush=True)

    try:
        with _open(args) as infra:
            result = infra.apply(args.ref, on_write=written)
    except ApplyRefused as refused:
        print(str(refused), file=sys.stderr)
        return refused.plan.exit_code
    except _errors() as error:
        raise CommandError(str(error), 2) from None
    plan = result.plan
    print(
        f"applied {plan.ref} ({plan.commit[:8]}) to {plan.environment}: {result.writes} write(s), "
        f"{_money(sum(plan.costs.values()))} /month"
    )
    return 0


def _request(args: argparse.Namespace) -> int:
    from backends.infra.resources import InfraInputError

    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()  # noqa: SIM115
    except OSError as error:
        raise CommandError(f"{args.file}: cannot read: {error.strerror or error}", 2) from None
    try:
        with _open(args) as infra:
            request = infra.request(args.service, text)
    except InfraInputError as error:
        raise CommandError(str(error), 2) from None
    except _errors() as error:
        raise CommandError(str(error), 2) from None
    if request.url:  # GitHub / GitLab: the forge's own page for it
        print(f"opened change request #{request.number}: {request.url} (branch {request.branch})")
    else:
        print(f"opened change request #{request.number}: branch {request.branch} ({request.ref})")
    _print_plan(request.plan)
    return request.plan.exit_code


def _merge(args: argparse.Namespace) -> int:
    from backends.infra.merge import MergeRefused

    try:
        with _open(args) as infra:
            result = infra.merge(args.number)
    except MergeRefused as refused:
        print(str(refused), file=sys.stderr)
        return refused.plan.exit_code if refused.plan is not None else 1
    except _errors() as error:
        raise CommandError(str(error), 2) from None
    how = "fast-forward" if result.fast_forward else "merge commit"
    print(
        f"merged change request #{result.number} into {result.base} ({how}, {result.commit[:8]}); "
        f"`infra apply` applies it"
    )
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from backends.infra.apply import ApplyRefused, ApplyResult

    worst = 0
    try:
        with _open(args) as infra:
            rounds = infra.reconcile(interval=max(args.interval, 0.1), ref=args.ref)
            for outcome in rounds:
                if isinstance(outcome, ApplyResult):
                    plan = outcome.plan
                    print(f"applied {plan.ref} ({plan.commit[:8]}): {outcome.writes} write(s)", flush=True)
                elif isinstance(outcome, ApplyRefused):
                    print(str(outcome), file=sys.stderr, flush=True)
                    worst = max(worst, outcome.plan.exit_code)
                else:
                    print(f"reconcile: {outcome}", file=sys.stderr, flush=True)
                    worst = 2
                if not args.watch:
                    break
    except _errors() as error:
        raise CommandError(str(error), 2) from None
    except KeyboardInterrupt:
        return 0
    return worst
