"""``idp-console history``: where the deploy history is, and copying it into PostgreSQL.

``history migrate --to postgresql://USER@HOST:PORT/DB`` copies this workspace's SQLite history
(or ``--from PATH``) into the database: every table, ids and timestamps kept, one progress line
per batch on stderr and the counts at the end. Run it again: nothing is copied twice. The password
comes from the secret ``history`` (keyring or IDP_CONSOLE_SECRET_HISTORY), never the command line.
"""

from __future__ import annotations

import argparse
import sys

from console.commands import CommandError, mutating, workspace_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("history", help="the deploy history store: where it is, migrate it")
    commands = parser.add_subparsers(dest="history_command", metavar="COMMAND", required=True)
    info = commands.add_parser("info", help="the store this workspace uses, its schema version and size")
    info.set_defaults(handler=_info)
    migrate = commands.add_parser(
        "migrate", help="copy a SQLite history into PostgreSQL (idempotent: re-run copies nothing twice)"
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="postgresql://USER@HOST[:PORT]/DATABASE")
    migrate.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="the SQLite history to copy (default: this workspace's own, else the state dir's)",
    )
    migrate.set_defaults(handler=_migrate)
    mutating(migrate)


def _info(args: argparse.Namespace) -> int:
    from backends.deploy.history import open_history
    from backends.history.errors import HistoryError

    workspace = workspace_from_args(args)
    try:
        history = open_history(workspace)
        history.ping()
        counts = {
            table: int(history.query(f"SELECT COUNT(*) FROM {table}")[0][0])
            for table in ("deploys", "events", "outcomes", "feedback", "scaffolds", "controls")
        }
        version = history.store.schema_version()
    except HistoryError as error:
        raise CommandError(str(error)) from None
    print(f"{history.dialect} {history.where} (schema version {version})")
    print(", ".join(f"{table} {count}" for table, count in counts.items()))
    history.close()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from backends.deploy.history import open_store
    from backends.history.errors import HistoryError
    from backends.history.migrate import copy_history
    from backends.history.store import SqliteStore, Store
    from backends.history.url import parse_history_url

    workspace = workspace_from_args(args)
    opened: list[Store] = []  # closed whatever happens: a PostgreSQL store holds pooled connections
    try:
        if args.source:
            path = Path(args.source).expanduser()
            if not path.is_file():
                raise CommandError(f"{path}: no such history file")
            source: Store = SqliteStore(path)
            opened.append(source)
        else:
            configured = workspace.raw.get("history")
            if configured and not isinstance(parse_history_url(str(configured), workspace.root), Path):
                raise CommandError(
                    "this workspace's history is already PostgreSQL; "
                    "name the SQLite file to copy with --from PATH"
                )
            source = open_store(str(configured) if configured else None, workspace.root)
            opened.append(source)
        target = open_store(args.to, workspace.root)
        opened.append(target)
        if target.where == source.where:
            raise CommandError(f"--to names the history being copied ({source.where})")

        def progress(table: str, done: int, total: int) -> None:
            print(f"history migrate: {table} {done}/{total}", file=sys.stderr, flush=True)

        print(f"history migrate: {source.where} → {target.where}", file=sys.stderr, flush=True)
        report = copy_history(source, target, progress)
    except HistoryError as error:
        raise CommandError(str(error)) from None
    finally:
        for store in opened:
            store.close()
    details = ", ".join(f"{table} {count}" for table, count in report.copied.items())
    print(f"copied {report.total_copied} rows ({details}); {report.total_already} were already there")
    return 0
