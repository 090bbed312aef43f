"""What every screen may ask of the running app, as a Protocol (screens never import console/).

The App implements it; tests can too. The catalog is ``None`` until the loading worker finishes;
screens subscribe to ``catalog_signal`` to hear when it arrives or changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from textual.app import App
    from textual.signal import Signal

    from backends.catalog import Catalog
    from backends.workspace import Workspace


MODES: tuple[str, ...] = ("catalog", "scaffold", "deploy", "docs", "status")
SIMULATED_BANNER = "SIMULATED CLUSTER — nothing is really deployed (built-in demo workspace)"


class ConsoleContext(Protocol):
    workspace: Workspace
    catalog: Catalog | None
    catalog_signal: Signal[Catalog]

    def open_entity(self, ref: str) -> None: ...

    def open_docs(self, ref: str, page: str | None = None, anchor: str | None = None) -> None: ...


def context_of(app: App) -> ConsoleContext:
    return cast("ConsoleContext", app)
