"""The list of every entity that has docs, with a filter above it (the docs mode without an entity).

Plain data in — (entity ref, title, how its docs were found) — and ``Chosen`` out with the ref; which
entities have docs is the backend's rule (``backends.docs.discovery``).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from widgets.guard import Guarded

Site = tuple[str, str, str]  # entity ref, title, how the docs were found


class SitePicker(Guarded, Vertical):
    """``/`` filters by words in the ref or title (all must match); enter posts ``Chosen``."""

    DEFAULT_CSS = """
    SitePicker #site-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    SitePicker #sites { height: 1fr; border: none; }
    """

    class Chosen(Message):
        def __init__(self, entity_ref: str) -> None:
            super().__init__()
            self.entity_ref = entity_ref

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sites: list[Site] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter: entity name, title", id="site-filter")
        yield OptionList(id="sites")

    @property
    def filter_input(self) -> Input:
        return self.query_one("#site-filter", Input)

    @property
    def options(self) -> OptionList:
        return self.query_one("#sites", OptionList)

    def set_sites(self, sites: Sequence[Site]) -> None:
        self.sites = list(sites)
        self._fill()

    @on(Input.Changed, "#site-filter")
    def _fill(self) -> None:
        words = self.filter_input.value.lower().split()
        options = self.options
        options.clear_options()
        matching = [s for s in self.sites if all(w in f"{s[0]} {s[1]}".lower() for w in words)]
        if not matching:
            empty = "No entity has docs yet." if not self.sites else "No docs match the filter."
            options.add_option(Option(Text(empty, style="italic dim"), disabled=True))
            return
        for ref, title, how in matching:
            prompt = Text(title, style="bold")
            prompt.append(f"  {ref}", style="dim")
            prompt.append(f"  {how}", style="italic dim")
            options.add_option(Option(prompt, id=ref))
        options.highlighted = 0

    @on(Input.Submitted, "#site-filter")
    def _filter_done(self) -> None:
        self.options.focus()

    @on(OptionList.OptionSelected, "#sites")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(event.option.id))
