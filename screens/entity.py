"""One entity: metadata, spec, links, annotations and its relations grouped by type.

Enter on a related entity opens it on top (esc walks back); the crumbs show the path. A component
in a workspace with an infra repository has a second tab, Infra (``i``; screens/infra.py).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from screens.base import ConsoleScreen, mutating

if TYPE_CHECKING:
    from backends.catalog.model import Entity
    from backends.catalog.registrations import RegisteredFile

# The order people read relations in: ownership and structure first, then dependencies and APIs.
RELATION_ORDER: tuple[str, ...] = (
    "ownedBy", "ownerOf", "partOf", "hasPart", "dependsOn", "dependencyOf",
    "providesApi", "apiProvidedBy", "consumesApi", "apiConsumedBy",
    "memberOf", "hasMember", "childOf", "parentOf",
)  # fmt: skip


def _kv_table(rows: list[tuple[str, Any]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else _format_value(value))
    return table


def _format_value(value: Any) -> Text:
    if isinstance(value, list):
        return Text(", ".join(_plain(v) for v in value) or "[]")
    if isinstance(value, dict):
        return Text("; ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "{}")
    return Text(_plain(value))


def _plain(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def relation_options(entity: Entity, known: set[str]) -> list[Option | None]:
    """Options grouped by relation type: a disabled heading, then one option per target."""
    groups: dict[str, list[str]] = defaultdict(list)
    for relation in entity.relations:
        groups[relation.type].append(relation.target)
    order = [t for t in RELATION_ORDER if t in groups] + sorted(set(groups) - set(RELATION_ORDER))
    options: list[Option | None] = []
    for relation_type in order:
        targets = sorted(groups[relation_type])
        options.append(Option(Text(f"{relation_type} ({len(targets)})", style="bold"), disabled=True))
        for target in targets:
            # The short form (no "default/") on one line: at 80 columns a wrapped canonical ref
            # would break mid-word; a ref too long for the panel ends in "…" instead (the CSS).
            label = Text("  " + _short_ref(target))
            if target not in known:
                label.append("  (not in catalog)", style="italic dim")
            options.append(Option(label, id=target))
    return options


def _short_ref(canonical: str) -> str:
    kind, _, rest = canonical.partition(":")
    namespace, _, name = rest.partition("/")
    return f"{kind}:{name}" if namespace == "default" and name else canonical


class EntityScreen(ConsoleScreen):
    HELP = (
        "One entity. Enter on a relation opens the related entity; esc goes back. "
        "y copies the entity ref, d opens its docs. Links are terminal hyperlinks. "
        "u unregisters an entity the scaffolder registered (after a confirmation). "
        "i shows a service's Infra tab: its resources, live state, drift, cost and policy verdicts; "
        "there e edits them (E in $EDITOR) and leads to the plan and a change request."
    )
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="entity.back"),
        Binding("y", "copy_ref", "Copy ref", id="entity.copy_ref"),
        Binding("d", "open_docs", "Docs", id="entity.docs"),
        Binding("u", "unregister", "Unregister", id="entity.unregister"),
        Binding("i", "toggle_infra", "Infra", id="entity.infra"),
    ]
    DEFAULT_CSS = """
    EntityScreen #entity-body { height: 1fr; }
    EntityScreen #details { width: 3fr; padding: 0 1; }
    EntityScreen #relations {
        width: 2fr; min-width: 38; border-left: solid $primary; text-wrap: nowrap; text-overflow: ellipsis;
    }
    EntityScreen .section-title { text-style: bold; color: $accent; margin-top: 1; }
    EntityScreen #heading { padding: 0 1; margin-bottom: 0; }
    EntityScreen #entity-tabs, EntityScreen #entity-tabs > ContentSwitcher, EntityScreen TabPane {
        height: 1fr;
    }
    EntityScreen TabPane { padding: 0; }
    """

    def __init__(self, entity: Entity, mode: str = "catalog", *, tab: str = "overview") -> None:
        super().__init__()
        self.entity = entity
        self._mode = mode  # the entity screen belongs to the mode it was opened from
        self._tab = tab  # "infra": opened by :infra SERVICE
        self._registration: RegisteredFile | None = None  # set when the scaffolder registered it

    @property
    def mode_name(self) -> str:
        return self._mode

    @property
    def crumb(self) -> str:
        return self.entity.ref.short

    def compose_body(self) -> ComposeResult:
        entity = self.entity
        heading = Text()
        heading.append(entity.title or entity.name, style="bold")
        heading.append(f"   {entity.ref.canonical}", style="dim")
        if entity.description:
            heading.append("\n" + entity.description)
        yield Static(heading, id="heading")
        if not self._infra_tab():
            yield from self._overview()
            return
        from screens.infra import InfraPane

        with TabbedContent(initial=self._tab, id="entity-tabs"):
            with TabPane("Overview", id="overview"):
                yield from self._overview()
            with TabPane("Infra", id="infra"):
                yield InfraPane(entity, id="infra-pane")

    def _overview(self) -> ComposeResult:
        with Horizontal(id="entity-body"):
            with VerticalScroll(id="details"):
                yield from self._sections()
            known = set(self.ctx.catalog.by_ref) if self.ctx.catalog else set()
            yield OptionList(*relation_options(self.entity, known), id="relations")

    def _infra_tab(self) -> bool:
        from screens.infra import has_infra

        return has_infra(self.app, self.entity)

    def _sections(self) -> ComposeResult:
        entity = self.entity
        metadata: list[tuple[str, Any]] = [
            ("kind", entity.kind),
            ("namespace", entity.namespace),
            ("name", entity.name),
        ]
        if entity.title:
            metadata.append(("title", entity.title))
        if entity.tags:
            metadata.append(("tags", Text(" ".join(f"#{t}" for t in entity.tags), style="cyan")))
        for key, value in entity.labels.items():
            metadata.append((f"label {key}", value))
        metadata.append(("source", str(entity.position)))
        yield Static("Metadata", classes="section-title")
        yield Static(_kv_table(metadata))

        if entity.spec:
            yield Static("Spec", classes="section-title")
            yield Static(_kv_table(list(entity.spec.items())))

        if entity.links:
            yield Static("Links", classes="section-title")
            yield Static(_kv_table([(self._link_title(link), self._link(link)) for link in entity.links]))

        if entity.annotations:
            yield Static("Annotations", classes="section-title")
            yield Static(_kv_table(list(entity.annotations.items())))

    @staticmethod
    def _link_title(link: dict[str, Any]) -> str:
        return str(link.get("title") or link.get("type") or "link")

    @staticmethod
    def _link(link: dict[str, Any]) -> Text:
        # A terminal hyperlink (OSC 8): the user's own terminal opens it, also over SSH.
        url = str(link.get("url", ""))
        return Text(url, style=f"underline link {url}")

    def on_mount(self) -> None:
        store = getattr(self.ctx.catalog, "registrations", None)
        if store is not None:
            self._registration = store.find(str(self.entity.position.file))
            self.refresh_bindings()
        relations = self.query_one("#relations", OptionList)
        relations.border_title = "Relations"
        # Focus inside a tab shows that tab: only one of the two may take it.
        if self._tab == "infra":
            self._show_infra()
        else:
            relations.focus()

    # -- the Infra tab ----------------------------------------------------------------------------
    def action_toggle_infra(self) -> None:
        tabs = self.query_one("#entity-tabs", TabbedContent)
        if tabs.active == "infra":
            tabs.active = "overview"
            self.query_one("#relations", OptionList).focus()
        else:
            tabs.active = "infra"
            self._show_infra()

    def _show_infra(self) -> None:
        from screens.infra import InfraPane

        pane = self.query_one("#infra-pane", InfraPane)
        pane.load()
        pane.focus()

    @on(TabbedContent.TabActivated, "#entity-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "infra":
            from screens.infra import InfraPane

            self.query_one("#infra-pane", InfraPane).load()

    @on(OptionList.OptionSelected, "#relations")
    def _relation_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.ctx.open_entity(event.option.id)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy_ref(self) -> None:
        ref = self.entity.ref.canonical
        self.app.copy_to_clipboard(ref)
        self.notify(f"Copied {ref}", timeout=3)

    def action_open_docs(self) -> None:
        self.ctx.open_docs(self.entity.ref.canonical)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only what the scaffolder registered can be unregistered; the others come from the
        # workspace's configured sources and are removed there.
        if action == "unregister":
            return self._registration is not None
        if action == "toggle_infra":
            return bool(self.query("#entity-tabs"))
        return True

    @mutating("unregistering")
    def action_unregister(self) -> None:
        from screens.deploy_confirm import ConfirmDeploy

        registration = self._registration
        if registration is None:
            return
        ref = self.entity.ref.canonical
        body = (
            f"It was registered from {registration.path}.\n"
            "It leaves the catalog now and in later sessions; the file itself stays."
        )

        async def answered(ok: bool | None) -> None:
            if ok:
                await self._unregister(registration.path, ref)

        self.app.push_screen(ConfirmDeploy(f"Unregister {ref}?", body), answered)

    async def _unregister(self, path: str, ref: str) -> None:
        store = getattr(self.ctx.catalog, "registrations", None)
        if store is None or not store.forget(path):
            self.notify(f"{ref} is no longer registered.", severity="warning", timeout=4)
            return
        self.notify(f"Unregistered {ref}", timeout=4)
        self.app.pop_screen()
        # A reload, not a removal in place: a duplicate may have replaced the entity it copied.
        await self.app.run_action("reload_catalog")
