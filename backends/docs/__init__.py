"""TechDocs in the terminal: find an entity's docs, read mkdocs nav and pages, resolve links.

Typical use::

    site = load_site(entity)            # never raises; problems are in site.notices / site.error
    page = load_page(site, site.home)   # prepared Markdown, headings with anchors, images
    target = resolve_link(site, page.path, "runbook.md#rollback")
"""

from backends.docs.links import entity_docs_href, resolve_link
from backends.docs.location import TECHDOCS_REF, DocsLocation, locate_docs
from backends.docs.model import DocPage, DocSite, Heading, Image, LinkKind, LinkTarget, NavItem, PageInfo
from backends.docs.site import (
    MAX_PAGE_BYTES,
    load_page,
    load_site,
    load_site_from_dir,
    read_page,
    unlisted_pages,
)

__all__ = [
    "MAX_PAGE_BYTES",
    "TECHDOCS_REF",
    "DocPage",
    "DocSite",
    "DocsLocation",
    "Heading",
    "Image",
    "LinkKind",
    "LinkTarget",
    "NavItem",
    "PageInfo",
    "entity_docs_href",
    "load_page",
    "load_site",
    "load_site_from_dir",
    "locate_docs",
    "read_page",
    "resolve_link",
    "unlisted_pages",
]
