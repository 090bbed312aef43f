"""``idp-console doctor``: check the terminal, config, catalog, identity, clusters, history and
runner, and print what to fix. Exit 0 when nothing failed (warnings allowed), 1 otherwise."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from console.commands import workspace_from_args

MIN_SIZE = (80, 24)
MARKS = {"ok": "✓", "warn": "⚠", "fail": "✗"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check terminal, config, catalog, identity, clusters, history; say what to fix",
    )
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text")
    parser.set_defaults(handler=_doctor)


def terminal_checks(environ: Mapping[str, str], *, is_tty: bool, size: tuple[int, int]) -> Iterator[Any]:
    """What the terminal gives the TUI: a tty, its size, colours, and the SSH hints that go with them."""
    from backends.doctor import Check, Status

    over_ssh = bool(environ.get("SSH_CONNECTION") or environ.get("SSH_TTY"))
    if not is_tty:
        yield Check(
            "terminal",
            Status.WARN,
            "not a terminal: the TUI will refuse to start (subcommands work)",
            "ssh -t bastion idp-console" if over_ssh else "run it from a terminal",
        )
        return
    columns, lines = size
    if columns < MIN_SIZE[0] or lines < MIN_SIZE[1]:
        yield Check(
            "terminal",
            Status.WARN,
            f"{columns}x{lines} is smaller than {MIN_SIZE[0]}x{MIN_SIZE[1]}",
            "enlarge the window",
        )
    else:
        yield Check("terminal", Status.OK, f"{columns}x{lines}, TERM={environ.get('TERM', '?')}")
    colorterm = environ.get("COLORTERM", "")
    if colorterm in ("truecolor", "24bit") or environ.get("TEXTUAL_COLOR_SYSTEM") == "truecolor":
        yield Check("terminal", Status.OK, "truecolor")
    elif over_ssh:
        yield Check(
            "terminal",
            Status.WARN,
            "COLORTERM did not come through SSH: 256 colours only",
            "client: `SendEnv COLORTERM` in ~/.ssh/config; bastion sshd: `AcceptEnv COLORTERM`",
        )
    else:
        yield Check(
            "terminal", Status.WARN, "COLORTERM is not set: 256 colours only", "export COLORTERM=truecolor"
        )
    if over_ssh:
        yield Check(
            "terminal",
            Status.OK,
            "over SSH: links are OSC 8 hyperlinks and `y` copies with OSC 52 — your terminal must allow "
            "clipboard writes (tmux: `set -g set-clipboard on`)",
        )


def _doctor(args: argparse.Namespace) -> int:
    from backends.doctor import Check, Status, check_workspace
    from backends.workspace import WorkspaceError

    size = shutil.get_terminal_size((0, 0))
    checks: list[Check] = list(
        terminal_checks(os.environ, is_tty=sys.stdout.isatty(), size=(size.columns, size.lines))
    )
    try:
        workspace = workspace_from_args(args)
    except Exception as error:  # CommandError around a WorkspaceError: report it, keep going
        cause = error.__cause__ if isinstance(error.__cause__, WorkspaceError) else error
        checks.append(
            Check("config", Status.FAIL, str(cause), "`idp-console init DIR` writes a commented example")
        )
    else:
        where = "built-in demo workspace" if workspace.is_demo else str(workspace.config_file)
        checks.append(Check("config", Status.OK, where))
        checks.extend(check_workspace(workspace))
    _print(checks, args.output)
    return 1 if any(check.status is Status.FAIL for check in checks) else 0


def _print(checks: list[Any], output: str) -> None:
    if output == "json":
        for check in checks:
            print(
                json.dumps(
                    {
                        "area": check.area,
                        "status": str(check.status),
                        "detail": check.detail,
                        "fix": check.fix,
                    }
                )
            )
        return
    for check in checks:
        print(f"{MARKS[str(check.status)]} {check.area}: {check.detail}")
        if check.fix:
            print(f"    → {check.fix}")
