"""Typed events emitted while the catalog loads and changes (the CLI prints them, the TUI posts them)."""

from __future__ import annotations

from dataclasses import dataclass

from backends.catalog.model import Entity


@dataclass(frozen=True, slots=True)
class SourceStarted:
    """A catalog source (``dir:…`` or ``git:…``) is being read."""

    source: str
    index: int
    total: int


@dataclass(frozen=True, slots=True)
class SourceLoaded:
    """A source was read; ``warning`` is set when stale data is shown (e.g. a git fetch failed)."""

    source: str
    entities: int
    problems: int
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class SourceFailed:
    """A source could not be read at all (no clone, missing directory); the rest still loads."""

    source: str
    error: str


@dataclass(frozen=True, slots=True)
class CatalogLoaded:
    """Every source was read and the relations and filter index are built."""

    entities: int
    problems: int
    seconds: float


@dataclass(frozen=True, slots=True)
class CatalogChanged:
    """Entities were added or removed after loading (``Catalog.register``)."""

    added: tuple[Entity, ...]
    removed: tuple[Entity, ...]


CatalogEvent = SourceStarted | SourceLoaded | SourceFailed | CatalogLoaded
