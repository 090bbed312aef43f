"""``idp-console metrics`` (the scorecard) and ``idp-console feedback SCORE`` (satisfaction).

``metrics`` prints every figure for the organisation, a team or a service over a window, with its
target, DORA band, universe ("3 of 57 production deploys failed") and weekly trend; ``--output
json`` carries numerators, denominators and the deploy ids behind each figure. Exit 0, or 2 for bad
input (an unknown team or service, a window that is not a duration) or an unreachable store.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from console.commands import CommandError, workspace_from_args

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``metrics`` and ``feedback``."""
    metrics = subparsers.add_parser(
        "metrics",
        help="the platform's scorecard: DORA, adoption, quality, satisfaction",
        description="DORA (deployment frequency, lead time, change failure rate, recovery time), "
        "teams deploying, golden-path share, time to first deploy, ownership and docs coverage, and "
        "NPS, for the organisation or one team or service.",
    )
    scope = metrics.add_mutually_exclusive_group()
    scope.add_argument("--team", metavar="GROUP", help="a team (catalog Group) and the services it owns")
    scope.add_argument("--service", metavar="NAME", help="one service (catalog Component)")
    metrics.add_argument("--window", default="30d", help="7d, 30d, 90d … (default 30d)")
    metrics.add_argument("--output", "-o", choices=("table", "json"), default="table")
    metrics.set_defaults(handler=_metrics)

    feedback = subparsers.add_parser(
        "feedback",
        help="tell the platform team how likely you are to recommend it (0–10)",
        description="Records a score from 0 (not at all) to 10 (certainly) in the shared history, "
        "under your identity; the scorecard turns them into an NPS per quarter.",
    )
    feedback.add_argument("score", metavar="SCORE", help="0 to 10")
    feedback.add_argument("--comment", "-m", default="", metavar="TEXT", help="what would make it better")
    feedback.set_defaults(handler=_feedback)


def _store(workspace: Any) -> Any:
    from backends.demo.history_seed import ensure_demo_history
    from backends.metrics import open_store

    try:
        history = open_store(workspace)
    except Exception as error:  # noqa: BLE001 - a store that cannot be opened is one line, never a traceback
        raise _store_error(error) from error
    try:
        ensure_demo_history(workspace, history)
    except Exception as error:  # noqa: BLE001 - as above
        history.close()
        raise _store_error(error) from error
    return history


def _store_error(error: Exception) -> CommandError:
    """The store's own one-line message (it names the store), else the error with what it is about."""
    from backends.history import HistoryError

    return CommandError(
        str(error) if isinstance(error, HistoryError) else f"history store: {error}", EXIT_USAGE
    )


def _metrics(args: argparse.Namespace) -> int:
    from backends.catalog import load_catalog
    from backends.metrics import (
        MetricsError,
        compute_scorecard,
        parse_window,
        production_environments,
        resolve_scope,
    )

    workspace = workspace_from_args(args)
    try:
        window = parse_window(args.window)
        catalog = load_catalog(workspace)
        scope = resolve_scope(catalog, team=args.team, service=args.service)
    except MetricsError as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    history = _store(workspace)
    try:
        card = compute_scorecard(
            history, catalog, scope, window_days=window, now=time.time(),
            production=production_environments(workspace), workspace_root=workspace.root,
        )  # fmt: skip
    except Exception as error:  # noqa: BLE001 - the store went away mid-query: one line
        raise _store_error(error) from error
    finally:
        history.close()  # a PostgreSQL pool left open is torn down by the garbage collector, noisily
    if args.output == "json":
        print(json.dumps(card.as_dict(), indent=2))
    else:
        print_table(card, sys.stdout)
    return 0


def print_table(card: Any, out: Any) -> None:
    """The scorecard as aligned text: one line per figure, grouped."""
    from backends.metrics import sparkline

    title = f"Scorecard · {card.scope.label} · last {card.window_days} days"
    if card.demo:
        title += " · demo history (generated)"
    print(title, file=out)
    group = ""
    for figure in card.figures:
        if figure.group != group:
            group = figure.group
            print(f"\n{group}", file=out)
        mark = {True: "✔ met", False: "✖ missed", None: "· no data"}[figure.target_met]
        band = f"[{figure.band}]" if figure.band else ""
        print(
            f"  {figure.title:<38} {figure.display:>9} {band:<9} {mark:<10} target {figure.target}",
            file=out,
        )
        spark = sparkline(figure.trend)
        trend = f"  per {figure.trend_unit}: {spark}" if spark else ""
        print(f"  {'':<38} {figure.universe}{trend}", file=out)


def _feedback(args: argparse.Namespace) -> int:
    from backends.metrics import quarters, record_feedback

    score = parse_score(args.score)
    workspace = workspace_from_args(args)
    history = _store(workspace)
    user = workspace.identity
    try:
        record_feedback(history, user, score, args.comment.strip())
    except Exception as error:  # noqa: BLE001 - a store that does not answer: one line
        raise _store_error(error) from error
    finally:
        history.close()
    quarter = quarters(time.time(), 1)[0][0]
    print(f"Thank you, {user}: {score}/10 recorded for {quarter}.")
    return 0


def parse_score(text: str) -> int:
    """A whole number from 0 to 10, else a one-line CommandError."""
    value = str(text).strip()
    if not value.isdigit() or not 0 <= int(value) <= 10:
        raise CommandError(f"SCORE must be a whole number from 0 to 10, not {text!r}", EXIT_USAGE)
    return int(value)
