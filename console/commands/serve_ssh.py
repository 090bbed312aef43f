"""``idp-console serve-ssh``: the built-in SSH door; each connection gets its own TUI process.

See :mod:`backends.sshserver` for what a session is and :mod:`backends.sshkeys` for whose key is
whose. SIGTERM or ctrl+c stops the server and ends every running app (each with its audit line).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from console.commands import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve-ssh", help="serve the TUI over SSH (public-key auth; one app process per connection)"
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:2222", metavar="HOST:PORT", help="default 127.0.0.1:2222"
    )
    parser.add_argument(
        "--host-key", required=True, type=Path, metavar="FILE", help="the server's private key"
    )
    parser.add_argument(
        "--authorized-keys",
        type=Path,
        metavar="FILE",
        help="OpenSSH authorized_keys; each key names its user: "
        'environment="IDP_USER=name" or the comment name@host',
    )
    parser.add_argument(
        "--catalog-keys",
        action="store_true",
        help="also accept the keys in the idp-console.io/ssh-public-keys annotation of catalog Users",
    )
    parser.add_argument(
        "--max-sessions", type=_positive, default=64, metavar="N", help="in total (default 64)"
    )
    parser.add_argument("--max-per-user", type=_positive, default=4, metavar="N", help="per user (default 4)")
    parser.add_argument(
        "--preload",
        action="store_true",
        help="fork every session from one preloaded process, so sessions share their modules' memory",
    )
    parser.set_defaults(handler=_serve_ssh)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise CommandError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:2222")
    return host, int(port)


def _serve_ssh(args: argparse.Namespace) -> int:
    from backends.sshkeys import KeyTable
    from backends.sshserver import ServeError, ServeOptions, serve

    host, port = parse_listen(args.listen)
    keys = KeyTable(args.authorized_keys, fixed=_catalog_keys(args) if args.catalog_keys else [])
    if args.authorized_keys is not None and not args.authorized_keys.is_file():
        raise CommandError(f"{args.authorized_keys}: no such file (--authorized-keys)")
    keys.load()
    for problem in keys.problems:
        print(f"idp-console serve-ssh: {problem}", file=sys.stderr)
    if not len(keys):
        raise CommandError("no usable public keys: give --authorized-keys FILE and/or --catalog-keys")
    workspace = str(Path(args.workspace).resolve()) if args.workspace else None
    options = ServeOptions(
        host, port, args.host_key, keys, workspace, args.max_sessions, args.max_per_user, preload=args.preload
    )

    def listening(bound_host: str, bound_port: int) -> None:
        print(
            f"idp-console serve-ssh: listening on {bound_host}:{bound_port} ({len(keys)} keys)",
            file=sys.stderr,
            flush=True,
        )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, stop.set)
        await serve(options, on_listening=listening, stop=stop)

    try:
        asyncio.run(main())
    except ServeError as error:
        raise CommandError(str(error)) from error
    return 0


def _catalog_keys(args: argparse.Namespace) -> list:  # list[KeyLine]
    from backends.catalog.catalog import load_catalog
    from backends.sshkeys import ANNOTATION, catalog_keys
    from console.commands import workspace_from_args

    catalog = load_catalog(workspace_from_args(args))
    users = [
        (entity.name, f"user:{entity.namespace}/{entity.name}", str(entity.annotations[ANNOTATION]))
        for entity in catalog.entities
        if entity.kind.lower() == "user" and entity.annotations.get(ANNOTATION)
    ]
    keys, problems = catalog_keys(users)
    for problem in problems:
        print(f"idp-console serve-ssh: {problem}", file=sys.stderr)
    return keys
