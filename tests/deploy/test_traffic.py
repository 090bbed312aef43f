"""Honest traffic (issue 10, items 4 and 5): the demo's Prometheus has series for every workload it
runs, a canary's weight is exact on an HTTPRoute and the real pod share without one, and a killed
runner never leaves route traffic on a canary nobody checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends.deploy import canary as cn
from backends.deploy.engine import DeployEngine
from backends.deploy.events import (
    AnalysisResult,
    DeployFinished,
    Outcome,
    Paused,
    Stage,
    StageFinished,
    StageStarted,
    Verdict,
)
from backends.deploy.history import DeployHistory
from backends.kube.cluster import Cluster
from backends.kube.sim import deployment_manifest, service_manifest
from backends.kube.sim.cluster import SimulatedCluster
from backends.kube.sim.seed import SeedService
from console.cli import main

from .conftest import OLD, SERVICE, FakeCatalog, Harness, collect, demo_catalog, entity, make_context
from .test_adoption import _agent_once, _finish, _orphan
from .test_deploy_cli import _workspace
from .test_resume_facts import kill_at, started

NEW = "v2.3.1"

NEW_SERVICE = "orders-api"


def _catalog_with(name: str) -> FakeCatalog:
    catalog = demo_catalog()
    catalog.entities.append(
        entity("Component", name, {"type": "service", "lifecycle": "production", "owner": "team-payments"})
    )
    return catalog


def _create_new_service(harness: Harness, name: str, replicas: int, tag: str = "v0.1.0") -> None:
    """A service that did not exist when the simulation started (as a first deploy creates it)."""
    service = SeedService(
        name, ("production",), f"registry.acme.example/team-payments/{name}:{tag}", replicas
    )
    harness.cluster.create("deployments", "production", deployment_manifest(service, "production"))
    harness.cluster.create("services", "production", service_manifest(service, "production"))


def _query(sim: SimulatedCluster, service: str, track: str, kind: str = "ratio") -> float | None:
    labels = f'service="{service}",namespace="production",track="{track}"'
    expressions = {
        "ratio": f'sum(rate(http_requests_total{{{labels},code=~"5.."}}[1m])) / '
        f"sum(rate(http_requests_total{{{labels}}}[1m]))",
        "requests": f"sum(rate(http_requests_total{{{labels}}}[1m]))",
    }
    body = httpx.get(f"{sim.prometheus_url}/api/v1/query", params={"query": expressions[kind]}).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_a_service_created_after_the_start_passes_its_analysis_without_a_question(
    harness: Harness, tmp_path: Path
) -> None:
    context, _ = make_context(harness.sim, tmp_path / "new", catalog=_catalog_with(NEW_SERVICE))
    _create_new_service(harness, NEW_SERVICE, 2)
    run = DeployEngine(context).deploy(NEW_SERVICE, "production", "v0.2.0")
    events = collect(run, lambda e: run.abort("asked a question") if isinstance(e, Paused) else None)
    assert not [e for e in events if isinstance(e, Paused)]
    rates = [e for e in events if isinstance(e, AnalysisResult) and e.check == "error-rate"]
    assert rates and all(e.verdict is Verdict.PASSED for e in rates), rates
    assert events[-1].outcome is Outcome.SUCCEEDED  # type: ignore[attr-defined]


def test_a_new_service_whose_version_errors_is_rolled_back(harness: Harness, tmp_path: Path) -> None:
    context, _ = make_context(harness.sim, tmp_path / "new", catalog=_catalog_with(NEW_SERVICE))
    _create_new_service(harness, NEW_SERVICE, 2)
    run = DeployEngine(context).deploy(NEW_SERVICE, "production", "v0.2.0-errors")
    events = collect(run, lambda e: run.abort("asked a question") if isinstance(e, Paused) else None)
    end = events[-1]
    assert isinstance(end, DeployFinished) and end.outcome is Outcome.ROLLED_BACK
    assert "error rate" in end.reason
    # the stable keeps serving healthy numbers; the removed canary serves nothing
    assert _query(harness.sim, NEW_SERVICE, "stable") == 0.002
    assert _query(harness.sim, NEW_SERVICE, "canary") is None


# -- the HTTPRoute canary ----------------------------------------------------------------------------

ROUTE = "payment-service"


def _route_manifest(namespace: str = "production") -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": ROUTE, "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": "public-gateway"}],
            "hostnames": ["pay.acme.example"],
            "rules": [{"backendRefs": [{"name": SERVICE, "port": 80}]}],
        },
    }


def _with_route(harness: Harness) -> None:
    harness.cluster.create("httproutes", "production", _route_manifest())
    harness.context.environments_section["production"]["traffic"] = {"httproute": "{service}"}


def _weights(harness: Harness) -> dict[str, int]:
    route = harness.cluster.get("httproutes", "production", ROUTE)
    return {ref["name"]: ref.get("weight", 1) for ref in route["spec"]["rules"][0]["backendRefs"]}


def test_the_canary_sets_exact_weights_on_the_httproute_and_prometheus_splits_by_them(
    harness: Harness,
) -> None:
    _with_route(harness)
    seen: dict[int, tuple[dict[str, int], float | None, float | None]] = {}

    def look(event: object) -> None:
        if isinstance(event, StageFinished) and event.stage is Stage.CANARY and event.step is not None:
            seen[event.step] = (
                _weights(harness),
                _query(harness.sim, SERVICE, "canary", "requests"),
                _query(harness.sim, SERVICE, "stable", "requests"),
            )

    events = collect(harness.engine.deploy(SERVICE, "production", NEW), look)
    assert events[-1].outcome is Outcome.SUCCEEDED  # type: ignore[attr-defined]
    weights, canary_rps, stable_rps = seen[0]
    assert weights == {f"{SERVICE}-stable": 95, f"{SERVICE}-canary": 5}
    assert canary_rps == 5.0 and stable_rps == 95.0  # 5 % of the requests, whatever the pod count
    assert seen[1][0][f"{SERVICE}-canary"] == 25 and seen[2][0][f"{SERVICE}-canary"] == 50
    starts = [e.detail for e in events if isinstance(e, StageStarted) and e.stage is Stage.CANARY]
    assert starts[0] == f"5% of requests on HTTPRoute {ROUTE}: 1 canary / 4 stable pods"
    # afterwards everything goes to the stable, which runs the new version; the canary is gone
    assert _weights(harness) == {f"{SERVICE}-stable": 100, f"{SERVICE}-canary": 0}
    assert harness.deployment(f"{SERVICE}-canary") is None
    assert _query(harness.sim, SERVICE, "stable", "requests") == 100.0
    assert cn.deployed_version(harness.deployment()) == NEW  # type: ignore[arg-type]


def test_a_failed_canary_puts_the_whole_route_back_on_the_stable(harness: Harness) -> None:
    _with_route(harness)
    harness.sim.set_error_rate(SERVICE, "canary", 0.5)
    events = collect(harness.engine.deploy(SERVICE, "production", NEW))
    assert events[-1].outcome is Outcome.ROLLED_BACK  # type: ignore[attr-defined]
    assert _weights(harness) == {f"{SERVICE}-stable": 100, f"{SERVICE}-canary": 0}
    assert cn.deployed_version(harness.deployment()) == OLD  # type: ignore[arg-type]


def test_a_route_that_is_missing_is_a_refusal(harness: Harness) -> None:
    harness.context.environments_section["production"]["traffic"] = {"httproute": "{service}"}
    end = collect(harness.engine.deploy(SERVICE, "production", NEW))[-1]
    assert isinstance(end, DeployFinished) and end.outcome is Outcome.FAILED
    assert f"HTTPRoute {ROUTE} (environment traffic.httproute) is not in production" in end.reason
    assert harness.deployment(f"{SERVICE}-canary") is None


def test_without_a_route_every_line_says_the_real_pod_share(harness: Harness) -> None:
    events = collect(harness.engine.deploy(SERVICE, "production", NEW))
    starts = [e.detail for e in events if isinstance(e, StageStarted) and e.stage is Stage.CANARY]
    # 4 pods cannot carry 5 %: one canary pod beside 4 stable ones (the surge pod) is 20 %
    assert starts[0] == "5% requested, 1 of 5 pods (20%): 1 canary / 4 stable pods"
    assert starts[2] == "50% (2 of 4 pods): 2 canary / 2 stable pods"
    routed = [e.detail for e in events if isinstance(e, StageFinished) and e.stage is Stage.CANARY]
    assert routed[0] == f"5% requested, 1 of 5 pods (20%) routed to {NEW}"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_gets_the_httproute(harness: Harness) -> None:
    _with_route(harness)
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(harness.kubeconfig), "--context", "simulated",
         "get", "httproute", "-n", "production"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "HOSTNAMES", "BACKENDS"]
    assert row.split()[:3] == [ROUTE, "pay.acme.example", f"{SERVICE}=1"]


# -- a killed runner -----------------------------------------------------------------------------------


def _routed_workspace(
    sim: SimulatedCluster, tmp_path: Path, policy: str, *, create_route: bool = True
) -> tuple[Path, Cluster]:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    root = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    config = root / "idp-console.yaml"
    config.write_text(
        config.read_text().replace(
            "    production: true\n",
            f'    production: true\n    on_orphan: {policy}\n    traffic: {{httproute: "{{service}}"}}\n',
        )
    )
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    if create_route:
        cluster.create("httproutes", "production", _route_manifest())
    return root, cluster


def _route_weights(cluster: Cluster) -> dict[str, int]:
    route = cluster.get("httproutes", "production", ROUTE)
    return {ref["name"]: ref.get("weight", 1) for ref in route["spec"]["rules"][0]["backendRefs"]}


@pytest.mark.parametrize("policy", ["rollback", "pause"])
def test_a_runner_killed_mid_canary_never_leaves_route_traffic_on_an_unchecked_canary(
    sim: SimulatedCluster, tmp_path: Path, policy: str
) -> None:
    root, cluster = _routed_workspace(sim, tmp_path, policy)
    deploy_id = _orphan(root)  # kill -9 during the 25 % step's minute-long bake
    assert _route_weights(cluster)[f"{SERVICE}-canary"] == 25
    agent = _agent_once(root)
    out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, err
    if policy == "pause":
        assert "its canary's 25% of the route's traffic is back on the stable" in out
        assert cluster.find("deployments", "production", f"{SERVICE}-canary") is not None  # held
        assert DeployHistory().get(deploy_id).outcome is None  # still to resume or abort
    else:
        _finish(deploy_id)
        assert DeployHistory().get(deploy_id).outcome == "aborted"
        assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None
    assert _route_weights(cluster) == {f"{SERVICE}-stable": 100, f"{SERVICE}-canary": 0}


def test_a_bad_traffic_setting_is_one_line_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _workspace(tmp_path / "ws", tmp_path / "kubeconfig", "http://127.0.0.1:9")
    config = root / "idp-console.yaml"
    config.write_text(
        config.read_text().replace(
            "    production: true\n", "    production: true\n    traffic: {httproute: Pay_Route}\n"
        )
    )
    code = main(["--workspace", str(root), "status", SERVICE, "--env", "production"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith(
        f"idp-console: {config}:11: environments.production.traffic.httproute: expected an HTTPRoute name"
    )
    assert err.count("\n") == 1


def test_status_says_how_much_route_traffic_an_interrupted_canary_still_gets(
    sim: SimulatedCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    context, kubeconfig = make_context(sim, tmp_path)
    context.history = DeployHistory()  # the CLI's own history (state dir)
    context.environments_section["production"]["traffic"] = {"httproute": "{service}"}
    cluster = context.cluster_for(context.environment("production"))
    cluster.create("httproutes", "production", _route_manifest())
    run = DeployEngine(context).deploy(SERVICE, "production", NEW)
    kill_at(run, started(Stage.ANALYSIS, 1))  # the process dies during the 25 % step's check
    [point] = DeployEngine(context).find_interrupted(SERVICE, "production")
    assert point.route_weight == 25

    root, _ = _routed_workspace(sim, tmp_path / "cli", "pause", create_route=False)
    assert main(["--workspace", str(root), "status", SERVICE, "--env", "production"]) == 0
    out = capsys.readouterr().out
    assert f"⚠ interrupted deploy {run.deploy_id} ({OLD} → {NEW}) after step 1; 25% of the HTTPRoute's" in out
