"""Pure parts of the deploy area: weights, rollout status, config, manifests, pre-checks, history."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.catalog.model import Entity, Relation, SourcePosition
from backends.catalog.refs import parse_entity_ref
from backends.deploy import canary as cn
from backends.deploy.config import DeployConfigError, format_duration, parse_deploy_settings, parse_duration
from backends.deploy.events import Outcome, Stage, StageFinished, event_from_dict, event_to_dict
from backends.deploy.history import DeployHistory, DeployRecord
from backends.deploy.prechecks import DeployRefused, check_lifecycle, check_owner, find_service
from backends.deploy.weights import split_replicas
from backends.kube.environments import Environment, parse_environments, workload_for
from backends.kube.rollout import RolloutPhase, rollout_status

# -- weights ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "canary", "stable"),
    [
        (10, 10, 0, 1, 9),  # Argo docs: 10% of 10 → 1 canary, 9 stable
        (10, 41, 0, 4, 6),  # Argo docs: 41% of 10 → 4 (smallest delta)
        (5, 10, 0, 1, 4),  # with 5 replicas the minimum weight is 20%: never 0 canary pods
        (5, 10, 1, 1, 5),  # a surge pod gets closer: 1 of 6 = 16.7%
        (3, 50, 0, 2, 1),  # tie (1 or 2 are equally near 50%) → rounds up
        (4, 5, 1, 1, 4),  # the demo's first step: one canary pod next to the 4 stable ones
        (4, 25, 1, 1, 3),
        (4, 50, 1, 2, 2),
        (4, 100, 1, 4, 0),
        (4, 0, 1, 0, 4),
        (1, 50, 0, 1, 0),  # 1 replica, no surge: the one exception where zero is allowed
        (10, 99, 0, 9, 1),  # …and stable never drops to zero below 100%
        (0, 50, 1, 0, 0),
    ],
)
def test_split_replicas_follows_argo_rule(
    replicas: int, weight: int, surge: int, canary: int, stable: int
) -> None:
    split = split_replicas(replicas, weight, surge)
    assert (split.canary, split.stable) == (canary, stable)


@given(st.integers(2, 60), st.integers(1, 99), st.integers(0, 1))
def test_split_never_starves_either_track(replicas: int, weight: int, surge: int) -> None:
    split = split_replicas(replicas, weight, surge)
    assert split.canary >= 1 and split.stable >= 1
    assert split.total in ((replicas, replicas + 1) if surge else (replicas,))
    # nearest: no other split that keeps both tracks alive is closer to the asked weight
    totals = (replicas, replicas + 1) if surge else (replicas,)
    best = min(abs(100 * c / t - weight) for t in totals for c in range(1, t))
    assert abs(split.actual_weight - weight) <= best + 1e-9


def test_split_rejects_bad_weight() -> None:
    with pytest.raises(ValueError):
        split_replicas(4, 101)


# -- rollout status (kubectl's order of checks) ----------------------------------------------------


def _deployment(generation=2, observed=2, replicas=3, updated=3, current=3, available=3, conditions=()):
    return {
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "replicas": current,
            "availableReplicas": available,
            "conditions": list(conditions),
        },
    }


DEADLINE = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}


@pytest.mark.parametrize(
    ("kwargs", "phase", "message"),
    [
        (
            {"generation": 3},
            RolloutPhase.WAITING_FOR_SPEC,
            "Waiting for deployment spec update to be observed...",
        ),
        # generation wins over a deadline condition: kubectl checks it first
        ({"generation": 3, "conditions": [DEADLINE]}, RolloutPhase.WAITING_FOR_SPEC, "spec update"),
        (
            {"conditions": [DEADLINE]},
            RolloutPhase.DEADLINE_EXCEEDED,
            'deployment "web" exceeded its progress deadline',
        ),
        ({"updated": 1}, RolloutPhase.UPDATING, "1 out of 3 new replicas have been updated..."),
        ({"current": 5}, RolloutPhase.TERMINATING_OLD, "2 old replicas are pending termination..."),
        ({"available": 2}, RolloutPhase.WAITING_AVAILABLE, "2 of 3 updated replicas are available..."),
        ({}, RolloutPhase.COMPLETE, 'deployment "web" successfully rolled out'),
        # the Available condition is not consulted
        ({"conditions": [{"type": "Available", "status": "False"}]}, RolloutPhase.COMPLETE, "successfully"),
        # the Progressing=True reasons are not failures
        (
            {"conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]},
            RolloutPhase.COMPLETE,
            "successfully",
        ),
    ],
)
def test_rollout_status_matches_kubectl(kwargs: dict, phase: RolloutPhase, message: str) -> None:
    status = rollout_status(_deployment(**kwargs))
    assert status.phase is phase
    assert message in status.message
    assert status.done == (phase is RolloutPhase.COMPLETE)
    assert status.failed == (phase is RolloutPhase.DEADLINE_EXCEEDED)


def test_rollout_status_of_fresh_object_without_status() -> None:
    status = rollout_status({"metadata": {"name": "x", "generation": 1}, "spec": {"replicas": 2}})
    assert status.phase is RolloutPhase.WAITING_FOR_SPEC


# -- config ----------------------------------------------------------------------------------------


def test_default_steps_are_the_seeds() -> None:
    settings = parse_deploy_settings({})
    assert settings.weights == (5, 25, 50, 100)
    assert [s.analysis for s in settings.steps] == [True, True, True, False]
    assert settings.steps[0].bake == 120


def test_steps_durations_and_service_overrides() -> None:
    section = {
        "bake": "3s",
        "steps": [{"weight": 10, "bake": "500ms"}, 60],
        "analysis": {"prometheus": "http://p:9090", "threshold": 0.02},
        "services": {"payment-service": {"analysis": {"threshold": 0.005}, "bake": "1m"}},
    }
    plain = parse_deploy_settings(section, "other")
    assert [(s.weight, s.bake) for s in plain.steps] == [(10, 0.5), (60, 3.0), (100, 3.0)]
    assert plain.analysis.threshold == 0.02
    special = parse_deploy_settings(section, "payment-service")
    assert special.analysis.threshold == 0.005 and special.analysis.prometheus == "http://p:9090"
    assert special.steps[1].bake == 60


@pytest.mark.parametrize("steps", [[50, 20], [0], [], [{"weight": 150}]])
def test_bad_steps_are_refused(steps: list) -> None:
    with pytest.raises(DeployConfigError):
        parse_deploy_settings({"steps": steps})


def test_durations() -> None:
    assert parse_duration("2m") == 120 and parse_duration(5) == 5 and parse_duration("1.5h") == 5400
    assert format_duration(120) == "2 min" and format_duration(3) == "3 s"
    with pytest.raises(DeployConfigError):
        parse_duration("soon")


def test_query_placeholders() -> None:
    analysis = parse_deploy_settings({"analysis": {"query": 'rate(x{service="{{service}}"}[1m])'}}).analysis
    assert analysis.render({"service": "pay"}) == 'rate(x{service="pay"}[1m])'


# -- environments and workloads --------------------------------------------------------------------


def _entity(kind="Component", name="payment-service", annotations=None, spec=None, relations=()):
    raw = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": spec
        if spec is not None
        else {"type": "service", "lifecycle": "production", "owner": "team-payments"},
    }
    return Entity(raw, SourcePosition("catalog.yaml"), list(relations))


def test_environments_parse() -> None:
    envs = parse_environments(
        {
            "production": {
                "context": "prod",
                "namespace": "pay",
                "lifecycles": ["production"],
                "production": True,
            },
            "dev": {"cluster": "simulated"},
        }
    )
    assert envs["production"].allows("production") and not envs["production"].allows("experimental")
    assert envs["dev"].simulated and envs["dev"].allows("anything")


def test_workload_from_annotations() -> None:
    env = Environment("staging", namespace="staging")
    by_id = workload_for(_entity(annotations={"backstage.io/kubernetes-id": "pay"}), env)
    assert (by_id.name, by_id.label_selector, by_id.namespace) == (
        "pay",
        "backstage.io/kubernetes-id=pay",
        "staging",
    )
    by_selector = workload_for(
        _entity(annotations={"backstage.io/kubernetes-label-selector": "app=pay,tier!=db"}), env
    )
    assert by_selector.label_selector == "app=pay,tier!=db" and by_selector.labels == {"app": "pay"}
    plain = workload_for(
        _entity(annotations={"backstage.io/kubernetes-namespace": "payments"}), Environment("x")
    )
    assert (plain.name, plain.namespace, plain.label_selector) == ("payment-service", "payments", None)


# -- canary manifests ------------------------------------------------------------------------------


STABLE = {
    "metadata": {"name": "pay", "namespace": "prod", "labels": {"app": "pay", "track": "stable"}},
    "spec": {
        "replicas": 4,
        "selector": {"matchLabels": {"app": "pay", "track": "stable"}},
        "template": {
            "metadata": {"labels": {"app": "pay", "track": "stable"}},
            "spec": {
                "containers": [
                    {"name": "pay", "image": "reg:5000/acme/pay:v2.3.0", "ports": [{"containerPort": 8080}]},
                    {"name": "proxy", "image": "envoy:1.30"},
                ]
            },
        },
    },
}


def test_canary_manifest() -> None:
    body = cn.canary_manifest(STABLE, version="v2.3.1", replicas=1, deploy_id="d1", stable_replicas=4)
    assert body["metadata"]["name"] == "pay-canary"
    assert body["spec"]["selector"]["matchLabels"] == {"app": "pay", "track": "canary"}
    assert body["spec"]["template"]["metadata"]["labels"]["track"] == "canary"
    first, sidecar = body["spec"]["template"]["spec"]["containers"]
    assert first["image"] == "reg:5000/acme/pay:v2.3.1" and first["ports"] == [{"containerPort": 8080}]
    assert sidecar["image"] == "envoy:1.30"  # sidecars keep their own version
    assert body["metadata"]["annotations"][cn.A_DEPLOY_ID] == "d1"
    assert STABLE["spec"]["template"]["metadata"]["labels"]["track"] == "stable"  # not mutated
    assert cn.deployed_version(body) == "v2.3.1" and cn.deployed_version(STABLE) == "v2.3.0"


def test_image_tags() -> None:
    assert cn.image_tag("reg:5000/a/b:v1") == "v1" and cn.image_tag("reg:5000/a/b") == ""
    assert cn.with_tag("reg:5000/a/b@sha256:abc", "v2") == "reg:5000/a/b:v2"
    assert cn.with_tag("b", "v2") == "b:v2"


# -- pre-checks ------------------------------------------------------------------------------------


class _Catalog:
    def __init__(self, *entities: Entity) -> None:
        self.entities = list(entities)

    def get(self, ref: str, default_kind: str = "Component") -> Entity | None:
        wanted = parse_entity_ref(ref, default_kind=default_kind).canonical
        return next((e for e in self.entities if e.ref.canonical == wanted), None)


PROD = Environment("production", namespace="production", lifecycles=("production",), production=True)


def test_prechecks_membership_and_lifecycle() -> None:
    service = _entity()
    jane = _entity(
        "User", "jane.doe", spec={}, relations=[Relation("memberOf", "group:default/team-payments")]
    )
    omar = _entity("User", "omar", spec={"memberOf": ["team-checkout"]})
    catalog = _Catalog(service, jane, omar)
    assert find_service(catalog, "payment-service") is service
    with pytest.raises(DeployRefused, match="no such service"):
        find_service(catalog, "nope")
    check_owner(catalog, service, PROD, "jane.doe")
    with pytest.raises(DeployRefused, match="not a member of team-payments"):
        check_owner(catalog, service, PROD, "omar")
    with pytest.raises(DeployRefused, match="not a User"):
        check_owner(catalog, service, PROD, "mallory")
    check_owner(catalog, service, Environment("staging"), "mallory")  # only production is guarded
    experimental = _entity(spec={"lifecycle": "experimental", "owner": "team-payments"})
    with pytest.raises(DeployRefused, match="accepts only production"):
        check_lifecycle(experimental, PROD)


# -- history ---------------------------------------------------------------------------------------


def _record(id_: str, started: float, from_v: str, to_v: str, kind: str = "deploy") -> DeployRecord:
    return DeployRecord(
        id=id_, kind=kind, service="pay", environment="production", namespace="production", deployment="pay",
        user="jane.doe", from_version=from_v, to_version=to_v, started_at=started, pid=1, host="h",
    )  # fmt: skip


def test_history_is_append_only_and_finds_rollback_target(tmp_path: Path) -> None:
    history = DeployHistory(tmp_path / "h.sqlite3")
    now = time.time()
    history.start(_record("a", now - 3600, "v1", "v2"))
    history.finish("a", Outcome.SUCCEEDED, "v2")
    history.start(_record("b", now - 60, "v2", "v3"))
    history.append(StageFinished("b", stage=Stage.CANARY, ok=True, step=0, detail="5%"))
    history.finish("b", Outcome.ROLLED_BACK, "v2", "error rate")
    history.start(_record("c", now - 30, "v2", "v4"))
    assert history.rollback_target("pay", "production", "v2") == "v1"
    assert history.rollback_target("pay", "production", "v1") == "v2"
    assert history.rollback_target("pay", "production", "v2", now=now + 80 * 3600) is None  # outside 72 h
    assert [r.id for r in history.unfinished()] == ["c"]
    assert history.get("b").outcome is Outcome.ROLLED_BACK and history.get("b").reason == "error rate"
    assert history.events("b")[0].detail == "5%"
    with sqlite3.connect(history.path) as db, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE deploys SET to_version = 'x'")
    with pytest.raises(sqlite3.IntegrityError):
        history.finish("b", Outcome.SUCCEEDED, "v3")  # one outcome per deploy


def test_events_round_trip() -> None:
    event = StageFinished("d", stage=Stage.ANALYSIS, ok=False, detail="boom", step=1)
    assert event_from_dict(event_to_dict(event)) == event


def test_an_event_recorded_by_a_newer_version_still_replays() -> None:
    # A bastion's hosts share one history; a host still on an older idp-console must replay what a
    # newer one wrote, including fields it does not know yet.
    event = StageFinished("d", stage=Stage.ANALYSIS, ok=True, detail="ok", step=2)
    recorded = {**event_to_dict(event), "field_from_a_later_version": {"x": 1}}
    assert event_from_dict(recorded) == event
