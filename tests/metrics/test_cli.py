"""``idp-console metrics`` and ``idp-console feedback`` on a workspace with a hand-built history."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from backends.deploy.history import DeployHistory
from backends.metrics import store
from console.cli import main
from tests.metrics.history_builder import build, write_catalog

CONFIG = """
name: Metrics test
catalog:
  sources:
    - type: dir
      path: catalog
environments:
  staging: {context: none, namespace: staging}
  production: {context: none, namespace: production, production: true}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "idp-console.yaml").write_text(CONFIG, encoding="utf-8")
    write_catalog(root)
    ids = build(DeployHistory(), time.time())  # the CLI's clock is the real one: build around it
    return root, ids


def test_metrics_json_carries_numerators_denominators_and_the_deploys_behind_each_figure(
    workspace: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, ids = workspace
    assert main(["--workspace", str(root), "metrics", "--window", "30d", "--output", "json"]) == 0
    card = json.loads(capsys.readouterr().out)
    figures = {f["key"]: f for f in card["figures"]}
    cfr = figures["change_failure_rate"]
    assert (cfr["numerator"], cfr["denominator"]) == (3, 7)
    assert cfr["ids"] == [ids["e1"], ids["d3"], ids["d2"]]
    assert cfr["band"] == "low" and cfr["target"] == "≤ 5 %"
    assert (figures["teams_deploying"]["numerator"], figures["teams_deploying"]["denominator"]) == (2, 3)
    assert card["scope"] == {"kind": "org", "name": ""} and card["window_days"] == 30
    assert card["demo_history"] is False


def test_metrics_table_for_a_service(
    workspace: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ids = workspace
    assert main(["--workspace", str(root), "metrics", "--service", "beta", "--window", "90d"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Scorecard · service beta · last 90 days")
    assert "1 of 3 production deploys failed" in out
    assert "Change failure rate" in out and "[low]" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["metrics", "--team", "team-z"], "no group 'team-z' in the catalog"),
        (["metrics", "--window", "soon"], "--window 'soon'"),
        (["feedback", "11"], "SCORE must be a whole number from 0 to 10, not '11'"),
        (["feedback", "nine"], "SCORE must be a whole number from 0 to 10, not 'nine'"),
        (["feedback", "--", "-1"], "SCORE must be a whole number from 0 to 10, not '-1'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    workspace: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    root, _ids = workspace
    assert main(["--workspace", str(root), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_feedback_is_recorded_under_the_users_identity(capsys: pytest.CaptureFixture[str]) -> None:
    # The demo workspace: identity from IDP_CONSOLE_USER (jane.doe in the tests).
    assert main(["feedback", "9", "--comment", "the scorecard is great"]) == 0
    assert "Thank you, jane.doe: 9/10 recorded" in capsys.readouterr().out
    rows = store.query(
        DeployHistory(), 'SELECT "user", score, comment FROM feedback ORDER BY at DESC LIMIT 1'
    )
    assert rows == [("jane.doe", 9, "the scorecard is great")]


def test_an_unreachable_store_is_one_line_for_metrics_and_feedback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    # Nothing listens on port 1 of loopback: the connection is refused at once.
    (root / "idp-console.yaml").write_text(
        CONFIG + "history: postgresql://idp@127.0.0.1:1/none\n", encoding="utf-8"
    )
    write_catalog(root)
    monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", "not-used")
    for argv in (["metrics"], ["feedback", "7"]):
        assert main(["--workspace", str(root), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("idp-console: cannot reach the history store postgresql://idp@127.0.0.1:1/none")
        assert len(err.splitlines()) == 1 and "not-used" not in err
