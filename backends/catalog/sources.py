"""Catalog sources: where the first YAML files come from, and the boundary they must stay inside.

A ``dir`` source is a file, a directory (its ``*.yaml``/``*.yml`` files, not sub-folders: those are
reached through Location entities, as in Backstage, or with a glob) or a glob such as
``catalog/**/*.yaml``. A ``git`` source is a repository cloned into the cache and read at a ref.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from backends.config import SourceConfig
from backends.globs import glob_files, has_magic

YAML_SUFFIXES = (".yaml", ".yml")


class SourceError(Exception):
    """The source cannot be read at all (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class SourceFiles:
    """What a source resolved to: the files to start from, the root nothing may leave, labels."""

    files: list[str]
    root: str
    label_prefix: str  # "" for local files (labels are paths), "<url>@<ref>:" for git
    warning: str | None = None

    def label(self, path: str) -> str:
        """How a file of this source is named in results and problems."""
        absolute = os.path.abspath(path)
        prefix = self.root.rstrip(os.sep) + os.sep
        if absolute.startswith(prefix):  # the common case, without relpath's splitting
            return f"{self.label_prefix}{absolute[len(prefix) :]}"
        relative = os.path.relpath(absolute, self.root)
        return f"{self.label_prefix}{absolute if relative.startswith('..') else relative}"


class CatalogSource(Protocol):
    """Anything that can say which files to read (local directory, git checkout, …)."""

    @property
    def description(self) -> str: ...

    def resolve(self) -> SourceFiles: ...


def directory_yaml_files(directory: str) -> list[str]:
    """The YAML-named entries directly inside ``directory`` (sorted, dotfiles and folders skipped).

    Entries that are not regular files (a FIFO, a socket, a device, a symlink loop) are kept, so
    the reader reports each one on its own line instead of skipping it without a word; the reader
    never opens them.
    """
    with os.scandir(directory) as entries:
        return sorted(
            entry.path
            for entry in entries
            if entry.name.endswith(YAML_SUFFIXES) and not entry.name.startswith(".") and not _is_folder(entry)
        )


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # d_type from the listing: no extra syscall unless it is a symlink
    except OSError:
        return False  # a symlink loop: the reader says so


@dataclass(frozen=True, slots=True)
class DirSource:
    """A local file, directory or glob; ``root`` is the workspace directory when it lies inside it."""

    path: str
    workspace_root: str

    @property
    def description(self) -> str:
        return f"dir:{self.path}"

    def resolve(self) -> SourceFiles:
        root = self._root()
        if has_magic(self.path):
            files = glob_files(self.path, dot=False)
        elif os.path.isdir(self.path):
            try:
                files = directory_yaml_files(self.path)
            except OSError as error:
                raise SourceError(f"{self.path}: cannot list directory: {error.strerror or error}") from error
        elif os.path.exists(self.path):
            files = [self.path]
        else:
            raise SourceError(f"{self.path}: no such file or directory")
        return SourceFiles(files, root, "")

    def _root(self) -> str:
        literal = self.path
        while has_magic(literal):
            literal = os.path.dirname(literal)
        workspace = os.path.realpath(self.workspace_root)
        real = os.path.realpath(literal)
        if real == workspace or real.startswith(workspace + os.sep):
            return workspace
        return real if os.path.isdir(real) else os.path.dirname(real)


@dataclass(frozen=True, slots=True)
class GitSource:
    """A repository read at ``ref``; ``paths`` are globs inside it (default ``**/*.yaml``)."""

    url: str
    ref: str
    paths: tuple[str, ...]

    @property
    def description(self) -> str:
        return f"git:{self.url}@{self.ref}"

    def resolve(self) -> SourceFiles:
        from backends.git import GitSourceError, sync_repository

        try:
            checkout = sync_repository(self.url, self.ref)
        except GitSourceError as error:
            raise SourceError(str(error)) from error
        root = str(checkout.path)
        files: set[str] = set()
        for pattern in self.paths:
            joined = os.path.join(root, pattern.lstrip("/"))
            if has_magic(joined):
                files.update(glob_files(joined, dot=False))
            elif os.path.isdir(joined):
                files.update(directory_yaml_files(joined))
            elif os.path.isfile(joined):
                files.add(os.path.normpath(joined))
        return SourceFiles(sorted(files), root, f"{self.url}@{self.ref}:", checkout.warning)


def source_from_config(config: SourceConfig, workspace_root: Path) -> Any:
    """The source a workspace ``catalog.sources`` entry describes.

    A ``backstage`` source gives entities rather than files (``read_entities``, see backstage.py).
    """
    if config.type == "backstage":
        from backends.catalog.backstage import BackstageSource

        return BackstageSource(config.url, config.token_secret)
    if config.type == "git":
        return GitSource(config.url, config.ref, config.paths)
    return DirSource(config.path, str(workspace_root))
