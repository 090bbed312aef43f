"""Markdown preparation for a terminal: headings + anchors, admonitions, images, plain text.

TechDocs pages are written for mkdocs (Python-Markdown + extensions); terminals render CommonMark
(markdown-it via rich or Textual). Rather than a second renderer we rewrite the few mkdocs-only
constructs into CommonMark before display, so any viewer shows them sensibly:

* Admonitions (``!!! note "Title"`` and collapsible ``??? tip``) become a blockquote whose first
  line is the bold kind and title::

      > **Note: Title**
      >
      > body…

  A viewer may style blockquotes as callouts; the kind is also kept in ``callout_kind()``.
* Images ``![alt](path)`` become the link ``[image: alt (path)](path)``: the terminal shows the
  alt text and where the picture is, and the user can still follow it; pixels are never fetched.
* ``## Heading {#custom-id}`` (attr_list) keeps its custom anchor and loses the braces.

Anchors follow Python-Markdown's ``toc`` slugify (what mkdocs links use), with ``_1``, ``_2``
suffixes for repeated headings. All scanning skips fenced code blocks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from backends.docs.model import Heading, Image

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_ATX_CLOSING = re.compile(r"[ \t]+#+[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_ATTR_ID = re.compile(r"[ \t]*\{[^}]*#([\w-]+)[^}]*\}[ \t]*$")
_ADMONITION = re.compile(r"^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)(?P<rest>.*)$")
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)(?:[ \t]+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"(`+)(?:.+?)\1")
_SLUG_DROP = re.compile(r"[^\w\s-]")
_SLUG_SPACE = re.compile(r"[-\s]+")
_MD_INLINE = re.compile(r"[*_`~]|<[^>]+>|\[([^\]]*)\]\([^)]*\)")

# Readable names for the admonition kinds mkdocs-material documents.
_KIND_TITLES = {
    "note": "Note",
    "abstract": "Abstract",
    "summary": "Summary",
    "info": "Info",
    "tip": "Tip",
    "hint": "Hint",
    "success": "Success",
    "question": "Question",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "failure": "Failure",
    "danger": "Danger",
    "error": "Error",
    "bug": "Bug",
    "example": "Example",
    "quote": "Quote",
}


def slugify(text: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (ASCII, lowercase, hyphens)."""
    return _slug(inline_text(text))


def _slug(plain: str) -> str:
    if not plain.isascii():
        plain = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode("ascii")
    return _SLUG_SPACE.sub("-", _SLUG_DROP.sub("", plain).strip().lower())


def inline_text(text: str) -> str:
    """Markdown inline markup stripped to its words: ``**Run** [it](x)`` → ``Run it``."""
    if not any(mark in text for mark in "*_`~<["):
        return text.strip()  # most headings have no markup: skip the regex
    return _MD_INLINE.sub(lambda m: m.group(1) or "", text).strip()


def callout_kind(line: str) -> str | None:
    """The admonition kind (``warning``) when ``line`` is a callout's title line we produced."""
    match = re.match(r"^> \*\*(\w+)(?::|\*\*)", line)
    if not match:
        return None
    word = match.group(1).lower()
    return word if word in _KIND_TITLES else None


@dataclass(slots=True)
class PreparedMarkdown:
    """The display form of a page with its headings (anchors) and images."""

    markdown: str
    headings: list[Heading]
    images: list[Image]


def prepare(source: str) -> PreparedMarkdown:
    """Rewrite mkdocs-only syntax for a terminal and collect headings (with anchors) and images."""
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    lines = source.split("\n")
    images: list[Image] = []
    # Each pass scans every line; skip the ones whose syntax cannot occur (most pages).
    if "!!!" in source or "???" in source:
        lines = _rewrite_admonitions(lines)
    if "![" in source:
        lines = _rewrite_images(lines, images)
    headings = _collect_headings(lines)
    return PreparedMarkdown("\n".join(lines), headings, images)


def extract_headings(markdown: str) -> list[Heading]:
    """Headings of already-prepared markdown (used by tests and the search index)."""
    return _collect_headings(markdown.split("\n"))


def _code_mask(lines: list[str]) -> list[bool]:
    """True for lines inside (or delimiting) fenced code blocks."""
    mask: list[bool] = []
    fence: str | None = None
    for line in lines:
        stripped = line.lstrip(" >")  # fences inside blockquotes (our callouts) count too
        match = _FENCE.match(stripped)
        if fence is None:
            if match:
                fence = match.group(1)
                mask.append(True)
                continue
            mask.append(False)
        else:
            mask.append(True)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
    return mask


def _collect_headings(lines: list[str]) -> list[Heading]:
    headings: list[Heading] = []
    used: dict[str, int] = {}
    in_code = _code_mask(lines)
    previous_text = ""
    for index, line in enumerate(lines):
        if in_code[index]:
            previous_text = ""
            continue
        level = 0
        text = ""
        match = _ATX.match(line)
        if match:
            level = len(match.group(1))
            text = _ATX_CLOSING.sub("", match.group(2) or "")
            line_no = index + 1
        else:
            setext = _SETEXT.match(line)
            if setext and previous_text.strip() and not _is_block_start(previous_text):
                level = 1 if setext.group(1)[0] == "=" else 2
                text = previous_text.strip()
                line_no = index  # the text line, 1-based
        if level:
            custom = _ATTR_ID.search(text) if "{" in text else None
            if custom:
                text = text[: custom.start()]
            plain = inline_text(text)
            anchor = custom.group(1) if custom else (_slug(plain) or "section")
            count = used.get(anchor, 0)
            used[anchor] = count + 1
            if count:
                anchor = f"{anchor}_{count}"
            headings.append(Heading(level, plain, anchor, line_no))
            previous_text = ""
            continue
        previous_text = line
    return headings


def _is_block_start(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(("- ", "* ", "+ ", ">", "|", "#")) or bool(re.match(r"\d+[.)] ", stripped))


def _rewrite_admonitions(lines: list[str]) -> list[str]:
    out: list[str] = []
    in_code = _code_mask(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        match = None if in_code[index] else _ADMONITION.match(line)
        if not match:
            out.append(line)
            index += 1
            continue
        indent = match.group("indent")
        kind = match.group("kind").lower()
        title = _admonition_title(kind, match.group("rest"))
        # The body is every following line indented deeper than the marker (blank lines included
        # while more indented text follows), exactly as Python-Markdown's admonition reads it.
        body: list[str] = []
        cursor = index + 1
        body_indent = len(indent.expandtabs(4)) + 4
        while cursor < len(lines):
            candidate = lines[cursor].expandtabs(4)
            if candidate.strip() == "":
                body.append("")
                cursor += 1
                continue
            if len(candidate) - len(candidate.lstrip(" ")) >= body_indent:
                body.append(candidate[body_indent:])
                cursor += 1
                continue
            break
        while body and body[-1] == "":
            body.pop()
            cursor -= 1
        inner = _rewrite_admonitions(body)  # admonitions nest
        quoted = [f"{indent}> **{title}**" if title else None]
        if inner:
            if title:
                quoted.append(f"{indent}>")
            quoted.extend(f"{indent}> {text}".rstrip() if text else f"{indent}>" for text in inner)
        out.extend(q for q in quoted if q is not None)
        index = cursor
    return out


def _admonition_title(kind: str, rest: str) -> str:
    rest = rest.strip()
    name = _KIND_TITLES.get(kind, kind.replace("-", " ").capitalize())
    quoted = re.search(r'"(.*)"', rest)
    if quoted is not None:
        title = quoted.group(1).strip()
        if not title:
            return ""  # mkdocs: an explicit empty title hides the title bar
        return f"{name}: {title}"
    return name


def _rewrite_images(lines: list[str], images: list[Image]) -> list[str]:
    in_code = _code_mask(lines)
    out: list[str] = []
    for index, line in enumerate(lines):
        if in_code[index] or "![" not in line:
            out.append(line)
            continue
        out.append(_outside_inline_code(line, lambda text: _replace_images(text, images)))
    return out


def _replace_images(text: str, images: list[Image]) -> str:
    def replace(match: re.Match[str]) -> str:
        alt = match.group("alt").strip() or "image"
        src = match.group("src")
        images.append(Image(alt, src))
        return f"[image: {alt} ({src})]({src})"

    return _IMAGE.sub(replace, text)


def _outside_inline_code(line: str, transform) -> str:  # noqa: ANN001 - a str -> str callable
    parts: list[str] = []
    last = 0
    for match in _INLINE_CODE.finditer(line):
        parts.append(transform(line[last : match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(transform(line[last:]))
    return "".join(parts)


# Search text: each pattern works within a line (see ``plain_text``).
_LINK_TEXT = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_MARKUP_LINES = re.compile(  # fence markers, setext underlines and rules, table separator rows
    r"^(?: {0,3}(?:`{3,}|~{3,}).*"
    r"| {0,3}(?:=+|-+|\*+|_+)[ \t]*"
    r"|[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*)$",
    re.MULTILINE,
)
_INLINE_MARKUP = re.compile(r"<[^>\n]+>|\{[^}\n]*#[\w-]+[^}\n]*\}")  # HTML tags, attr_list ids
_LINE_PREFIX = re.compile(r"^[ \t]*(?:#{1,6}|>|[-*+]|\d+[.)]|\|)[ \t]?", re.MULTILINE)
_EMPHASIS = str.maketrans("*_`|", "    ")


def plain_text(markdown: str) -> str:
    """The words of a page for search: markup, link targets and code fences' markers removed.

    Code inside fences is kept (people search for commands), headings keep their text. Every
    substitution stays within a line, so line N of the result is line N of the input (the search
    index relies on this to find sections).
    """
    text = _LINK_TEXT.sub(r"\1", markdown)
    text = _MARKUP_LINES.sub(" ", text)
    text = _INLINE_MARKUP.sub(" ", text)
    text = _LINE_PREFIX.sub("", text)
    return text.translate(_EMPHASIS)
