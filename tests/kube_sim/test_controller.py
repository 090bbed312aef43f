"""The simulated controller: rollouts, statuses and pod faults, observed through the official client."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from backends.kube.sim import PodFault, SimulatedCluster

from .conftest import deployment, rolled_out, wait_for


def _pods(core: client.CoreV1Api, app: str) -> list[Any]:
    return core.list_namespaced_pod("default", label_selector=f"app={app}").items


def _conditions(apps: client.AppsV1Api, name: str) -> dict[str, Any]:
    status = apps.read_namespaced_deployment(name, "default").status
    return {c.type: c for c in ((status.conditions if status else None) or [])}


def _waiting_reasons(pod: Any) -> set[str]:
    return {
        cs.state.waiting.reason
        for cs in ((pod.status.container_statuses if pod.status else None) or [])
        if cs.state is not None and cs.state.waiting is not None
    }


def test_deployment_rolls_out_to_ready_pods(apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=3))
    wait_for(lambda: rolled_out(apps, "web"))

    status = apps.read_namespaced_deployment("web", "default").status
    assert (status.replicas, status.updated_replicas, status.ready_replicas, status.available_replicas) == (
        3,
        3,
        3,
        3,
    )
    assert status.unavailable_replicas is None  # zero counts are omitted, as in Kubernetes
    conditions = _conditions(apps, "web")
    assert conditions["Available"].status == "True"
    assert conditions["Progressing"].reason == "NewReplicaSetAvailable"

    (rs,) = apps.list_namespaced_replica_set("default").items
    pod_hash = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{pod_hash}"
    assert rs.metadata.owner_references[0].kind == "Deployment"
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    pods = _pods(core, "web")
    assert len(pods) == 3
    for pod in pods:
        assert pod.metadata.labels["pod-template-hash"] == pod_hash
        assert pod.status.phase == "Running"
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
        (container,) = pod.status.container_statuses
        assert container.ready and container.restart_count == 0 and container.state.running is not None
    # Selecting pods by the stable/canary labels works (the deploy engine relies on it).
    assert len(core.list_namespaced_pod("default", label_selector=f"pod-template-hash={pod_hash}").items) == 3


def test_rolling_update_respects_surge_and_unavailability(
    apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    spec = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=4, **spec))
    wait_for(lambda: rolled_out(apps, "web"))
    seen: list[client.V1DeploymentStatus] = []
    stream = watch.Watch()
    start_rv = apps.list_namespaced_deployment("default").metadata.resource_version

    def record() -> None:
        for event in stream.stream(
            apps.list_namespaced_deployment, "default", resource_version=start_rv, timeout_seconds=10
        ):
            seen.append(event["object"].status)
            if rolled_out(apps, "web") and event["object"].metadata.generation == 2:
                stream.stop()

    thread = threading.Thread(target=record)
    thread.start()
    apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}},
    )
    thread.join(15)
    wait_for(lambda: rolled_out(apps, "web"))

    assert seen, "the watch saw the rollout"
    assert max(s.replicas or 0 for s in seen) <= 5  # replicas + maxSurge
    assert min(s.available_replicas or 0 for s in seen) >= 4  # replicas - maxUnavailable
    assert {p.spec.containers[0].image for p in _pods(core, "web")} == {"nginx:2"}
    replica_sets = {
        rs.spec.template.spec.containers[0].image: rs
        for rs in apps.list_namespaced_replica_set("default").items
    }
    assert replica_sets["nginx:1"].spec.replicas == 0
    assert replica_sets["nginx:2"].metadata.annotations["deployment.kubernetes.io/revision"] == "2"


def test_rollback_reuses_the_earlier_replica_set(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=2))
    wait_for(lambda: rolled_out(apps, "web"))
    first = apps.list_namespaced_replica_set("default").items[0].metadata.name

    def set_image(image: str) -> None:
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
        apps.patch_namespaced_deployment("web", "default", patch)
        wait_for(lambda: rolled_out(apps, "web"))

    set_image("nginx:2")
    set_image("nginx:1")
    replica_sets = {rs.metadata.name: rs for rs in apps.list_namespaced_replica_set("default").items}
    assert len(replica_sets) == 2
    assert replica_sets[first].spec.replicas == 2
    assert replica_sets[first].metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert (
        apps.read_namespaced_deployment("web", "default").metadata.annotations[
            "deployment.kubernetes.io/revision"
        ]
        == "3"
    )


def test_scaling_down_and_up(apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=4))
    wait_for(lambda: rolled_out(apps, "web"))
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 1}})
    wait_for(lambda: rolled_out(apps, "web") and len(_pods(core, "web")) == 1)
    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 0}})
    wait_for(lambda: rolled_out(apps, "web") and not _pods(core, "web"))
    assert len(apps.list_namespaced_replica_set("default").items) == 1


def test_crash_loop_shows_restarts_and_backoff(
    apps: client.AppsV1Api, core: client.CoreV1Api, sim: SimulatedCluster
) -> None:
    sim.controller.set_fault("crashy", PodFault(crash_loop=True))
    apps.create_namespaced_deployment("default", deployment("crashy", "nginx:1", replicas=2))

    def crash_looping() -> Any:
        return [p for p in _pods(core, "crashy") if "CrashLoopBackOff" in _waiting_reasons(p)]

    pod = wait_for(crash_looping)[0]
    (container,) = pod.status.container_statuses
    assert container.restart_count >= 1 and not container.ready
    assert container.last_state.terminated.exit_code == 1
    assert pod.status.phase == "Running"
    wait_for(lambda: any(p.status.container_statuses[0].restart_count >= 2 for p in _pods(core, "crashy")))
    status = apps.read_namespaced_deployment("crashy", "default").status
    assert not status.available_replicas and status.unavailable_replicas == 2
    reasons = {e.reason for e in core.list_namespaced_event("default").items}
    assert "BackOff" in reasons


def test_image_pull_failure_by_tag_convention(apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
    apps.create_namespaced_deployment(
        "default", deployment("pull", "registry.example/app:v9-pullerror", replicas=1)
    )
    first = wait_for(
        lambda: [p for p in _pods(core, "pull") if _waiting_reasons(p) & {"ErrImagePull", "ImagePullBackOff"}]
    )
    assert first[0].status.phase == "Pending"
    pod = wait_for(lambda: [p for p in _pods(core, "pull") if "ImagePullBackOff" in _waiting_reasons(p)])[0]
    assert "Back-off pulling image" in pod.status.container_statuses[0].state.waiting.message
    assert not pod.status.container_statuses[0].ready


def test_slow_readiness(apps: client.AppsV1Api, core: client.CoreV1Api, sim: SimulatedCluster) -> None:
    sim.controller.set_fault("nginx:slow-one", PodFault(ready_after=100))  # 1 s at the test time scale
    started = time.monotonic()
    apps.create_namespaced_deployment("default", deployment("slow", "nginx:slow-one", replicas=1))

    def running_not_ready() -> list[Any]:
        return [
            p
            for p in _pods(core, "slow")
            if p.status.phase == "Running" and not p.status.container_statuses[0].ready
        ]

    wait_for(running_not_ready)
    wait_for(lambda: rolled_out(apps, "slow"))
    assert time.monotonic() - started >= 1.0


def test_progress_deadline_exceeded(apps: client.AppsV1Api, sim: SimulatedCluster) -> None:
    apps.create_namespaced_deployment(
        "default", deployment("stuck", "nginx:v2-crashloop", replicas=2, progressDeadlineSeconds=30)
    )

    def exceeded() -> bool:
        progressing = _conditions(apps, "stuck").get("Progressing")
        return progressing is not None and progressing.reason == "ProgressDeadlineExceeded"

    wait_for(exceeded)
    progressing = _conditions(apps, "stuck")["Progressing"]
    assert progressing.status == "False"
    # A new template is a new rollout: the deadline starts again.
    apps.patch_namespaced_deployment(
        "stuck",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "stuck", "image": "nginx:2"}]}}}},
    )
    wait_for(lambda: rolled_out(apps, "stuck"))
    assert _conditions(apps, "stuck")["Progressing"].reason == "NewReplicaSetAvailable"


def test_fault_rules_can_be_removed(apps: client.AppsV1Api, sim: SimulatedCluster) -> None:
    sim.controller.set_fault("web", PodFault(crash_loop=True))
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=1))
    time.sleep(0.2)
    assert not rolled_out(apps, "web")
    sim.controller.set_fault("web", None)
    wait_for(lambda: rolled_out(apps, "web"))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_rollout_status_agrees(apps: client.AppsV1Api, sim: SimulatedCluster, tmp_path: Path) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubectl-config")
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=2))
    apps.create_namespaced_deployment(
        "default", deployment("stuck", "nginx:crashloop", replicas=1, progressDeadlineSeconds=20)
    )

    def rollout_status(name: str) -> subprocess.CompletedProcess[str]:
        command = [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "rollout",
            "status",
            f"deployment/{name}",
            "--timeout=20s",
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    ok = rollout_status("web")
    assert ok.returncode == 0, ok.stderr
    assert "successfully rolled out" in ok.stdout
    failed = rollout_status("stuck")
    assert failed.returncode != 0
    assert "exceeded its progress deadline" in failed.stderr


def test_changes_are_reconciled_by_passes_over_what_changed_only(
    sim: SimulatedCluster, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    """Rollouts, a replaced pod, a scale-down and pods becoming ready on time all happen through
    passes over the changed objects (a full pass over every pod would hold the API's loop for
    tens of milliseconds after each change with a few thousand pods)."""
    controller = sim.controller
    assert controller is not None
    controller.full_pass_every = 3600.0  # the safety net must not do the work here
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1", replicas=3))
    wait_for(lambda: rolled_out(apps, "web"))
    full, passes = controller.full_passes, controller.passes

    apps.create_namespaced_deployment("default", deployment("api", "api:1", replicas=2))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    apps.patch_namespaced_deployment("web", "default", patch)
    wait_for(lambda: rolled_out(apps, "web") and rolled_out(apps, "api"))
    assert {p.spec.containers[0].image for p in _pods(core, "web")} == {"nginx:2"}

    victim = _pods(core, "api")[0].metadata.name
    core.delete_namespaced_pod(victim, "default", _preload_content=False)  # answers a Status
    wait_for(
        lambda: (
            victim not in {p.metadata.name for p in _pods(core, "api")}
            and len(_pods(core, "api")) == 2
            and rolled_out(apps, "api")
        )
    )
    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 1}})
    wait_for(lambda: rolled_out(apps, "web") and len(_pods(core, "web")) == 1)

    assert controller.full_passes == full
    assert controller.passes > passes
