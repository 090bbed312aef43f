"""The page side of the docs reader: a header line, the site's and page's notices, the page, and the
find bar under it. Plain data in (titles, notices, Markdown, headings); the screen decides what to show.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from widgets.doc_view import DocView
from widgets.find_bar import FindBar
from widgets.guard import Guarded


class DocReader(Guarded, Vertical):
    """The page and its find bar: typing in the bar searches the page, enter goes to the first match
    and gives the page the focus (so ``n`` / ``N`` move between matches), the count shows beside it."""

    DEFAULT_CSS = """
    DocReader #page-header { height: 1; padding: 0 1; background: $boost; }
    DocReader #notices { height: auto; max-height: 5; padding: 0 1; color: $text-warning; display: none; }
    DocReader #notices.-shown { display: block; }
    DocReader #find-bar { height: 1; display: none; }
    DocReader #find-bar.-open { display: block; }
    DocReader #find { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    DocReader #find-status { width: auto; min-width: 16; padding: 0 1; background: $boost; }
    """

    def __init__(self, *, code_theme: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self._code_theme = code_theme

    def compose(self) -> ComposeResult:
        yield Static("", id="page-header")
        yield Static("", id="notices")
        yield DocView(id="view", code_theme=self._code_theme)
        yield FindBar(id="find-bar")

    @property
    def view(self) -> DocView:
        return self.query_one(DocView)

    @property
    def find_bar(self) -> FindBar:
        return self.query_one(FindBar)

    def show_loading(self, what: str) -> None:
        self.query_one("#page-header", Static).update(Text(f"Loading {what}…", style="italic"))

    def show_page(
        self,
        header: Sequence[str],
        notices: Sequence[str],
        markdown: str,
        headings: Sequence[tuple[str, int, str]],
        *,
        anchor: str | None,
        scroll_y: float | None,
    ) -> None:
        """``header``: the page title, then what follows it dimmed (its path, the site's source);
        ``headings``: (anchor, line, text); the open find bar searches the new page too."""
        title, *rest = header
        text = Text()
        text.append(title, style="bold")  # only the title: Text(title, style=…) would bolden it all
        for index, part in enumerate(rest):
            text.append(f" · {part}", style="dim" if index == 0 else "dim italic")
        self.query_one("#page-header", Static).update(text)
        self._show_notices(notices)
        self.view.show(markdown, list(headings), anchor=anchor, scroll_y=scroll_y)
        if self.find_bar.is_open:
            self.view.find(self.find_bar.query_text)

    def show_problem(self, title: str, notices: Sequence[str], markdown: str) -> None:
        self.query_one("#page-header", Static).update(Text(title, style="bold"))
        self._show_notices(notices)
        self.view.show(markdown)

    def _show_notices(self, notices: Sequence[str]) -> None:
        widget = self.query_one("#notices", Static)
        widget.update(Text("\n".join(f"⚠ {n}" for n in notices)))
        widget.set_class(bool(notices), "-shown")

    def close_find(self) -> None:
        self.find_bar.close()
        self.view.clear_find()
        self.view.focus()

    @on(Input.Changed, "#find")
    def _find_changed(self, event: Input.Changed) -> None:
        self.view.find(event.value)

    @on(Input.Submitted, "#find")
    def _find_submitted(self) -> None:
        # Enter ends typing: the page takes the focus so n / N move between matches (in the input
        # they would be text), while the find bar stays open with its count.
        self.view.find_next()
        self.view.focus()

    @on(DocView.FindResult)
    def _find_result(self, event: DocView.FindResult) -> None:
        self.find_bar.show_count(event.query, event.current, event.total)
