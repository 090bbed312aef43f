"""The idp-console App: five modes, the ``:`` command line, ``?`` help, the command palette.

The app owns the one Workspace and the loaded Catalog; screens read them through
``screens.context.ConsoleContext``. Blocking work runs in thread workers that only post messages;
one error path (``console.errors``) turns any failure — a worker's, a handler's, an action's — into a
visible notification and a traceback in errors.log, and the session goes on.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.command import Provider
from textual.message import Message
from textual.screen import Screen
from textual.signal import Signal

from console import command_line
from console.command_line import COMMANDS, CommandLineError, parse_command
from console.errors import ErrorReportingApp
from console.history import CommandHistory
from console.palette import EntityCommands, ModeCommands, PlatformCommands
from screens.base import ConsoleScreen
from screens.catalog import CatalogScreen
from screens.command_prompt import CommandPrompt
from screens.context import MODES
from screens.entity import EntityScreen
from screens.help import HelpScreen

if TYPE_CHECKING:
    from backends.catalog import Catalog, CatalogEvent
    from backends.workspace import Workspace
    from screens.context import QuitGuard


@dataclass
class CatalogLoaded(Message):
    catalog: Catalog


@dataclass
class CatalogProgress(Message):
    event: CatalogEvent


@dataclass
class CatalogUpdated(Message):
    """Entities were registered after loading (e.g. by the scaffolder's catalog:register)."""


def _lazy(module: str, name: str) -> Callable[[], Screen]:
    """A mode factory that imports its screen module on first use."""

    def make() -> Screen:
        return getattr(importlib.import_module(module), name)()

    return make


def _search_commands() -> type[Provider]:
    from screens.search import SearchCommands

    return SearchCommands


class IdpConsoleApp(ErrorReportingApp):
    TITLE = "idp-console"
    MODES: ClassVar = {
        "catalog": CatalogScreen,
        # The other modes are imported when first opened: their widgets (forms, Markdown,
        # highlighting) would otherwise cost a third of the start-up before the first paint.
        "scaffold": _lazy("screens.scaffold", "ScaffoldScreen"),
        "deploy": _lazy("screens.deploy", "DeployScreen"),
        "docs": _lazy("screens.docs", "DocsScreen"),
        "status": _lazy("screens.status", "StatusScreen"),
    }
    DEFAULT_MODE = "catalog"
    COMMANDS: ClassVar = App.COMMANDS | {EntityCommands, ModeCommands, PlatformCommands, _search_commands}
    BINDINGS: ClassVar = [
        Binding("colon", "command_line", ":command", id="app.command_line"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("1", "switch_mode('catalog')", "Catalog", show=False, id="app.mode.catalog"),
        Binding("2", "switch_mode('scaffold')", "Scaffold", show=False, id="app.mode.scaffold"),
        Binding("3", "switch_mode('deploy')", "Deploy", show=False, id="app.mode.deploy"),
        Binding("4", "switch_mode('docs')", "Docs", show=False, id="app.mode.docs"),
        Binding("5", "switch_mode('status')", "Status", show=False, id="app.mode.status"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit"),
    ]

    def __init__(self, workspace: Workspace, *, readonly: bool = False) -> None:
        super().__init__()
        self.workspace = workspace
        # Decided once: who this console acts as, and whether it may change anything at all.
        self.identity = workspace.identity
        self.readonly = readonly or workspace.readonly
        self.quit_guard: QuitGuard | None = None
        self.catalog: Catalog | None = None
        self.catalog_signal: Signal[Catalog] = Signal(self, "catalog")
        self.command_history = CommandHistory.for_state_dir()
        if workspace.theme:
            self.theme = workspace.theme if workspace.theme in self.available_themes else self.theme

    # -- start-up -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        keymap = self.workspace.keymap
        if keymap:
            self.set_keymap(keymap)
        # Start loading after the first paint: the worker thread competes for the GIL, and the
        # user should see the screen (with a progress line) before the catalog is parsed.
        self.call_after_refresh(self.load_catalog, True)

    @work(thread=True, exclusive=True, group="catalog", name="load catalog", exit_on_error=False)
    def load_catalog(self, warm: bool = False) -> None:
        """Read the catalog; ``warm``: show the last validated snapshot first, then revalidate it."""
        from backends.catalog import SourceFailed
        from backends.catalog.warm import open_catalog

        start = open_catalog(
            self.workspace, on_event=lambda event: self.post_message(CatalogProgress(event)), warm=warm
        )
        catalog = start.catalog
        # post_message is thread-safe: registration may happen in any worker.
        catalog.subscribe(lambda _change: self.post_message(CatalogUpdated()))
        self.post_message(CatalogLoaded(catalog))
        # The list first: revalidating (or writing the snapshot) holds the GIL for a while, and the
        # catalog screens prepare their rows in threads of their own. Then the files changed since
        # the snapshot are read again; a change arrives as CatalogUpdated. Only a failing source is
        # worth a word: the list is already on screen.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(s.is_ready for s in self._catalog_screens()):
            time.sleep(0.05)
        start.revalidate(
            lambda event: (
                self.post_message(CatalogProgress(event))
                if isinstance(event, SourceFailed) or getattr(event, "warning", None)
                else None
            )
        )
        self._watch_backstage(catalog)

    def _watch_backstage(self, catalog: Catalog) -> None:
        """Keep a ``type: backstage`` source current until the next reload (runs in the catalog worker)."""
        from textual.worker import get_current_worker

        from backends.catalog.backstage import watch

        worker = get_current_worker()
        watch(
            catalog,
            self.workspace,
            stopped=lambda: worker.is_cancelled or not self.is_running,
            # notify is thread-safe; the catalog on screen stays as last read until Backstage answers.
            on_trouble=lambda text: self.notify(
                text, title="Backstage", severity="warning", timeout=15, markup=False
            ),
            on_recovered=lambda url: self.notify(f"Backstage at {url} answers again", timeout=4),
        )

    def on_catalog_progress(self, message: CatalogProgress) -> None:
        from backends.catalog import SourceFailed, SourceLoaded, SourceStarted

        event = message.event
        if isinstance(event, SourceStarted):
            text = f"Loading catalog: reading {event.source} ({event.index + 1}/{event.total})…"
        elif isinstance(event, SourceLoaded):
            text = f"Loading catalog: {event.source}: {event.entities} entities"
            if event.warning:
                self.notify(event.warning, title=event.source, severity="warning", timeout=15, markup=False)
        elif isinstance(event, SourceFailed):
            text = f"Loading catalog: {event.source} failed"
            self.notify(
                event.error, title=f"{event.source} failed", severity="error", timeout=15, markup=False
            )
        else:
            text = "Catalog loaded"
        for screen in self._catalog_screens():
            screen.show_progress(text)

    def on_catalog_updated(self, _message: CatalogUpdated) -> None:
        if self.catalog is not None:
            self.catalog_signal.publish(self.catalog)

    def on_catalog_loaded(self, message: CatalogLoaded) -> None:
        first_load = self.catalog is None
        self.catalog = message.catalog
        self.catalog_signal.publish(message.catalog)
        errors = sum(1 for p in message.catalog.problems if p.severity.value == "error")
        if errors:
            self.notify(
                f"{errors} catalog error{'' if errors == 1 else 's'} — press p on the catalog to see them",
                severity="warning",
                timeout=6,
            )
        elif not first_load:
            self.notify(f"Catalog reloaded: {len(message.catalog.entities)} entities", timeout=3)

    def action_reload_catalog(self) -> None:
        self.load_catalog()

    def _catalog_screens(self) -> list[CatalogScreen]:
        return [s for s in self.screen_stack if isinstance(s, CatalogScreen)]

    # -- read-only mode and quitting (ConsoleContext) ------------------------------------------
    def refuses_change(self, what: str) -> bool:
        """The one read-only check of the TUI: every ``@mutating`` screen method asks it."""
        if not self.readonly:
            return False
        self.notify(f"Read-only mode: {what} is off.", severity="warning", timeout=5, markup=False)
        return True

    async def action_quit(self) -> None:
        self.request_quit()

    def request_quit(self) -> None:
        """ctrl+q and :q — unless a deploy being watched needs a word first (it goes on anyway)."""
        guard = self.quit_guard
        if guard is not None and guard.confirm_quit():
            return
        self.exit()

    # -- navigation (ConsoleContext) ----------------------------------------------------------
    def open_entity(self, ref: str) -> None:
        """Push the entity screen for ``ref`` (name, short or canonical ref) on the current mode."""
        if self.catalog is None:
            self.notify("The catalog is still loading…", timeout=3)
            return
        # Without a kind, the catalog looks the name up across kinds (components first).
        entity = self.catalog.get(ref)
        if entity is None:
            self.notify(f"{ref}: not in the catalog", severity="warning", timeout=5, markup=False)
            return
        self.push_screen(EntityScreen(entity, mode=self._current_mode_name()))

    def open_docs(self, ref: str, page: str | None = None, anchor: str | None = None) -> None:
        """Push the docs of ``ref`` (optionally at a page and heading) on the current mode."""
        from screens.docs import DocsScreen

        self.push_screen(DocsScreen(ref, page, anchor, mode=self._current_mode_name()))

    def _current_mode_name(self) -> str:
        screen = self.screen
        return screen.mode_name if isinstance(screen, ConsoleScreen) else "catalog"

    def open_url(self, url: str, *, new_tab: bool = True) -> None:
        # Over SSH a browser would open on the bastion host, not for the user: copy instead.
        self.copy_to_clipboard(url)
        self.notify(f"Link copied to your clipboard: {url}", timeout=5)

    # -- : command line -----------------------------------------------------------------------
    def action_command_line(self) -> None:
        complete = command_line.completer(self._service_names, lambda: self.workspace.section("environments"))
        self.push_screen(CommandPrompt(complete, command_line.hints), self._run_command_text)

    def _service_names(self) -> list[str]:
        """Components of the catalog, for completing a platform verb on the ``:`` line."""
        if self.catalog is None:
            return []
        return sorted(e.name for e in self.catalog.entities if e.kind == "Component")

    def _run_command_text(self, text: str | None) -> None:
        if not text or not text.strip():
            return
        self.command_history.append(text)
        try:
            command = parse_command(text)
        except CommandLineError as error:
            self.notify(str(error), severity="warning", timeout=4, markup=False)
            return
        self.run_command(command)

    def run_command(self, command: command_line.Command) -> None:
        match command.name:
            case "catalog":
                self._catalog_root()
                if command.args:
                    self.call_after_refresh(self._set_catalog_filter, command.argument)
            case "entity":
                if not command.args:
                    self.notify("usage: :entity NAME|REF", severity="warning")
                else:
                    self.open_entity(command.argument)
            case "deploy" if command.args or self._entity_on_screen():
                # `:deploy` on an entity's page means that entity.
                service = command.argument if command.args else self._entity_on_screen()
                self.switch_mode("deploy")
                self.call_after_refresh(self._preselect_deploy, service)
            case "scaffold" if command.args:
                self.open_template(command.argument)
            case "docs" if command.args:
                self.open_docs(command.argument)
            case "scaffold" | "deploy" | "docs" | "status":
                self.switch_mode(command.name)
            case "search":
                from screens.search import SearchScreen

                self.push_screen(SearchScreen(command.argument, mode=self._current_mode_name()))
            case "problems":
                self._catalog_root()
                self.call_after_refresh(self._open_problems)
            case "theme":
                self._set_theme(command.argument)
            case "help":
                self.action_help()
            case "metrics":
                self.action_open_metrics(command.argument)
            case "infra":
                from screens.infra import open_infra

                open_infra(self, command.argument or self._entity_on_screen())
            case "feedback":
                self.action_feedback()
            case "quit":
                self.request_quit()
            case command_line.PLATFORM:
                from console.platform_line import run_platform_line

                run_platform_line(self, command.args, self.workspace)

    def action_open_metrics(self, scope: str = "") -> None:
        """The scorecard (``:metrics [team:NAME|service:NAME|NAME]``, the palette)."""
        self.open_metrics(scope)

    def open_metrics(self, scope: str | None = None) -> None:
        """The scorecard for ``scope`` (the status mode's ``m`` passes ``component:NAME``; None: the org)."""
        from screens.metrics import MetricsScreen

        self.push_screen(MetricsScreen(scope or ""))

    def action_feedback(self) -> None:
        """``:feedback``: a 0–10 score for the platform, recorded under this console's identity."""
        from screens.metrics import open_feedback

        open_feedback(self, self.workspace)

    def open_template(self, name: str) -> None:
        """Switch to the scaffold mode with the wizard of template ``name`` (name or ref) open."""
        self.switch_mode("scaffold")
        self.call_after_refresh(self._open_template, name)

    async def _open_template(self, name: str) -> None:
        screen = self.screen
        from screens.scaffold import ScaffoldScreen

        if isinstance(screen, ScaffoldScreen):
            await screen.open_template(name)

    def _catalog_root(self) -> None:
        """The catalog mode with its list on top: `:c` on an entity's page must reach the list."""
        self.switch_mode("catalog")
        while len(self.screen_stack) > 1 and not isinstance(self.screen, CatalogScreen):
            self.pop_screen()

    def _set_catalog_filter(self, text: str) -> None:
        screen = self.screen
        if isinstance(screen, CatalogScreen):
            screen.set_filter(text)

    def _entity_on_screen(self) -> str:
        screen = self.screen
        if isinstance(screen, EntityScreen) and screen.entity.kind.lower() == "component":
            return screen.entity.name
        return ""

    def _preselect_deploy(self, service: str) -> None:
        screen = self.screen
        from screens.deploy import DeployScreen

        if isinstance(screen, DeployScreen):
            screen.preselect(service)

    def _open_problems(self) -> None:
        screen = self.screen
        if isinstance(screen, CatalogScreen) and not screen.query_one("#problems-panel").has_class("-open"):
            screen.action_toggle_problems()

    def _set_theme(self, name: str) -> None:
        if name not in self.available_themes:
            names = ", ".join(sorted(self.available_themes))
            self.notify(f"unknown theme {name!r}; available: {names}", severity="warning", timeout=8)
            return
        self.theme = name

    # -- ? help -------------------------------------------------------------------------------
    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        # Only bindings with an id: they are the ones a user can remap in the keymap, and the
        # id is shown so they know what to write there.
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.id or not binding.description or binding.id in seen:
                continue
            seen.add(binding.id)
            keys.append((self.get_key_display(binding), f"{binding.description}  [{binding.id}]"))
        commands = [(spec.usage + _aliases(spec.aliases), spec.help) for spec in COMMANDS]
        title = screen.crumb if isinstance(screen, ConsoleScreen) else screen.__class__.__name__
        about = getattr(screen, "HELP", "")
        self.push_screen(HelpScreen(title, about, keys, commands))


def _aliases(aliases: tuple[str, ...]) -> str:
    return f"  (:{', :'.join(aliases)})" if aliases else ""


__all__ = ["MODES", "IdpConsoleApp"]
