"""Every figure of the scorecard on a hand-built history whose answers are known."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.deploy.history import DeployHistory
from backends.metrics import MetricsError, compute_scorecard, drilldown, parse_window, resolve_scope
from tests.metrics.history_builder import DAY, HOUR, MIN, NOW, build, write_catalog


@pytest.fixture
def world(tmp_path: Path):  # noqa: ANN201
    history = DeployHistory(tmp_path / "history.sqlite3")
    ids = build(history)
    catalog = write_catalog(tmp_path)
    return history, catalog, ids, tmp_path


def card(world, window: int = 30, **scope: str):  # noqa: ANN001, ANN201
    history, catalog, _ids, root = world
    return compute_scorecard(
        history, catalog, resolve_scope(catalog, **scope), window_days=window, now=NOW,
        production=("production",), workspace_root=root,
    )  # fmt: skip


def test_change_failure_rate_counts_rollbacks_and_what_a_rollback_or_fix_forward_followed_within_24h(
    world,  # noqa: ANN001
) -> None:
    _h, _c, ids, _r = world
    cfr = card(world).figure("change_failure_rate")
    # d2 (rolled back by r1 two hours later), d3 (rolled back), e1 (v2.0.1 fixed it forward);
    # not e2 (the next deploy came 30 h later and was a new minor), not the rollback itself, not the
    # staging deploy, not the deploy its pre-checks refused.
    assert (cfr.numerator, cfr.denominator) == (3, 7)
    assert cfr.universe == "3 of 7 production deploys failed"
    assert cfr.ids == [ids["e1"], ids["d3"], ids["d2"]]
    assert cfr.band == "low" and cfr.target_met is False
    assert cfr.value == pytest.approx(3 / 7)


def test_recovery_time_runs_from_the_failed_deploy_to_the_next_healthy_production_change(world) -> None:  # noqa: ANN001
    recovery = card(world).figure("recovery_time")
    # d2 → r1: 2 h + 5 min; d3 → d4: 1 h + 10 min; e1 → e2: 3 h + 10 min. Median 2 h 05 min.
    assert recovery.value == pytest.approx(2 * HOUR + 5 * MIN)
    assert (recovery.numerator, recovery.denominator) == (3, 3)
    assert recovery.band == "high"
    assert recovery.display == "2.1 h"


def test_lead_time_and_deployment_frequency(world) -> None:  # noqa: ANN001
    scorecard = card(world)
    lead = scorecard.figure("lead_time")
    assert lead.value == pytest.approx(4 * HOUR)  # median of 2 h, 4 h, 6 h
    assert (lead.numerator, lead.denominator) == (3, 6)
    assert lead.band == "elite"
    frequency = scorecard.figure("deployment_frequency")
    assert (frequency.numerator, frequency.denominator) == (6, 30)
    assert frequency.universe == "6 production deploys in 30 days by 2 services"
    assert frequency.band == "medium"  # 0.1 a day per service: more than monthly, less than weekly
    assert sum(frequency.trend) == 7  # the trend's 8 weeks also hold d0, 40 days ago
    assert len(frequency.trend) == 8 and frequency.trend[-1] == 4  # d4 e1 e2 e3: the last 7 days
    # The 90-day window also counts d0.
    assert card(world, 90).figure("deployment_frequency").numerator == 7


def test_team_and_service_scopes_count_only_their_deploys(world) -> None:  # noqa: ANN001
    alpha = card(world, team="team-a")
    assert alpha.figure("change_failure_rate").universe == "2 of 4 production deploys failed"
    assert alpha.figure("teams_deploying").universe == "1 of 1 teams deployed in 30 days"
    beta = card(world, service="beta")
    assert beta.figure("change_failure_rate").universe == "1 of 3 production deploys failed"
    assert beta.figure("recovery_time").value == pytest.approx(3 * HOUR + 10 * MIN)
    # Feedback counts for the team's members only: bob gave 9 and 3.
    team_b = card(world, team="team-b").figure("nps")
    assert team_b.universe == "Q4 2026: 1 promoters, 1 detractors of 2 responses"


def test_adoption_and_quality_figures(world) -> None:  # noqa: ANN001
    scorecard = card(world)
    teams = scorecard.figure("teams_deploying")
    assert (teams.numerator, teams.denominator) == (2, 3) and teams.target_met is False
    assert "team-c: no deploy" in teams.details
    golden = scorecard.figure("golden_paths")
    assert (golden.numerator, golden.denominator) == (2, 3)
    first = scorecard.figure("time_to_first_deploy")
    assert first.value == pytest.approx(40 * MIN)  # scaffolded 30 min before d1 started, d1 took 10
    assert (first.numerator, first.denominator) == (1, 2)
    assert "gamma: not in production yet" in first.details
    ownership = scorecard.figure("ownership")
    assert (ownership.numerator, ownership.denominator) == (2, 3)
    assert any("team-missing" in line for line in ownership.details)
    docs = scorecard.figure("docs")
    assert (docs.numerator, docs.denominator) == (1, 3)


def test_nps_per_quarter(world) -> None:  # noqa: ANN001
    nps = card(world).figure("nps")
    assert nps.value == pytest.approx(25.0)  # (2 promoters − 1 detractor) / 4 responses
    assert nps.trend[-2:] == [pytest.approx(100.0), pytest.approx(25.0)]
    assert nps.target_met is False


def test_drilldown_lists_the_deploys_behind_a_figure(world) -> None:  # noqa: ANN001
    history, _c, ids, _r = world
    rows = drilldown(history, card(world).figure("change_failure_rate").ids)
    assert [row.id for row in rows] == [ids["e1"], ids["d3"], ids["d2"]]
    assert rows[1].outcome == "rolled-back" and rows[1].to_version == "v1.2.0"


def test_bad_scope_and_window_are_one_line_errors(world) -> None:  # noqa: ANN001
    _h, catalog, _i, _r = world
    with pytest.raises(MetricsError, match="no group 'team-z'"):
        resolve_scope(catalog, team="team-z")
    with pytest.raises(MetricsError, match="no component"):
        resolve_scope(catalog, service="nope")
    assert parse_window("30d") == 30 and parse_window("2w") == 14 and parse_window("7") == 7
    for bad in ("0d", "soon", "400d", ""):
        with pytest.raises(MetricsError):
            parse_window(bad)
    assert DAY == 86400
