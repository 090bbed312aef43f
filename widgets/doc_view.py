"""A Markdown page rendered with rich into lines, shown with the Line API (only visible lines paint).

Why not Textual's ``Markdown`` widget: it mounts one widget per block, and a 200 KB page (≈1,000
blocks) took 3.5 s to first paint and 21 s to finish here. Rich renders the same page to lines in
≈0.3 s, so this view renders the first sections synchronously (first paint in tens of ms), the rest
in a thread, and paints with ``render_line`` like the catalog's virtual table.

The page is split at its headings (the caller passes their source lines), each section rendered
on its own: that gives every heading's anchor a line to scroll to. Links keep their ``href`` in the
style's meta: external ones are also terminal hyperlinks (OSC 8, opened by the user's terminal);
any link can be clicked or reached with ``]``/``[`` and followed with ``enter`` — the view only
posts ``LinkActivated`` and the screen decides where that leads. ``/``-style find is offered as
``find``/``find_next``/``find_previous``; matches are highlighted in place.

Plain data in, messages out: this module knows nothing about docs sites or the catalog.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import BlockQuote, Heading, Markdown, Paragraph
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState

from widgets.guard import Guarded

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
FIRST_PAINT_CHARS = 3000  # rendered synchronously: more than a tall terminal shows
CHUNK_CHARS = 6000  # the rest is rendered in chunks this big: one rich pass per chunk, not per heading
_HEADING_MARK = Style(meta={"doc-heading": True})


class _LeftHeading(Heading):
    """Headings flush left (rich centres them), h1 underlined by a rule: easier to scan in a doc."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = self.text
        text.justify = "left"
        text.stylize(_HEADING_MARK)  # lets the renderer find heading lines for anchors
        if self.tag == "h1":
            yield text
            yield Rule(style="markdown.h1.border", characters="━")
        else:
            if self.tag == "h2":
                yield Text("")
            yield text


# Admonition kinds (as rewritten by backends.docs.markdown: "> **Warning: title**") → bar colour.
_CALLOUT_COLOURS = {
    **dict.fromkeys(("note", "info", "abstract", "summary"), "dodger_blue1"),
    **dict.fromkeys(("tip", "hint", "success"), "green3"),
    **dict.fromkeys(("warning", "caution", "attention", "question"), "yellow3"),
    **dict.fromkeys(("danger", "error", "failure", "bug"), "red1"),
    **dict.fromkeys(("example", "quote"), "medium_purple1"),
}
_CALLOUT_TITLE = re.compile(r"^(\w+)(?::|$)")


class _Callout(BlockQuote):
    """A blockquote; when its first line names an admonition kind, a callout in that kind's colour.

    The quote's text keeps the page's normal colours (rich tints all quoted text), so a long
    runbook warning stays readable; the bar and the title carry the colour.
    """

    style_name = "none"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # rich types Renderables.__iter__ as returning an Iterable, not an Iterator: a stub gap.
        first = next(iter(self.elements), None)  # type: ignore[call-overload, type-var]
        match = _CALLOUT_TITLE.match(first.text.plain) if isinstance(first, Paragraph) else None
        colour = _CALLOUT_COLOURS.get(match.group(1).lower()) if match else None
        lines = console.render_lines(self.elements, options.update(width=options.max_width - 4))
        bar = Segment("┃ " if colour else "▌ ", Style(color=colour) if colour else Style(dim=True))
        for number, line in enumerate(lines):
            yield bar
            if number == 0 and colour:  # the title line: in the callout's colour
                yield from Segment.apply_style(line, post_style=Style(color=colour, bold=True))
            else:
                yield from line
            yield Segment("\n")


class DocMarkdown(Markdown):
    """rich's Markdown with left-aligned headings and coloured callouts (see the module docstring)."""

    elements = {**Markdown.elements, "heading_open": _LeftHeading, "blockquote_open": _Callout}


@dataclass(slots=True)
class Section:
    """A slice of the page starting at a heading (``anchor``) or at the top (``anchor`` = "")."""

    anchor: str
    markdown: str
    title: str = ""  # the heading's text, to tell it from headings the caller did not list


@dataclass(slots=True)
class Link:
    line: int
    start: int  # cells
    end: int
    href: str


@dataclass(slots=True)
class _Rendered:
    lines: list[Strip] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    anchors: dict[str, int] = field(default_factory=dict)


def split_sections(
    markdown: str, headings: Sequence[tuple[str, int] | tuple[str, int, str]]
) -> list[Section]:
    """Cut ``markdown`` before each heading line, keeping order.

    ``headings`` are ``(anchor, 1-based line)`` or ``(anchor, line, text)``; with the text, anchors
    stay right even when the page has headings the caller did not list (e.g. inside a quote).
    """
    lines = markdown.split("\n")
    cuts = sorted({max(h[1] - 1, 0): (h[0], h[2] if len(h) > 2 else "") for h in headings}.items())
    sections: list[Section] = []
    first_cut = cuts[0][0] if cuts else len(lines)
    preamble = "\n".join(lines[:first_cut])
    if preamble.strip():
        sections.append(Section("", preamble))
    for number, (start, (anchor, title)) in enumerate(cuts):
        end = cuts[number + 1][0] if number + 1 < len(cuts) else len(lines)
        sections.append(Section(anchor, "\n".join(lines[start:end]), title))
    return sections


def chunk_sections(sections: Sequence[Section], first: int, size: int) -> list[list[Section]]:
    """Group consecutive sections: the first group ≥ ``first`` characters, the others ≥ ``size``."""
    groups: list[list[Section]] = []
    current: list[Section] = []
    length = 0
    for section in sections:
        current.append(section)
        length += len(section.markdown)
        if length >= (first if not groups else size):
            groups.append(current)
            current, length = [], 0
    if current:
        groups.append(current)
    return groups


def render_sections(
    sections: Sequence[Section], width: int, *, code_theme: str, first_line: int = 0
) -> _Rendered:
    """Render consecutive sections in one rich pass (thread-safe: its own Console).

    Heading lines are found by the style mark ``_LeftHeading`` puts on them and matched, in order,
    to the sections' anchors — one pass per chunk is ~3x faster than one per heading.
    """
    console = Console(
        width=width,
        file=io.StringIO(),
        color_system="truecolor",
        force_terminal=True,
        legacy_windows=False,
        emoji=False,
    )
    options = console.options.update(width=width)
    rendered = _Rendered()
    source = "\n".join(section.markdown for section in sections)
    markdown = DocMarkdown(source, code_theme=code_theme, hyperlinks=True, inline_code_theme=code_theme)
    heading_lines: list[int] = []
    previous_heading_line = -2
    for offset, segments in enumerate(console.render_lines(markdown, options, pad=False)):
        line_no = first_line + offset
        strip, links = _tag_links(segments, line_no)
        is_heading = any(style is not None and style.meta.get("doc-heading") for _, style, _ in segments)
        # A heading wrapped over several lines is one heading: keep its first line.
        if is_heading and previous_heading_line != line_no - 1:
            heading_lines.append(line_no)
        if is_heading:
            previous_heading_line = line_no
        rendered.lines.append(strip)
        rendered.links.extend(links)
    rendered.lines.append(Strip.blank(0))
    texts = {line_no: rendered.lines[line_no - first_line].text.strip() for line_no in heading_lines}
    cursor = 0
    for section in sections:
        if not section.anchor or cursor >= len(heading_lines):
            continue
        # The next heading line that starts with this section's title (others are headings inside
        # quotes or lists that the caller did not list); without a title, simply the next one.
        probe = section.title[:20]
        match = next(
            (
                i
                for i in range(cursor, len(heading_lines))
                if not probe or texts[heading_lines[i]].startswith(probe)
            ),
            cursor,
        )
        rendered.anchors[section.anchor] = heading_lines[match]
        cursor = match + 1
    return rendered


def _tag_links(segments: list[Segment], line: int) -> tuple[Strip, list[Link]]:
    """Put each link's href in the style meta; only external links stay terminal hyperlinks."""
    links: list[Link] = []
    out: list[Segment] = []
    position = 0
    for text, style, control in segments:
        width = cell_len(text)
        if style is not None and style.link:
            href = style.link
            style = style + Style(meta={"href": href})
            if not _SCHEME.match(href):
                style = style.update_link(None)  # relative: the viewer follows it, not the terminal
            if links and links[-1].href == href and links[-1].end == position:
                links[-1].end = position + width
            else:
                links.append(Link(line, position, position + width, href))
        out.append(Segment(text, style, control))
        position += width
    return Strip(out, position), links


class DocView(Guarded, ScrollView, can_focus=True):
    """A rendered Markdown page; scroll with the usual keys, ``]``/``[`` pick links, enter follows."""

    DEFAULT_CSS = """
    DocView {
        height: 1fr;
        padding: 0 1;
        background: $surface;
        overflow-y: scroll;  /* a scrollbar appearing later would change the width we rendered at */
    }
    DocView > .doc-view--match { background: $warning 40%; }
    DocView > .doc-view--current-match { background: $warning; color: $background; text-style: bold; }
    DocView > .doc-view--link-cursor { background: $accent 40%; text-style: bold underline; }
    """
    COMPONENT_CLASSES = {"doc-view--match", "doc-view--current-match", "doc-view--link-cursor"}
    BINDINGS = [
        Binding("up,k", "scroll_up", "Up", show=False, id="doc.up"),
        Binding("down,j", "scroll_down", "Down", show=False, id="doc.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="doc.page_up"),
        Binding("pagedown,space", "page_down", "Page down", show=False, id="doc.page_down"),
        Binding("home,g", "scroll_home", "Top", show=False, id="doc.top"),
        Binding("end,G", "scroll_end", "Bottom", show=False, id="doc.bottom"),
        Binding("right_square_bracket", "next_link", "Links", id="doc.next_link"),
        Binding("left_square_bracket", "previous_link", "Prev link", show=False, id="doc.previous_link"),
        Binding("enter", "follow_link", "Follow link", id="doc.follow_link"),
    ]

    class LinkActivated(Message):
        """A link was clicked or followed with enter; ``href`` exactly as written in the page."""

        def __init__(self, view: DocView, href: str) -> None:
            super().__init__()
            self.view = view
            self.href = href

        @property
        def control(self) -> DocView:
            return self.view

    class FindResult(Message):
        """After a find step: the query, the current match (1-based, 0 = none) and the total."""

        def __init__(self, view: DocView, query: str, current: int, total: int) -> None:
            super().__init__()
            self.view = view
            self.query = query
            self.current = current
            self.total = total

        @property
        def control(self) -> DocView:
            return self.view

    class Rendered(Message):
        """The whole page is rendered (``lines`` in total): anchors and find cover all of it now."""

        def __init__(self, view: DocView, lines: int) -> None:
            super().__init__()
            self.view = view
            self.lines = lines

        @property
        def control(self) -> DocView:
            return self.view

    class _RestRendered(Message):
        def __init__(self, generation: int, width: int, rendered: _Rendered) -> None:
            super().__init__()
            self.generation = generation
            self.width = width
            self.rendered = rendered

    def __init__(
        self, *, code_theme: str = "monokai", name: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(name=name, id=id)
        self.code_theme = code_theme
        self._sections: list[Section] = []
        self._rendered = _Rendered()
        self._complete = True
        self._generation = 0
        self._width = 0
        self._pending_anchor: str | None = None
        self._pending_scroll: float | None = None
        self._find_query = ""
        self._matches: list[tuple[int, int, int]] = []  # (line, start cell, end cell)
        self._match_index = -1
        self._matches_by_line: dict[int, list[int]] = {}
        self._link_index = -1

    # -- content ---------------------------------------------------------------------------------
    def show(
        self,
        markdown: str,
        headings: Sequence[tuple[str, int] | tuple[str, int, str]] = (),
        *,
        anchor: str | None = None,
        scroll_y: float | None = None,
    ) -> None:
        """Display a page, then go to ``anchor`` (or ``scroll_y``).

        ``headings`` are ``(anchor, 1-based source line[, text])`` — see ``split_sections``.
        """
        self._sections = split_sections(markdown, headings)
        self._generation += 1
        self._pending_anchor = anchor
        self._pending_scroll = scroll_y
        self._link_index = -1
        if self.is_mounted:
            self.refresh_bindings()
        self._rendered = _Rendered()
        self._complete = False
        self._width = 0
        self.scroll_to(0, 0, animate=False, immediate=True)
        if self.is_mounted and self._content_width() > 0:
            self._render_page()

    @property
    def complete(self) -> bool:
        """True once every section is rendered (anchors and find cover the whole page)."""
        return self._complete

    @property
    def line_count(self) -> int:
        return len(self._rendered.lines)

    @property
    def links(self) -> list[Link]:
        return list(self._rendered.links)

    @property
    def current_link(self) -> Link | None:
        if 0 <= self._link_index < len(self._rendered.links):
            return self._rendered.links[self._link_index]
        return None

    def anchor_line(self, anchor: str) -> int | None:
        return self._rendered.anchors.get(anchor)

    def goto_anchor(self, anchor: str) -> bool:
        """Scroll so the heading with ``anchor`` is at the top; deferred until rendered if needed."""
        line = self._rendered.anchors.get(anchor)
        if line is None:
            if not self._complete:
                self._pending_anchor = anchor
                return True
            return False
        # After the next refresh: the new virtual size must be laid out first, or the scroll clamps.
        self.call_after_refresh(self.scroll_to, y=line, animate=False, immediate=True)
        return True

    def text_lines(self) -> list[str]:
        """The rendered page as plain text lines (tests and find use this)."""
        return [strip.text for strip in self._rendered.lines]

    def _content_width(self) -> int:
        return max(self.scrollable_content_region.width, 0)

    def _render_page(self) -> None:
        width = self._content_width()
        if width <= 0 or not self._sections:
            self._complete = True
            self._apply_size()
            return
        self._width = width
        generation = self._generation
        # First paint: render the first sections synchronously (a screenful and more); the rest
        # in a thread once that paint is out, so the two never compete for the interpreter.
        chunks = chunk_sections(self._sections, FIRST_PAINT_CHARS, CHUNK_CHARS)
        self._rendered = render_sections(chunks[0], width, code_theme=self.code_theme)
        self._apply_size()
        if len(chunks) > 1:
            self._complete = False
            first_line = len(self._rendered.lines)
            self.call_after_refresh(self._render_rest, generation, width, chunks[1:], first_line)
        else:
            self._finish()

    @work(thread=True, exclusive=True, group="doc-view-render", name="render page", exit_on_error=False)
    def _render_rest(self, generation: int, width: int, chunks: list[list[Section]], first_line: int) -> None:
        rendered = _Rendered()
        for chunk in chunks:
            if generation != self._generation:
                return  # superseded: stop burning CPU the UI needs
            part = render_sections(chunk, width, code_theme=self.code_theme, first_line=first_line)
            first_line += len(part.lines)
            rendered.lines.extend(part.lines)
            rendered.links.extend(part.links)
            rendered.anchors.update(part.anchors)
        self.post_message(self._RestRendered(generation, width, rendered))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand a failed render to the app's one error handler.
        if event.state == WorkerState.ERROR:
            self.app.post_message(Worker.StateChanged(event.worker, event.state))

    def on_doc_view__rest_rendered(self, message: _RestRendered) -> None:
        message.stop()
        if message.generation != self._generation or message.width != self._width:
            return  # a newer page (or width) replaced this one meanwhile
        self._rendered.lines.extend(message.rendered.lines)
        self._rendered.links.extend(message.rendered.links)
        self._rendered.anchors.update(message.rendered.anchors)
        self._apply_size()
        self._finish()

    def _finish(self) -> None:
        self._complete = True
        if self._find_query:
            self._collect_matches(keep_position=True)
        if self._pending_anchor:
            self.goto_anchor(self._pending_anchor)
            self._pending_anchor = None
        elif self._pending_scroll is not None:
            self.call_after_refresh(self.scroll_to, y=self._pending_scroll, animate=False, immediate=True)
        self._pending_scroll = None
        self.post_message(self.Rendered(self, len(self._rendered.lines)))

    def _apply_size(self) -> None:
        width = max((strip.cell_length for strip in self._rendered.lines), default=0)
        self.virtual_size = Size(width, len(self._rendered.lines))
        self.refresh()
        if self._pending_anchor and self._pending_anchor in self._rendered.anchors:
            self.goto_anchor(self._pending_anchor)

    def on_resize(self, event: events.Resize) -> None:
        width = self._content_width()
        if self._sections and width > 0 and width != self._width:
            anchor = self._pending_anchor or self._anchor_at(round(self.scroll_y))
            self._generation += 1
            self._pending_anchor = anchor
            self._render_page()

    def anchor_at_top(self) -> str | None:
        """The anchor of the section at the top of the view (None at the very top of the page)."""
        return self._anchor_at(round(self.scroll_y))

    def _anchor_at(self, line: int) -> str | None:
        best: tuple[int, str] | None = None
        for anchor, start in self._rendered.anchors.items():
            if start <= line and (best is None or start > best[0]):
                best = (start, anchor)
        return best[1] if best and line > 0 else None

    # -- painting --------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self._rendered.lines):
            return Strip.blank(width, base)
        strip = self._rendered.lines[index]
        for match_number in self._matches_by_line.get(index, ()):
            _, start, end = self._matches[match_number]
            name = "doc-view--current-match" if match_number == self._match_index else "doc-view--match"
            strip = _overlay(strip, start, end, self.get_component_rich_style(name))
        link = self.current_link
        if link is not None and link.line == index:
            strip = _overlay(
                strip, link.start, link.end, self.get_component_rich_style("doc-view--link-cursor")
            )
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)

    # -- links -----------------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        href = event.style.meta.get("href") if event.style else None
        if href:
            event.stop()
            self.post_message(self.LinkActivated(self, href))

    def action_next_link(self) -> None:
        self._move_link(1)

    def action_previous_link(self) -> None:
        self._move_link(-1)

    def _move_link(self, step: int) -> None:
        links = self._rendered.links
        if not links:
            self.notify("No links on this page.", timeout=2)
            return
        top = round(self.scroll_y)
        bottom = top + self.scrollable_content_region.height
        current = self.current_link
        if current is None or not (top <= current.line < bottom):
            # Start from what is on screen rather than from the top of the page.
            visible = [i for i, link in enumerate(links) if top <= link.line < bottom]
            index = (
                (visible[0] if step > 0 else visible[-1]) if visible else (0 if step > 0 else len(links) - 1)
            )
        else:
            index = (self._link_index + step) % len(links)
        self._link_index = index
        self._scroll_to_line(links[index].line)
        self.refresh()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "Follow link" only shows in the footer once ] or [ picked a link.
        if action == "follow_link":
            return self.current_link is not None
        return True

    def action_follow_link(self) -> None:
        link = self.current_link
        if link is not None:
            self.post_message(self.LinkActivated(self, link.href))

    # -- find ------------------------------------------------------------------------------------
    def find(self, query: str) -> int:
        """Highlight every case-insensitive occurrence of ``query``; returns how many were found."""
        self._find_query = query
        self._collect_matches(keep_position=False)
        return len(self._matches)

    def find_next(self) -> None:
        self._step_match(1)

    def find_previous(self) -> None:
        self._step_match(-1)

    def clear_find(self) -> None:
        self._find_query = ""
        self._matches = []
        self._matches_by_line = {}
        self._match_index = -1
        self.refresh()

    def _collect_matches(self, *, keep_position: bool) -> None:
        query = self._find_query.lower()
        self._matches = []
        self._matches_by_line = {}
        if query:
            for line_no, strip in enumerate(self._rendered.lines):
                text = strip.text.lower()
                start = text.find(query)
                while start != -1:
                    cell_start = cell_len(text[:start])
                    cell_end = cell_start + cell_len(text[start : start + len(query)])
                    self._matches_by_line.setdefault(line_no, []).append(len(self._matches))
                    self._matches.append((line_no, cell_start, cell_end))
                    start = text.find(query, start + max(len(query), 1))
        if not self._matches:
            self._match_index = -1
        elif not keep_position or self._match_index < 0:
            # The first match at or below the top of the view, like a browser's find.
            top = round(self.scroll_y)
            self._match_index = next((i for i, m in enumerate(self._matches) if m[0] >= top), 0)
        else:
            self._match_index = min(self._match_index, len(self._matches) - 1)
        self._show_match()

    def _step_match(self, step: int) -> None:
        if not self._matches:
            self._show_match()
            return
        self._match_index = (self._match_index + step) % len(self._matches)
        self._show_match()

    def _show_match(self) -> None:
        if 0 <= self._match_index < len(self._matches):
            self._scroll_to_line(self._matches[self._match_index][0])
        self.refresh()
        current = self._match_index + 1 if self._matches else 0
        self.post_message(self.FindResult(self, self._find_query, current, len(self._matches)))

    def _scroll_to_line(self, line: int) -> None:
        height = self.scrollable_content_region.height
        if not (self.scroll_y <= line < self.scroll_y + height):
            self.scroll_to(y=max(line - height // 3, 0), animate=False, immediate=True)


def _overlay(strip: Strip, start: int, end: int, style: Style) -> Strip:
    """``strip`` with ``style`` laid over cells ``start``–``end`` (it wins over the text's own)."""
    if end <= start:
        return strip
    middle = Strip([Segment(t, (s + style) if s else style, c) for t, s, c in strip.crop(start, end)])
    return Strip.join([strip.crop(0, start), middle, strip.crop(end, strip.cell_length)])


__all__ = ["DocMarkdown", "DocView", "Link", "Section", "chunk_sections", "render_sections", "split_sections"]
