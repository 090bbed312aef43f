"""Snapshots of views no other snapshot covers: the ``:`` prompt, the docs site picker, the deploy
board with an unreachable cluster and with deploys interrupted in an earlier run.

Each waits for the state it captures (completions listed, sites found, the error or the panel
painted), never for time; the deploy ones reuse the deploy screen tests' frozen clock and cluster.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from screens.deploy import DeployScreen
from screens.docs import DocsScreen
from tests.screens.helpers import kube_workspace, screen_text, until, wait_for_catalog, workspace_app
from tests.screens.test_deploy_screen import (  # noqa: F401 - autouse fixtures: frozen clock, owned cluster
    deploy_app,
    fast_cluster,
    interrupt_a_deploy,
    sim_owner,
)
from tests.screens.test_docs_screen import make_workspace

FIXTURE = Path(__file__).parent / "fixtures" / "workspace"
SIZE = (120, 30)


def test_snapshot_command_prompt_lists_matching_commands(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot: Pilot) -> None:
        await wait_for_catalog(pilot)
        pilot.app.clear_notifications()
        await pilot.press("colon", "d")
        prompt = pilot.app.screen
        completions = prompt.query_one("#completions", Static)
        await until(
            pilot, lambda: completions.display and "deploy" in str(completions.render()), what="hints"
        )
        prompt.query_one(Input).cursor_blink = False
        await pilot.pause()

    assert snap_compare(workspace_app(FIXTURE), terminal_size=SIZE, run_before=run_before)


def test_snapshot_docs_site_picker(tmp_path: Path, snap_compare) -> None:  # noqa: ANN001
    workspace = make_workspace(tmp_path / "ws")

    async def run_before(pilot: Pilot) -> None:
        await wait_for_catalog(pilot)
        screen = DocsScreen()
        await pilot.app.push_screen(screen)
        sites = screen.query_one("#sites", OptionList)
        await until(pilot, lambda: sites.option_count == 3, what="the docs sites")
        screen.query_one("#site-filter", Input).cursor_blink = False
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(workspace_app(workspace), terminal_size=SIZE, run_before=run_before)


def test_snapshot_deploy_board_with_an_unreachable_cluster(tmp_path: Path, snap_compare) -> None:  # noqa: ANN001
    kube_workspace(tmp_path)

    async def run_before(pilot: Pilot) -> None:
        await wait_for_catalog(pilot)
        await pilot.press("3")
        screen = pilot.app.screen
        assert isinstance(screen, DeployScreen)
        await until(pilot, lambda: "never falls back" in screen_text(pilot.app), what="the error painted")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(workspace_app(tmp_path / "ws"), terminal_size=(120, 40), run_before=run_before)


def test_snapshot_deploy_board_offers_interrupted_deploys(snap_compare) -> None:  # noqa: ANN001
    # The slowest here (~10 s loaded): a real runner process deploys and is killed with -9 mid-way.
    interrupt_a_deploy()

    async def run_before(pilot: Pilot) -> None:
        await wait_for_catalog(pilot)
        await pilot.press("3")
        screen = pilot.app.screen
        assert isinstance(screen, DeployScreen)
        panel = screen.query_one("#interrupted", Static)
        await until(pilot, lambda: panel.has_class("-shown"), what="the interrupted deploys")
        await until(pilot, lambda: screen.board is not None and "4/4" in screen_text(pilot.app), what="board")
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(deploy_app(), terminal_size=(120, 40), run_before=run_before)
