"""Snippets: a short excerpt showing where the query words matched, and in which section.

Only computed for the hits actually returned, so it can afford a regex pass over a page body.
"""

from __future__ import annotations

import bisect
import re

from backends.search.model import ResultType, SearchDocument, Section, Snippet

SNIPPET_WIDTH = 140
_MAX_MATCHES = 400

# Which field's excerpt best explains a match, per type (first field that matches wins).
_FIELD_ORDER: dict[ResultType, tuple[str, ...]] = {
    ResultType.ENTITY: ("description", "tags", "title", "name", "owner", "kind"),
    ResultType.DOCS: ("body", "headings", "title"),
    ResultType.TEMPLATE: ("description", "tags", "title", "name"),
}


def word_pattern(words: list[str]) -> re.Pattern[str]:
    """Matches any query word at the start of a word (prefix match, like the index)."""
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})[^\W_]*", re.IGNORECASE)


def make_snippet(doc: SearchDocument, words: list[str]) -> tuple[Snippet, Section | None]:
    """The excerpt to show for ``doc`` and, for pages, the section where the words matched best."""
    pattern = word_pattern(words)
    order = _FIELD_ORDER.get(doc.type, ()) + tuple(
        f for f in doc.fields if f not in _FIELD_ORDER.get(doc.type, ())
    )
    for field in order:
        text = doc.fields.get(field, "")
        if not text:
            continue
        if field == "body" and doc.sections:
            found = _best_section(doc, text, pattern, words)
            if found is not None:
                position, section = found
                floor = section.offset if section is not None else 0
                return _window(field, text, position, pattern, floor=floor), section
            continue
        match = pattern.search(text)
        if match:
            return _window(field, text, match.start(), pattern), None
    for field in order:  # nothing matched literally (e.g. only tokenised forms): show the start
        text = doc.fields.get(field, "")
        if text:
            return _window(field, text, 0, pattern), None
    return Snippet("", ""), None


def _best_section(
    doc: SearchDocument, text: str, pattern: re.Pattern[str], words: list[str]
) -> tuple[int, Section | None] | None:
    """Pick the section matching the most distinct query words (then: in its heading, earliest)."""
    by_length = sorted(words, key=len, reverse=True)
    offsets = [section.offset for section in doc.sections]
    seen: dict[int, set[str]] = {}
    first: dict[int, int] = {}
    heading_hit: set[int] = set()
    for count, match in enumerate(pattern.finditer(text)):
        if count >= _MAX_MATCHES:
            break
        index = bisect.bisect_right(offsets, match.start()) - 1
        matched = match.group(0).lower()
        word = next((w for w in by_length if matched.startswith(w)), matched)
        seen.setdefault(index, set()).add(word)
        first.setdefault(index, match.start())
        if index >= 0 and match.start() < doc.sections[index].offset + len(doc.sections[index].title) + 8:
            heading_hit.add(index)
    if not seen:
        return None
    best = max(seen, key=lambda i: (len(seen[i]), i in heading_hit, -first[i]))
    return first[best], doc.sections[best] if best >= 0 else None


def _window(field: str, text: str, position: int, pattern: re.Pattern[str], *, floor: int = 0) -> Snippet:
    """About ``SNIPPET_WIDTH`` characters around ``position``, never starting before ``floor``."""
    width = SNIPPET_WIDTH
    start = max(floor, position - width // 3)
    if start > floor:
        space = text.find(" ", start, position)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", position, end)
        end = space if space > position else end
    excerpt = " ".join(text[start:end].split())
    prefix = "…" if start > floor else ""  # a section start is a natural beginning
    suffix = "…" if end < len(text) else ""
    excerpt = f"{prefix}{excerpt}{suffix}"
    highlights = tuple((m.start(), m.end()) for m in pattern.finditer(excerpt))
    return Snippet(field, excerpt, highlights)
