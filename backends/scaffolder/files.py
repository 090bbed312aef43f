"""The task's working directory: every write goes through here so paths and sizes are checked.

Rendered names come from user input (``${{ values.name }}/…``), so a path is only accepted when it
resolves — symlinks included — inside the task workspace, and the number and size of written files
are capped so a runaway template cannot fill the disk. No rendered path may name version-control
metadata (``.git`` and friends, any case, any depth): git would read a planted ``.git/config`` or
hook as its own and run the commands in it when the result is published.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from backends.globs import glob_regex
from backends.scaffolder.errors import LimitExceeded, PathEscapeError

# Directory names version-control tools treat as their own metadata. ``.gitmodules`` and
# ``.gitignore`` stay allowed: they are ordinary content and git never runs commands from them.
VCS_METADATA = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs"})


def vcs_component(relative: str) -> str | None:
    """The first component of ``relative`` that is VCS metadata, else None.

    Compared case-insensitively and without trailing dots/spaces, because case-insensitive and
    Windows filesystems open ``.GIT`` or ``.git.`` as ``.git``; ``git~1`` is its 8.3 short name.
    """
    for part in re.split(r"[\\/]", relative):
        name = part.rstrip(". ").lower()
        if name in VCS_METADATA or name == "git~1":
            return part
    return None


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps for one task's output."""

    max_files: int = 10_000
    max_total_bytes: int = 200 * 1024 * 1024
    max_file_bytes: int = 50 * 1024 * 1024


class TaskFiles:
    """Safe access to one task workspace directory."""

    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.limits = limits or Limits()
        self.has_links = False
        self._dirs: set[str] = set()
        self.files_written = 0
        self.bytes_written = 0
        # Workspace paths whose name, or whose contents, a template computed from a secret: the file
        # keeps the real text, but no listing or log may show that name or those contents.
        self._tainted_names: set[Path] = set()
        self._tainted_contents: set[Path] = set()

    def resolve(self, relative: str | os.PathLike[str], *, what: str = "path") -> Path:
        """``relative`` inside the workspace, or PathEscapeError (absolute, ``..``, outbound symlink)."""
        text = os.fspath(relative)
        if (
            text.startswith(("/", "\\"))
            or PurePosixPath(text).is_absolute()
            or re.match(r"^[A-Za-z]:[\\/]", text)
        ):
            raise PathEscapeError(
                f"{what} {text!r} is absolute; only paths inside the task workspace are allowed"
            )
        candidate = (self.root / text).resolve()
        if candidate != self.root and not candidate.is_relative_to(self.root):
            raise PathEscapeError(f"{what} {text!r} resolves outside the task workspace ({candidate})")
        self.refuse_vcs(text, what=what)
        self.refuse_vcs(candidate, what=what)  # through a symlink the real path may name .git
        return candidate

    def refuse_vcs(self, path: str | os.PathLike[str], *, what: str = "path") -> None:
        """PathEscapeError when ``path`` (relative text or a workspace path) names VCS metadata."""
        text = self.relative(Path(path)) if isinstance(path, Path) and path.is_absolute() else os.fspath(path)
        found = vcs_component(text)
        if found is not None:
            raise PathEscapeError(
                f"{what} {text!r}: version-control metadata ({found}) — "
                "a template may not create or write .git, .hg or .svn entries"
            )

    def relative(self, path: Path) -> str:
        """A workspace path as the user would write it (posix, relative)."""
        normal = Path(os.path.normpath(path if path.is_absolute() else self.root / path))
        try:
            return normal.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(normal)

    def inside(self, path: Path) -> bool:
        """Whether ``path`` stays in the workspace (symlinks followed once the task has made any)."""
        if self.has_links:
            resolved = path.resolve()
            return resolved == self.root or resolved.is_relative_to(self.root)
        # No links in the workspace: a lexical check is exact, and far cheaper than realpath.
        normal = os.path.normpath(path)
        return normal == str(self.root) or normal.startswith(str(self.root) + os.sep)

    def note_symlink(self) -> None:
        """Record that the workspace now holds a symlink, so ``inside`` must follow links."""
        self.has_links = True

    def write_bytes(self, path: Path, data: bytes, mode: int | None = None) -> None:
        """Write a file at an already checked path, counting it against the caps."""
        self.refuse_vcs(path)
        self._count(len(data), path)
        parent = str(path.parent)
        if parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
        if self.has_links and path.is_symlink():
            path.unlink()  # never write through a link: it might have been planted to point outside
        with open(path, "wb") as handle:
            handle.write(data)
        if mode is not None and mode & 0o777 != 0o644:
            os.chmod(path, mode & 0o777)

    def count_copy(self, size: int, path: Path) -> None:
        """Count a file written by other means (a copy, a symlink) against the caps."""
        self.refuse_vcs(path)
        self._count(size, path)

    def _count(self, size: int, path: Path) -> None:
        if size > self.limits.max_file_bytes:
            raise LimitExceeded(
                f"{self.relative(path)}: {size} bytes exceeds the file cap {self.limits.max_file_bytes}"
            )
        self.files_written += 1
        self.bytes_written += size
        if self.files_written > self.limits.max_files:
            raise LimitExceeded(f"the task wrote more than {self.limits.max_files} files (cap)")
        if self.bytes_written > self.limits.max_total_bytes:
            raise LimitExceeded(f"the task wrote more than {self.limits.max_total_bytes} bytes (cap)")

    def mark_tainted(self, path: Path, *, name: bool = False, contents: bool = False) -> None:
        """Record that ``path``'s name (and so everything under it) or contents came from a secret."""
        if name:
            self._tainted_names.add(Path(os.path.normpath(path)))
        if contents:
            self._tainted_contents.add(Path(os.path.normpath(path)))

    def name_tainted(self, path: Path) -> bool:
        """Whether showing ``path`` would show a name computed from a secret."""
        normal = Path(os.path.normpath(path))
        return any(normal == t or normal.is_relative_to(t) for t in self._tainted_names)

    def contents_tainted(self, path: Path) -> bool:
        """Whether ``path``'s contents were rendered from a secret."""
        return Path(os.path.normpath(path)) in self._tainted_contents

    def walk(self, start: Path | None = None) -> Iterator[Path]:
        """Every file and directory under ``start`` (default: the root), sorted, no symlink following."""
        base = start or self.root
        for directory, dirnames, filenames in os.walk(base):
            dirnames.sort()
            current = Path(directory)
            for name in dirnames:
                yield current / name
            for name in sorted(filenames):
                yield current / name


class GlobSet:
    """A list of globs where ``!pattern`` excludes, matched against posix relative paths.

    ``dot=True`` is what Backstage's scaffolder passes to globby: ``*`` matches ``.env`` too;
    ``dot=False`` keeps dot names to segments that start with ``.`` (node glob's default)."""

    def __init__(self, patterns: Iterable[str], *, dot: bool) -> None:
        self.include = [glob_regex(p, dot=dot) for p in patterns if p and not p.startswith("!")]
        self.exclude = [glob_regex(p[1:], dot=dot) for p in patterns if p.startswith("!")]

    def __bool__(self) -> bool:
        return bool(self.include)

    def matches(self, path: str) -> bool:
        """Whether ``path`` or one of its parent directories is matched (and not excluded)."""
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if any(rx.match(p) for rx in self.exclude for p in prefixes):
            return False
        return any(rx.match(p) for rx in self.include for p in prefixes)


def is_binary(data: bytes) -> bool:
    """Like isbinaryfile (what Backstage asks): a NUL byte, or more than 10% control characters,
    in the first 512 bytes. Text in another encoding (Latin-1) is text: Backstage renders it as
    UTF-8, each undecodable byte becoming U+FFFD, and so does ``fetch:template`` here."""
    head = data[:512]
    if b"\0" in head:
        return True
    suspicious = sum(1 for byte in head if (byte < 7 or 14 < byte < 32) and byte != 27)
    return bool(head) and suspicious * 100 / len(head) > 10
