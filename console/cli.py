"""The ``idp-console`` command: the TUI with no sub-command, scriptable sub-commands otherwise.

Each area registers its sub-commands from its own module in ``console/commands/``; a handler
imports its backend lazily so ``idp-console --help`` and the TUI start fast.
Exit codes: 0 success, 1 a negative result (invalid entity, failed deploy), 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from backends import paths
from backends.history.errors import HistoryError
from backends.paths import PathsError
from console.commands import COMMAND_MODULES, CommandError

if TYPE_CHECKING:
    from backends.workspace import Workspace

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idp-console",
        description="An internal developer platform in the terminal. Without a command, opens the TUI.",
    )
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help="directory with idp-console.yaml (default: $IDP_CONSOLE_WORKSPACE, the XDG config dir, "
        "else the built-in demo workspace)",
    )
    parser.add_argument(
        "--readonly",
        action="store_true",
        help="change nothing: deploy, rollback, scale, scaffold (but --dry-run), catalog unregister "
        "and agent are refused; the TUI hides their keys",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    try:
        if handler is None:
            return _run_tui(args)
        _refuse_if_readonly(args)
        return int(handler(args) or 0)
    except CommandError as error:
        print(f"idp-console: {error}", file=sys.stderr)
        return error.exit_code
    except PathsError as error:  # e.g. IDP_CONSOLE_HOME is a file: one line, not a traceback
        print(f"idp-console: {error}", file=sys.stderr)
        return EXIT_USAGE
    except HistoryError as error:  # the history store is down, refuses the password, is too new
        print(f"idp-console: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("idp-console: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _refuse_if_readonly(args: argparse.Namespace) -> None:
    """The CLI's one read-only gate: a sub-command marked ``mutating`` (console/commands) is refused
    before it loads or changes anything, under ``--readonly`` or when identity.readonly lists you."""
    mutates = getattr(args, "mutates", None)
    if mutates is None or not mutates(args):
        return
    command = " ".join(str(part) for part in (args.command, getattr(args, "catalog_command", None)) if part)
    if args.readonly:
        raise CommandError(f"read-only (--readonly): `{command}` would change something; nothing was done")
    from console.commands import workspace_from_args

    workspace = workspace_from_args(args)
    if workspace.readonly:
        raise CommandError(
            f"read-only (identity.readonly in {workspace.config_file}): `{command}` would change "
            "something; nothing was done"
        )


def _run_tui(args: argparse.Namespace) -> int:
    from console.terminal import TerminalGuard, terminal_problem

    problem = terminal_problem()
    if problem:
        raise CommandError(problem, EXIT_USAGE)
    from backends.workspace import WorkspaceError, load_workspace

    try:
        workspace = load_workspace(args.workspace)
    except WorkspaceError as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    _check_theme(workspace)
    paths.state_dir()  # a bad IDP_CONSOLE_HOME is one line here, not a crash inside the TUI
    from console.app import IdpConsoleApp

    app = IdpConsoleApp(workspace, readonly=args.readonly)
    # SIGTERM, SIGHUP or a hung-up pty: the app exits (terminal restored) instead of spinning or dying
    # with the screen in the alternate buffer.
    guard = TerminalGuard(lambda: app.call_from_thread(app.exit))
    with guard.installed():
        app.run()
    return guard.exit_code or EXIT_OK


def _check_theme(workspace: Workspace) -> None:
    """``theme:`` must name a Textual theme; only here is Textual imported, so only here is it known."""
    from textual.theme import BUILTIN_THEMES

    from backends.config_checks import ConfigError

    if workspace.theme and workspace.theme not in BUILTIN_THEMES:
        known = ", ".join(sorted(BUILTIN_THEMES))
        error = ConfigError(("theme",), f"unknown theme {workspace.theme!r} (known: {known})")
        raise CommandError(workspace.config_error(error), EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())
