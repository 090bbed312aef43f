"""Secrets as the real API server keeps them: ``stringData`` folded into base64 ``data``."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from backends.kube.sim import SimulatedCluster


def _decoded(data: dict[str, str]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def test_string_data_is_stored_as_base64_data(core: client.CoreV1Api) -> None:
    core.create_namespaced_secret(
        "default",
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="db"),
            data={"user": base64.b64encode(b"app").decode(), "password": base64.b64encode(b"old").decode()},
            string_data={"password": "s3cret", "url": "postgres://db:5432/app"},
        ),
    )
    secret = core.read_namespaced_secret("db", "default")
    assert secret.string_data is None and secret.type == "Opaque"
    # stringData wins over a key also given in data, as on a real cluster.
    assert _decoded(secret.data) == {"user": "app", "password": "s3cret", "url": "postgres://db:5432/app"}

    core.patch_namespaced_secret("db", "default", {"stringData": {"password": "rotated"}})
    secret = core.read_namespaced_secret("db", "default")
    assert secret.string_data is None
    assert _decoded(secret.data)["password"] == "rotated" and _decoded(secret.data)["user"] == "app"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_sees_data_not_string_data(sim: SimulatedCluster, tmp_path: Path) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    kubectl = ["kubectl", "--kubeconfig", str(kubeconfig), "--context", "simulated", "-n", "default"]
    kubectl += ["--cache-dir", str(tmp_path / "cache")]  # not under $HOME
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "token"},
        "stringData": {"token": "abc123"},
    }
    subprocess.run([*kubectl, "create", "-f", "-"], input=json.dumps(manifest), text=True, check=True)
    shown = subprocess.run(
        [*kubectl, "get", "secret", "token", "-o", "json"], capture_output=True, text=True, check=True
    )
    secret = json.loads(shown.stdout)
    assert "stringData" not in secret
    assert secret["data"] == {"token": base64.b64encode(b"abc123").decode()}
