"""``idp-console status`` over every service × environment: the table, JSON with counts (never only
a verdict), one service everywhere, an unreachable cluster named while the rest is printed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from backends.deploy.events import Outcome
from backends.deploy.history import DeployHistory, DeployRecord
from backends.kube.sim.cluster import SimulatedCluster
from console.cli import main
from tests.status.conftest import unreachable_kubeconfig

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payment-service, annotations: {backstage.io/kubernetes-id: payment-service}}
spec: {type: service, lifecycle: production, owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: invoice-service, annotations: {backstage.io/kubernetes-id: invoice-service}}
spec: {type: service, lifecycle: production, owner: team-billing}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: new-service, annotations: {backstage.io/kubernetes-id: new-service}}
spec: {type: service, lifecycle: experimental, owner: team-billing}
"""


def _workspace(root: Path, sim: SimulatedCluster, *, broken_production: bool = False) -> Path:
    kubeconfig = sim.kubeconfig(root / "kubeconfig")
    production = (
        f"{{kubeconfig: {unreachable_kubeconfig(root / 'broken')}, context: prod, namespace: production}}"
        if broken_production
        else f"{{kubeconfig: {kubeconfig}, context: simulated, namespace: production}}"
    )
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "catalog.yaml").write_text(CATALOG)
    (root / "idp-console.yaml").write_text(
        textwrap.dedent(f"""\
        name: test
        identity: {{user: jane.doe}}
        catalog: {{sources: [{{type: dir, path: catalog}}]}}
        environments:
          staging: {{kubeconfig: {kubeconfig}, context: simulated, namespace: staging}}
          production: {production}
        """)
    )
    return root


def test_every_service_and_environment_as_json(
    sim: SimulatedCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = DeployHistory()  # the state dir's: what the CLI reads
    history.start(
        DeployRecord("d1", "deploy", "payment-service", "production", "production", "payment-service",
                     "omar", "v1.2.0", "v1.3.0", started_at=1.0)
    )  # fmt: skip
    history.finish("d1", Outcome.ROLLED_BACK, "v1.2.0", "error rate 7 %")
    workspace = _workspace(tmp_path, sim)
    assert main(["--workspace", str(workspace), "status", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["environments"] == ["staging", "production"] and data["unreachable"] == {}
    by_name = {s["service"]: s["environments"] for s in data["services"]}
    assert set(by_name) == {"payment-service", "invoice-service", "new-service"}
    payment = by_name["payment-service"]["production"]
    assert payment["version"] == "v1.3.0" and payment["desired"] == 3  # counts, not only a verdict
    assert 0 <= payment["ready"] <= 3 and payment["mark"] in ("✔", "!", "✖")
    assert payment["last_deploy"]["user"] == "omar" and payment["last_deploy"]["outcome"] == "rolled-back"
    assert by_name["new-service"]["staging"]["health"] == "absent"


def test_one_service_everywhere_as_a_table(
    sim: SimulatedCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = _workspace(tmp_path, sim)
    assert main(["--workspace", str(workspace), "status", "invoice-service"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SERVICE", "STAGING", "PRODUCTION"]
    assert len(lines) == 2 and lines[1].startswith("invoice-service") and lines[1].count("v1.2.0") == 2


def test_an_unreachable_environment_is_named_and_the_rest_printed(
    sim: SimulatedCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = _workspace(tmp_path, sim, broken_production=True)
    assert main(["--workspace", str(workspace), "status", "--output", "json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert list(data["unreachable"]) == ["production"]
    assert "production" in err and "not reachable" in err and "Traceback" not in err
    payment = next(s for s in data["services"] if s["service"] == "payment-service")["environments"]
    assert payment["production"]["health"] == "unreachable"
    assert payment["staging"]["version"] == "v1.3.0"


def test_bad_input_is_one_line(
    sim: SimulatedCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = _workspace(tmp_path, sim)
    assert main(["--workspace", str(workspace), "status", "no-such-service"]) == 2
    assert (
        capsys.readouterr().err.strip().splitlines()[-1] == "idp-console: no-such-service: not in the catalog"
    )
    assert main(["--workspace", str(workspace), "status", "--env", "qa"]) == 2
    assert "unknown environment 'qa' (known: staging, production)" in capsys.readouterr().err
