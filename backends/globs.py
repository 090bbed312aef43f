"""The one glob engine: catalog Locations, template sources and the scaffolder's file globs.

``*``, ``?``, ``[...]`` (``!`` or ``^`` negates), ``**`` as a whole path segment and ``{a,b}``
braces (expanded first, nested ok) work the same for every caller. A backslash is a plain
character, as in both engines this one replaces. The callers differ on one thing, which each
must say: ``dot``.

- ``dot=False`` is node ``glob`` v14's default, as Backstage's catalog file reader uses it: a name
  starting with ``.`` is only matched by a pattern segment that itself starts with ``.``, and
  ``**`` never enters a dot directory.
- ``dot=True`` is what Backstage's scaffolder passes to globby (``fetch:template``'s
  ``copyWithoutTemplating``, ``fs:delete``): ``*`` and ``**`` match dot names too.

``glob_files`` walks the file system (``**`` never descends into symlinked directories, so a
symlink loop cannot make expansion run forever); ``glob_regex`` matches relative paths.
"""

from __future__ import annotations

import os
import re

_MAGIC = re.compile(r"[*?\[{]")
_BRACE = re.compile(r"\{([^{}]*,[^{}]*)\}")
_NO_DOT = r"(?!\.)"  # at a segment's start: the name must not start with "."


def has_magic(pattern: str) -> bool:
    """Whether ``pattern`` has a wildcard, a character class or a brace."""
    return _MAGIC.search(pattern) is not None


def expand_braces(pattern: str) -> list[str]:
    """``a/{b,c}/*.yaml`` -> ``["a/b/*.yaml", "a/c/*.yaml"]`` (innermost braces first, nested ok).

    A brace without a comma (``{a}``) is literal, as in node glob and globby."""
    match = _BRACE.search(pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    result: list[str] = []
    for option in match.group(1).split(","):
        for expanded in expand_braces(head + option + tail):
            if expanded not in result:
                result.append(expanded)
    return result


def _class_end(segment: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1 (then ``[`` is literal)."""
    i = start + 1
    if i < len(segment) and segment[i] in "!^":
        i += 1
    if i < len(segment) and segment[i] == "]":  # a leading "]" is a member, not the end
        i += 1
    return segment.find("]", i)


def _class(body: str) -> str:
    negate = body[:1] in ("!", "^")
    members = "".join(c if c == "-" else re.escape(c) for c in (body[1:] if negate else body))
    # A negated class never matches "/": a class stands for one character of one name.
    return f"[^/{members}]" if negate else f"[{members}]"


def segment_regex(segment: str, *, dot: bool) -> str:
    """Regex source for one path segment (no ``/``); ``**`` inside a segment is a plain ``*``."""
    out = [] if dot or segment.startswith(".") else [_NO_DOT]
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := _class_end(segment, i)) != -1:
            out.append(_class(segment[i + 1 : end]))
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _path_regex(pattern: str, *, dot: bool) -> str:
    segments = pattern.removeprefix("./").rstrip("/").split("/")
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            # Zero or more whole segments; with ``dot=False`` none of them may start with ".".
            if dot:
                out.append(".*" if last else "(?:.*/)?")
            else:
                name = _NO_DOT + "[^/]*"
                out.append(f"(?:{name}(?:/{name})*)?" if last else f"(?:{name}/)*")
            continue
        out.append(segment_regex(segment, dot=dot) + ("" if last else "/"))
    return "".join(out)


def glob_regex(pattern: str, *, dot: bool) -> re.Pattern[str]:
    """A compiled regex matching the posix relative paths ``pattern`` matches (a trailing ``/`` too)."""
    alternatives = "|".join(_path_regex(single, dot=dot) for single in expand_braces(pattern))
    return re.compile(f"^(?:{alternatives})/?$")


def glob_files(pattern: str, *, dot: bool, limit: int = 100_000) -> list[str]:
    """Absolute or relative ``pattern`` -> sorted list of matching regular files (paths as joined)."""
    found: set[str] = set()
    for single in expand_braces(pattern):
        if not has_magic(single):
            if os.path.isfile(single):
                found.add(os.path.normpath(single))
            continue
        segments = single.split("/")
        if segments[0] == "":  # absolute
            base, segments = "/", segments[1:]
        else:
            base = "."
        # Start from the longest literal prefix.
        literal: list[str] = []
        while segments and not has_magic(segments[0]):
            literal.append(segments.pop(0))
        start = os.path.join(base, *literal) if literal else base
        _walk(start, segments, found, limit, dot)
    return sorted(found)


def _walk(directory: str, segments: list[str], found: set[str], limit: int, dot: bool) -> None:
    compiled = [
        None if s == "**" or not has_magic(s) else re.compile(segment_regex(s, dot=dot)) for s in segments
    ]
    # An explicit stack rather than recursion: deep trees must not hit the recursion limit.
    stack: list[tuple[str, int]] = [(directory, 0)]
    seen: set[tuple[str, int]] = set()
    while stack and len(found) < limit:
        path, i = stack.pop()
        if (path, i) in seen:
            continue
        seen.add((path, i))
        if i == len(segments):
            if os.path.isfile(path):
                found.add(os.path.normpath(path))
            continue
        segment, regex = segments[i], compiled[i]
        if segment == "**":
            stack.append((path, i + 1))  # `**` matches zero directories too
            for entry in _scandir(path):
                if (entry.name.startswith(".") and not dot) or not _is_real_dir(entry):
                    continue
                stack.append((entry.path, i))
            continue
        if regex is None:
            stack.append((os.path.join(path, segment), i + 1))
            continue
        for entry in _scandir(path):
            if regex.fullmatch(entry.name):
                stack.append((entry.path, i + 1))


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except OSError:
        return []


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
