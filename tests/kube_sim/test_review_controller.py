"""Review of the simulated controller's incremental reconcile: no workload waits on a change it misses."""

from __future__ import annotations

from typing import Any

import httpx

from backends.kube.sim import PodFault, SimulatedCluster

from .conftest import deployment, wait_for

PODS = "/api/v1/namespaces/default/pods"


def _waiting_reasons(api: httpx.Client, app: str) -> set[str]:
    pods = api.get(PODS, params={"labelSelector": f"app={app}"}).json()["items"]
    return {
        ((cs.get("state") or {}).get("waiting") or {}).get("reason", "")
        for pod in pods
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
    }


def _ready(api: httpx.Client, app: str) -> bool:
    """Every pod ready: nothing more is due for them until they or their fault change."""
    pods: list[dict[str, Any]] = api.get(PODS, params={"labelSelector": f"app={app}"}).json()["items"]
    return bool(pods) and all(
        any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
        for p in pods
    )


def test_a_pod_the_controller_cannot_read_holds_up_no_other_workload(sim: SimulatedCluster) -> None:
    """A client stored a pod with a number for an image (the API takes it); a fault rule set
    afterwards on another workload still reaches that workload's pods."""
    assert sim.controller is not None
    with httpx.Client(base_url=sim.api_url, timeout=30) as api:
        bad = {"metadata": {"name": "a-bad"}, "spec": {"containers": [{"name": "c", "image": 5}]}}
        assert api.post(PODS, json=bad).status_code == 201
        web = deployment("web", "web:1", replicas=1)
        assert api.post("/apis/apps/v1/namespaces/default/deployments", json=web).status_code == 201
        wait_for(lambda: _ready(api, "web"))
        sim.controller.set_fault("web", PodFault(image_pull_error=True))
        wait_for(lambda: {"ErrImagePull", "ImagePullBackOff"} & _waiting_reasons(api, "web"))
