"""A hand-built history with known answers, and the catalog it belongs to."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from backends.catalog import catalog_from_files
from backends.deploy.events import Outcome
from backends.deploy.history import DeployHistory, DeployRecord
from backends.metrics import store

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC).timestamp()
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0

CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: engineering}
spec: {type: department, children: [team-a, team-b, team-c]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: [], members: [ann]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, children: [], members: [bob]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-c}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: ann}
spec: {memberOf: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: bob}
spec: {memberOf: [team-b]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: alpha
  annotations:
    backstage.io/source-template: template:default/microservice-golden-path
    backstage.io/techdocs-ref: dir:.
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: beta}
spec: {type: service, lifecycle: production, owner: team-b}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: gamma
  annotations:
    backstage.io/source-template: template:default/microservice-golden-path
spec: {type: service, lifecycle: experimental, owner: team-missing}
"""


def write_catalog(root: Path):  # noqa: ANN201 - a Catalog
    folder = root / "catalog"
    folder.mkdir()
    path = folder / "catalog-info.yaml"
    path.write_text(textwrap.dedent(CATALOG), encoding="utf-8")
    return catalog_from_files([path], root=root)


class Builder:
    def __init__(self, history: DeployHistory) -> None:
        self.history = history
        self.count = 0

    def add(
        self,
        service: str,
        version: str,
        started: float,
        *,
        took: float = 10 * MIN,
        outcome: Outcome = Outcome.SUCCEEDED,
        kind: str = "deploy",
        env: str = "production",
        lead: float | None = None,
        user: str = "ann",
    ) -> tuple[str, float]:
        """One finished deploy; returns its id and finish time."""
        self.count += 1
        deploy_id = f"d{self.count:02d}-{service}-{version}"
        finished = started + took
        self.history.start(
            DeployRecord(
                id=deploy_id, kind=kind, service=service, environment=env, namespace=env,
                deployment=service, user=user, from_version="v0", to_version=version,
                started_at=started, pid=0, host="test",
                commit_time=finished - lead if lead is not None else None,
            )
        )  # fmt: skip
        store.finish_at(self.history, deploy_id, outcome, version, "", finished)
        return deploy_id, finished


def build(history: DeployHistory, NOW: float = NOW) -> dict[str, str]:  # noqa: N803 - the scenario reads NOW
    """The scenario (times before NOW); returns the ids by name.

    alpha: d0 (40 d ago) ok; d1 ok (lead 2 h); d2 ok (lead 4 h) then rolled back 2 h later (r1) →
    failed, recovered by r1 after 2 h 05 min; d3 rolled back → failed, fixed forward by d4 (lead
    6 h) 1 h later → recovered after 1 h 10 min. beta: e1 ok, fixed forward by e2 (v2.0.1) 3 h later
    → failed, recovered after 3 h 10 min; e3 (a new minor, 30 h after e2) → e2 did not fail.
    Not counted: a staging deploy, a production deploy refused by its pre-checks.
    """
    b = Builder(history)
    ids: dict[str, str] = {}
    ids["d0"], _ = b.add("alpha", "v0.9.0", NOW - 40 * DAY)
    ids["d1"], _ = b.add("alpha", "v1.0.0", NOW - 20 * DAY, lead=2 * HOUR)
    ids["d2"], d2_end = b.add("alpha", "v1.1.0", NOW - 10 * DAY, lead=4 * HOUR)
    ids["r1"], _ = b.add("alpha", "v1.0.0", d2_end + 2 * HOUR, took=5 * MIN, kind="rollback")
    ids["d3"], d3_end = b.add("alpha", "v1.2.0", NOW - 5 * DAY, took=15 * MIN, outcome=Outcome.ROLLED_BACK)
    ids["d4"], _ = b.add("alpha", "v1.2.1", d3_end + HOUR, lead=6 * HOUR)
    ids["e1"], e1_end = b.add("beta", "v2.0.0", NOW - 3 * DAY, user="bob")
    ids["e2"], e2_end = b.add("beta", "v2.0.1", e1_end + 3 * HOUR, user="bob")
    ids["e3"], _ = b.add("beta", "v2.1.0", e2_end + 30 * HOUR, user="bob")
    ids["s1"], _ = b.add("beta", "v9.9.9", NOW - 2 * DAY, env="staging", outcome=Outcome.ROLLED_BACK)
    ids["f1"], _ = b.add("beta", "v9.9.8", NOW - 2 * DAY, took=1, outcome=Outcome.FAILED)
    # New services: alpha scaffolded 30 min before d1 started (40 min to production); gamma never deployed.
    store.record_scaffold(
        history, "component:default/alpha", "microservice-golden-path", "ann", NOW - 20 * DAY - 30 * MIN
    )
    store.record_scaffold(
        history, "component:default/gamma", "microservice-golden-path", "bob", NOW - 2 * DAY
    )
    # Feedback: this quarter 10, 9, 8, 3 (NPS +25); last quarter one 10 (NPS +100).
    for user, score, days in (("ann", 10, 1), ("bob", 9, 2), ("ann", 8, 3), ("bob", 3, 4)):
        store.record_feedback(history, user, score, "", at=NOW - days * DAY)
    store.record_feedback(history, "ann", 10, "great", at=NOW - 100 * DAY)
    return ids
