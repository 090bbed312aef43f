"""The health verdict and the one-line cell: a mark and a word first, never colour alone."""

from __future__ import annotations

from backends.deploy.events import Outcome
from backends.deploy.history import DeployRecord
from backends.status.model import Health, StatusCell, ago, cell_summary, verdict

NOW = 1_800_000_000.0


def _verdict(**changes: object) -> tuple[Health, str]:
    facts: dict = dict(desired=4, ready=4, restarts_1h=0, bad_reason="", canary=False, rolling=False,
                       rollout_failed=False)  # fmt: skip
    facts.update(changes)
    return verdict(**facts)


def test_verdicts_in_priority_order() -> None:
    assert _verdict() == (Health.HEALTHY, "")
    assert _verdict(rollout_failed=True, canary=True) == (Health.DOWN, "rollout failed")
    assert _verdict(ready=0, bad_reason="ImagePullBackOff") == (Health.DOWN, "ImagePullBackOff")
    assert _verdict(ready=0) == (Health.DOWN, "no pod ready")
    assert _verdict(ready=3, bad_reason="CrashLoopBackOff") == (Health.DEGRADED, "CrashLoopBackOff")
    assert _verdict(canary=True, ready=3) == (Health.DEPLOYING, "canary")
    assert _verdict(ready=2) == (Health.DEGRADED, "2/4 ready")
    assert _verdict(restarts_1h=3) == (Health.DEGRADED, "3 restarts in 1 h")
    assert _verdict(desired=0, ready=0) == (Health.HEALTHY, "")  # scaled to zero on purpose


def test_cell_lines() -> None:
    record = DeployRecord("d1", "deploy", "svc", "prod", "prod", "svc", "omar", "v1", "v2", NOW - 7200,
                          outcome=Outcome.ROLLED_BACK)  # fmt: skip

    def line(cell: StatusCell) -> str:
        return cell_summary(cell, lambda at: ago(at, NOW))

    healthy = StatusCell("svc", "prod", "prod", Health.HEALTHY, "", "v2.3.0", "", 4, 4, 0, record)
    assert line(healthy) == "✔ healthy v2.3.0 4/4 ↻0 · 2h omar rolled-back"
    canary = StatusCell("svc", "prod", "prod", Health.DEPLOYING, "canary", "v2.3.0", "v2.3.1", 5, 5, 1)
    assert line(canary) == "! canary v2.3.0 +v2.3.1 5/5 ↻1"
    short = StatusCell("svc", "prod", "prod", Health.DEGRADED, "2/4 ready", "v2.3.0", "", 2, 4)
    assert line(short) == "! degraded v2.3.0 2/4 ↻0"
    assert line(StatusCell("svc", "prod", "prod", Health.UNREACHABLE)) == "? unreachable"
    assert line(StatusCell("svc", "prod", "prod", Health.ABSENT)) == "– not deployed"
    assert cell_summary(None, str) == "… connecting"
    assert [ago(NOW - s, NOW) for s in (5, 300, 7200, 259200)] == ["5s", "5m", "2h", "3d"]
