"""The catalog and entity screens, driven by keyboard as a user would."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import Input, OptionList, Static

from screens.catalog import CatalogScreen
from screens.entity import EntityScreen
from screens.help import HelpScreen
from tests.screens.helpers import (
    demo_app,
    screen_text,
    until,
    wait_for_catalog,
    workspace_app,
    write_workspace,
)
from widgets.top_bar import Banner, Crumbs
from widgets.virtual_table import VirtualTable

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  title: {title}
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


def visible_names(screen: CatalogScreen) -> list[str]:
    table = screen.query_one("#entities", VirtualTable)
    return [table._rows[i][1] for i in range(table.row_count)]


def summary_text(screen: CatalogScreen) -> str:
    return str(screen.query_one("#summary", Static).render())


async def test_demo_catalog_lists_entities_and_filters_by_facets() -> None:
    app = demo_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        assert app.query_one(Banner)  # the demo says it is a demo
        total = len(app.catalog.entities)
        assert total >= 40
        assert f"{total} entities" in summary_text(screen)

        await pilot.press("slash")
        assert screen.query_one("#filter", Input).has_focus
        await pilot.press(*"kind:component owner:team-payments")
        names = visible_names(screen)
        assert "payment-service" in names
        assert all(app.catalog.get(f"component:{n}").owner.endswith("team-payments") for n in names)
        assert f"{len(names)} of {total} entities" in summary_text(screen)

        await pilot.press(*" nothing-matches-this")
        assert visible_names(screen) == []
        # esc leaves the filter, a second esc clears it
        await pilot.press("escape")
        await pilot.press("escape")
        assert screen.query_one("#filter", Input).value == ""
        assert len(visible_names(screen)) == total


async def test_enter_opens_entity_relations_navigate_and_escape_returns() -> None:
    app = demo_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("slash", *"payment-service", "enter", "enter")
        screen = app.screen
        assert isinstance(screen, EntityScreen)
        assert screen.entity.name == "payment-service"
        crumbs = str(screen.query_one(Crumbs).render())
        assert "catalog › component:payment-service" in crumbs

        relations = screen.query_one("#relations", OptionList)
        ids = [relations.get_option_at_index(i).id for i in range(relations.option_count)]
        assert "group:default/team-payments" in ids
        assert "resource:default/payments-db" in ids
        assert "api:default/payment-api" in ids
        assert "component:default/user-service" in ids

        # Walk to the owner: the cursor starts at the first selectable option (ownedBy).
        relations.highlighted = ids.index("group:default/team-payments")
        await pilot.press("enter")
        owner = app.screen
        assert isinstance(owner, EntityScreen)
        assert owner.entity.ref.canonical == "group:default/team-payments"
        assert "component:payment-service › group:team-payments" in str(owner.query_one(Crumbs).render())

        await pilot.press("y")
        assert app.clipboard == "group:default/team-payments"

        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert isinstance(app.screen, CatalogScreen)


async def test_command_line_opens_entities_and_filters() -> None:
    app = demo_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"e payment-service", "enter")
        await pilot.pause()
        assert isinstance(app.screen, EntityScreen)
        assert app.screen.entity.name == "payment-service"
        await pilot.press("escape")

        await pilot.press("colon", *"c kind:api", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        assert screen.query_one("#filter", Input).value == "kind:api"
        assert all(app.catalog.get(f"api:{n}") for n in visible_names(screen))

        await pilot.press("colon", *"frobnicate", "enter")
        await pilot.pause()
        assert any("unknown command" in n.message for n in app._notifications)


async def test_mode_switching_and_help_overlay() -> None:
    app = demo_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Filter" in text and "Copy ref" in text and "Problems" in text
        app.screen.query_one(VerticalScroll).scroll_end(animate=False)
        await pilot.pause()
        text = screen_text(app)
        assert ":entity NAME|REF" in text and ":quit" in text
        await pilot.press("escape")
        assert isinstance(app.screen, CatalogScreen)

        await pilot.press("3")
        assert app.current_mode == "deploy"
        await pilot.press("1")
        assert app.current_mode == "catalog"


async def test_sorting_by_column(tmp_path: Path) -> None:
    files = {
        "a.yaml": COMPONENT.format(name="zeta", title="A first"),
        "b.yaml": COMPONENT.format(name="alpha", title="Z last"),
    }
    write_workspace(tmp_path, files)
    app = workspace_app(tmp_path)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for_catalog(pilot)
        screen = app.screen
        assert visible_names(screen) == ["alpha", "zeta"]  # by name
        await pilot.press("S")
        await until(pilot, lambda: visible_names(screen) == ["zeta", "alpha"])
        await pilot.press("s")  # next column: title, ascending
        await until(pilot, lambda: "sorted by title" in summary_text(screen))
        assert visible_names(screen) == ["zeta", "alpha"]


async def test_problems_panel_lists_errors_with_file_and_line(tmp_path: Path) -> None:
    good = COMPONENT.format(name="good", title="Good")
    broken = good + "---\n" + COMPONENT.format(name="-bad-name", title="Bad")
    write_workspace(tmp_path, {"good.yaml": good, "mixed.yaml": broken})
    app = workspace_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        screen = app.screen
        assert visible_names(screen) == ["good"]  # the broken document hides nothing else
        assert "errors" in summary_text(screen)
        await pilot.press("p")
        problems = screen.query_one("#problems", VirtualTable)
        assert problems.has_focus
        rows = [problems._rows[i] for i in range(problems.row_count)]
        assert any(row[1].endswith("mixed.yaml:10") and "metadata.name" in row[2] for row in rows), rows


async def test_user_keymap_remaps_a_binding_by_id(tmp_path: Path) -> None:
    write_workspace(
        tmp_path,
        {"a.yaml": COMPONENT.format(name="one", title="One")},
        extra_config="keymap:\n  catalog.filter: f\n",
    )
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("f")
        assert app.screen.query_one("#filter", Input).has_focus


async def test_command_palette_finds_entities() -> None:
    app = demo_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"payment-serv")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EntityScreen)
        assert app.screen.entity.name == "payment-service"


async def test_links_never_open_a_browser_on_the_server() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for_catalog(pilot)
        app.open_url("https://example.com/runbook")
        assert app.clipboard == "https://example.com/runbook"


async def test_scaffold_command_opens_the_named_template() -> None:
    from screens.scaffold import ScaffoldScreen

    app = demo_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"scaffold microservice-golden-path", "enter")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, ScaffoldScreen)
                and app.screen.template is not None
                and app.screen.template.name == "microservice-golden-path"
            ),
        )
        assert app.current_mode == "scaffold"


async def test_d_on_an_entity_opens_its_docs_and_search_finds_the_runbook() -> None:
    from screens.docs import DocsScreen
    from screens.search import SearchScreen

    app = demo_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"e payment-service", "enter")
        await until(pilot, lambda: isinstance(app.screen, EntityScreen))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DocsScreen))
        assert "component:payment-service" in str(app.screen.query_one(Crumbs).render())
        await pilot.press("escape")

        await pilot.press("colon", *"search runbook", "enter")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await until(pilot, lambda: "Payment Service runbook" in screen_text(app))


async def test_search_result_for_a_template_opens_its_wizard() -> None:
    from screens.scaffold import ScaffoldScreen
    from screens.search import SearchScreen

    app = demo_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"search kind:template golden path microservice", "enter")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await until(pilot, lambda: "Templates (1)" in screen_text(app))
        await pilot.press("enter")  # from the query to the results
        await pilot.press("enter")  # open the highlighted template
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, ScaffoldScreen)
                and app.screen.template is not None
                and app.screen.template.name == "microservice-golden-path"
            ),
        )
