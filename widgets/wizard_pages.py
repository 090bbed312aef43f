"""The parts of a form wizard that say where you are and what you answered: the page tabs and the
review table. Plain data in (titles, rows of text); what is valid or masked is decided elsewhere."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from widgets.guard import Guarded


class PageTabs(Guarded, Static):
    """``1 Basics › 2 Extras › Review``: the page shown in reverse, with ``page 1 of 2`` after it."""

    def show(self, titles: Sequence[str], current: int | None) -> None:
        """``current`` is the index of the page shown, or None on the review."""
        text = Text()
        for index, title in enumerate(titles):
            text.append(f" {index + 1} {title} ", style="bold reverse" if index == current else "dim")
            text.append(" › ", style="dim")
        text.append(" Review ", style="bold reverse" if current is None else "dim")
        if current is not None:
            text.append(f"   page {current + 1} of {len(titles)}", style="italic")
        self.update(text)


class ReviewTable(Guarded, Static):
    """Every answer as (page, field, value as shown) — secrets arrive already masked."""

    def show_rows(self, rows: Iterable[tuple[str, str, str]]) -> None:
        table = Table(box=None, show_header=True, header_style="bold", expand=False, padding=(0, 2, 0, 0))
        table.add_column("PAGE", style="dim")
        table.add_column("FIELD")
        table.add_column("VALUE", overflow="fold")
        for page, title, value in rows:
            table.add_row(page, title, value)
        self.update(table)
