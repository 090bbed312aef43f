"""Issue 11: what a new user meets in the first ten minutes, at 80x24 as well as larger."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, OptionList

from screens.catalog import CatalogScreen
from screens.docs import DocsScreen
from screens.entity import EntityScreen
from tests.screens.helpers import demo_app, screen_text, until, wait_for_catalog
from widgets.doc_view import DocView

SMALL = (80, 24)


async def test_command_prompt_shows_typed_text_and_the_matching_commands() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"dep")
        await pilot.pause()
        text = screen_text(app)
        # the typed word with its completion, and the command's usage above the input
        assert "deploy" in text.splitlines()[-1]
        assert ":deploy [SERVICE]" in text
        await pilot.press("escape")


async def test_scaffold_template_filter_shows_what_is_typed() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("slash", *"zqx")
        await pilot.pause()
        assert "zqx" in screen_text(app)


async def test_docs_first_visit_leaves_mode_keys_and_colon_working() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, DocsScreen)
        site_filter = screen.query_one("#site-filter", Input)
        assert not site_filter.has_focus
        await pilot.press("1")  # a mode key, not text for the filter
        assert isinstance(app.screen, CatalogScreen)
        assert site_filter.value == ""

        await pilot.press("4", "slash", *"pay")
        assert site_filter.has_focus and site_filter.value == "pay"
        await pilot.press("escape")  # leaves the filter (the footer says "esc Back")
        assert not site_filter.has_focus
        assert screen.query_one("#sites", OptionList).has_focus
        await pilot.press("colon")
        assert app.screen.__class__.__name__ == "CommandPrompt"
        await pilot.press("escape")


async def test_docs_find_enter_then_n_and_shift_n_move_between_matches() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        app.open_docs("payment-service")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DocsScreen)
        view = screen.query_one(DocView)
        await until(pilot, lambda: screen.browser.page is not None and view.complete)
        await pilot.press("slash", *"the", "enter")
        status = screen.query_one("#find-status")
        await until(pilot, lambda: str(status.render()).startswith("2/"))
        await pilot.press("n")
        await until(pilot, lambda: str(status.render()).startswith("3/"))
        await pilot.press("N")
        await until(pilot, lambda: str(status.render()).startswith("2/"))
        assert screen.query_one("#find", Input).value == "the"


async def test_catalog_filter_and_problems_commands_work_from_an_entity_page() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        app.open_entity("payment-service")
        await pilot.pause()
        assert isinstance(app.screen, EntityScreen)
        await pilot.press("colon", *"c owner:team-payments", "enter")
        await until(pilot, lambda: isinstance(app.screen, CatalogScreen))
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        await until(pilot, lambda: screen.query_one("#filter", Input).value == "owner:team-payments")

        app.open_entity("payment-service")
        await pilot.pause()
        await pilot.press("colon", *"problems", "enter")
        await until(pilot, lambda: isinstance(app.screen, CatalogScreen))
        await until(pilot, lambda: app.screen.query_one("#problems-panel").has_class("-open"))


async def test_too_small_terminal_says_so_and_the_notice_goes_when_it_grows() -> None:
    app = demo_app()
    async with app.run_test(size=(40, 12)) as pilot:
        await wait_for_catalog(pilot)
        assert "terminal too small (needs 80x24)" in screen_text(app)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert "too small" not in screen_text(app)


async def test_relations_at_80_columns_keep_refs_whole_and_footer_keeps_help() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        app.open_entity("payment-service")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EntityScreen)
        relations = screen.query_one("#relations", OptionList)
        targets = [o.id for o in relations._options if o.id]
        assert targets
        shorts = {t.replace(":default/", ":", 1) for t in targets}
        panel = relations.content_region
        lines = [
            line[panel.x : panel.right].rstrip(" ▁▂▃▄▅▆▇█▔").strip()  # without the scrollbar
            for line in screen_text(app).splitlines()[panel.y : panel.bottom]
        ]
        for line in filter(None, lines):
            ref = line.split("  (not in catalog)")[0]
            # a relation heading, a whole ref, or one cut with "…" — never a ref broken onto two lines
            assert line.endswith(")") or ref in shorts or ref.endswith("…"), line
        assert "? Help" in screen_text(app).splitlines()[-1]
        await pilot.press("escape")
        assert "? Help" in screen_text(app).splitlines()[-1]


async def test_palette_lists_each_entity_once_with_readable_labels() -> None:
    from textual.command import CommandList

    from screens.search import shared_search_service

    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: shared_search_service(app).watched is app.catalog)
        await pilot.press(*"payment service")
        commands = app.screen.query_one(CommandList)
        await until(pilot, lambda: commands.option_count > 3)
        await pilot.pause(0.3)
        labels = [
            str(commands.get_option_at_index(i).hit.match_display) for i in range(commands.option_count)
        ]
        assert not any(label.startswith("Entitie") for label in labels), labels
        payment = [
            label for label in labels if "payment-service" in label or label.endswith(": Payment Service")
        ]
        assert len(payment) == 1, labels


async def _scaffold_orders_api(pilot) -> object:  # noqa: ANN001
    """Run the microservice golden path for ``orders-api`` (owner team-payments) to completion."""
    from tests.screens.test_scaffold_screen import choose_template, open_scaffold, wait_until

    screen = await open_scaffold(pilot)
    await choose_template(pilot, screen, "microservice-golden-path")
    await pilot.press(*"orders-api", "tab", "tab", *"team-pay")
    await pilot.pause()
    await pilot.press("enter", "ctrl+n")
    await pilot.pause()
    await pilot.press("ctrl+n")
    await pilot.pause()
    await pilot.press("enter")  # Run
    await wait_until(pilot, lambda: screen.finished is not None, timeout=60)
    return screen


async def test_enter_after_a_run_opens_the_new_entity_in_the_catalog() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        await _scaffold_orders_api(pilot)
        await pilot.press("enter")  # on "Open in catalog — enter opens it"
        await pilot.pause()
        assert isinstance(app.screen, EntityScreen)
        assert app.screen.entity.name == "orders-api"
        assert app.clipboard == ""  # nothing copied instead


async def test_scaffold_first_page_refuses_a_name_the_catalog_has_in_any_kind_or_case(tmp_path: Path) -> None:
    from tests.screens.helpers import workspace_app, write_workspace
    from tests.screens.test_scaffold_screen import choose_template, error_text, open_scaffold

    group = (
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\n"
        "spec:\n  type: team\n  children: []\n"
    )
    api = (
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: Orders-API\n"
        "spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: openapi\n"
    )
    write_workspace(tmp_path, {"all.yaml": group + "---\n" + api})
    app = workspace_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "microservice-golden-path")
        await pilot.press(*"orders-api", "tab", "tab", *"team-a")
        await pilot.pause()
        await pilot.press("enter", "ctrl+n")
        await pilot.pause()
        assert screen.page_index == 0  # refused: still on the first page
        assert "api:Orders-API already exists" in error_text(screen, "name")

        name = screen.query_one("#form").boxes[0].query_one(Input)
        name.value = "team-a"  # a Group's name
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen.page_index == 0
        assert "group:team-a already exists" in error_text(screen, "name")

        name.value = "orders"
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen.page_index == 1


async def test_u_unregisters_a_scaffolded_entity_after_confirmation() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        app.open_entity("payment-service")  # from the workspace's own sources: no u
        await pilot.pause()
        assert "Unregister" not in screen_text(app).splitlines()[-1]
        await pilot.press("escape")

        await _scaffold_orders_api(pilot)
        await pilot.press("enter")  # open the new entity
        await pilot.pause()
        assert isinstance(app.screen, EntityScreen)
        assert "u Unregister" in screen_text(app).splitlines()[-1]
        await pilot.press("u")
        await pilot.pause()
        assert "Unregister component:default/orders-api?" in screen_text(app)
        await pilot.press("escape")  # cancel: nothing happens
        await pilot.pause()
        assert app.catalog.get("component:orders-api") is not None

        await pilot.press("u", "enter")
        await until(
            pilot, lambda: app.catalog is not None and app.catalog.get("component:orders-api") is None
        )
        assert not isinstance(app.screen, EntityScreen)
        assert app.catalog.get("component:payment-service") is not None


async def test_one_catalog_error_is_one_error_not_one_errors(tmp_path: Path) -> None:
    from tests.screens.helpers import workspace_app, write_workspace

    bad = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Bad_\n"
    write_workspace(tmp_path, {"bad.yaml": bad})
    app = workspace_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await wait_for_catalog(pilot)
        assert app.catalog is not None and len(app.catalog.errors()) == 1
        text = screen_text(app)
        assert "1 error, 0 warnings" in text
        assert "1 errors" not in text
