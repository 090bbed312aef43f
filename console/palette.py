"""``ctrl+p`` command palette providers: entities, modes and themes are searchable there."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.context import MODES, context_of

if TYPE_CHECKING:
    from backends.catalog.model import Entity

MAX_ENTITY_HITS = 40


class EntityCommands(Provider):
    """Open any entity by typing part of its name, title or tags."""

    async def search(self, query: str) -> Hits:
        ctx = context_of(self.app)
        catalog = ctx.catalog
        if catalog is None or not query.strip():
            return
        matcher = self.matcher(query)
        # The catalog's indexed filter narrows 100k entities to candidates in milliseconds;
        # the fuzzy matcher then only ranks those few.
        candidates = catalog.filter(query)[: MAX_ENTITY_HITS * 5]
        scored: list[tuple[float, Entity]] = []
        for entity in candidates:
            label = f"{entity.kind.lower()}:{entity.name} {entity.title}"
            score = matcher.match(label)
            scored.append((score, entity))
        scored.sort(key=lambda item: -item[0])
        for score, entity in scored[:MAX_ENTITY_HITS]:
            ref = entity.ref.canonical
            display = matcher.highlight(f"{entity.kind.lower()}:{entity.name}")
            yield Hit(
                max(score, 0.01),
                display,
                partial(ctx.open_entity, ref),
                text=ref,
                help=entity.title or entity.description or ref,
            )


class ModeCommands(Provider):
    """Switch mode from the palette (the same as 1–5 or :catalog, :deploy …)."""

    def _commands(self) -> list[tuple[str, str]]:
        return [(f"Go to {mode}", mode) for mode in MODES]

    async def discover(self) -> Hits:
        for title, mode in self._commands():
            yield DiscoveryHit(title, partial(self.app.switch_mode, mode), help=f"Switch to the {mode} mode")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, mode in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.switch_mode, mode))


class PlatformCommands(Provider):
    """The scorecard and the feedback prompt from the palette (as ``:metrics`` and ``:feedback``)."""

    def _commands(self) -> list[tuple[str, str, str]]:
        return [
            ("Open the scorecard", "open_metrics", "DORA, adoption, quality and satisfaction"),
            ("Give feedback", "feedback", "rate the platform from 0 to 10"),
        ]

    async def discover(self) -> Hits:
        for title, action, help_text in self._commands():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text
                )
