"""Issue 11, deploy mode: the watch view shows the service deployed, why a run failed, and finished steps."""

from __future__ import annotations

from tests.screens.helpers import screen_text
from tests.screens.test_deploy_screen import (
    confirm,
    deploy,
    deploy_app,
    fast_cluster,  # noqa: F401 — autouse: the fast simulated cluster and a frozen clock
    fill_form,
    open_deploy_mode,
    wait_finished,
    wait_step,
    wait_until,
)
from widgets.rollout_tree import RolloutTree


def tree_text(app) -> str:  # noqa: ANN001
    tree = app.screen.query_one(RolloutTree)
    region = tree.region
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    return "\n".join(line[region.x : region.right] for line in lines)


async def test_second_deploy_never_shows_the_first_services_pods() -> None:
    app = deploy_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        assert await wait_finished(pilot, screen) == "succeeded"
        await pilot.press("escape")
        # auth-service has no Deployment in staging: the deploy fails and its tree says why
        await fill_form(pilot, screen, "auth-service", "staging", "v9.9.9")
        await confirm(pilot)
        await wait_finished(pilot, screen)
        await pilot.pause(1.3)  # the age ticker redraws the tree once a second
        text = tree_text(app)
        assert "auth-service" in text
        assert "payment-service" not in text


async def test_a_failure_reason_is_shown_whole_at_80_columns() -> None:
    app = deploy_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deploy_mode(pilot)
        # checkout-bff belongs to team-checkout: production refuses jane.doe (team-payments)
        await fill_form(pilot, screen, "checkout-bff", "production", "v5.0.5")
        await confirm(pilot, "checkout-bff")
        assert await wait_finished(pilot, screen) == "failed"
        await pilot.pause()
        words = " ".join(screen_text(app).split())
        assert "only its members may deploy to production" in words


async def test_promote_fully_leaves_no_step_running() -> None:
    app = deploy_app(bake="30s")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deploy_mode(pilot)
        await deploy(pilot, screen, "staging", "v2.3.1")
        await wait_step(pilot, screen, 0)
        await pilot.press("P")
        assert await wait_finished(pilot, screen) == "succeeded"
        await wait_until(pilot, lambda: "✔  promote" in screen_text(app))
        assert screen.state is not None
        assert screen.state.statuses == ["done", "skipped", "skipped", "skipped"]
        text = screen_text(app)
        assert "◐" not in text  # nothing spins beside "✔ Succeeded"
        assert "✔  5%" in text
