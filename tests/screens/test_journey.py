"""Issue 10, the TUI half: from a new golden-path service to production by keyboard, and the keys
that do what they say. The demo workspace with the simulated cluster over real HTTP (sped up), real
detached runners, a real git server in the state dir for the scaffolded repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from screens.deploy import DeployScreen
from screens.deploy_confirm import ConfirmDeploy
from screens.scaffold import ScaffoldScreen
from tests.screens.helpers import screen_text, until, wait_for_catalog
from tests.screens.test_deploy_screen import (
    SERVICE,
    deploy,
    deploy_app,
    fast_cluster,  # noqa: F401 — autouse: the fast simulated cluster and a frozen clock
    open_deploy_mode,
    sim_owner,  # noqa: F401 — autouse: the simulated cluster outlives the app; runners stopped
    wait_finished,
    wait_step,
)
from widgets.picker_input import PickerInput
from widgets.schema_form import SchemaForm

NAME = "orders-api"


class Keys:
    """Counts the keys pressed, besides the service name's characters (issue 10's measure)."""

    def __init__(self, pilot: Pilot) -> None:
        self.pilot = pilot
        self.count = 0

    async def press(self, *keys: str) -> None:
        self.count += len(keys)
        await self.pilot.press(*keys)

    async def name(self, name: str) -> None:
        await self.pilot.press(*name)


def words(app: object) -> str:
    return " ".join(screen_text(app).split())  # type: ignore[arg-type]


def dialog_text(app: object) -> str:
    """The confirmation dialog's title and body, unwrapped."""
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, ConfirmDeploy)
    parts = [str(screen.query_one(f"#{part}", Static).render()) for part in ("confirm-title", "confirm-body")]
    return " ".join(" ".join(parts).split()) + " " + str(screen.query_one("#ok").label)


def owner_suggested(screen: ScaffoldScreen, ref: str) -> bool:
    focused = screen.focused
    picker = focused.parent if focused is not None else None
    return isinstance(picker, PickerInput) and bool(picker.suggestions) and picker.suggestions[0].value == ref


async def scaffold_golden_path(pilot: Pilot, keys: Keys, name: str) -> ScaffoldScreen:
    app = pilot.app
    await keys.press("2")
    screen = app.screen
    assert isinstance(screen, ScaffoldScreen)
    await until(pilot, lambda: screen.templates, what="the templates")
    await keys.press("down")  # the golden path, second in the list
    table = screen.picker.table
    assert screen.picker.shown_items[table.cursor_row].key == "microservice-golden-path"
    await keys.press("enter")
    await until(pilot, lambda: screen.stage == "form", what="the form")
    await keys.name(name)
    await keys.press("enter", "enter", *"pay")  # name → description → owner, filtered
    await until(pilot, lambda: owner_suggested(screen, "group:default/team-payments"), what="the owner")
    await keys.press("enter", "ctrl+n")
    await until(pilot, lambda: screen.page_index == 1, what="page 2")
    await keys.press("ctrl+n")
    await until(pilot, lambda: screen.stage == "review", what="the review")
    await keys.press("enter")
    await until(pilot, lambda: screen.finished is not None, timeout=90, what="the scaffold run")
    return screen


async def test_new_service_to_production_by_keyboard() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        keys = Keys(pilot)
        scaffold = await scaffold_golden_path(pilot, keys, NAME)

        # The run view offers the first deploy, and its next steps name a command that works.
        await until(pilot, lambda: f"d deploys {NAME} to staging" in words(app), what="the deploy offer")
        assert f"idp-console deploy {NAME} --env staging --version" in words(app)
        assert scaffold.deploy_offer() is not None

        await keys.press("d")  # the form: service, staging and the registry's newest version
        deploy_screen = app.screen
        assert isinstance(deploy_screen, DeployScreen)
        form = deploy_screen.form
        await until(pilot, lambda: form.service == NAME and form.versions, what="the registry's tags")
        version = form.versions[0]
        assert form.environment == "staging"
        assert deploy_screen.query_one("#version", Input).value == version
        assert deploy_screen.query_one("#version", Input).has_focus
        assert "● staging" in screen_text(app)
        await keys.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDeploy), what="the confirmation")
        await keys.press("enter")
        assert await wait_finished(pilot, deploy_screen) == "succeeded"

        # The watch view offers production once staging is healthy.
        await until(pilot, lambda: "p promotes it to production" in words(app), what="the promotion offer")
        assert "p Promote to next env" in screen_text(app)
        await keys.press("p")
        assert deploy_screen.view == "form"
        assert (form.service, form.environment) == (NAME, "production")
        assert deploy_screen.query_one("#version", Input).value == version
        await keys.press("enter")

        # Production refuses the experimental lifecycle: the screen says why and offers the fix.
        await until(pilot, lambda: isinstance(app.screen, ConfirmDeploy), what="the lifecycle question")
        question = dialog_text(app)
        assert "production accepts only lifecycle production; orders-api is experimental" in question
        assert "Promote to production" in question
        await keys.press("enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, ConfirmDeploy) and app.screen.type_to_confirm == NAME,
            what="the production confirmation after the fix",
        )
        entity = app.catalog.get(NAME) if app.catalog is not None else None
        assert entity is not None and entity.lifecycle == "production"
        await keys.name(NAME)
        await keys.press("enter")
        assert await wait_finished(pilot, deploy_screen, timeout=60) == "succeeded"
        state = deploy_screen.state
        assert state is not None and (state.environment, state.to_version) == ("production", version)
        await until(pilot, lambda: "deploy complete" in words(app), what="the success line")
        assert deploy_screen.promotion() is None  # production is the last environment
        assert keys.count <= 25, keys.count


async def test_refusing_the_lifecycle_fix_deploys_nothing_and_says_why() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        keys = Keys(pilot)
        await scaffold_golden_path(pilot, keys, NAME)
        await until(pilot, lambda: f"d deploys {NAME} to staging" in words(app), what="the deploy offer")
        await keys.press("d")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await until(pilot, lambda: screen.form.versions, what="the registry's tags")
        await pilot.press("shift+tab", "down")  # to the environments, production
        assert screen.form.environment == "production"
        await pilot.press("enter", "enter")  # the version field, then submit
        await until(pilot, lambda: isinstance(app.screen, ConfirmDeploy), what="the lifecycle question")
        await pilot.press("escape")
        await until(pilot, lambda: "Not deployed: production accepts only lifecycle production" in words(app))
        assert screen.view == "form" and screen.state is None


# -- keys that do what they say (issue 10, item 7) -----------------------------------------------


async def test_enter_in_the_description_moves_on_without_a_newline() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("2")
        screen = app.screen
        assert isinstance(screen, ScaffoldScreen)
        await until(pilot, lambda: screen.templates)
        await pilot.press("/", *"golden", "enter", "enter")
        await until(pilot, lambda: screen.stage == "form")
        await pilot.press(*NAME, "enter", "enter")
        form = screen.query_one("#form", SchemaForm)
        owner = next(b for b in form.boxes if b.field_name == "owner")
        assert screen.focused is owner.query_one(PickerInput).input
        assert screen.model is not None
        assert "\n" not in str(screen.model.answers.get("description", ""))


async def test_tab_takes_the_highlighted_service_and_the_environment_is_marked() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await pilot.press("n", *"paym", "tab")
        assert screen.form.service == SERVICE
        environments = screen.query_one("#environments", OptionList)
        assert environments.has_focus
        text = screen_text(app)
        assert "● staging" in text and "● production" not in text
        await pilot.press("down")
        text = screen_text(app)
        assert "● production" in text and "● staging" not in text
        assert screen.form.environment == "production"


async def test_promote_fully_is_in_the_footer_while_a_deploy_runs() -> None:
    app = deploy_app(bake="30s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_step(pilot, screen, 0)
        footer = screen_text(app).splitlines()[-1]
        assert "P Promote fully" in footer


async def test_n_starts_a_new_deploy_from_a_finished_watch_view() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        assert await wait_finished(pilot, screen) == "succeeded"
        await pilot.press("n")
        assert screen.view == "form"
        assert screen.form.service == SERVICE  # the service just watched
        assert str(screen.query_one("#form-error", Static).render()) == ""


# -- the rules behind the offers, without a terminal ----------------------------------------------


def test_next_environment_and_the_lifecycle_fix_target() -> None:
    from backends.deploy.journey import first_environment, lifecycle_refusal, next_environment
    from backends.kube.environments import Environment

    environments = ["dev", "staging", "production"]
    assert first_environment(environments) == "dev"
    assert next_environment(environments, "staging") == "production"
    assert next_environment(environments, "production") is None
    assert next_environment(environments, "unknown") is None

    class Service:  # the two things the rule reads from a catalog entity
        name = NAME
        lifecycle = "experimental"

    production = Environment("production", lifecycles=("production",), production=True)
    refusal = lifecycle_refusal(Service(), production)  # type: ignore[arg-type]
    assert refusal is not None and refusal.target == "production"
    assert refusal.reason == "production accepts only lifecycle production; orders-api is experimental"
    beta = Environment("beta", lifecycles=("experimental", "beta"))
    assert lifecycle_refusal(Service(), beta) is None  # type: ignore[arg-type]
    mature = Environment("prod", lifecycles=("beta", "production"))
    refusal = lifecycle_refusal(Service(), mature)  # type: ignore[arg-type]
    assert refusal is not None and refusal.target == "beta"  # the nearest step up, not the last


# -- snapshots: the offers on screen ---------------------------------------------------------------

NEW_SERVICE_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: new-service
  title: New service
spec:
  type: service
  parameters:
    - title: Service
      required: [name]
      properties:
        name:
          title: Name
          type: string
  steps:
    - id: register
      name: Register in the catalog
      action: catalog:register
      input:
        catalogInfoUrl: {catalog_file}
  output:
    links:
      - title: Open in catalog
        entityRef: ${{{{ steps.register.output.entityRef }}}}
    text:
      - title: Next steps
        content: "**${{{{ parameters.name }}}}** is in the catalog."
"""

SNAP_SERVICE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: snap-api
spec:
  type: service
  lifecycle: experimental
  owner: team-a
"""

ENVIRONMENTS = """\
templates:
  sources:
    - type: dir
      path: templates
environments:
  staging:
    cluster: simulated
    namespace: staging
  production:
    cluster: simulated
    namespace: production
    production: true
"""


def test_snapshot_run_view_offers_the_first_deploy(
    snap_compare,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.screens.helpers import workspace_app, write_workspace

    # Step and run durations vary from run to run; what the picture is about does not.
    monkeypatch.setattr("widgets.step_list.format_duration", lambda _seconds: "5 ms")
    monkeypatch.setattr("screens.scaffold_run.format_duration", lambda _seconds: "5 ms")
    owners = (
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n"
    )
    write_workspace(tmp_path, {"owners.yaml": owners + "  children: []\n"}, ENVIRONMENTS)
    service_file = tmp_path / "repo" / "catalog-info.yaml"
    service_file.parent.mkdir()
    service_file.write_text(SNAP_SERVICE, encoding="utf-8")
    template_dir = tmp_path / "templates" / "new-service"
    template_dir.mkdir(parents=True)
    template = NEW_SERVICE_TEMPLATE.format(catalog_file=service_file)
    (template_dir / "template.yaml").write_text(template, encoding="utf-8")

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await wait_for_catalog(pilot)
        await pilot.press("2")
        screen = app.screen
        assert isinstance(screen, ScaffoldScreen)
        await until(pilot, lambda: screen.templates, what="the templates")
        await pilot.press("slash", *"new service", "enter", "enter")
        await until(pilot, lambda: screen.stage == "form", what="the form")
        await pilot.press(*"snap-api", "ctrl+n")
        await until(pilot, lambda: screen.stage == "review")
        await pilot.press("enter")
        await until(pilot, lambda: "d deploys snap-api to staging" in words(app), what="the offer")
        await until(pilot, lambda: "snap-api is in the catalog" in words(app), what="the next steps")
        # The log names the task's id and its temporary directory, which change on every run.
        screen.task_view.output_log.clear()
        await pilot.pause()

    assert snap_compare(workspace_app(tmp_path), terminal_size=(120, 40), run_before=run_before)


# The watch view offering production: test_deploy_screen.py's test_snapshot_finished_deploy.
