"""TechDocs in the terminal: pick an entity's docs, read pages, follow links, go back and forth.

Thin by design: ``backends.docs.browser.DocsBrowser`` decides where you are, what history and links
lead to and which answers are stale; this screen renders it. Loading a site or a page runs in a thread
worker (a ``url:`` techdocs-ref may clone a repository) and comes back as a message; the sidebar
(``DocNav``/``DocToc``) and the page (``DocView``) are widgets fed plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.style import Style
from textual.widgets import ContentSwitcher, Input, OptionList, Static
from textual.widgets.option_list import Option

from backends.docs.browser import (
    DocLocation,
    DocsBrowser,
    LinkAction,
    PageLoaded,
    Problem,
    SiteLoaded,
    StepKind,
)
from screens.base import ConsoleScreen
from widgets.doc_nav import DocNav, DocToc, NavEntry
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
    DocsScreen #docs-sidebar { width: 32; border-right: solid $primary; }
    DocsScreen #site-title { height: auto; padding: 0 1; text-style: bold; background: $panel; }
    DocsScreen #toc-title { height: 1; padding: 0 1; color: $text-muted; background: $panel; }
    DocsScreen #nav { height: 2fr; }
    DocsScreen #toc { height: 1fr; }
    DocsScreen #page-header { height: 1; padding: 0 1; background: $boost; }
    DocsScreen #notices { height: auto; max-height: 5; padding: 0 1; color: $text-warning; display: none; }
    DocsScreen #notices.-shown { display: block; }
    DocsScreen #find-bar { height: 1; display: none; }
    DocsScreen #find-bar.-open { display: block; }
    DocsScreen #find { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    DocsScreen #find-status { width: auto; min-width: 16; padding: 0 1; background: $boost; }
    DocsScreen #site-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    DocsScreen #sites { height: 1fr; border: none; }
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
        self._site_list: list[tuple[str, str, str]] = []

    @property
    def mode_name(self) -> str:
        return self._mode

    @property
    def crumb(self) -> str:
        return self.browser.crumb

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="docs-body"):
            with Vertical(id="docs-sidebar"):
                yield Static("Docs", id="site-title")
                yield DocNav(id="nav")
                yield Static("On this page", id="toc-title")
                yield DocToc(id="toc")
            with ContentSwitcher(initial="picker", id="docs-main"):
                with Vertical(id="picker"):
                    yield Input(placeholder="/ filter: entity name, title", id="site-filter")
                    yield OptionList(id="sites")
                with Vertical(id="reader"):
                    yield Static("", id="page-header")
                    yield Static("", id="notices")
                    yield DocView(id="view", code_theme=self._code_theme())
                    with Horizontal(id="find-bar"):
                        yield Input(placeholder="find in page", id="find")
                        yield Static("", id="find-status")

    def _code_theme(self) -> str:
        return "monokai" if self.app.current_theme.dark else "friendly"

    def on_mount(self) -> None:
        self.ctx.catalog_signal.subscribe(self, self._on_catalog)
        if self.browser.start is not None:
            self.navigate(self.browser.start)
        else:
            # The list, not the filter: with the filter focused, 1–5 and : would be typed into it
            # on a first visit. / focuses the filter.
            self.query_one("#sites", OptionList).focus()
        if self.ctx.catalog is not None:
            self._on_catalog(self.ctx.catalog)

    def _on_catalog(self, catalog: Any) -> None:
        self.find_sites()
        again = self.browser.catalog_changed()
        if again is not None:
            self.navigate(again, push=False)

    # -- the list of sites -------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="docs-sites", name="find docs", exit_on_error=False)
    def find_sites(self) -> None:
        from backends.docs.discovery import discover_docs

        catalog = self.ctx.catalog
        if catalog is None:
            return
        found = [
            (entry.entity_ref, entry.title, entry.how)
            for entry in discover_docs(catalog.entities, root=self.ctx.workspace.root)
        ]
        found.sort(key=lambda item: item[1].lower())
        self.post_message(SitesFound(found))

    def on_sites_found(self, message: SitesFound) -> None:
        self._site_list = message.sites
        self._fill_site_list()

    @on(Input.Changed, "#site-filter")
    def _fill_site_list(self) -> None:
        words = self.query_one("#site-filter", Input).value.lower().split()
        sites = self.query_one("#sites", OptionList)
        sites.clear_options()
        matching = [s for s in self._site_list if all(w in f"{s[0]} {s[1]}".lower() for w in words)]
        if not matching:
            empty = "No entity has docs yet." if not self._site_list else "No docs match the filter."
            sites.add_option(Option(Text(empty, style="italic dim"), disabled=True))
            return
        for ref, title, how in matching:
            prompt = Text(title, style="bold")
            prompt.append(f"  {ref}", style="dim")
            prompt.append(f"  {how}", style="italic dim")
            sites.add_option(Option(prompt, id=ref))
        sites.highlighted = 0

    @on(Input.Submitted, "#site-filter")
    def _site_filter_done(self) -> None:
        self.query_one("#sites", OptionList).focus()

    @on(OptionList.OptionSelected, "#sites")
    def _site_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.navigate(DocLocation(event.option.id))

    def action_pick_site(self) -> None:
        self.query_one("#docs-main", ContentSwitcher).current = "picker"
        self.query_one("#sites", OptionList).focus()

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
            ref = location.entity_ref
            self.query_one("#page-header", Static).update(Text(f"Loading docs of {ref}…", style="italic"))
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

        title = self.query_one("#site-title", Static)
        title.update(Text(site.title, style="bold"))
        nav = self.query_one(DocNav)
        unlisted = tuple(NavEntry(p.title, p.path) for p in unlisted_pages(site))
        nav.set_nav(site.title, nav_entries(site.nav), unlisted)

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
        notices = self.browser.notices
        if page.error:
            self._show_problem(Problem(page.title, page.error, tuple(notices)))
            return
        header = Text()
        header.append(page.title, style="bold")
        header.append(f" · {page.path}", style="dim")
        if site and site.source:
            header.append(f" · {site.source}", style="dim italic")
        self.query_one("#page-header", Static).update(header)
        self._show_notices(notices)
        self.query_one(DocToc).set_headings([(h.level, h.text, h.anchor) for h in page.headings])
        self.query_one(DocNav).show_page(page.path)
        view = self.query_one(DocView)
        view.show(
            page.markdown,
            [(h.anchor, h.line, h.text) for h in page.headings],
            anchor=message.location.anchor,
            scroll_y=message.location.scroll_y,
        )
        if self.query_one("#find-bar").has_class("-open"):
            view.find(self.query_one("#find", Input).value)

    def _show_problem(self, problem: Problem) -> None:
        title, message = problem.title, problem.message
        self.query_one("#page-header", Static).update(Text(title, style="bold"))
        self._show_notices([n for n in problem.notices if n != message])
        self.query_one(DocToc).set_headings([])
        body = (
            f"# {title}\n\n{message}\n\n"
            "Press **o** to see every entity that has docs, **backspace** to go back."
        )
        self.query_one(DocView).show(body)

    def _show_notices(self, notices: list[str]) -> None:
        widget = self.query_one("#notices", Static)
        widget.update(Text("\n".join(f"⚠ {n}" for n in notices)))
        widget.set_class(bool(notices), "-shown")

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
        outcome = self.browser.follow(event.href)
        if outcome.action is LinkAction.NAVIGATE and outcome.location is not None:
            self.navigate(outcome.location)
        elif outcome.action is LinkAction.EXTERNAL:
            self._external(outcome.url)
        elif outcome.action is LinkAction.FILE:
            self.app.copy_to_clipboard(outcome.url)
            self.notify(f"A file, not a page: {outcome.url} (path copied)", timeout=6)
        elif outcome.action is LinkAction.BROKEN:
            self.notify(outcome.message, title="Broken link", severity="warning", timeout=6)

    def _external(self, url: str) -> None:
        # Never open_url: over SSH that would start a browser on the bastion. The text on screen is a
        # terminal hyperlink (ctrl+click in most terminals); enter copies it as well.
        self.app.copy_to_clipboard(url)
        message = Content.assemble("Web link copied: ", (url, Style(link=url, underline=True)))
        # notify() is typed str, but its toast takes Content as is (Content.from_markup): a stub gap.
        self.notify(message, title="ctrl+click opens it in your terminal", timeout=6)  # type: ignore[arg-type]

    @on(DocNav.Chosen)
    def _nav_chosen(self, event: DocNav.Chosen) -> None:
        entry = event.entry
        location = self.browser.page_location(entry.page)
        if entry.error:
            self.notify(entry.error, title="Broken nav entry", severity="warning", timeout=6)
        elif entry.url:
            self._external(entry.url)
        elif entry.page and location is not None:
            self.navigate(location)

    @on(DocToc.AnchorChosen)
    def _toc_chosen(self, event: DocToc.AnchorChosen) -> None:
        page = self.browser.page
        location = self.browser.page_location(page.path if page else None, event.anchor)
        if location is not None and page is not None:
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
        if self.query_one("#find-bar").has_class("-open"):
            self._close_find()
            return
        picker = self.query_one("#docs-main", ContentSwitcher).current == "picker"
        site_filter = self.query_one("#site-filter", Input)
        if picker and site_filter.has_focus:
            self.query_one("#sites", OptionList).focus()  # esc leaves the filter, keeping its text
        elif len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif not picker:
            self.action_pick_site()
        elif self.browser.current is not None:
            self.query_one("#docs-main", ContentSwitcher).current = "reader"  # back to the page
            self.query_one(DocView).focus()
        else:
            self.notify("This is the list of all docs — 1–5 switch modes, : runs a command.", timeout=3)

    # -- find in page ------------------------------------------------------------------------
    def action_find(self) -> None:
        if self.query_one("#docs-main", ContentSwitcher).current == "picker":
            self.query_one("#site-filter", Input).focus()
            return
        self.query_one("#find-bar").add_class("-open")
        self.query_one("#find", Input).focus()

    def _close_find(self) -> None:
        self.query_one("#find-bar").remove_class("-open")
        view = self.query_one(DocView)
        view.clear_find()
        view.focus()

    @on(Input.Changed, "#find")
    def _find_changed(self, event: Input.Changed) -> None:
        self.query_one(DocView).find(event.value)

    @on(Input.Submitted, "#find")
    def _find_submitted(self) -> None:
        # Enter ends typing: the page takes the focus so n / N move between matches (in the input
        # they would be text), while the find bar stays open with its count.
        view = self.query_one(DocView)
        view.find_next()
        view.focus()

    def action_find_next(self) -> None:
        self.query_one(DocView).find_next()

    def action_find_previous(self) -> None:
        self.query_one(DocView).find_previous()

    @on(DocView.FindResult)
    def _find_result(self, event: DocView.FindResult) -> None:
        status = self.query_one("#find-status", Static)
        if not event.query:
            status.update("")
        elif event.total:
            status.update(f"{event.current}/{event.total}  n/N")
        else:
            status.update(Text("no match", style="bold red"))

    # -- copy link ---------------------------------------------------------------------------
    def action_copy_link(self) -> None:
        anchor = self.query_one(DocView).anchor_at_top() if self.browser.page else None
        link = self.browser.link(anchor, self.ctx.workspace.typed.docs.base_url)
        if link is None:
            self.notify("Open a page first: y copies its link.", timeout=3)
            return
        self.app.copy_to_clipboard(link)
        self.notify(f"Copied {link}", timeout=4)
