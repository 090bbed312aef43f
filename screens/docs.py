"""TechDocs in the terminal: pick an entity's docs, read pages, follow links, go back and forth.

Thin by design: ``backends.docs.browser.DocsBrowser`` decides where you are, what history, links,
nav entries and ``esc`` lead to and which answers are stale; ``backends.docs.discovery`` which
entities have docs. This screen renders it. Loading a site or a page runs in a thread worker (a
``url:`` techdocs-ref may clone a repository) and comes back as a message; the site list
(``SitePicker``), the sidebar (``DocSidebar``: nav and contents) and the page with its find bar
(``DocReader``) are widgets fed plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.style import Style
from textual.widgets import ContentSwitcher

from backends.docs.browser import (
    DocLocation,
    DocsBrowser,
    Leave,
    LinkAction,
    LinkOutcome,
    PageLoaded,
    Problem,
    SiteLoaded,
    StepKind,
    leave,
)
from screens.base import ConsoleScreen
from widgets.doc_nav import DocNav, DocSidebar, DocToc, NavEntry
from widgets.doc_reader import DocReader
from widgets.doc_sites import SitePicker
from widgets.doc_view import DocView

if TYPE_CHECKING:
    from backends.docs import DocSite, NavItem


@dataclass
class SitesFound(Message):
    """Entities that have docs: (canonical ref, title, how the docs were found)."""

    sites: list[tuple[str, str, str]]


@dataclass
class Loaded(Message):
    """A site or a page the worker loaded (the browser drops stale ones)."""

    result: SiteLoaded | PageLoaded


def nav_entries(items: list[NavItem]) -> tuple[NavEntry, ...]:
    """The backend's nav items as the sidebar's plain data."""
    return tuple(
        NavEntry(item.title, item.page, item.url, item.error, nav_entries(item.children)) for item in items
    )


class DocsScreen(ConsoleScreen):
    """The docs mode (without an entity: a list of everything that has docs) and the docs viewer.

    ``DocsScreen("component:default/payment-service", "runbook.md", "rollback")`` opens a page at a
    heading; ``mode`` is the tab to highlight when pushed from another mode (``d`` on an entity).
    """

    MODE = "docs"
    HELP = (
        "TechDocs of the catalog's entities. The nav is on the left, the page's headings below it. "
        "] and [ move between links, enter follows one (links to other pages and entities' docs open "
        "here; web links are terminal hyperlinks — ctrl+click them, or enter copies them). "
        "/ finds in the page (enter / n next, N previous), backspace goes back, alt+right forward, "
        "y copies the page's link, o lists all docs, esc leaves."
    )
    BINDINGS: ClassVar = [
        Binding("escape", "leave", "Back", id="docs.leave"),
        Binding("slash", "find", "Find", id="docs.find"),
        Binding("n", "find_next", "Next match", show=False, id="docs.find_next"),
        Binding("N", "find_previous", "Previous match", show=False, id="docs.find_previous"),
        Binding("backspace,alt+left", "history_back", "History back", id="docs.history_back"),
        Binding("alt+right", "history_forward", "Forward", show=False, id="docs.history_forward"),
        Binding("y", "copy_link", "Copy link", id="docs.copy_link"),
        Binding("o", "pick_site", "All docs", id="docs.pick_site"),
        Binding("t", "focus_toc", "Contents", show=False, id="docs.toc"),
    ]
    DEFAULT_CSS = """
    DocsScreen #docs-body { height: 1fr; }
    """

    def __init__(
        self,
        entity_ref: str | None = None,
        page: str | None = None,
        anchor: str | None = None,
        *,
        mode: str = "docs",
    ) -> None:
        super().__init__()
        self._mode = mode
        self.browser = DocsBrowser(DocLocation(entity_ref, page, anchor) if entity_ref else None)

    @property
    def mode_name(self) -> str:
        return self._mode

    @property
    def crumb(self) -> str:
        return self.browser.crumb

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="docs-body"):
            yield DocSidebar(id="docs-sidebar")
            with ContentSwitcher(initial="picker", id="docs-main"):
                yield SitePicker(id="picker")
                yield DocReader(code_theme=self._code_theme(), id="reader")

    def _code_theme(self) -> str:
        return "monokai" if self.app.current_theme.dark else "friendly"

    def on_mount(self) -> None:
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        if self.browser.start is not None:
            self.navigate(self.browser.start)
        else:
            # The list, not the filter: with the filter focused, 1–5 and : would be typed into it
            # on a first visit. / focuses the filter.
            self.sites.options.focus()
        if self.ctx.catalog is not None:
            self._on_catalog(self.ctx.catalog)

    def _on_catalog(self, catalog: Any) -> None:
        self.find_sites()
        again = self.browser.catalog_changed()
        if again is not None:
            self.navigate(again, push=False)

    # -- the list of sites -------------------------------------------------------------------
    @property
    def sites(self) -> SitePicker:
        return self.query_one(SitePicker)

    @property
    def reader(self) -> DocReader:
        return self.query_one(DocReader)

    @work(thread=True, exclusive=True, group="docs-sites", name="find docs", exit_on_error=False)
    def find_sites(self) -> None:
        from backends.docs.discovery import docs_by_title

        catalog = self.ctx.catalog
        if catalog is not None:
            listed = docs_by_title(catalog.entities, root=self.ctx.workspace.root)
            self.post_message(SitesFound([(entry.entity_ref, entry.title, entry.how) for entry in listed]))

    def on_sites_found(self, message: SitesFound) -> None:
        self.sites.set_sites(message.sites)

    @on(SitePicker.Chosen)
    def _site_chosen(self, event: SitePicker.Chosen) -> None:
        self.navigate(DocLocation(event.entity_ref))

    def action_pick_site(self) -> None:
        self.query_one("#docs-main", ContentSwitcher).current = "picker"
        self.sites.options.focus()

    # -- navigation --------------------------------------------------------------------------
    def navigate(self, location: DocLocation, *, push: bool = True) -> None:
        """Show ``location`` (loading its site first if needed); ``push`` records it in history."""
        step = self.browser.navigate(location, push=push, scroll_y=self.query_one(DocView).scroll_y)
        self.query_one("#docs-main", ContentSwitcher).current = "reader"
        self.query_one(DocView).focus()
        self._refresh_crumbs()
        if step.kind is StepKind.SAME_PAGE:
            if location.anchor:
                self._goto_anchor(location.anchor)
            elif location.scroll_y is not None:
                self.query_one(DocView).scroll_to(y=location.scroll_y, animate=False)
        elif step.kind is StepKind.SHOW_SITE:
            assert self.browser.site is not None
            self._show_site(self.browser.site)
            self._open_page(location)
        else:
            self.reader.show_loading(f"docs of {location.entity_ref}")
            self.load_site(step.request, location)

    @work(thread=True, exclusive=True, group="docs-load", name="load docs", exit_on_error=False)
    def load_site(self, request: int, location: DocLocation) -> None:
        """Load the site and, in the same trip, the page to show (one worker round trip, not two)."""
        for result in DocsBrowser.load(request, location, self.ctx.catalog, self.ctx.workspace.root):
            self.post_message(Loaded(result))

    def on_loaded(self, message: Loaded) -> None:
        result = message.result
        if isinstance(result, PageLoaded):
            self._page_loaded(result)
            return
        site = self.browser.site_loaded(result)
        if site is None:
            return  # stale
        if isinstance(site, Problem):
            self._show_problem(site)
            return
        self._show_site(site)
        problem = self.browser.after_site()
        if problem is not None:
            self._show_problem(problem)
        self._refresh_crumbs()

    def _show_site(self, site: DocSite) -> None:
        from backends.docs import unlisted_pages

        unlisted = tuple(NavEntry(p.title, p.path) for p in unlisted_pages(site))
        self.query_one(DocSidebar).show_site(site.title, nav_entries(site.nav), unlisted)

    def _open_page(self, location: DocLocation) -> None:
        target = self.browser.open_page(location)
        if isinstance(target, Problem):
            self._show_problem(target)
            return
        self._refresh_crumbs()
        site = self.browser.site
        assert site is not None
        self.load_page(self.browser.request, site, target)

    @work(thread=True, exclusive=True, group="docs-page", name="load page", exit_on_error=False)
    def load_page(self, request: int, site: DocSite, location: DocLocation) -> None:
        self.post_message(Loaded(DocsBrowser.load_page(request, site, location)))

    def _page_loaded(self, message: PageLoaded) -> None:
        if not self.browser.page_loaded(message):
            return
        page, site = message.page, self.browser.site
        if page.error:
            self._show_problem(Problem(page.title, page.error, tuple(self.browser.notices)))
            return
        self.query_one(DocToc).set_headings([(h.level, h.text, h.anchor) for h in page.headings])
        self.query_one(DocNav).show_page(page.path)
        self.reader.show_page(
            [page.title, page.path, *([site.source] if site and site.source else [])],
            self.browser.notices,
            page.markdown,
            [(h.anchor, h.line, h.text) for h in page.headings],
            anchor=message.location.anchor,
            scroll_y=message.location.scroll_y,
        )

    def _show_problem(self, problem: Problem) -> None:
        self.query_one(DocToc).set_headings([])
        notices = [n for n in problem.notices if n != problem.message]
        self.reader.show_problem(problem.title, notices, problem.markdown)

    def _refresh_crumbs(self) -> None:
        from widgets.top_bar import TopBar

        if self.is_mounted:
            self.query_one(TopBar).set_crumbs(self._crumbs())

    def _goto_anchor(self, anchor: str) -> None:
        if not self.query_one(DocView).goto_anchor(anchor):
            self.notify(f"No heading #{anchor} on this page.", severity="warning", timeout=4)

    # -- links, nav, toc ---------------------------------------------------------------------
    @on(DocView.LinkActivated)
    def _link(self, event: DocView.LinkActivated) -> None:
        self._act(self.browser.follow(event.href), broken="Broken link")

    @on(DocNav.Chosen)
    def _nav_chosen(self, event: DocNav.Chosen) -> None:
        entry = event.entry
        self._act(self.browser.choose_nav(entry.page, entry.url, entry.error), broken="Broken nav entry")

    def _act(self, outcome: LinkOutcome, *, broken: str) -> None:
        """Do what following a link or a nav entry means (the browser decided)."""
        if outcome.action is LinkAction.NAVIGATE and outcome.location is not None:
            self.navigate(outcome.location)
        elif outcome.action is LinkAction.EXTERNAL:
            self._external(outcome.url)
        elif outcome.action is LinkAction.FILE:
            self.app.copy_to_clipboard(outcome.url)
            self.notify(f"A file, not a page: {outcome.url} (path copied)", timeout=6)
        elif outcome.action is LinkAction.BROKEN:
            self.notify(outcome.message, title=broken, severity="warning", timeout=6)

    def _external(self, url: str) -> None:
        # Never open_url: over SSH that would start a browser on the bastion. The text on screen is a
        # terminal hyperlink (ctrl+click in most terminals); enter copies it as well.
        self.app.copy_to_clipboard(url)
        message = Content.assemble("Web link copied: ", (url, Style(link=url, underline=True)))
        # notify() is typed str, but its toast takes Content as is (Content.from_markup): a stub gap.
        self.notify(message, title="ctrl+click opens it in your terminal", timeout=6)  # type: ignore[arg-type]

    @on(DocToc.AnchorChosen)
    def _toc_chosen(self, event: DocToc.AnchorChosen) -> None:
        location = self.browser.heading_location(event.anchor)
        if location is not None:
            self.navigate(location)

    def action_focus_toc(self) -> None:
        self.query_one(DocToc).focus()

    # -- history -----------------------------------------------------------------------------
    def action_history_back(self) -> None:
        self._step_history(-1)

    def action_history_forward(self) -> None:
        self._step_history(1)

    def _step_history(self, step: int) -> None:
        location = self.browser.step_history(step, self.query_one(DocView).scroll_y)
        if location is None:
            self.notify("No more history in this direction.", timeout=2)
            return
        self.navigate(location, push=False)

    def action_leave(self) -> None:
        on_sites = self.query_one("#docs-main", ContentSwitcher).current == "picker"
        where = leave(
            finding=self.reader.find_bar.is_open,
            on_sites=on_sites,
            in_filter=self.sites.filter_input.has_focus,
            stacked=len(self.app.screen_stack) > 1,
            has_page=self.browser.current is not None,
        )
        match where:
            case Leave.CLOSE_FIND:
                self.reader.close_find()
            case Leave.FILTER_TO_LIST:
                self.sites.options.focus()  # esc leaves the filter, keeping its text
            case Leave.POP:
                self.app.pop_screen()
            case Leave.SITES:
                self.action_pick_site()
            case Leave.PAGE:
                self.query_one("#docs-main", ContentSwitcher).current = "reader"  # back to the page
                self.query_one(DocView).focus()
            case Leave.STAY:
                self.notify("This is the list of all docs — 1–5 switch modes, : runs a command.", timeout=3)

    # -- find in page ------------------------------------------------------------------------
    def action_find(self) -> None:
        if self.query_one("#docs-main", ContentSwitcher).current == "picker":
            self.sites.filter_input.focus()
        else:
            self.reader.find_bar.open()

    def action_find_next(self) -> None:
        self.query_one(DocView).find_next()

    def action_find_previous(self) -> None:
        self.query_one(DocView).find_previous()

    # -- copy link ---------------------------------------------------------------------------
    def action_copy_link(self) -> None:
        anchor = self.query_one(DocView).anchor_at_top() if self.browser.page else None
        link = self.browser.link(anchor, self.ctx.workspace.typed.docs.base_url)
        if link is None:
            self.notify("Open a page first: y copies its link.", timeout=3)
            return
        self.app.copy_to_clipboard(link)
        self.notify(f"Copied {link}", timeout=4)
