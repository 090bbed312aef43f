"""File globs with the semantics of node ``glob`` v14's defaults, as Backstage's file reader uses them.

``*``, ``?``, ``[...]``, ``**`` and ``{a,b}`` braces work; names starting with ``.`` are only matched
by a pattern segment that itself starts with ``.``; ``**`` never descends into symlinked directories,
so a symlink loop cannot make expansion run forever. Only regular files are returned, sorted.
"""

from __future__ import annotations

import os
import re
from fnmatch import fnmatchcase

_MAGIC = re.compile(r"[*?\[{]")
_BRACE = re.compile(r"\{([^{}]*,[^{}]*)\}")


def has_magic(pattern: str) -> bool:
    return _MAGIC.search(pattern) is not None


def expand_braces(pattern: str) -> list[str]:
    """``a/{b,c}/*.yaml`` -> ``["a/b/*.yaml", "a/c/*.yaml"]`` (innermost braces first, nested ok)."""
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


def glob_files(pattern: str, limit: int = 100_000) -> list[str]:
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
        _walk(start, segments, found, limit)
    return sorted(found)


def _walk(directory: str, segments: list[str], found: set[str], limit: int) -> None:
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
        segment = segments[i]
        if segment == "**":
            stack.append((path, i + 1))  # `**` matches zero directories too
            for entry in _scandir(path):
                if entry.name.startswith(".") or not _is_real_dir(entry):
                    continue
                stack.append((entry.path, i))
            continue
        if not has_magic(segment):
            stack.append((os.path.join(path, segment), i + 1))
            continue
        dotted = segment.startswith(".")
        for entry in _scandir(path):
            if entry.name.startswith(".") and not dotted:
                continue
            if fnmatchcase(entry.name, segment):
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
