"""Two "hosts" for bastion tests: two state dirs (each its own runs directory, so neither reaches
the other's runner socket) whose workspaces name one shared history store."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from backends.deploy.attach import RemoteRun, start_runner
from backends.deploy.events import Stage, StageStarted
from backends.deploy.runner import RunRequest
from tests.deploy.conftest import CATALOG_YAML, SERVICE

# The deploy tests' catalog (the service, team-payments, jane.doe), plus a second member of the
# owning team and someone of another team.
CATALOG = (
    CATALOG_YAML
    + """\
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-checkout}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: sam.lee}
spec: {memberOf: [team-payments]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: omar}
spec: {memberOf: [team-checkout]}
"""
)


def host_workspace(
    root: Path, *, user: str = "", history: str, kubeconfig: Path, prometheus: str, identity: str = ""
) -> Path:
    """One host's workspace: the shared catalog and cluster, ``history`` as the store, and who you
    are: ``user``, or ``identity`` (the section's YAML, e.g. an accounts map)."""
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "all.yaml").write_text(CATALOG)
    (root / "idp-console.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: test
            identity: {identity or f"{{user: {user}}}"}
            history: {history}
            catalog: {{sources: [{{type: dir, path: catalog}}]}}
            environments:
              production:
                kubeconfig: {kubeconfig}
                context: simulated
                namespace: production
                lifecycles: [production]
                production: true
            deploy:
              bake: 0.3s
              progress_deadline: 20s
              steps: [5, {{weight: 25, bake: 60s}}, 50, 100]
              analysis: {{prometheus: "{prometheus}", threshold: 0.01}}
            """
        )
    )
    return root


def on_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str) -> Path:
    home = tmp_path / host / "state"
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("IDP_CONSOLE_HOME", str(home))
    return home


def deploy_on_host_a(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workspace: Path) -> RemoteRun:
    on_host(monkeypatch, tmp_path, "host-a")
    run = start_runner(RunRequest("deploy", SERVICE, "production", "v2.3.1", workspace=str(workspace)))
    for event in run.events():
        if isinstance(event, StageStarted) and event.stage is Stage.ANALYSIS and event.step == 1:
            run.detach()  # host A's session goes; the runner bakes 25 % for a minute
    return run
