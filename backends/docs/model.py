"""Typed model of an entity's documentation: a site (nav + pages), pages, and link targets.

Everything here is plain data so the same objects serve the docs screen, the CLI and the search
index. Problems are carried as human-readable ``notices`` / ``error`` strings instead of
exceptions: a broken nav entry or an unreadable page must never hide the rest of the docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Heading:
    """A Markdown heading with the anchor mkdocs would give it (``## Data flow`` → ``data-flow``)."""

    level: int
    text: str
    anchor: str
    line: int  # 1-based line in the displayed markdown


@dataclass(frozen=True, slots=True)
class Image:
    """An image reference; the terminal shows its alt text and path instead of pixels."""

    alt: str
    src: str


@dataclass(slots=True)
class NavItem:
    """One entry of the nav tree: a page, an external link or a section with children.

    ``error`` is set for entries that could not be honoured (unknown page, malformed YAML entry);
    they stay in the tree so the user sees what the author intended.
    """

    title: str
    page: str | None = None  # docs-dir-relative POSIX path of a Markdown page
    url: str | None = None  # external link (``https://…``) in the nav
    children: list[NavItem] = field(default_factory=list)
    error: str | None = None

    @property
    def is_section(self) -> bool:
        """A heading with children rather than a page or link."""
        return self.page is None and self.url is None and self.error is None

    def walk(self) -> list[NavItem]:
        """This item and every descendant, depth first."""
        items = [self]
        for child in self.children:
            items.extend(child.walk())
        return items


@dataclass(frozen=True, slots=True)
class PageInfo:
    """A page of a site as listed without reading it in full."""

    path: str  # docs-dir-relative POSIX path, e.g. ``guides/setup.md``
    title: str
    in_nav: bool


@dataclass(slots=True)
class DocPage:
    """One page, ready to display.

    ``markdown`` is the display form: admonitions turned into blockquote callouts and images into
    ``[image: alt]`` text (see ``backends.docs.markdown``). ``error`` is set when the page could
    not be shown at all (missing, binary); ``notices`` explain partial problems (truncated, bad
    encoding) while the content is still shown.
    """

    path: str
    title: str
    markdown: str
    headings: list[Heading] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    size: int = 0  # bytes on disk

    def anchor_line(self, anchor: str) -> int | None:
        """The line of the heading with this anchor, or None when the page has no such heading."""
        for heading in self.headings:
            if heading.anchor == anchor:
                return heading.line
        return None


@dataclass(slots=True)
class DocSite:
    """The documentation of one entity: title, where it lives, its nav and every page.

    ``root`` is the docs directory (mkdocs ``docs_dir``) on disk, or None when none was found;
    ``error`` then says why and ``pages`` is empty. ``source`` describes where the docs came from
    in words (``dir:./docs`` next to ``catalog/payments.yaml``, a git checkout, a fallback).
    """

    entity_ref: str
    title: str
    root: Path | None
    nav: list[NavItem] = field(default_factory=list)
    pages: list[PageInfo] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    source: str = ""
    max_page_bytes: int = 0  # 0: the loader's default cap

    @property
    def home(self) -> str | None:
        """The page to open first: ``index.md``/``README.md`` at the top, else the first page."""
        paths = {p.path for p in self.pages}
        for candidate in ("index.md", "README.md", "readme.md"):
            if candidate in paths:
                return candidate
        return self.pages[0].path if self.pages else None

    def page_info(self, path: str) -> PageInfo | None:
        """The listing entry of ``path``, or None when it is not a page of this site."""
        for page in self.pages:
            if page.path == path:
                return page
        return None

    def find_page(self, hint: str) -> str | None:
        """A page path for a loose reference: ``runbook``, ``runbook/``, ``runbook.md``, ``guides/``.

        mkdocs serves ``x.md`` at ``x/`` and ``x/index.md`` at ``x/``, so links written either
        way (and Backstage URLs) find the page.
        """
        hint = hint.strip("/")
        paths = {p.path for p in self.pages}
        if not hint:
            return self.home
        candidates = [hint, f"{hint}.md", f"{hint}/index.md", f"{hint}/README.md"]
        if hint.endswith(".html"):
            candidates.insert(0, hint[: -len(".html")] + ".md")
        for candidate in candidates:
            if candidate in paths:
                return candidate
        return None


class LinkKind(StrEnum):
    """What kind of place a link leads to (see ``LinkTarget``)."""

    PAGE = "page"  # a page of the same site (possibly the current one, with an anchor)
    ENTITY_DOCS = "entity-docs"  # another entity's docs
    EXTERNAL = "external"  # a URL for the terminal to show as a hyperlink
    FILE = "file"  # a non-Markdown file inside the docs dir (download, image, pdf)
    ERROR = "error"  # a link that goes nowhere; ``message`` says why


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """Where a link in a page leads, as decided by ``resolve_link``."""

    kind: LinkKind
    page: str | None = None  # PAGE: docs-relative path; ENTITY_DOCS: page hint in the other site
    anchor: str | None = None
    entity_ref: str | None = None  # ENTITY_DOCS: canonical ref of the other entity
    url: str | None = None  # EXTERNAL: the URL; FILE: the absolute path
    message: str | None = None  # ERROR: why the link is broken
