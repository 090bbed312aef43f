"""An infra repository (a real bare git repo in tmp_path, holding the demo's files), a simulated
cluster reached over HTTP through a kubeconfig, and a workspace naming both."""

from __future__ import annotations

import contextlib
import io
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from backends.infra.repo import ensure_demo_repo
from backends.kube.cluster import Cluster
from backends.kube.sim import DEMO_SERVICES, SimulatedCluster, start_simulated_cluster
from console.cli import main
from tests.kube_sim.conftest import wait_for  # noqa: F401 - the one polling wait, for this package's tests

TIME_SCALE = 0.01
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "backends" / "demo" / "workspace" / "idp-console.yaml"


@dataclass
class Infra:
    sim: SimulatedCluster
    cluster: Cluster
    workspace: Path
    repo: Path
    work: Path  # a clone to edit and push from

    def cli(self, *args: str) -> tuple[int, str, str]:
        """``idp-console --workspace W ARGS`` in this process: exit code, stdout, stderr."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--workspace", str(self.workspace), *args])
        return code, out.getvalue(), err.getvalue()

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.work, check=True, capture_output=True, text=True
        ).stdout

    def edit(
        self, path: str, change: Callable[[dict[str, Any]], None] | str, *, branch: str = "main"
    ) -> None:
        """Change one file on ``branch`` (created from main when new), commit and push it."""
        self.git("checkout", "-q", "-B", branch, "origin/main" if branch != "main" else "main")
        file = self.work / path
        if isinstance(change, str):
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(change)
        else:
            data = yaml.safe_load(file.read_text())
            change(data)
            file.write_text(yaml.safe_dump(data, sort_keys=False))
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"edit {path}")
        self.git("push", "-q", "-f", "origin", branch)
        self.git("fetch", "-q", "origin")

    def remove(self, path: str) -> None:
        self.git("checkout", "-q", "main")
        self.git("rm", "-q", "-r", path)
        self.git("commit", "-q", "-m", f"remove {path}")
        self.git("push", "-q", "origin", "main")

    def writes(self) -> int:
        assert self.sim.api_server is not None
        return self.sim.api_server.write_count


@pytest.fixture
def infra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Infra]:
    with start_simulated_cluster(
        None, time_scale=TIME_SCALE, attach=False, seed_objects=DEMO_SERVICES
    ) as sim:
        kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
        repo = tmp_path / "infrastructure.git"
        ensure_demo_repo(str(repo))
        demo = yaml.safe_load(DEMO_CONFIG.read_text())
        config = {
            "name": "infra tests",
            "identity": {"user": "jane.doe"},
            "environments": {
                "production": {
                    "context": "simulated", "kubeconfig": str(kubeconfig),
                    "namespace": "production", "production": True,
                },
            },
            "infra": {**demo["infra"], "repo": str(repo)},
        }  # fmt: skip
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        (workspace / "idp-console.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        work = tmp_path / "work"
        for key, value in (("NAME", "dev"), ("EMAIL", "dev@acme.example")):
            monkeypatch.setenv(f"GIT_AUTHOR_{key}", value)
            monkeypatch.setenv(f"GIT_COMMITTER_{key}", value)
        subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True, capture_output=True)
        cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
        yield Infra(sim, cluster, workspace, repo, work)
