"""The deploy board of a console on another host (or account) marks a deploy running there, and
attaching to it watches and steers it through the shared history store, with the same keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.deploy.remote_watch import StoreRun
from backends.workspace import load_workspace
from console.app import IdpConsoleApp
from tests.bastion.hosts import deploy_on_host_a, on_host
from tests.deploy.conftest import SERVICE
from tests.screens.helpers import until as wait_until
from tests.screens.test_deploy_screen import (
    log_text,
    move_to,
    open_deploy_mode_while_deploying,
    stable_cell,
    wait_finished,
)


async def test_the_board_marks_a_deploy_of_another_host_and_its_team_steers_it(
    hosts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _omar, sam_workspace, _cluster = hosts
    run = deploy_on_host_a(monkeypatch, tmp_path, a)  # jane.doe's deploy, baking 25 % on host A
    on_host(monkeypatch, tmp_path, "host-b")
    app = IdpConsoleApp(load_workspace(sam_workspace))  # sam.lee, of the owning team, on host B
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode_while_deploying(pilot)
        await wait_until(pilot, lambda: stable_cell(screen, "production").startswith("▶ "), what="the mark")
        await move_to(pilot, screen, SERVICE)
        await pilot.press("enter")  # attach: the story so far from the store, then live
        assert screen.view == "watch"
        await wait_until(pilot, lambda: "step 2/4" in log_text(screen), what="the replayed log")
        assert isinstance(screen.run, StoreRun) and screen.run.deploy_id == run.deploy_id
        await pilot.press("a")
        assert await wait_finished(pilot, screen) == "aborted"
        assert "sam.lee aborted it" in log_text(screen)
