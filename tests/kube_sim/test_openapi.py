"""kubectl validates against the simulated cluster as against a real one: ``/openapi/v3`` tells it
the server checks fields (``fieldValidation``), and the server refuses or warns about unknown ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from backends.kube.sim import SimulatedCluster

from .conftest import deployment

needs_kubectl = pytest.mark.skipif(
    shutil.which("kubectl") is None and not os.environ.get("CI"), reason="kubectl not installed (CI has it)"
)


def _kubectl(
    sim: SimulatedCluster, tmp_path: Path, *args: str, manifest: dict
) -> subprocess.CompletedProcess[str]:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    # Its own cache directory: kubectl caches discovery and OpenAPI under $HOME otherwise.
    base = [
        "kubectl",
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "simulated",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    return subprocess.run(
        [*base, "-n", "default", *args, "-f", "-"],
        input=json.dumps(manifest),
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_kubectl
def test_kubectl_server_side_apply_validates_without_flags(
    sim: SimulatedCluster, apps: client.AppsV1Api, tmp_path: Path
) -> None:
    result = _kubectl(
        sim, tmp_path, "apply", "--server-side", manifest=deployment("web", "nginx:1.27", replicas=2)
    )
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/web serverside-applied" in result.stdout
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 2


@needs_kubectl
def test_kubectl_reports_a_typo_as_a_real_server_does(
    sim: SimulatedCluster, apps: client.AppsV1Api, tmp_path: Path
) -> None:
    typo = deployment("web", "nginx:1.27")
    typo["spec"]["replicass"] = typo["spec"].pop("replicas")
    applied = _kubectl(sim, tmp_path, "apply", "--server-side", manifest=typo)
    assert applied.returncode == 1
    assert ".spec.replicass: field not declared in schema" in applied.stderr
    created = _kubectl(sim, tmp_path, "create", manifest=typo)
    assert created.returncode == 1
    assert 'strict decoding error: unknown field "spec.replicass"' in created.stderr
    assert apps.list_namespaced_deployment("default").items == []  # nothing was written

    # --validate=warn: written, and the unknown field named in a warning.
    container = deployment("web", "nginx:1.27")
    container["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    warned = _kubectl(sim, tmp_path, "create", "--validate=warn", manifest=container)
    assert warned.returncode == 0, warned.stderr
    assert 'Warning: unknown field "spec.template.spec.containers[0].imagePullPolicyy"' in warned.stderr


def test_field_validation_strict_and_ignore(sim: SimulatedCluster) -> None:
    # Over plain HTTP: the official client (37) refuses unknown fields itself, before any request.
    deployments = f"{sim.api_url}/apis/apps/v1/namespaces/default/deployments"
    typo = deployment("web", "nginx:1.27")
    typo["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    refused = httpx.post(deployments, params={"fieldValidation": "Strict"}, json=typo)
    assert refused.status_code == 400
    assert 'unknown field "spec.template.spec.containers[0].imagee"' in refused.json()["message"]
    ignored = httpx.post(deployments, params={"fieldValidation": "Ignore"}, json=typo)
    assert ignored.status_code == 201 and "Warning" not in ignored.headers
    # Open maps (labels) and a custom resource's spec take any key, also when strict.
    labels = {"metadata": {"labels": {"any-key": "x"}}}
    patched = httpx.patch(
        f"{deployments}/web",
        params={"fieldValidation": "Strict"},
        json=labels,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web"},
        "spec": {"anything": {"goes": True}},
    }
    routes = f"{sim.api_url}/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"
    assert httpx.post(routes, params={"fieldValidation": "Strict"}, json=route).status_code == 201


def test_openapi_v3_index_and_documents(sim: SimulatedCluster) -> None:
    index = httpx.get(f"{sim.api_url}/openapi/v3").json()
    assert {"api/v1", "apis/apps/v1", "apis/gateway.networking.k8s.io/v1"} <= set(index["paths"])
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    document = httpx.get(f"{sim.api_url}{url}").json()
    patch = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][2].items()
    # A write without fieldValidation is warned about (Warn, the API server's default).
    body = deployment("web", "nginx:1.27")
    body["spec"]["replicass"] = 1
    answer = httpx.post(f"{sim.api_url}/apis/apps/v1/namespaces/default/deployments", json=body)
    assert answer.status_code == 201
    assert answer.headers.get_list("Warning") == ['299 - "unknown field \\"spec.replicass\\""']
