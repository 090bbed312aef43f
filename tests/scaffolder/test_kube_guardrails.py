"""kube:apply inside the deploy guardrails, against the simulated cluster over real HTTP (issue 8, #13).

A template is not a deploy (no canary, analysis, lease or history), so it may not write into an
environment marked ``production: true``, nor change another team's workload anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import paths
from backends.deploy.engine import DeployContext
from backends.deploy.session import SIM_STATE_FILE
from backends.kube.sim import SeedService, start_simulated_cluster
from backends.kube.sim.cluster import SimulatedCluster
from backends.scaffolder import Services, TaskRunner
from backends.scaffolder.kube import WorkspaceApplier
from console.cli import main
from tests.deploy.conftest import IMAGE, SERVICE, TIME_SCALE, make_context
from tests.scaffolder.helpers import finished, step_status, write_template

EVIL_IMAGE = "registry.example/not-payments:evil"


@pytest.fixture
def sim() -> Iterator[SimulatedCluster]:
    seed = [SeedService(SERVICE, ("staging", "production"), IMAGE, 4)]
    with start_simulated_cluster(None, time_scale=TIME_SCALE, attach=False, seed_objects=seed) as cluster:
        yield cluster


class Session:
    """What WorkspaceApplier needs of a DeploySession: its context (real clusters, real catalog)."""

    def __init__(self, context: DeployContext) -> None:
        self.context = context


def deployment(name: str, image: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": SERVICE, "image": image}]}},
        },
    }


def apply_as(
    sim: SimulatedCluster, tmp_path: Path, user: str, environment: str, manifest: dict[str, Any]
) -> tuple[list[Any], DeployContext]:
    context, _ = make_context(sim, tmp_path / user, user=user)
    template = write_template(
        tmp_path / f"template-{user}-{environment}",
        [
            {
                "id": "provision",
                "action": "kube:apply",
                "input": {"environment": "${{ parameters.env }}", "manifest": manifest},
            }
        ],
    )
    services = Services(applier=WorkspaceApplier(None, session=Session(context)))
    events = list(TaskRunner(services=services).run(template, {"env": environment}, user=user))
    return events, context


def live(context: DeployContext, environment: str, name: str = SERVICE) -> tuple[int, str] | None:
    cluster = context.cluster_for(context.environment(environment))
    found = cluster.find("deployments", environment, name)
    if found is None:
        return None
    containers = found["spec"]["template"]["spec"]["containers"]
    return found["spec"]["replicas"], containers[0]["image"]


@pytest.mark.parametrize("user", ["omar", "jane.doe"])
def test_kube_apply_into_production_is_refused(sim: SimulatedCluster, tmp_path: Path, user: str) -> None:
    # Finding 13: omar (not in team-payments) replaced production's image and scaled it 4 -> 1.
    # By default nobody does that through a template, members included: production takes deploys.
    events, context = apply_as(sim, tmp_path, user, "production", deployment(SERVICE, EVIL_IMAGE, 1))
    assert step_status(events) == {"provision": "failed"}
    error = finished(events).error or ""
    assert "kube:apply into production is refused" in error
    assert "deploy with `idp-console deploy" in error
    assert live(context, "production") == (4, IMAGE)
    assert context.history.records(SERVICE, "production") == []


def test_a_non_member_cannot_change_another_teams_workload(sim: SimulatedCluster, tmp_path: Path) -> None:
    events, context = apply_as(sim, tmp_path, "omar", "staging", deployment(SERVICE, EVIL_IMAGE, 1))
    assert step_status(events) == {"provision": "failed"}
    error = finished(events).error or ""
    assert "would change deployment/payment-service in staging" in error
    assert f"replicas 4 → 1, image {IMAGE} → {EVIL_IMAGE}" in error
    assert "omar is not a member" in error and "team-payments" in error
    assert live(context, "staging") == (4, IMAGE)


def test_members_change_their_own_workload_and_anyone_creates_new_ones(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    new_image = f"registry.acme.example/{SERVICE}:v2.4.0"
    events, context = apply_as(sim, tmp_path, "jane.doe", "staging", deployment(SERVICE, new_image, 2))
    assert finished(events).status == "completed"
    assert live(context, "staging") == (2, new_image)

    events, context = apply_as(sim, tmp_path, "omar", "staging", deployment("omar-tool", EVIL_IMAGE, 1))
    assert finished(events).status == "completed"
    assert live(context, "staging", "omar-tool") == (1, EVIL_IMAGE)
    # Re-applying what is already there changes nothing, so it is no one's business.
    events, _ = apply_as(sim, tmp_path, "omar", "staging", deployment(SERVICE, new_image, 2))
    assert finished(events).status == "completed"


def test_cli_refuses_production_before_touching_the_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_template(
        tmp_path / "t",
        [
            {
                "id": "provision",
                "action": "kube:apply",
                "input": {"environment": "production", "manifest": deployment(SERVICE, EVIL_IMAGE, 1)},
            }
        ],
    )
    code = main(["scaffold", str(tmp_path / "t/template.yaml"), "--output", "json"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    failed = [e for e in events if e["type"] == "step-finished" and e["status"] == "failed"]
    assert failed and failed[0]["error"].startswith("kube:apply into production is refused")
    assert "idp-console deploy SERVICE production VERSION" in failed[0]["error"]
    assert not (paths.state_dir() / SIM_STATE_FILE).exists()  # the simulated cluster never started
