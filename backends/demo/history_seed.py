"""The demo's generated 90-day history, so the scorecard means something on first launch.

Deterministic (a fixed random seed) and relative to ``now``: every service the simulated cluster
runs gets staging and production deploys over the 90 days before it, ending at the version the
cluster runs today; some deploys are rolled back by their canary, some are rolled back or fixed
forward hours after they shipped; three components arrive from the golden path (scaffolded, then
their first deploys); and engineers leave satisfaction scores.

Every record is marked: host ``demo-history``, pid 0, and outcome reason "demo history". Nothing
is unfinished (so nothing is offered for resume), every version is older than the one the cluster
runs (so no version the live demo deploys is known to have failed), and the last record ends more
than a day before ``now`` (so a first live deploy is never taken for a fix-forward of it).
It is written once, into an empty store only: a history that holds anything is never touched.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from backends.deploy.events import Outcome
from backends.deploy.history import DeployRecord
from backends.metrics import store
from backends.metrics.scorecard import DEMO_HOST

SEED = 12
DAYS = 90
HOUR, DAY = 3600.0, 86400.0
REASON = "demo history"
QUIET_BEFORE_NOW = 30 * HOUR  # the newest generated record ends at least this long before now


@dataclass(frozen=True, slots=True)
class DemoService:
    name: str
    version: str  # what the simulated cluster runs today
    every_days: float  # a production deploy about this often
    users: tuple[str, ...]
    new_from_golden_path_days_ago: float | None = None


SERVICES = (
    DemoService("payment-service", "v2.3.0", 2.0, ("jane.doe", "omar.haddad")),
    DemoService("invoice-service", "v1.8.2", 5.0, ("omar.haddad", "jane.doe")),
    DemoService("ledger-service", "v3.1.0", 6.0, ("jane.doe",)),
    DemoService("checkout-bff", "v5.0.4", 3.0, ("li.wei", "sofia.rossi")),
    DemoService("cart-service", "v2.12.1", 4.0, ("sofia.rossi",)),
    DemoService("user-service", "v4.2.0", 7.0, ("kwame.mensah",)),
    # New services, from the microservice golden path (their catalog entries carry the annotation).
    DemoService("fraud-scoring", "v0.6.0", 5.0, ("omar.haddad",), new_from_golden_path_days_ago=62),
    DemoService("acquirer-adapter", "v0.3.1", 6.0, ("jane.doe",), new_from_golden_path_days_ago=27),
    DemoService("pricing-service", "v0.2.0", 4.0, ("li.wei",), new_from_golden_path_days_ago=11),
)
FEEDBACK_USERS = (
    "jane.doe",
    "omar.haddad",
    "li.wei",
    "sofia.rossi",
    "kwame.mensah",
    "anna.kowalska",
    "priya.nair",
)
TEMPLATE = "template:default/microservice-golden-path"


def seed_demo_history(history: Any, now: float | None = None) -> bool:
    """Write the demo history into an empty store; False when it holds anything already."""
    if store.query(history, "SELECT COUNT(*) FROM deploys")[0][0]:
        return False
    # On the hour: two processes seeding at once write the same ids, and the second stops at its
    # first insert instead of doubling the history.
    now = float(int(time.time() if now is None else now) // 3600 * 3600)
    rng = random.Random(SEED)
    try:
        for service in SERVICES:
            _service_history(history, service, now, rng)
        _feedback(history, now, rng)
    except Exception as error:  # noqa: BLE001 - the store's own error type differs per dialect
        if "unique" in str(error).lower() or "duplicate" in str(error).lower():
            return False  # someone else seeded it at the same time
        raise
    return True


def ensure_demo_history(workspace: Any, history: Any, now: float | None = None) -> None:
    """Seed the demo workspace's store on first use (a no-op for any other workspace)."""
    if getattr(workspace, "is_demo", False):
        seed_demo_history(history, now)


def ensure_demo_history_quietly(workspace: Any, history: Any, now: float | None = None) -> None:
    """The same for views whose history is optional (status: its last-deploy column): a store that
    does not answer is theirs to explain, so nothing is raised here."""
    try:
        if history is not None:
            ensure_demo_history(workspace, history, now)
    except Exception:  # noqa: BLE001 - the status view reports the store's error itself
        return


# -- generation -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    """One production change in a service's story, oldest first."""

    version: str
    fate: str  # ok | canary-failed (rolled back by the canary) | bad (rolled back later)


def _versions_back(version: str, count: int, rng: random.Random) -> list[str]:
    """``count`` versions strictly older than ``version``, newest first (patch, then minor steps)."""
    major, minor, patch = (int(part) for part in version.lstrip("v").split("."))
    found = []
    for _ in range(count):
        if patch > 0:
            patch -= 1
        elif minor > 0:
            minor, patch = minor - 1, rng.randint(2, 5)
        elif major > 0:
            major, minor, patch = major - 1, 9, rng.randint(2, 5)
        else:
            break  # v0.0.0: nothing is older
        found.append(f"v{major}.{minor}.{patch}")
    return found


def _story(service: DemoService, rng: random.Random) -> tuple[list[_Step], float]:
    """The service's production changes oldest first, and the day its story starts."""
    first_day = service.new_from_golden_path_days_ago or DAYS
    count = max(2, round((first_day - QUIET_BEFORE_NOW / DAY) / service.every_days))
    versions = list(reversed([service.version, *_versions_back(service.version, count * 2, rng)]))
    steps: list[_Step] = []
    index = len(versions) - 1
    while index >= 0 and len(steps) < count:
        # Built newest first. A failure needs a version between the last good one and the fix:
        # x.y.(z+1) failed, x.y.(z+2) fixed it; the newest change is always a healthy one.
        steps.append(_Step(versions[index], "ok"))
        roll = rng.random()
        if index >= 2 and roll < 0.16:
            steps.append(_Step(versions[index - 1], "canary-failed" if roll < 0.10 else "bad"))
            index -= 1
        index -= 1
    steps.reverse()
    while steps and steps[0].fate != "ok":
        steps.pop(0)
    return steps, first_day


def _service_history(history: Any, service: DemoService, now: float, rng: random.Random) -> None:
    steps, first_day = _story(service, rng)
    start = now - first_day * DAY
    end = now - QUIET_BEFORE_NOW
    if service.new_from_golden_path_days_ago is not None:
        store.record_scaffold(history, f"component:default/{service.name}", TEMPLATE, service.users[0], start)
        start += rng.uniform(0.1, 0.3) * HOUR  # the golden path's CI reaches production quickly
    # Spread the healthy changes over the whole period (a failure's fix follows within hours).
    gap = (end - start) / max(sum(1 for step in steps if step.fate == "ok"), 1)
    at = start
    stable = {"staging": _older(steps[0].version), "production": _older(steps[0].version)}
    for number, step in enumerate(steps):
        user = service.users[number % len(service.users)]
        commit_time = at - rng.uniform(0.5, 40) * HOUR
        # Staging first (new services go straight to production: their first deploy is the test).
        if service.new_from_golden_path_days_ago is None or number > 0:
            stage_at = at - rng.uniform(1, 4) * HOUR
            _change(history, service, "staging", "deploy", stable["staging"], step.version, stage_at,
                    Outcome.SUCCEEDED, user, commit_time, rng)  # fmt: skip
            stable["staging"] = step.version
        previous = stable["production"]
        if step.fate == "canary-failed":
            _change(history, service, "production", "deploy", previous, step.version, at,
                    Outcome.ROLLED_BACK, user, commit_time, rng)  # fmt: skip
        else:
            _change(history, service, "production", "deploy", previous, step.version, at,
                    Outcome.SUCCEEDED, user, commit_time, rng)  # fmt: skip
            stable["production"] = step.version
            if step.fate == "bad":
                back_at = at + rng.uniform(0.4, 3) * HOUR
                _change(history, service, "production", "rollback", step.version, previous, back_at,
                        Outcome.SUCCEEDED, user, None, rng)  # fmt: skip
                stable["production"] = previous
        # The next change: soon after a failure (the fix), else about every_days later.
        pause = rng.uniform(1, 8) * HOUR if step.fate != "ok" else gap * rng.uniform(0.6, 1.4)
        at = min(at + pause, end - (len(steps) - number - 1) * HOUR)


def _older(version: str) -> str:
    major, minor, patch = (int(part) for part in version.lstrip("v").split("."))
    return f"v{major}.{minor}.{patch - 1}" if patch else f"v{major}.{max(minor - 1, 0)}.9"


def _change(
    history: Any,
    service: DemoService,
    environment: str,
    kind: str,
    from_version: str,
    to_version: str,
    at: float,
    outcome: Outcome,
    user: str,
    commit_time: float | None,
    rng: random.Random,
) -> None:
    deploy_id = f"{dt.datetime.fromtimestamp(at, dt.UTC):%Y%m%d-%H%M%S}-{rng.getrandbits(16):04x}"
    took = rng.uniform(4, 14) * 60 if outcome is Outcome.SUCCEEDED else rng.uniform(2, 6) * 60
    history.start(
        DeployRecord(
            id=deploy_id, kind=kind, service=service.name, environment=environment, namespace=environment,
            deployment=service.name, user=user, from_version=from_version, to_version=to_version,
            started_at=at, pid=0, host=DEMO_HOST,
            commit_sha=f"{rng.getrandbits(160):040x}" if commit_time is not None else None,
            commit_time=commit_time,
        )
    )  # fmt: skip
    stable = to_version if outcome is Outcome.SUCCEEDED else from_version
    reason = REASON if outcome is Outcome.SUCCEEDED else f"{REASON}: canary error rate above the threshold"
    store.finish_at(history, deploy_id, outcome, stable, reason, at + took)


def _feedback(history: Any, now: float, rng: random.Random) -> None:
    """About two scores a week; a bit happier this quarter than the last."""
    for week in range(int(DAYS / 7) + 4):
        for _ in range(2):
            at = now - QUIET_BEFORE_NOW - (week * 7 + rng.uniform(0, 7)) * DAY
            happier = week < 8
            score = rng.choice(
                (10, 9, 9, 8, 7, 6, 10, 9, 3, 8) if happier else (9, 8, 7, 6, 10, 5, 8, 2, 9, 7)
            )
            store.record_feedback(history, rng.choice(FEEDBACK_USERS), score, "", at=at)


def seeded_ids(history: Any) -> Iterator[str]:
    """The ids of the generated records (tests, and anyone who wants to tell them apart)."""
    for (deploy_id,) in store.query(history, "SELECT id FROM deploys WHERE host = ?", (DEMO_HOST,)):
        yield str(deploy_id)
