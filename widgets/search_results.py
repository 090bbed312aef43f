"""Search results grouped by type, each with a snippet whose matched words are highlighted.

Plain data in (``ResultGroup`` of ``ResultRow``), ``Chosen(key)`` out: the screen maps the key back
to what it should open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from widgets.guard import Guarded


@dataclass(frozen=True, slots=True)
class ResultRow:
    key: str  # opaque to the widget; handed back in ``Chosen``
    title: str
    subtitle: str
    snippet: str
    highlights: tuple[tuple[int, int], ...] = ()
    target: str = ""  # where enter leads, in words (``runbook.md › Rollback``)


@dataclass(frozen=True, slots=True)
class ResultGroup:
    title: str
    total: int
    rows: tuple[ResultRow, ...]


def result_prompt(row: ResultRow) -> Text:
    """Two lines: title, subtitle and target; then the snippet with the matches highlighted."""
    text = Text()
    text.append(row.title, style="bold")
    if row.subtitle:
        text.append(f"  {row.subtitle}", style="dim")
    if row.target:
        text.append(f"  → {row.target}", style="italic")
    snippet = Text(row.snippet, style="")
    for start, end in row.highlights:
        snippet.stylize("bold reverse", start, end)
    text.append("\n  ")
    text.append_text(snippet)
    return text


class SearchResultList(Guarded, OptionList):
    """Grouped results; headings are disabled rows so the cursor only lands on results."""

    DEFAULT_CSS = """
    SearchResultList { height: 1fr; border: none; padding: 0 1; }
    SearchResultList > .option-list--option { padding: 0 0 1 0; }
    """

    class Chosen(Message):
        def __init__(self, results: SearchResultList, key: str) -> None:
            super().__init__()
            self.results = results
            self.key = key

        @property
        def control(self) -> SearchResultList:
            return self.results

    def set_groups(self, groups: Sequence[ResultGroup]) -> None:
        """Replace the results; the cursor goes to the first result."""
        self.clear_options()
        options: list[Option] = []
        for group in groups:
            shown = len(group.rows)
            count = f"{shown} of {group.total}" if group.total > shown else str(group.total)
            options.append(Option(Text(f"{group.title} ({count})", style="bold underline"), disabled=True))
            options.extend(Option(result_prompt(row), id=row.key) for row in group.rows)
        self.add_options(options)
        first = next((i for i, option in enumerate(options) if not option.disabled), None)
        self.highlighted = first

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(self, event.option.id))
