"""The docs reader without a terminal: where you are, where you have been, what is loaded, where a link
or a history step leads, and which link ``y`` copies.

``screens/docs.py`` renders what this decides: it calls ``navigate`` and gets back a step (stay on the
page, show a loaded site, or load one in a worker), runs ``load`` in a thread worker, hands the results
back to ``site_loaded`` / ``page_loaded`` (stale answers — a newer navigation started since — are
dropped here), and asks ``follow`` what an activated link means. Everything here can be driven and
tested from plain Python.

History entries are (entity, page, anchor) plus the scroll position when you left, so back and forward
land where you were, across entities.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from backends.docs.links import entity_docs_href, resolve_link
from backends.docs.model import DocPage, DocSite, LinkKind
from backends.docs.site import load_page, load_site


@dataclass(slots=True)
class DocLocation:
    """One place in the docs: an entity's site, a page of it, a heading, and where you scrolled."""

    entity_ref: str
    page: str | None = None
    anchor: str | None = None
    scroll_y: float | None = None


@dataclass
class History:
    """Back and forward, as in a browser: a new place drops whatever was ahead."""

    entries: list[DocLocation] = field(default_factory=list)
    index: int = -1

    @property
    def current(self) -> DocLocation | None:
        return self.entries[self.index] if 0 <= self.index < len(self.entries) else None

    def push(self, location: DocLocation) -> None:
        del self.entries[self.index + 1 :]
        self.entries.append(location)
        self.index = len(self.entries) - 1


@dataclass(frozen=True, slots=True)
class SiteLoaded:
    """A site arrived (``site`` None: ``error`` says why there is none)."""

    request: int
    entity_ref: str
    site: DocSite | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PageLoaded:
    request: int
    location: DocLocation
    page: DocPage


class StepKind(Enum):
    SAME_PAGE = "same page"  # only the position changes: go to ``anchor`` or ``scroll_y``
    SHOW_SITE = "show site"  # the site is loaded: show it, then open ``location`` (open_page)
    LOAD = "load"  # load the site (and its page) in a worker: ``load(request, location, …)``


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    location: DocLocation
    request: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """Nothing to show but why: a page title, the reason, and the site's notices."""

    title: str
    message: str
    notices: tuple[str, ...] = ()

    @property
    def markdown(self) -> str:
        """The page shown instead: the reason, and the two ways on."""
        return (
            f"# {self.title}\n\n{self.message}\n\n"
            "Press **o** to see every entity that has docs, **backspace** to go back."
        )


class LinkAction(Enum):
    NAVIGATE = "navigate"  # go to ``location``
    EXTERNAL = "external"  # a web address: ``url`` (copy it; never open a browser on the server)
    FILE = "file"  # a file of the repository, not a page: ``url`` is its path
    BROKEN = "broken"  # ``message`` says why
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    action: LinkAction
    location: DocLocation | None = None
    url: str = ""
    message: str = ""


class Leave(Enum):
    """Where ``esc`` goes in the docs mode (see :func:`leave`)."""

    CLOSE_FIND = "close find"  # close the find bar, back to the page
    FILTER_TO_LIST = "filter to list"  # leave the site filter (its text kept) for the list
    POP = "pop"  # the reader was opened over another screen (``d`` on an entity): back to it
    SITES = "sites"  # from a page to the list of every site
    PAGE = "page"  # from the list back to the page it was opened over
    STAY = "stay"  # the list of all docs is the docs mode's root: nowhere further


def leave(*, finding: bool, on_sites: bool, in_filter: bool, stacked: bool, has_page: bool) -> Leave:
    """What ``esc`` does: ``finding`` (the find bar is open), ``on_sites`` (the list of sites shows),
    ``in_filter`` (its filter has the focus), ``stacked`` (over another screen), ``has_page``."""
    if finding:
        return Leave.CLOSE_FIND
    if on_sites and in_filter:
        return Leave.FILTER_TO_LIST
    if stacked:
        return Leave.POP
    if not on_sites:
        return Leave.SITES
    return Leave.PAGE if has_page else Leave.STAY


class DocsBrowser:
    """The state of one docs reader (see module docstring); not thread-safe: the UI thread owns it."""

    def __init__(self, start: DocLocation | None = None) -> None:
        self.start = start
        self.history = History()
        self.sites: dict[str, DocSite] = {}  # loaded sites by canonical ref (history revisits them)
        self.site: DocSite | None = None
        self.page: DocPage | None = None
        self.request = 0  # answers of older requests are stale

    @property
    def current(self) -> DocLocation | None:
        return self.history.current

    @property
    def crumb(self) -> str:
        location = self.history.current
        if location is None:
            return "docs"
        name = location.entity_ref.rsplit("/", 1)[-1]
        return f"docs › {name}" + (f" › {location.page}" if location.page else "")

    def catalog_changed(self) -> DocLocation | None:
        """Forget loaded sites (techdocs-refs may have changed); the place to load again, if any."""
        self.sites.clear()
        current = self.history.current
        return current if current is not None and self.site is None else None

    # -- navigation -----------------------------------------------------------------------------
    def navigate(self, location: DocLocation, *, push: bool = True, scroll_y: float | None = None) -> Step:
        """Go to ``location``; ``push`` records it in history (``scroll_y``: where the page we leave was)."""
        current = self.history.current
        if push and current is not None:
            current.scroll_y = scroll_y
        if push:
            self.history.push(location)
        site = self.sites.get(location.entity_ref)
        page = self.page
        if site is not None and self.site is site and page is not None and location.page in (None, page.path):
            return Step(StepKind.SAME_PAGE, location)
        self.request += 1
        if site is not None:
            self.site = site
            return Step(StepKind.SHOW_SITE, location, self.request)
        return Step(StepKind.LOAD, location, self.request)

    def step_history(self, step: int, scroll_y: float | None) -> DocLocation | None:
        """The place ``step`` entries back (-1) or forward (1), to go to without pushing; None at an end."""
        target = self.history.index + step
        if not 0 <= target < len(self.history.entries):
            return None
        current = self.history.current
        if current is not None:
            current.scroll_y = scroll_y
        self.history.index = target
        location = self.history.entries[target]
        return DocLocation(location.entity_ref, location.page, None, location.scroll_y)

    @staticmethod
    def load(
        request: int, location: DocLocation, catalog: Any, root: Path | None
    ) -> Iterator[SiteLoaded | PageLoaded]:
        """Load the site and, in the same trip, the page to show (blocking: a worker runs this)."""
        ref = location.entity_ref
        if catalog is None:
            yield SiteLoaded(request, ref, None, "The catalog is still loading…")
            return
        entity = catalog.get(ref)
        if entity is None:
            yield SiteLoaded(request, ref, None, f"{ref} is not in the catalog")
            return
        site = load_site(entity, root=root)
        ref = entity.ref.canonical  # "payment-service" as typed on the : line → the canonical ref
        yield SiteLoaded(request, ref, site)
        path = None if site.error else (site.find_page(location.page) if location.page else site.home)
        if path is not None:
            yield PageLoaded(
                request, DocLocation(ref, path, location.anchor, location.scroll_y), load_page(site, path)
            )

    @staticmethod
    def load_page(request: int, site: DocSite, location: DocLocation) -> PageLoaded:
        """One page of a loaded site (blocking: a worker runs this)."""
        return PageLoaded(request, location, load_page(site, location.page or ""))

    def site_loaded(self, message: SiteLoaded) -> DocSite | Problem | None:
        """Take a loaded site: the site to show, a Problem, or None when the answer is stale."""
        if message.request != self.request:
            return None
        location = self.history.current
        if message.site is None or location is None:
            return Problem("No docs", message.error or "unknown error")
        location.entity_ref = message.entity_ref
        self.sites[message.entity_ref] = message.site
        self.site = message.site
        return message.site

    def after_site(self) -> Problem | None:
        """Once a loaded site is shown: a Problem when it has nothing to open, else None (the page
        is on its way from the same worker)."""
        site, location = self.site, self.history.current
        assert site is not None and location is not None
        path = None if site.error else (site.find_page(location.page) if location.page else site.home)
        if path is None:
            problem = self.open_page(location)
            assert isinstance(problem, Problem)  # no page to open always comes with the reason
            return problem
        location.page = path
        return None

    def open_page(self, location: DocLocation) -> DocLocation | Problem:
        """The page of the current site ``location`` names, to load (``load_page``), or why there is none."""
        site = self.site
        assert site is not None
        if site.error:
            self.page = None
            return Problem("No docs for this entity", site.error, tuple(site.notices))
        path = site.find_page(location.page) if location.page else site.home
        if path is None:
            self.page = None
            return Problem(
                "Page not found",
                f"'{location.page}' is not a page of {site.title}. The nav on the left lists every page.",
                tuple(site.notices),
            )
        location.page = path
        return location

    def page_loaded(self, message: PageLoaded) -> bool:
        """Take a loaded page; False when the answer is stale."""
        if message.request != self.request:
            return False
        self.page = message.page
        current = self.history.current
        if current is not None and current.entity_ref == message.location.entity_ref:
            current.page = message.location.page
        return True

    @property
    def notices(self) -> list[str]:
        """What the site and the page want the reader to know (fallbacks, broken nav entries, …)."""
        return [*(self.site.notices if self.site else []), *(self.page.notices if self.page else [])]

    # -- links ----------------------------------------------------------------------------------
    def follow(self, href: str) -> LinkOutcome:
        """What activating the link ``href`` on the current page does."""
        site, page, current = self.site, self.page, self.history.current
        if site is None or page is None or current is None:
            # A link on a problem page: only web links make sense there.
            if "://" in href:
                return LinkOutcome(LinkAction.EXTERNAL, url=href)
            return LinkOutcome(LinkAction.NOTHING)
        target = resolve_link(site, page.path, href)
        if target.kind is LinkKind.PAGE:
            return LinkOutcome(
                LinkAction.NAVIGATE, DocLocation(current.entity_ref, target.page, target.anchor)
            )
        if target.kind is LinkKind.ENTITY_DOCS and target.entity_ref:
            return LinkOutcome(
                LinkAction.NAVIGATE, DocLocation(target.entity_ref, target.page, target.anchor)
            )
        if target.kind is LinkKind.EXTERNAL and target.url:
            return LinkOutcome(LinkAction.EXTERNAL, url=target.url)
        if target.kind is LinkKind.FILE:
            return LinkOutcome(LinkAction.FILE, url=target.url or "")
        return LinkOutcome(LinkAction.BROKEN, message=target.message or "broken link")

    def choose_nav(self, page: str | None, url: str | None, error: str | None) -> LinkOutcome:
        """What choosing a nav entry does: a broken entry says why, a web entry is a web link."""
        if error:
            return LinkOutcome(LinkAction.BROKEN, message=error)
        if url:
            return LinkOutcome(LinkAction.EXTERNAL, url=url)
        location = self.page_location(page) if page else None
        if location is None:
            return LinkOutcome(LinkAction.NOTHING)
        return LinkOutcome(LinkAction.NAVIGATE, location)

    def heading_location(self, anchor: str) -> DocLocation | None:
        """A heading of the page shown (the contents list), to navigate to; None without a page."""
        return self.page_location(self.page.path, anchor) if self.page is not None else None

    def page_location(self, page: str | None, anchor: str | None = None) -> DocLocation | None:
        """A page (and heading) of the current site, to navigate to; None before any site."""
        current = self.history.current
        return None if current is None else DocLocation(current.entity_ref, page, anchor)

    def link(self, anchor: str | None, base_url: str = "") -> str | None:
        """The link ``y`` copies: this page at ``anchor``, under ``base_url`` when the docs are on the web."""
        current = self.history.current
        if current is None:
            return None
        href = entity_docs_href(current.entity_ref, current.page or "", anchor or "")
        return f"{base_url}{href}" if base_url else href
