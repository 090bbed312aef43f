"""``idp-console catalog validate|list|unregister|promote`` — the catalog backend for scripts and CI.

``validate`` prints one verdict per YAML document (the shape of Backstage's oracle, plus line and
errors); ``list`` loads a workspace like the TUI does and prints the entities the filter matches.
Exit codes: 0 all valid, 1 something invalid, 2 usage or I/O error (e.g. a path that does not exist).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from console.commands import CommandError, mutating, workspace_from_args

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    catalog = subparsers.add_parser("catalog", help="validate and list catalog entities")
    catalog.set_defaults(handler=lambda args: catalog.print_help() or EXIT_USAGE)
    commands = catalog.add_subparsers(dest="catalog_command", metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check YAML files against Backstage's rules, one verdict per document",
        description="Check catalog files against Backstage's rules. PATH may be a file, a directory "
        "(its *.yaml/*.yml files; sub-folders through --follow or a quoted glob such as "
        "'catalog/**/*.yaml') or a glob. Exit 0 when every document is valid, 1 otherwise, "
        "2 when a path does not exist.",
    )
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.add_argument("--follow", action="store_true", help="also read the targets of Location entities")
    validate.add_argument("--output", "-o", choices=("json", "table"), default="table")
    validate.set_defaults(handler=_validate)

    listing = commands.add_parser(
        "list",
        help="the workspace's entities, filtered like the TUI's / filter",
        description="Load the workspace catalog and print the entities matching --filter "
        "(facets kind: owner: lifecycle: tag: system: type: namespace: plus free text). "
        "Problems found while loading go to stderr as file:line.",
    )
    listing.add_argument("--workspace", metavar="DIR", default=argparse.SUPPRESS, help="workspace directory")
    listing.add_argument(
        "--filter", "-f", default="", metavar="QUERY", help='e.g. "kind:component owner:team-a"'
    )
    listing.add_argument(
        "--sort", default=None, metavar="COLUMN", help="kind, name, namespace, title, owner, …"
    )
    listing.add_argument("--desc", action="store_true", help="sort descending")
    listing.add_argument("--output", "-o", choices=("json", "yaml", "table"), default="table")
    listing.set_defaults(handler=_list)

    unregister = commands.add_parser(
        "unregister",
        help="remove an entity registered through the scaffolder from the workspace catalog",
        description="Forget the catalog file REF was registered from (by the scaffolder's "
        "catalog:register), so later sessions no longer show it. The file itself is left alone. "
        "Entities from the workspace's configured sources cannot be unregistered: remove them there.",
    )
    unregister.add_argument("ref", metavar="REF", help="e.g. orders-api or component:default/orders-api")
    unregister.add_argument(
        "--workspace", metavar="DIR", default=argparse.SUPPRESS, help="workspace directory"
    )
    unregister.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    unregister.set_defaults(handler=_unregister)
    mutating(unregister)

    promote = commands.add_parser(
        "promote",
        help="change a service's lifecycle in its own repository (a commit or a change request)",
        description="Set spec.lifecycle of NAME's catalog-info.yaml in its git repository, as you: "
        "a commit pushed to its branch, or a change request (a branch for review) when the "
        "environment the new lifecycle opens says lifecycle_change: change-request. The catalog "
        "shows the new lifecycle at its next load.",
    )
    promote.add_argument("name", metavar="NAME", help="e.g. orders-api or component:default/orders-api")
    promote.add_argument("--lifecycle", required=True, metavar="LIFECYCLE", help="e.g. production")
    promote.add_argument(
        "--change-request",
        dest="mode",
        action="store_const",
        const="change-request",
        default=None,
        help="propose the change on a branch instead of committing it (default: per environment)",
    )
    promote.add_argument("--workspace", metavar="DIR", default=argparse.SUPPRESS, help="workspace directory")
    promote.add_argument("--output", "-o", choices=("text", "json"), default="text")
    promote.set_defaults(handler=_promote)
    mutating(promote)


# -- validate ---------------------------------------------------------------------------------------
def _expand(paths: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The files to validate, and a verdict for each directory that could not be listed."""
    from backends.catalog.reader import DocumentResult
    from backends.catalog.sources import directory_yaml_files
    from backends.globs import glob_files, has_magic

    files: list[str] = []
    unlisted: list[dict[str, Any]] = []
    for path in paths:
        if os.path.isdir(path):
            # Like a workspace `dir` source: the folder's own YAML files; sub-folders are reached
            # through Location entities (--follow) or a glob such as 'catalog/**/*.yaml'.
            try:
                files.extend(directory_yaml_files(path))
            except OSError as error:  # e.g. no permission: say so, and still validate the rest
                reason = error.strerror or str(error)
                label = os.path.normpath(path)
                problem = DocumentResult(
                    label, path, 1, None, None, False, [f"cannot list directory: {reason}"]
                )
                unlisted.append(problem.as_dict())
        elif has_magic(path) and not os.path.exists(path):
            found = glob_files(path, dot=False)
            if not found:
                raise CommandError(f"{path}: no file matches", EXIT_USAGE)
            files.extend(found)
        elif os.path.lexists(path):
            files.append(path)
        else:
            raise CommandError(f"{path}: no such file or directory", EXIT_USAGE)
    return files, unlisted


def _validate(args: argparse.Namespace) -> int:
    from backends.catalog.catalog import gc_paused
    from backends.catalog.reader import ReadOptions, flag_duplicates, read_documents

    files, results = _expand(args.paths)
    options = ReadOptions(follow=args.follow, root=None, plain_base=os.getcwd())
    with gc_paused(freeze=True):  # a short-lived process: never rescan its objects
        verdicts = list(read_documents(files, options))
        flag_duplicates(verdicts)  # as `catalog list` does, and Backstage's catalog (a warning)
        results += [result.as_dict() for result in verdicts]
    if args.output == "json":
        _print_json_list(results)
    else:
        _print_validate_table(results)
    return EXIT_INVALID if any(r["valid"] is False for r in results) else EXIT_OK


def _print_validate_table(results: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("where", "ref", "verdict", "details"):
        table.add_column(column, overflow="fold")
    for result in results:
        verdict = {True: "[green]valid[/]", False: "[red]invalid[/]", None: "[dim]empty[/]"}[result["valid"]]
        details = "\n".join([*result["errors"], *(f"warning: {w}" for w in result.get("warnings", []))])
        where = f"{result['file']}:{result['line']}"
        table.add_row(where, result["ref"] or "", verdict, details, end_section=False)
    console = _console()
    console.print(table)
    invalid = sum(1 for r in results if r["valid"] is False)
    valid = sum(1 for r in results if r["valid"] is True)
    console.print(f"{valid} valid, {invalid} invalid, {len(results) - valid - invalid} empty")


# -- list -------------------------------------------------------------------------------------------
def _list(args: argparse.Namespace) -> int:
    from backends.catalog import load_catalog, sort_entities

    workspace = workspace_from_args(args)
    catalog = load_catalog(workspace, freeze_gc=True)  # a short-lived process: never rescan its objects
    for problem in catalog.problems:
        print(problem, file=sys.stderr)
    entities = catalog.filter(args.filter)
    if args.sort:
        try:
            entities = sort_entities(entities, args.sort, args.desc)
        except ValueError as error:
            raise CommandError(str(error), EXIT_USAGE) from error
    if args.output == "json":
        _print_json_list([e.as_dict() for e in entities])
    elif args.output == "yaml":
        import yaml_rs

        documents = [yaml_rs.dumps(_jsonable(e.as_dict())) for e in entities]
        sys.stdout.write("---\n".join(documents))
    else:
        _print_entity_table(entities)
    return EXIT_OK


def _unregister(args: argparse.Namespace) -> int:
    from backends.catalog import load_catalog
    from backends.catalog.registrations import NotRegisteredError, RegistrationStore, registration_of

    workspace = workspace_from_args(args)
    catalog = load_catalog(workspace, freeze_gc=True)
    entity = catalog.get(args.ref)
    if entity is None:
        raise CommandError(f"{args.ref}: not in the catalog of {workspace.name}", EXIT_USAGE)
    ref = entity.ref.canonical
    store = catalog.registrations or RegistrationStore.for_workspace(workspace.root)
    try:
        registered = registration_of(store, ref, str(entity.position.file))
    except NotRegisteredError as error:
        raise CommandError(str(error), EXIT_INVALID) from error
    others = [
        e.ref.canonical
        for e in catalog.entities
        if e is not entity and os.path.abspath(str(e.position.file)) == os.path.abspath(registered.path)
    ]
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(f"unregister {ref}: pass --yes to confirm without a terminal", EXIT_USAGE)
        also = f" and {', '.join(others)}" if others else ""
        answer = input(f"Unregister {ref}{also} (from {registered.path})? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing unregistered.", file=sys.stderr)
            return EXIT_INVALID
    store.forget(registered.path)
    for gone in (ref, *others):
        print(f"unregistered {gone}")
    print(f"(the file {registered.path} is left as it is)", file=sys.stderr)
    return EXIT_OK


def _promote(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from backends.catalog import load_catalog
    from backends.catalog.lifecycle import LifecycleError, promote_lifecycle

    workspace = workspace_from_args(args)
    catalog = load_catalog(workspace, freeze_gc=True)
    try:
        result = promote_lifecycle(
            workspace, args.name, args.lifecycle, workspace.identity, catalog=catalog, mode=args.mode
        )
    except LifecycleError as error:
        raise CommandError(str(error), EXIT_INVALID) from error
    if args.output == "json":
        print(json.dumps(asdict(result)))
    else:
        print(result.message)
    return EXIT_OK


def _print_entity_table(entities: list[Any]) -> None:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("kind", "namespace/name", "title", "owner", "lifecycle", "type", "system"):
        table.add_column(column, overflow="fold")
    for e in entities:
        table.add_row(e.kind, f"{e.namespace}/{e.name}", e.title, e.owner, e.lifecycle, e.type, e.system)
    console = _console()
    console.print(table)
    console.print(f"{len(entities)} entities")


# -- output helpers ---------------------------------------------------------------------------------
def _console() -> Any:
    from rich.console import Console

    # Piped output is read by scripts and people with wide screens: do not wrap it at 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _print_json_list(items: list[dict[str, Any]]) -> None:
    """A JSON array with one item per line: valid JSON that is still easy to grep."""
    out = sys.stdout
    out.write("[\n")
    for i, item in enumerate(items):
        out.write(_dumps(item))
        out.write(",\n" if i < len(items) - 1 else "\n")
    out.write("]\n")


def _dumps(item: Any) -> str:
    try:
        return json.dumps(item, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(_jsonable(item), ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    """YAML can hold what JSON cannot (non-string keys, infinities): make it representable."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else json.dumps(_jsonable(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return value
