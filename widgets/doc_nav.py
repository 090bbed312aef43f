"""The docs sidebar: the site's nav as a tree, and the current page's table of contents.

Both take plain data (``NavEntry`` trees, ``(level, text, anchor)`` headings) and post a message
when the user picks something; the docs screen decides what that means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static, Tree
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode

from widgets.guard import Guarded


@dataclass(frozen=True, slots=True)
class NavEntry:
    """A nav item: a page, an external URL, a section (children) or a broken entry (error)."""

    title: str
    page: str | None = None
    url: str | None = None
    error: str | None = None
    children: tuple[NavEntry, ...] = ()


class DocNav(Guarded, Tree[NavEntry]):
    """The nav tree; enter (or a click) on a leaf posts ``Chosen``."""

    DEFAULT_CSS = """
    DocNav { height: 1fr; background: $panel; padding: 0 1; }
    """

    class Chosen(Message):
        def __init__(self, nav: DocNav, entry: NavEntry) -> None:
            super().__init__()
            self.nav = nav
            self.entry = entry

        @property
        def control(self) -> DocNav:
            return self.nav

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Docs", id=id)
        self.show_root = False
        self.guide_depth = 2
        self._page_nodes: dict[str, TreeNode[NavEntry]] = {}

    def set_nav(self, title: str, entries: Sequence[NavEntry], unlisted: Sequence[NavEntry] = ()) -> None:
        """Replace the tree; ``unlisted`` pages (not in mkdocs nav) go in an "Other pages" section."""
        self.clear()
        self.root.set_label(title)
        self._page_nodes = {}
        for entry in entries:
            self._add(self.root, entry)
        if unlisted:
            other = NavEntry("Other pages", children=tuple(unlisted))
            self._add(self.root, other)
        self.root.expand_all()

    def _add(self, parent: TreeNode[NavEntry], entry: NavEntry) -> None:
        if entry.children:
            node = parent.add(Text(entry.title, style="bold"), data=entry, expand=True)
            for child in entry.children:
                self._add(node, child)
            return
        if entry.error:
            label = Text("⚠ " + entry.title, style="red")
        elif entry.url:
            label = Text(entry.title + " ↗", style="italic")
        else:
            label = Text(entry.title)
        node = parent.add_leaf(label, data=entry)
        if entry.page and entry.page not in self._page_nodes:
            self._page_nodes[entry.page] = node

    def show_page(self, page: str | None) -> None:
        """Move the cursor to the node of ``page`` (if it is in the tree) without posting Chosen."""
        # After a refresh: a tree just rebuilt by set_nav has not laid out its lines yet.
        self.call_after_refresh(self._move_to_page, page or "")

    def _move_to_page(self, page: str) -> None:
        node = self._page_nodes.get(page)
        if node is not None:
            self.move_cursor(node)

    def on_tree_node_selected(self, event: Tree.NodeSelected[NavEntry]) -> None:
        event.stop()
        entry = event.node.data
        if entry is not None and not entry.children:
            self.post_message(self.Chosen(self, entry))


class DocToc(Guarded, OptionList):
    """Headings of the current page, indented by level; picking one posts ``AnchorChosen``."""

    DEFAULT_CSS = """
    DocToc { height: 1fr; background: $panel; border: none; padding: 0 1; }
    """

    class AnchorChosen(Message):
        def __init__(self, toc: DocToc, anchor: str) -> None:
            super().__init__()
            self.toc = toc
            self.anchor = anchor

        @property
        def control(self) -> DocToc:
            return self.toc

    def set_headings(self, headings: Sequence[tuple[int, str, str]]) -> None:
        """``(level, text, anchor)`` in page order; h1 is the page title so it is left out if alone."""
        self.clear_options()
        titles = sum(1 for level, _, _ in headings if level == 1)
        shown = [h for h in headings if not (h[0] == 1 and titles == 1)]
        top = min((level for level, _, _ in shown), default=1)
        self.add_options(
            [Option(Text("  " * (level - top) + text), id=anchor) for level, text, anchor in shown]
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.AnchorChosen(self, event.option.id))


class DocSidebar(Guarded, Vertical):
    """The docs sidebar: the site's title, its nav tree, and the page's contents under it."""

    DEFAULT_CSS = """
    DocSidebar { width: 32; border-right: solid $primary; }
    DocSidebar #site-title { height: auto; padding: 0 1; text-style: bold; background: $panel; }
    DocSidebar #toc-title { height: 1; padding: 0 1; color: $text-muted; background: $panel; }
    DocSidebar #nav { height: 2fr; }
    DocSidebar #toc { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Docs", id="site-title")
        yield DocNav(id="nav")
        yield Static("On this page", id="toc-title")
        yield DocToc(id="toc")

    def show_site(self, title: str, entries: Sequence[NavEntry], unlisted: Sequence[NavEntry]) -> None:
        self.query_one("#site-title", Static).update(Text(title, style="bold"))
        self.query_one(DocNav).set_nav(title, entries, unlisted)
