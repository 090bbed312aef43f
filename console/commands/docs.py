"""``idp-console docs ENTITY [PAGE]`` and ``idp-console search QUERY`` — TechDocs and search from a shell.

``docs`` prints one page of an entity's docs rendered with rich (through the pager when stdout is
a terminal), or ``--list`` the pages in nav order. ``search`` queries one index over the catalog,
docs pages and templates and prints hits grouped by type, or ``--output json`` for scripts.
Problems with the docs (fallbacks, broken nav entries) go to stderr; stdout stays the content.
Exit codes: 0 success, 1 no such entity/page or no docs or no hits, 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from console.commands import CommandError, workspace_from_args

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    docs = subparsers.add_parser(
        "docs",
        help="print an entity's TechDocs page (or list its pages)",
        description="Print a page of ENTITY's docs (backstage.io/techdocs-ref, else docs/ or README "
        "next to its catalog file). PAGE is a path (runbook.md, guides/setup), a page title, and may "
        "end in #anchor to start at a heading; default: the home page.",
    )
    docs.add_argument("entity", metavar="ENTITY", help="entity ref or name, e.g. payment-service")
    docs.add_argument("page", metavar="PAGE", nargs="?", default=None)
    docs.add_argument("--list", "-l", action="store_true", help="list the pages instead of printing one")
    docs.add_argument("--no-pager", action="store_true", help="never page, even on a terminal")
    docs.add_argument("--raw", action="store_true", help="print the prepared Markdown, not rendered")
    docs.add_argument("--workspace", metavar="DIR", default=argparse.SUPPRESS, help="workspace directory")
    docs.set_defaults(handler=_docs)

    search = subparsers.add_parser(
        "search",
        help="search entities, docs pages and templates",
        description="Search one index over catalog entities (name, title, description, tags, owner, "
        "kind), docs pages (title, headings, text) and templates. Words match as prefixes.",
    )
    search.add_argument("query", metavar="QUERY", nargs="+")
    search.add_argument(
        "--kind",
        "-k",
        metavar="KIND",
        default=None,
        help="entity, docs, template, or an entity kind (component, api, resource, …)",
    )
    search.add_argument(
        "--limit", "-n", type=int, default=10, metavar="N", help="hits per group (default 10)"
    )
    search.add_argument("--output", "-o", choices=("text", "json"), default="text")
    search.add_argument("--no-docs", action="store_true", help="do not index docs pages (faster)")
    search.add_argument("--workspace", metavar="DIR", default=argparse.SUPPRESS, help="workspace directory")
    search.set_defaults(handler=_search)


# -- docs -------------------------------------------------------------------------------------------
def _docs(args: argparse.Namespace) -> int:
    from backends.docs import load_page, load_site, unlisted_pages

    workspace = workspace_from_args(args)
    catalog = _load_catalog(workspace)
    entity = catalog.get(args.entity)
    if entity is None:
        raise CommandError(f"no entity {args.entity!r} in the catalog", EXIT_NOT_FOUND)
    site = load_site(entity, root=workspace.root)
    for notice in site.notices:
        print(f"idp-console: docs: {notice}", file=sys.stderr)
    if site.error:
        raise CommandError(f"{entity.ref.short} has no readable docs", EXIT_NOT_FOUND)
    if args.list:
        _print_listing(site, unlisted_pages(site))
        return EXIT_OK
    wanted, _, anchor = (args.page or "").partition("#")
    path = _find_page(site, wanted) if wanted else site.home
    if path is None:
        raise CommandError(f"no page {wanted!r} in {entity.ref.short}'s docs (try --list)", EXIT_NOT_FOUND)
    page = load_page(site, path)
    for notice in page.notices:
        print(f"idp-console: docs: {notice}", file=sys.stderr)
    if page.error:
        raise CommandError(page.error, EXIT_NOT_FOUND)
    markdown = page.markdown
    if anchor:
        line = page.anchor_line(anchor)
        if line is None:
            raise CommandError(f"no heading #{anchor} on {path}", EXIT_NOT_FOUND)
        markdown = "\n".join(markdown.split("\n")[line - 1 :])
    if args.raw:
        sys.stdout.write(markdown if markdown.endswith("\n") else markdown + "\n")
        return EXIT_OK
    _print_markdown(markdown, title=f"{site.title} › {page.title}", page_path=path, pager=not args.no_pager)
    return EXIT_OK


def _find_page(site: Any, wanted: str) -> str | None:
    """A page by path-ish name first, then by title (case-insensitive)."""
    path = site.find_page(wanted)
    if path is not None:
        return path
    lowered = wanted.strip().lower()
    for info in site.pages:
        if info.title.lower() == lowered:
            return info.path
    return None


def _print_listing(site: Any, unlisted: list[Any]) -> None:
    print(f"{site.title}  ({site.source or site.root})")

    def show(items: list[Any], depth: int) -> None:
        for item in items:
            indent = "  " * depth
            if item.error:
                print(f"{indent}! {item.title}  ({item.error})")
            elif item.url:
                print(f"{indent}↗ {item.title}  {item.url}")
            elif item.page:
                print(f"{indent}- {item.title}  {item.page}")
            else:
                print(f"{indent}+ {item.title}")
                show(item.children, depth + 1)

    show(site.nav, 1)
    if unlisted:
        print("  + Other pages (not in the nav)")
        for info in unlisted:
            print(f"    - {info.title}  {info.path}")


def _print_markdown(markdown: str, *, title: str, page_path: str, pager: bool) -> None:
    from rich.console import Console
    from rich.rule import Rule

    # The same rendering as the docs screen: headings flush left, admonitions as coloured callouts.
    from widgets.doc_view import DocMarkdown

    console = Console()
    renderables = [Rule(title, style="dim"), DocMarkdown(markdown, hyperlinks=True, code_theme="monokai")]
    if pager and console.is_terminal:
        os.environ.setdefault("LESS", "-R")  # let less show rich's colours
        with console.pager(styles=True):
            for renderable in renderables:
                console.print(renderable)
        return
    for renderable in renderables:
        console.print(renderable)


# -- search -----------------------------------------------------------------------------------------
def _search(args: argparse.Namespace) -> int:
    from backends.search import SearchService

    if args.limit < 1:
        raise CommandError("--limit must be at least 1", EXIT_USAGE)
    workspace = workspace_from_args(args)
    catalog = _load_catalog(workspace)
    service = SearchService(root=workspace.root, include_docs=not args.no_docs)
    service.index_entities(catalog.entities)
    _index_scaffolder_templates(service, workspace, catalog)
    results = service.search(" ".join(args.query), kind=args.kind, limit=args.limit)
    if args.output == "json":
        json.dump(results.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_results(results)
    return EXIT_OK if results.hits else EXIT_NOT_FOUND


def _index_scaffolder_templates(service: Any, workspace: Any, catalog: Any) -> None:
    """Templates from golden paths and template sources, next to the catalog's Template entities."""
    try:
        problems = service.index_workspace_templates(workspace, catalog)
    except Exception as error:  # noqa: BLE001 - search still works without the extra templates
        print(f"idp-console: search: templates not indexed: {error}", file=sys.stderr)
        return
    for problem in problems:
        print(f"idp-console: search: template skipped: {problem}", file=sys.stderr)


_GROUP_TITLES = {"entity": "Entities", "docs": "Docs pages", "template": "Templates"}


def _print_results(results: Any) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    if not results.hits:
        console.print(f"No results for “{results.query}”.")
        return
    if results.partial:
        console.print(Text(f"Nothing has all of “{results.query}”; partial matches:", style="italic"))
    for result_type, hits in results.groups.items():
        total = results.totals.get(result_type, len(hits))
        shown = f"{len(hits)} of {total}" if total > len(hits) else f"{total}"
        console.print(
            Text(f"{_GROUP_TITLES.get(result_type.value, result_type.value)} ({shown})", style="bold")
        )
        for hit in hits:
            line = Text("  ")
            line.append(hit.document.title, style="bold cyan")
            if hit.document.subtitle:
                line.append(f"  {hit.document.subtitle}", style="dim")
            console.print(line)
            console.print(Text(f"    → {_describe_target(hit)}", style="green"))
            snippet = Text(hit.snippet.text)
            for start, end in hit.snippet.highlights:
                snippet.stylize("bold yellow", start, end)
            console.print(Text("    ") + snippet)
        console.print()


def _describe_target(hit: Any) -> str:
    target = hit.target
    if target.type.value == "docs":
        anchor = f"#{target.anchor}" if target.anchor else ""
        heading = f"  ({hit.heading})" if hit.heading else ""
        return f"idp-console docs {_short(target.ref)} {target.page}{anchor}{heading}"
    return _short(target.ref)


def _short(ref: str) -> str:
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    return f"{kind}:{name}" if namespace == "default" else ref


def _load_catalog(workspace: Any) -> Any:
    from backends.catalog import load_catalog

    return load_catalog(workspace)
