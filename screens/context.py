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


class QuitGuard(Protocol):
    """Something that may need a word before the app quits (a deploy being watched)."""

    def confirm_quit(self) -> bool:
        """Ask the user if needed; True when asked (the guard then exits the app, or not)."""
        ...


class ConsoleContext(Protocol):
    workspace: Workspace
    catalog: Catalog | None
    catalog_signal: Signal[Catalog]
    identity: str  # the catalog user this console acts as (decided by the OS, see backends.identity)
    readonly: bool  # --readonly, or identity.readonly lists this account: nothing may change
    quit_guard: QuitGuard | None

    def refuses_change(self, what: str) -> bool:
        """In read-only mode: say so (``what`` is off) and return True; else False."""
        ...

    def open_entity(self, ref: str) -> None: ...

    def open_docs(self, ref: str, page: str | None = None, anchor: str | None = None) -> None: ...


def context_of(app: App) -> ConsoleContext:
    return cast("ConsoleContext", app)
