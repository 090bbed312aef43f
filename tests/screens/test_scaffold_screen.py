"""The scaffold wizard, driven by keyboard as a user would: pick, fill, review, run."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Log, OptionList, Static

from screens.catalog import CatalogScreen
from screens.entity import EntityScreen
from screens.scaffold import ScaffoldScreen
from tests.screens.helpers import demo_app, wait_for_catalog, workspace_app, write_workspace
from tests.screens.helpers import until as wait_until
from widgets.picker_input import PickerInput
from widgets.schema_form import FieldBox, SchemaForm
from widgets.step_list import StepList
from widgets.virtual_table import VirtualTable

# -- helpers ------------------------------------------------------------------------------------


async def open_scaffold(pilot: Pilot) -> ScaffoldScreen:
    await wait_for_catalog(pilot)
    await pilot.press("2")
    screen = pilot.app.screen
    assert isinstance(screen, ScaffoldScreen)
    await wait_until(pilot, lambda: screen.templates)
    return screen


async def choose_template(pilot: Pilot, screen: ScaffoldScreen, name: str) -> None:
    await pilot.press("slash", *name, "enter")
    table = screen.picker.table
    assert table.has_focus
    assert screen.picker.shown_items[table.cursor_row].key == name
    await pilot.press("enter")
    await pilot.pause()
    assert screen.stage != "pick"


def form_of(screen: ScaffoldScreen) -> SchemaForm:
    return screen.query_one("#form", SchemaForm)


def box(screen: ScaffoldScreen, name: str) -> FieldBox:
    return next(b for b in form_of(screen).boxes if b.field_name == name)


def error_text(screen: ScaffoldScreen, name: str) -> str:
    field = box(screen, name)
    if not field.has_class("-invalid"):
        return ""
    return str(field.query_one(".field--error", Static).render())


def text_of(screen: ScaffoldScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def review_text(screen: ScaffoldScreen) -> str:
    # The review is a rich Table inside a Static: render it to plain text.
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(screen.query_one("#review", Static).content)
    return console.export_text()


# -- the golden path, end to end ----------------------------------------------------------------


async def test_golden_path_fill_review_run_and_open_the_new_entity() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "microservice-golden-path")

        # Page 1: name has autofocus; the owner picker is fed by the catalog.
        assert form_of(screen).field_names == ["name", "description", "owner", "system"]
        assert screen.focused is box(screen, "name").query_one(Input)
        await pilot.press(*"orders-api", "tab", "tab")
        picker = box(screen, "owner").query_one(PickerInput)
        assert picker.input.has_focus
        await pilot.press(*"team-pay")
        await pilot.pause()
        assert picker.has_class("-open")
        assert picker.suggestions[0].value == "group:default/team-payments"
        await pilot.press("enter")
        assert picker.input.value == "group:default/team-payments"
        await pilot.press("ctrl+n")
        await pilot.pause()

        # Page 2: defaults pre-filled (python, no database, 8080); choose PostgreSQL.
        assert form_of(screen).field_names == ["language", "database", "port"]
        assert screen.model.answers["name"] == "orders-api"
        await pilot.press("tab", "enter")  # open the database select
        await pilot.press("up", "up", "enter")
        await pilot.pause()
        assert screen.model.parameters()["database"] == "postgres"
        await pilot.press("ctrl+n")
        await pilot.pause()

        assert screen.stage == "review"
        review = review_text(screen)
        assert "orders-api" in review and "PostgreSQL" in review and "Python" in review

        await pilot.press("enter")  # the Run button has focus
        await wait_until(pilot, lambda: screen.finished is not None, timeout=60)
        status = text_of(screen, "#run-status")
        assert "Completed" in status, screen.query_one("#log", Log).lines
        steps = screen.query_one("#steps", StepList)
        assert {r.id: r.status for r in steps.rows}["publish"] == "done"
        assert {r.id: r.status for r in steps.rows}["register"] == "done"
        assert all(r.duration is not None for r in steps.rows)

        # The new component is in the live catalog, and the output links point at it.
        assert app.catalog.get("component:orders-api") is not None
        links = screen.query_one("#links", OptionList)
        assert links.option_count == 2
        assert links.has_focus
        await pilot.press("enter")  # "Open in catalog" is highlighted
        await pilot.pause()
        assert isinstance(app.screen, EntityScreen)
        assert app.screen.entity.name == "orders-api"

        # The catalog screen lists it without a restart.
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("1")
        catalog_screen = app.screen
        assert isinstance(catalog_screen, CatalogScreen)
        table = catalog_screen.query_one("#entities", VirtualTable)
        assert any(table._rows[i][1] == "orders-api" for i in range(table.row_count))


# -- templates in a temporary workspace ---------------------------------------------------------

OWNERS = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
"""

CANARY = "canary-s3cr3t-value"

FORM_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: conditional-form
  title: Conditional form
  description: Fields that come and go.
  tags: [test]
spec:
  type: service
  parameters:
    - title: Basics
      required: [kind, name]
      properties:
        name:
          title: Name
          type: string
          pattern: "^[a-z][a-z0-9-]*$"
          ui:help: Lowercase, starts with a letter.
        kind:
          title: Kind
          type: string
          enum: [library, service]
          default: library
          ui:widget: radio
        token:
          title: Token
          type: string
          ui:field: Secret
      dependencies:
        kind:
          oneOf:
            - properties:
                kind: {const: library}
            - properties:
                kind: {const: service}
                port:
                  title: Port
                  type: integer
                  default: 8080
                  minimum: 1024
              required: [port]
    - title: Extras
      properties:
        public:
          title: Public
          type: boolean
        colours:
          title: Colours
          type: array
          items: {type: string, enum: [red, green, blue]}
          uniqueItems: true
          ui:widget: checkboxes
  steps:
    - id: hello
      name: Say hello
      action: debug:log
      input:
        message: "hello ${{ parameters.name }} with ${{ secrets.token }}"
    - id: copy
      name: Copy the extras
      action: fetch:plain
      input:
        url: "./${{ 'extras' }}"
        targetPath: extras
    - id: bye
      name: Say goodbye
      action: debug:log
      input:
        message: bye
  output:
    links:
      - title: Docs
        url: https://docs.example.com/${{ parameters.name }}
    text:
      - title: Done
        content: "**${{ parameters.name }}** is ready."
"""


def form_workspace(root: Path) -> Path:
    write_workspace(
        root,
        {"org.yaml": OWNERS},
        extra_config="templates:\n  sources:\n    - type: dir\n      path: templates\n",
    )
    template_dir = root / "templates" / "conditional-form"
    template_dir.mkdir(parents=True)
    (template_dir / "template.yaml").write_text(FORM_TEMPLATE, encoding="utf-8")
    return template_dir


async def test_conditional_field_appears_and_disappears(tmp_path: Path) -> None:
    form_workspace(tmp_path)
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "conditional-form")
        assert form_of(screen).field_names == ["name", "kind", "token"]

        await pilot.press(*"lib-one", "tab")  # to the kind radio set (library pressed)
        await pilot.press("down", "enter")  # service
        await pilot.pause()
        assert screen.model.answers["kind"] == "service"
        assert form_of(screen).field_names == ["name", "kind", "token", "port"]
        port = box(screen, "port").query_one(Input)
        assert port.value == "8080"  # the branch's default is pre-filled

        await pilot.press("up", "enter")  # back to library: port goes away
        await pilot.pause()
        assert form_of(screen).field_names == ["name", "kind", "token"]
        assert "port" not in screen.model.parameters()


async def test_validation_error_inline_as_you_type_and_blocks_next() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "microservice-golden-path")
        assert error_text(screen, "name") == ""  # a fresh page is not covered in errors
        await pilot.press(*"Bad_Name")
        assert "must match pattern" in error_text(screen, "name")
        assert error_text(screen, "owner") == ""  # untouched

        await pilot.press("ctrl+n")
        assert screen.stage == "form" and screen.page_index == 0
        assert "is required" in error_text(screen, "owner")  # revealed by trying to go on
        assert "Fix 2 fields" in text_of(screen, "#form-status")
        assert box(screen, "name").query_one(Input).has_focus  # the first invalid field

        await pilot.press(*["backspace"] * 8, *"good-name")
        assert error_text(screen, "name") == ""


async def test_escape_walks_back_without_losing_answers() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "microservice-golden-path")
        await pilot.press(*"kept-name", "tab", "tab", *"team-payments", "enter", "ctrl+n")
        await pilot.pause()
        assert screen.page_index == 1
        await pilot.press("tab", "tab")  # to port
        await pilot.press(*["backspace"] * 4, *"9090", "ctrl+n")
        await pilot.pause()
        assert screen.stage == "review"

        await pilot.press("escape")
        assert screen.stage == "form" and screen.page_index == 1
        assert box(screen, "port").query_one(Input).value == "9090"
        await pilot.press("escape")
        assert screen.page_index == 0
        assert box(screen, "name").query_one(Input).value == "kept-name"
        assert box(screen, "owner").query_one(PickerInput).input.value == "group:default/team-payments"
        await pilot.press("escape")
        assert screen.stage == "pick"

        # Coming back to the same template finds the answers again.
        await pilot.press("enter")
        await pilot.pause()
        assert box(screen, "name").query_one(Input).value == "kept-name"


async def test_secret_is_masked_on_review_and_never_on_screen(tmp_path: Path) -> None:
    template_dir = form_workspace(tmp_path)
    (template_dir / "extras").mkdir()
    (template_dir / "extras" / "README.md").write_text("extras\n", encoding="utf-8")
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "conditional-form")
        await pilot.press(*"sec-one", "tab", "tab", *CANARY)
        token = box(screen, "token").query_one(Input)
        assert token.password  # masked while typing
        assert CANARY not in app.export_screenshot()
        await pilot.press("ctrl+n", "ctrl+n")
        await pilot.pause()
        assert screen.stage == "review"
        review = review_text(screen)
        assert "sec-one" in review and "••••••" in review and CANARY not in review
        assert CANARY not in app.export_screenshot()

        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.finished is not None)
        assert "Completed" in text_of(screen, "#run-status")
        log_text = "\n".join(screen.query_one("#log", Log).lines)
        assert "[secret withheld]" in log_text  # the message read the secret: withheld whole
        assert CANARY not in log_text and CANARY not in app.export_screenshot()
        markdown = screen.query_one("#output-text")
        assert markdown.display


async def test_failure_keeps_failing_step_error_and_log_then_retry_from_here(tmp_path: Path) -> None:
    template_dir = form_workspace(tmp_path)  # no extras/ directory: the copy step fails
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "conditional-form")
        await pilot.press(*"fails", "ctrl+n", "ctrl+n")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.finished is not None)

        statuses = {r.id: r.status for r in screen.query_one("#steps", StepList).rows}
        assert statuses == {"hello": "done", "copy": "failed", "bye": "skipped"}
        assert "at step 'Copy the extras'" in text_of(screen, "#run-status")
        failure = text_of(screen, "#failure")
        assert "Step Copy the extras failed" in failure and "extras" in failure
        assert "Press r to retry" in failure
        log_lines = screen.query_one("#log", Log).lines
        assert any("hello fails" in line for line in log_lines)  # the full log stays
        assert any(line.startswith("✖ [copy]") for line in log_lines)

        # esc goes back to the review (answers kept); the failed run stays until a new one.
        (template_dir / "extras").mkdir()
        (template_dir / "extras" / "notes.txt").write_text("x\n", encoding="utf-8")
        await pilot.press("r")
        await wait_until(pilot, lambda: not screen.running)
        statuses = {r.id: r.status for r in screen.query_one("#steps", StepList).rows}
        assert statuses == {"hello": "done", "copy": "done", "bye": "done"}
        assert "Completed" in text_of(screen, "#run-status")
        assert not screen.query_one("#failure").display


# -- snapshots (fixed size; open the SVGs under __snapshots__ to see them) ------------------------


def test_snapshot_template_list(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await open_scaffold(pilot)
        # Filtered, so a golden path added later does not change this picture.
        await pilot.press("slash", *"service", "enter")

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=run_before)


def test_snapshot_form_with_inline_error_and_owner_suggestions(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "microservice-golden-path")
        await pilot.press(*"Bad_Name", "tab", "tab", *"team-p")
        picker = box(screen, "owner").query_one(PickerInput)
        options = picker.query_one(OptionList)
        # Wait for the state the snapshot shows (typed text, the open list of the matching owners,
        # the inline error), not for a number of frames.
        await wait_until(
            pilot,
            lambda: (
                picker.input.value == "team-p"
                and picker.has_class("-open")
                and options.option_count == len(picker.suggestions) > 0
                and "must match pattern" in error_text(screen, "name")
            ),
            what="the owner suggestions laid out",
        )
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=run_before)


def test_snapshot_review_masks_the_secret(snap_compare, tmp_path: Path) -> None:  # noqa: ANN001
    form_workspace(tmp_path)

    async def run_before(pilot: Pilot) -> None:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "conditional-form")
        await pilot.press(*"snap-one", "tab", "down", "enter", "tab", *CANARY, "ctrl+n")
        await pilot.pause()
        await pilot.press("space", "tab", "space", "down", "down", "space", "ctrl+n")
        await pilot.pause()
        assert screen.stage == "review"

    assert snap_compare(workspace_app(tmp_path), terminal_size=(120, 40), run_before=run_before)


WIDGETS_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: every-widget
  title: Every widget
spec:
  type: service
  parameters:
    - title: Widgets
      ui:order: [title, "*", notes]
      properties:
        notes: {title: Notes, type: string, ui:widget: textarea, default: first line}
        title: {title: Title, type: string}
        password: {title: Password, type: string, ui:widget: password}
        internal: {type: string, ui:widget: hidden, default: kept-out-of-sight}
        fixed: {title: Fixed, type: string, default: locked, ui:readonly: true}
        components:
          title: Components
          type: array
          items: {type: string}
          ui:field: MultiEntityPicker
          ui:options: {catalogFilter: {kind: Component}}
        count: {title: Count, type: integer, default: 3, ui:autofocus: true}
        labels: {title: Labels, type: array, items: {type: string}, ui:field: EntityTagsPicker}
    - title: Advanced
      when: "${{ parameters.count > 2 }}"
      properties:
        level: {title: Level, type: string, enum: [low, high]}
        repoUrl:
          title: Repository
          type: string
          ui:field: RepoUrlPicker
          ui:options: {allowedHosts: [github.com, git.acme.example]}
  steps:
    - id: log
      action: debug:log
      input: {message: "${{ parameters.title }}"}
"""

COMPONENTS = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  tags: [python]
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


async def test_every_widget_order_hidden_readonly_autofocus_pickers_and_page_conditions(
    tmp_path: Path,
) -> None:
    write_workspace(
        tmp_path,
        {
            "org.yaml": OWNERS,
            "a.yaml": COMPONENTS.format(name="payment-service"),
            "b.yaml": COMPONENTS.format(name="user-service"),
        },
        extra_config="templates:\n  sources:\n    - type: dir\n      path: templates\n",
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "template.yaml").write_text(WIDGETS_TEMPLATE, encoding="utf-8")
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "every-widget")
        form = form_of(screen)
        # ui:order puts title first and notes last; the hidden field is not drawn but kept.
        assert form.field_names == ["title", "password", "fixed", "components", "count", "labels", "notes"]
        assert screen.model.parameters()["internal"] == "kept-out-of-sight"
        assert box(screen, "count").query_one(Input).has_focus  # ui:autofocus
        assert box(screen, "fixed").query_one(Input).disabled  # ui:readonly
        assert box(screen, "password").query_one(Input).password
        assert box(screen, "notes").query_one("TextArea").text == "first line"
        assert len(screen._pages()) == 2

        # A page whose `when` turns false leaves the wizard (and comes back).
        await pilot.press("backspace", "1")
        assert len(screen._pages()) == 1
        assert "Advanced" not in text_of(screen, "#form-nav")
        await pilot.press("backspace", "5")
        assert "Advanced" in text_of(screen, "#form-nav")

        # The multi-entity picker completes item by item from the catalog.
        box(screen, "components").query_one(PickerInput).input.focus()
        await pilot.pause()
        await pilot.press(*"pay")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.press(*"user")
        await pilot.pause()
        picker = box(screen, "components").query_one(PickerInput)
        assert picker.suggestions[0].value == "component:default/user-service"
        await pilot.press("escape")  # closes the suggestions, stays on the page
        assert screen.stage == "form" and not picker.has_class("-open")
        assert screen.model.answers["components"] == ["component:default/payment-service", "user"]

        # EntityTagsPicker: the catalog's tags.
        labels = box(screen, "labels").query_one(PickerInput)
        labels.input.focus()
        await pilot.press(*"pyt")
        await pilot.pause()
        assert [s.value for s in labels.suggestions] == ["python"]
        await pilot.press("enter")
        assert screen.model.answers["labels"] == ["python"]

        box(screen, "title").query_one(Input).focus()
        await pilot.press(*"Hello")
        box(screen, "password").query_one(Input).focus()
        await pilot.press(*"hunter2")
        # Next with the keyboard on the Next button.
        screen.query_one("#form-next").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.stage == "form" and screen.page_index == 1
        # RepoUrlPicker: host (first allowed preselected), owner, repository → host?owner=o&repo=r
        await pilot.press("tab", "tab", *"acme", "tab", *"thing")
        assert screen.model.answers["repoUrl"] == "github.com?owner=acme&repo=thing"
        await pilot.press("ctrl+n")
        await pilot.pause()
        review = review_text(screen)
        assert "Hello" in review and "hunter2" not in review and "••••••" in review


SLOW_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: slow
  title: Slow
spec:
  type: service
  parameters: []
  steps:
    - id: render
      name: Render
      action: debug:log
      input: {message: rendering}
    - id: wait
      name: Wait a long time
      action: debug:wait
      input: {seconds: 60}
    - id: after
      name: After the wait
      action: debug:log
      input: {message: never}
  output:
    links:
      - title: Somewhere
        url: https://example.com/slow
"""


def slow_workspace(root: Path) -> None:
    write_workspace(
        root,
        {"org.yaml": OWNERS},
        extra_config="templates:\n  sources:\n    - type: dir\n      path: templates\n",
    )
    (root / "templates").mkdir()
    (root / "templates" / "template.yaml").write_text(SLOW_TEMPLATE, encoding="utf-8")


async def test_running_step_shows_live_then_cancel_stops_the_run(tmp_path: Path) -> None:
    slow_workspace(tmp_path)
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "slow")
        assert screen.stage == "review"  # no parameters: straight to the review
        await pilot.press("enter")
        steps = screen.query_one("#steps", StepList)
        await wait_until(pilot, lambda: steps.status_of("wait") == "running")
        assert steps.status_of("render") == "done" and steps.status_of("after") == "pending"
        await pilot.press("escape")  # cannot leave a running task's view
        assert screen.stage == "run"
        await pilot.press("ctrl+x")
        await wait_until(pilot, lambda: screen.finished is not None)
        assert "Cancelled" in text_of(screen, "#run-status")
        assert steps.status_of("after") == "skipped"


async def test_dry_run_runs_nothing_for_real(tmp_path: Path) -> None:
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "microservice-golden-path")
        await pilot.press(*"dry-svc", "tab", "tab", *"team-payments", "enter", "ctrl+n")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("d")
        await wait_until(pilot, lambda: screen.finished is not None, timeout=60)
        assert "Completed (dry run)" in text_of(screen, "#run-status")
        steps = screen.query_one("#steps", StepList)
        assert steps.status_of("register") == "skipped"
        assert app.catalog.get("component:dry-svc") is None
        log_text = "\n".join(screen.query_one("#log", Log).lines)
        assert "dry-run" in log_text or "dry run" in log_text.lower()


async def test_a_crashing_run_is_shown_and_does_not_block_escape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backends.scaffolder.runner import TaskRunner

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("runner exploded")

    monkeypatch.setattr(TaskRunner, "create_task", explode)
    slow_workspace(tmp_path)
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "slow")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not screen.running)
        assert "stopped unexpectedly" in text_of(screen, "#run-status")
        assert "runner exploded" in text_of(screen, "#failure")
        await pilot.press("escape")
        assert screen.stage == "review"


async def test_docs_site_golden_path_with_checkboxes() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "docs-site")
        assert form_of(screen).field_names == ["name", "title", "owner", "sections"]
        await pilot.press(*"ops-handbook", "tab", *"Ops handbook", "tab", *"team-sre", "enter", "tab")
        # Sections: getting-started is pre-checked; add how-to (third).
        await pilot.press("down", "down", "space")
        assert screen.model.parameters()["sections"] == ["getting-started", "how-to"]
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert "getting-started, how-to" in review_text(screen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.finished is not None, timeout=60)
        assert "Completed" in text_of(screen, "#run-status")
        steps = screen.query_one("#steps", StepList)
        assert [r.status for r in steps.rows] == ["done", "done", "done", "done"]
        assert any(e.name == "ops-handbook" for e in app.catalog.entities)


async def test_enter_moves_to_the_next_field_and_presses_next(tmp_path: Path) -> None:
    form_workspace(tmp_path)
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "conditional-form")
        await pilot.press(*"via-enter", "enter")
        assert screen.focused is not None and screen.focused.parent is box(screen, "kind")
        await pilot.press("tab", "enter")  # token (empty) → enter → the Back button
        assert screen.focused is screen.query_one("#form-back")
        await pilot.press("tab", "enter")  # Next
        await pilot.pause()
        assert screen.page_index == 1


# -- the widgets' pure helpers --------------------------------------------------------------------


def test_repo_url_parts_round_trip() -> None:
    from widgets.repo_url_input import join_repo_url, split_repo_url

    assert split_repo_url("github.com?owner=acme&repo=web") == ("github.com", "acme", "web")
    assert split_repo_url("") == ("", "", "")
    assert join_repo_url("github.com", "acme", "web") == "github.com?owner=acme&repo=web"
    assert join_repo_url("github.com", "", "") == ""  # an untouched field stays empty


def test_values_shown_as_text_and_durations() -> None:
    from widgets.schema_form import as_text
    from widgets.step_list import format_duration

    assert as_text("array", ["a", "b"]) == "a, b"
    assert as_text("object", {"k": 1}) == '{"k": 1}'
    assert as_text("integer", 8080) == "8080"
    assert as_text("string", None) == ""
    assert format_duration(0.0421) == "42 ms"
    assert format_duration(3.25) == "3.2 s"
    assert format_duration(125) == "2 min 5 s"


def test_output_links_and_text() -> None:
    from widgets.task_view import link_prompt, output_markdown

    local = link_prompt({"title": "Repository", "url": "/srv/git/acme/web.git"})
    assert local.plain.startswith("↗ Repository")
    assert any(span.style.link == "file:///srv/git/acme/web.git" for span in local.spans if span.style)
    entity = link_prompt({"title": "Open in catalog", "entityRef": "component:default/web"})
    assert "component:default/web" in entity.plain
    assert output_markdown([{"title": "Next", "content": "**go**"}]) == "### Next\n\n**go**"


async def test_open_template_by_name_for_the_command_line() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await screen.open_template("template:default/docs-site")
        await pilot.pause()
        assert screen.stage == "form" and screen.template.name == "docs-site"
        await screen.open_template("no-such-template")
        await pilot.pause()
        assert any("no-such-template" in n.message for n in app._notifications)


async def test_readonly_refuses_the_run_and_keeps_the_dry_run(tmp_path: Path) -> None:
    from backends.workspace import load_workspace
    from console.app import IdpConsoleApp
    from tests.screens.helpers import screen_text

    slow_workspace(tmp_path)
    app = IdpConsoleApp(load_workspace(tmp_path), readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "slow")
        assert screen.stage == "review"
        footer = screen_text(app).splitlines()[-1]
        assert "Dry run" in footer and "^r" not in footer  # the real run's key is hidden
        await pilot.press("enter")  # on the Run button
        await pilot.pause()
        assert screen.stage == "review" and not screen.running
        messages = [notification.message for notification in app._notifications]
        assert "Read-only mode: running a template (d runs it dry) is off." in messages


FAILING_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: failing
  title: Failing
  description: Its second step renames a file that is not there.
spec:
  type: service
  steps:
    - id: hello
      name: Say hello
      action: debug:log
      input: {message: hello}
    - id: move
      name: Move the readme
      action: fs:rename
      input:
        files:
          - {from: README.md, to: docs/README.md}
    - id: bye
      name: Say goodbye
      action: debug:log
      input: {message: bye}
"""

# The failure names the kept task directory: one fixed path, so the picture is the same every run.
FAILED_RUN_DIR = Path("/tmp/idp-console-snapshot-failed-run")


def test_snapshot_run_view_after_a_failed_step(
    snap_compare,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil
    from types import SimpleNamespace

    def fixed_task_dir(prefix: str = "") -> str:
        shutil.rmtree(FAILED_RUN_DIR, ignore_errors=True)
        FAILED_RUN_DIR.mkdir(parents=True, exist_ok=True)
        return str(FAILED_RUN_DIR)

    # Only the runner's task directory is pinned (not tempfile for the whole process); durations too.
    monkeypatch.setattr("backends.scaffolder.runner.tempfile", SimpleNamespace(mkdtemp=fixed_task_dir))
    monkeypatch.setattr("widgets.step_list.format_duration", lambda _seconds: "5 ms")
    monkeypatch.setattr("screens.scaffold_run.format_duration", lambda _seconds: "5 ms")
    write_workspace(
        tmp_path,
        {"org.yaml": OWNERS},
        extra_config="templates:\n  sources:\n    - type: dir\n      path: templates\n",
    )
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "template.yaml").write_text(FAILING_TEMPLATE, encoding="utf-8")

    async def run_before(pilot: Pilot) -> None:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "failing")
        assert screen.stage == "review"  # no parameters: straight to the review
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.finished is not None, what="the failed run")
        await wait_until(pilot, lambda: "Press r to retry" in text_of(screen, "#failure"))
        # The log names the task's id, which changes on every run; the failure box says what failed.
        screen.task_view.output_log.clear()
        await pilot.pause()

    try:
        assert snap_compare(workspace_app(tmp_path), terminal_size=(120, 40), run_before=run_before)
    finally:
        shutil.rmtree(FAILED_RUN_DIR, ignore_errors=True)
