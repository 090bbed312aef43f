"""Server-side apply on the simulated API server: what the first deploy uses, and kubectl too."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from backends.kube.cluster import Cluster, ClusterError
from backends.kube.sim.cluster import SimulatedCluster

MANIFEST = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "orders-api-db"},
    "stringData": {"password": "s3cret"},
}


def test_apply_needs_a_field_manager_and_records_it(sim: SimulatedCluster, tmp_path: Path) -> None:
    cluster = Cluster.from_kubeconfig(str(sim.kubeconfig(tmp_path / "kubeconfig")), "simulated")
    created = cluster.apply("secrets", "staging", MANIFEST, field_manager="idp-console")
    assert [(f["manager"], f["operation"]) for f in created["metadata"]["managedFields"]] == [
        ("idp-console", "Apply")
    ]
    changed = {**MANIFEST, "stringData": {"password": "other"}}
    again = cluster.apply("secrets", "staging", changed, field_manager="idp-console")
    assert len(again["metadata"]["managedFields"]) == 1  # one entry per manager, replaced
    with pytest.raises(ClusterError, match="fieldManager: Required value"):
        cluster._request(  # a raw apply without ?fieldManager=, as the API server refuses it
            "apply",
            lambda: cluster._http(
                "PATCH",
                "/api/v1/namespaces/staging/secrets/orders-api-db",
                body=MANIFEST,
                content_type="application/apply-patch+yaml",
            ),
        )


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
# --validate=false: kubectl validates against the OpenAPI document, which the simulation does not serve.
def test_kubectl_apply_server_side(sim: SimulatedCluster, tmp_path: Path) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    file = tmp_path / "secret.json"
    file.write_text(json.dumps(MANIFEST))
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--context", "simulated", "apply", "--server-side",
         "--validate=false", "-n", "staging", "-f", str(file)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "secret/orders-api-db serverside-applied" in result.stdout
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    stored = cluster.get("secrets", "staging", "orders-api-db")
    assert [f["manager"] for f in stored["metadata"]["managedFields"]] == ["kubectl"]
