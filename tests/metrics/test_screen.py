"""The scorecard screen on the demo's generated history: opened by :metrics, scope and window
keys, enter lists the deploys behind a figure; :feedback records a 0–10 score; a snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from backends.deploy.history import open_history
from backends.workspace import load_demo_workspace
from screens.metrics import DrilldownScreen, FeedbackPrompt, MetricsScreen
from tests.metrics.history_builder import NOW
from tests.screens.helpers import (
    demo_app,
    screen_text,
    until,
    wait_for_catalog,
    workspace_app,
    write_workspace,
)


async def _command(pilot: Pilot, text: str) -> None:
    await pilot.press("colon", *text, "enter")


async def test_metrics_scope_window_and_drilldown() -> None:
    app = demo_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_catalog(pilot)
        await _command(pilot, "metrics")
        await until(pilot, lambda: isinstance(app.screen, MetricsScreen) and app.screen.card is not None)
        screen = app.screen
        assert isinstance(screen, MetricsScreen) and screen.card is not None
        assert screen.card.demo and screen.card.window_days == 30
        # The card is set before its figures are painted: wait for what the user reads.
        await until(pilot, lambda: "production deploys failed" in screen_text(app), what="the figures")
        text = screen_text(app)
        assert "Scorecard · organisation · last 30 days" in text
        assert "demo history" in text
        assert screen.query_one(DataTable).row_count == 10

        await pilot.press("w")  # 30 → 90 days
        await until(pilot, lambda: screen.card is not None and screen.card.window_days == 90)
        await pilot.press("t")  # the first team is the user's own
        await until(pilot, lambda: screen.card is not None and screen.card.scope.name == "team-payments")
        await until(pilot, lambda: "Scorecard · team team-payments · last 90 days" in screen_text(app))
        await pilot.press("o")
        await until(pilot, lambda: screen.card is not None and screen.card.scope.kind == "org")

        await pilot.press("down", "down", "enter")  # the change failure rate's deploys
        await until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        drill = app.screen
        assert isinstance(drill, DrilldownScreen) and drill.figure.key == "change_failure_rate"
        table = drill.query_one(DataTable)
        await until(pilot, lambda: table.row_count == len(drill.figure.ids) > 0)
        await until(pilot, lambda: "production deploys failed" in screen_text(app), what="the drilldown")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)


async def test_feedback_prompt_refuses_a_bad_score_and_records_a_good_one() -> None:
    app = demo_app()
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for_catalog(pilot)
        await _command(pilot, "feedback")
        await until(pilot, lambda: isinstance(app.screen, FeedbackPrompt))
        prompt = app.screen
        await pilot.press("1", "1", "enter")
        assert "from 0 to 10" in str(prompt.query_one("#feedback-error", Static).render())
        prompt.query_one("#feedback-score", Input).value = ""
        await pilot.press("9", "enter", *"more golden paths", "enter")
        history = open_history(load_demo_workspace())

        def recorded() -> list:
            return history.query('SELECT "user", score, comment FROM feedback WHERE comment <> ?', ("",))

        await until(pilot, recorded, what="the feedback row")
        assert recorded() == [("jane.doe", 9, "more golden paths")]


async def _scorecard_on_the_demo(pilot: Pilot) -> None:
    await wait_for_catalog(pilot)
    pilot.app.clear_notifications()
    await pilot.app.push_screen(MetricsScreen(now=NOW))
    await until(
        pilot, lambda: isinstance(pilot.app.screen, MetricsScreen) and pilot.app.screen.card is not None
    )


def test_snapshot_scorecard(snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(demo_app(), terminal_size=(132, 32), run_before=_scorecard_on_the_demo)


async def test_the_status_modes_m_opens_the_scorecard_of_the_highlighted_service() -> None:
    app = demo_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_catalog(pilot)
        app.open_metrics("component:default/payment-service")  # what the status mode's m calls
        await until(pilot, lambda: isinstance(app.screen, MetricsScreen) and app.screen.card is not None)
        assert "Scorecard · service payment-service · last 30 days" in screen_text(app)


async def test_the_scorecard_says_why_when_the_store_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", "not-used")
    team = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {type: team}\n"
    write_workspace(tmp_path, {"org.yaml": team}, "history: postgresql://idp@127.0.0.1:1/none\n")
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for_catalog(pilot)
        app.open_metrics()
        await until(pilot, lambda: "No scorecard" in screen_text(app), what="the reason")
        assert (
            "No scorecard: cannot reach the history store postgresql://idp@127.0.0.1:1/none"
            in screen_text(app)
        )
