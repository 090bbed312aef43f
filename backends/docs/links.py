"""Where a link in a docs page leads.

Relative links are resolved against the linking page, the way mkdocs resolves ``.md`` links, and
may never leave the docs directory (that would let a page read arbitrary files). Links to another
entity's docs use Backstage's TechDocs URL form ``/docs/<namespace>/<kind>/<name>/[page/][#anchor]``
so the same Markdown works in Backstage and here.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import unquote

from backends.docs.mkdocs import normalise_path
from backends.docs.model import DocSite, LinkKind, LinkTarget

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_TECHDOCS_PATH = re.compile(r"^/docs/(?P<ns>[^/]+)/(?P<kind>[^/]+)/(?P<name>[^/#?]+)/?(?P<rest>[^#?]*)")


def resolve_link(site: DocSite, from_page: str, href: str) -> LinkTarget:
    """Resolve ``href`` found on ``from_page`` of ``site``; broken links give ``LinkKind.ERROR``."""
    href = href.strip()
    if not href:
        return LinkTarget(LinkKind.ERROR, message="empty link")
    if href.startswith("#"):
        return LinkTarget(LinkKind.PAGE, page=from_page, anchor=unquote(href[1:]) or None)
    if _SCHEME.match(href):
        return LinkTarget(LinkKind.EXTERNAL, url=href)
    if href.startswith("//"):
        return LinkTarget(LinkKind.EXTERNAL, url="https:" + href)
    target, _, anchor_part = href.partition("#")
    target = target.partition("?")[0]
    anchor = unquote(anchor_part) or None
    if target.startswith("/"):
        return _absolute(site, href, anchor)
    relative = _join(from_page, unquote(target))
    if relative is None:
        return LinkTarget(LinkKind.ERROR, message=f"link '{href}' leaves the docs directory")
    page = site.find_page(relative)
    if page is not None:
        return LinkTarget(LinkKind.PAGE, page=page, anchor=anchor)
    if site.root is not None and relative and (site.root / relative).is_file():
        return LinkTarget(LinkKind.FILE, page=relative, url=str(site.root / relative))
    return LinkTarget(LinkKind.ERROR, message=f"link '{href}': page '{relative}' does not exist")


def entity_docs_href(entity_ref: str, page: str = "", anchor: str = "") -> str:
    """The TechDocs URL of a page (what ``y`` copies and what cross-entity links look like)."""
    kind, _, rest = entity_ref.partition(":")
    namespace, _, name = rest.partition("/")
    if not name:
        namespace, name = "default", namespace
    page_part = ""
    if page:
        stem = page[: -len(".md")] if page.endswith(".md") else page
        if stem == "index" or stem.endswith("/index"):
            stem = stem[: -len("index")]
        page_part = stem.rstrip("/") + "/" if stem else ""
    url = f"/docs/{namespace}/{kind}/{name}/{page_part}"
    return url + (f"#{anchor}" if anchor else "")


def _absolute(site: DocSite, href: str, anchor: str | None) -> LinkTarget:
    match = _TECHDOCS_PATH.match(href)
    if not match:
        return LinkTarget(
            LinkKind.ERROR,
            message=f"link '{href}' is site-absolute; use a relative link or /docs/<ns>/<kind>/<name>/",
        )
    ref = f"{match['kind']}:{match['ns']}/{match['name']}".lower()
    rest = unquote(match["rest"]).strip("/")
    if ref == site.entity_ref.lower():
        page = site.find_page(rest)
        if page is None:
            return LinkTarget(LinkKind.ERROR, message=f"link '{href}': page '{rest}' does not exist")
        return LinkTarget(LinkKind.PAGE, page=page, anchor=anchor)
    return LinkTarget(LinkKind.ENTITY_DOCS, entity_ref=ref, page=rest or None, anchor=anchor)


def _join(from_page: str, target: str) -> str | None:
    """``target`` relative to the directory of ``from_page``, normalised; None if it escapes."""
    base = str(PurePosixPath(from_page).parent) if from_page else ""
    return normalise_path(f"{base}/{target}")
