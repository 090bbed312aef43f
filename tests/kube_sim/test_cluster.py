"""The SimulatedCluster facade: kubeconfig, seeding, persistence and attaching to a running simulation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from kubernetes import client, config

from backends.kube.sim import DEMO_SERVICES, start_simulated_cluster
from backends.kube.sim.cluster import Endpoint
from backends.kube.sim.journal import recover

from .conftest import FAST, rolled_out, wait_for

REPO = Path(__file__).resolve().parents[2]


def _apps(api_url: str) -> client.AppsV1Api:
    return client.AppsV1Api(client.ApiClient(client.Configuration(host=api_url)))


def test_kubeconfig_is_loadable_by_the_official_client(tmp_path: Path) -> None:
    with start_simulated_cluster(None, time_scale=FAST) as sim:
        path = sim.kubeconfig(tmp_path / "config", context="simulated", namespace="production")
        contexts, active = config.list_kube_config_contexts(str(path))
        assert active["name"] == "simulated" and active["context"]["namespace"] == "production"
        api = config.new_client_from_config(str(path), context="simulated")
        assert client.VersionApi(api).get_code().git_version
        api.close()


def test_demo_seed_runs_payment_service_in_staging_and_production() -> None:
    with start_simulated_cluster(None, time_scale=FAST, seed_objects=DEMO_SERVICES) as sim:
        apps = _apps(sim.api_url)
        core = client.CoreV1Api(apps.api_client)
        for namespace in ("staging", "production"):
            wait_for(lambda ns=namespace: rolled_out(apps, "payment-service", ns))
            stable = apps.read_namespaced_deployment("payment-service", namespace)
            assert stable.spec.replicas == 4
            assert (
                stable.spec.template.spec.containers[0].image
                == "registry.acme.example/payment-service:v2.3.0"
            )
            assert stable.spec.selector.match_labels == {"app": "payment-service", "track": "stable"}
            service = core.read_namespaced_service("payment-service", namespace)
            assert service.spec.selector == {"app": "payment-service"}
        names = {ns.metadata.name for ns in core.list_namespace().items}
        assert {"staging", "production"} <= names
        # Seeding again creates nothing and leaves changes alone.
        apps.patch_namespaced_deployment("payment-service", "staging", {"spec": {"replicas": 2}})
        assert sim.seed(DEMO_SERVICES) == []
        assert apps.read_namespaced_deployment("payment-service", "staging").spec.replicas == 2


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    with start_simulated_cluster(state, time_scale=FAST, seed_objects=DEMO_SERVICES[:1]) as sim:
        apps = _apps(sim.api_url)
        wait_for(lambda: rolled_out(apps, "payment-service", "production"))
        patch = {
            "spec": {
                "template": {"spec": {"containers": [{"name": "payment-service", "image": "pay:v2.3.1"}]}}
            }
        }
        apps.patch_namespaced_deployment("payment-service", "production", patch)
        wait_for(lambda: rolled_out(apps, "payment-service", "production"))
        before = apps.read_namespaced_deployment("payment-service", "production")
        sim.set_error_rate("payment-service", "canary", 0.03, namespace="production")
        # Saved shortly after changes, not only at stop (the error rate is not an API write).
        wait_for(lambda: any(r["value"] == 0.03 for r in (recover(state) or {}).get("errorRates", [])))
    saved = json.loads(state.read_text())
    assert saved["resourceVersion"] >= int(before.metadata.resource_version)

    with start_simulated_cluster(state, time_scale=FAST, seed_objects=DEMO_SERVICES[:1]) as again:
        apps = _apps(again.api_url)
        after = apps.read_namespaced_deployment("payment-service", "production")
        assert after.metadata.uid == before.metadata.uid
        assert after.spec.template.spec.containers[0].image == "pay:v2.3.1"
        assert after.metadata.generation == before.metadata.generation
        assert rolled_out(apps, "payment-service", "production")
        assert again.prometheus is not None
        assert again.prometheus.error_rate("payment-service", "canary", "production") == 0.03
        # New writes continue the resourceVersion sequence.
        bumped = apps.patch_namespaced_deployment(
            "payment-service", "production", {"metadata": {"labels": {"x": "1"}}}
        )
        assert int(bumped.metadata.resource_version) > saved["resourceVersion"]


def test_a_second_start_attaches_to_the_running_simulation(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    with start_simulated_cluster(state, time_scale=FAST) as owner:
        endpoint = Endpoint.read(state)
        assert endpoint is not None and endpoint.pid == os.getpid() and endpoint.api_url == owner.api_url
        with start_simulated_cluster(state, time_scale=FAST, seed_objects=DEMO_SERVICES[:1]) as attached:
            assert attached.attached and attached.api_url == owner.api_url
            assert attached.controller is None
            # Error rates can be set from the attached side.
            attached.set_error_rate("payment-service", "canary", 0.02)
            assert owner.prometheus is not None
            assert owner.prometheus.error_rate("payment-service", "canary") == 0.02
        # Stopping the attached one leaves the owner running.
        assert _apps(owner.api_url).read_namespaced_deployment("payment-service", "staging")
    assert Endpoint.read(state) is None


def test_attach_to_a_simulation_run_by_another_process(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    command = [
        sys.executable,
        "-m",
        "backends.kube.sim",
        "--state-file",
        str(state),
        "--time-scale",
        str(FAST),
    ]
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        assert info["attached"] is False
        with start_simulated_cluster(state, time_scale=FAST, seed_objects=DEMO_SERVICES[:1]) as cli:
            assert cli.attached and cli.api_url == info["api_url"]
            apps = _apps(cli.api_url)
            wait_for(lambda: rolled_out(apps, "payment-service", "staging"))
            patch = {
                "spec": {"template": {"spec": {"containers": [{"name": "payment-service", "image": "p:v2"}]}}}
            }
            apps.patch_namespaced_deployment("payment-service", "staging", patch)
            wait_for(lambda: rolled_out(apps, "payment-service", "staging"))
    finally:
        server.terminate()
        server.wait(10)
    # The owner saved on exit; a fresh start sees the deploy made through the attached process.
    assert Endpoint.read(state) is None
    with start_simulated_cluster(state, time_scale=FAST) as later:
        assert not later.attached
        deployed = _apps(later.api_url).read_namespaced_deployment("payment-service", "staging")
        assert deployed.spec.template.spec.containers[0].image == "p:v2"


def test_stale_endpoint_of_a_dead_process_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    Endpoint(pid=2**22 + 12345, api_url="http://127.0.0.1:9", prometheus_url="http://127.0.0.1:9").write(
        state
    )
    with start_simulated_cluster(state, time_scale=FAST) as sim:
        assert not sim.attached
        assert httpx.get(f"{sim.api_url}/version").status_code == 200
        endpoint = Endpoint.read(state)
        assert endpoint is not None and endpoint.pid == os.getpid()


def test_a_damaged_state_file_starts_empty(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    state.write_text("{not json")
    with start_simulated_cluster(state, time_scale=FAST) as sim:
        assert _apps(sim.api_url).list_deployment_for_all_namespaces().items == []
    assert any(p.name.startswith("cluster.json.broken-") for p in tmp_path.iterdir())


def test_detached_simulation_outlives_its_starter_and_exits_when_idle(tmp_path: Path) -> None:
    state = tmp_path / "cluster.json"
    # idle_exit leaves a loaded CI machine room between the two callers (1 s once let it exit there).
    with start_simulated_cluster(state, time_scale=FAST, detached=True, idle_exit=3.0) as first:
        assert first.attached and first.controller is None
        endpoint = Endpoint.read(state)
        assert endpoint is not None and endpoint.pid != os.getpid()
        first.seed(DEMO_SERVICES[:1])
    # The starter is gone; a later caller finds the same server with the same objects.
    with start_simulated_cluster(state, time_scale=FAST, detached=True, idle_exit=3.0) as second:
        assert second.api_url == endpoint.api_url
        wait_for(lambda: rolled_out(_apps(second.api_url), "payment-service", "production"))
        second.set_error_rate("payment-service", "canary", 0.1)
    # No clients for idle_exit seconds: the server saves and exits.
    wait_for(lambda: Endpoint.read(state) is None, timeout=60)
    saved = json.loads(state.read_text())
    assert any(entry["object"]["metadata"]["name"] == "payment-service" for entry in saved["objects"])
