"""A long-running task on screen: status line, live step list, result (links, text, failure), log.

Plain data in — the screen turns its engine's events into calls here — so the same view can show
any stepwise job. Output links post ``OutputLinks.LinkChosen``; what opening means is the screen's
business (an entity screen, a copied URL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Log, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from widgets.guard import Guarded
from widgets.step_list import StepList

Link = Mapping[str, Any]  # Backstage output link: title, url or entityRef, icon


def link_prompt(link: Link) -> Text:
    """A link line: its title as a terminal hyperlink (urls) or an entity to open (entity refs)."""
    title = str(link.get("title") or link.get("url") or link.get("entityRef") or "link")
    if link.get("entityRef"):
        text = Text("⧉ ", style="bold")
        text.append(title, style="bold underline")
        text.append(f"  {link['entityRef']} — enter opens it", style="dim")
        return text
    url = str(link.get("url") or "")
    # A local path (a bare repository in the demo) is only clickable as a file:// URL.
    target = Path(url).as_uri() if url.startswith("/") else url
    text = Text("↗ ", style="bold")
    text.append(title, style=Style(bold=True, underline=True, link=target or None))
    text.append(f"  {url}", style=Style(dim=True, link=target or None))
    return text


def output_markdown(texts: Sequence[Mapping[str, Any]]) -> str:
    """Backstage ``output.text`` entries (title + markdown content) as one document."""
    parts = []
    for item in texts:
        heading = f"### {item['title']}\n\n" if item.get("title") else ""
        parts.append(heading + str(item.get("content") or ""))
    return "\n\n".join(parts)


class OutputLinks(Guarded, OptionList):
    """The links a finished task produced; enter on one posts ``LinkChosen``."""

    class LinkChosen(Message):
        def __init__(self, link: Link) -> None:
            super().__init__()
            self.link = link

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.links: list[Link] = []

    def set_links(self, links: Sequence[Link]) -> None:
        self.links = list(links)
        self.clear_options()
        self.add_options(Option(link_prompt(link), id=str(i)) for i, link in enumerate(self.links))
        if self.links:
            # The catalog link says "enter opens it": enter right after a run must do just that,
            # not act on the repository link listed above it.
            entity_links = [i for i, link in enumerate(self.links) if link.get("entityRef")]
            self.highlighted = entity_links[0] if entity_links else 0

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.LinkChosen(self.links[event.option_index]))


class TaskView(Guarded, Vertical):
    DEFAULT_CSS = """
    TaskView { height: 1fr; }
    TaskView > #run-status { height: 1; padding: 0 1; background: $panel; }
    TaskView > #results { height: auto; max-height: 60%; }
    TaskView #steps { margin: 1 0; }
    TaskView #failure { height: auto; color: $error; padding: 0 1; margin: 0 0 1 0; display: none; }
    TaskView #failure.-shown { display: block; }
    TaskView #links {
        height: auto; max-height: 8; display: none; border: round $success 50%; text-wrap: nowrap;
        text-overflow: ellipsis; margin: 0 1;
    }
    TaskView #links.-shown { display: block; }
    TaskView #output-text { height: auto; display: none; margin: 0 1; }
    TaskView #output-text.-shown { display: block; }
    TaskView #offer {
        height: auto; padding: 0 1; margin: 0 1; border: round $success; text-style: bold; display: none;
    }
    TaskView #offer.-shown { display: block; }
    TaskView > #log { height: 1fr; min-height: 6; border-top: solid $panel-lighten-2; }
    /* Once a run produced results, they are what the user reads next (the log stays below). */
    TaskView.-results > #results { max-height: 80%; }
    TaskView.-results > #log { min-height: 4; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="run-status", markup=False)
        with VerticalScroll(id="results"):
            yield StepList(id="steps")
            yield Static("", id="failure", markup=False)
            yield Static("", id="offer", markup=False)
            yield OutputLinks(id="links")
            yield Markdown("", id="output-text")
        yield Log(id="log", highlight=False)

    @property
    def steps(self) -> StepList:
        return self.query_one(StepList)

    @property
    def output_log(self) -> Log:  # (not ``log``: that is every widget's debug logger)
        return self.query_one(Log)

    def begin(self, status: str, steps: Sequence[tuple[str, str, str]]) -> None:
        """A new run of these (id, name, action) steps: everything pending, log and results empty."""
        self.steps.set_steps(list(steps))
        self.output_log.clear()
        self.clear_results()
        self.set_status(status)

    def set_status(self, text: str, style: str = "bold") -> None:
        self.query_one("#run-status", Static).update(Text(f" {text}", style=style))

    def write(self, line: str) -> None:
        self.output_log.write_line(line)

    def clear_results(self) -> None:
        self.query_one("#failure", Static).remove_class("-shown")
        self.remove_class("-results")
        self.show_offer(None)
        links = self.query_one(OutputLinks)
        links.set_links([])
        links.remove_class("-shown")
        text = self.query_one("#output-text", Markdown)
        text.update("")
        text.remove_class("-shown")

    def show_outputs(self, links: Sequence[Link], texts: Sequence[Mapping[str, Any]]) -> None:
        """Links (focused, so enter opens the first) and the output text as Markdown."""
        self.set_class(bool(links or texts), "-results")
        if links:
            output_links = self.query_one(OutputLinks)
            output_links.set_links(links)
            output_links.add_class("-shown")
            output_links.focus()
        if texts:
            markdown = self.query_one("#output-text", Markdown)
            markdown.update(output_markdown(texts))
            markdown.add_class("-shown")

    def show_offer(self, text: str | None) -> None:
        """What the user can do next with one key (e.g. deploy what was just created), or nothing."""
        offer = self.query_one("#offer", Static)
        offer.update(text or "")
        offer.set_class(bool(text), "-shown")

    def show_failure(self, lines: Sequence[str]) -> None:
        failure = self.query_one("#failure", Static)
        failure.update("\n".join(lines))
        failure.add_class("-shown")
