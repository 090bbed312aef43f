"""The deploy CLI end to end: the demo workspace's simulated cluster, and a real kubeconfig to a
cluster the test runs, with a CLI process killed mid-canary and resumed."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from backends.deploy import canary as cn
from backends.deploy.history import DeployHistory
from backends.kube.cluster import Cluster
from console.cli import main

from .conftest import CATALOG_YAML, SERVICE

ISSUE_LINES = [
    "✓ Running pre-deployment checks...",
    "✓ Updating Kubernetes deployment...",
    "✓ Canary: 5% requested, 1 of 5 pods (20%) routed to v2.3.1",  # 4 pods cannot carry 5 %
    "✓ Canary: Health checks passing (2 s)",  # the demo's configured bake
    "✓ Canary: Error rate within threshold",
    "✓ Progressive rollout: 25% → 50% → 100%",
    "✓ Deployment complete. Rollback available for 72h.",
]


def test_demo_deploy_prints_the_issues_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deploy", "payment-service", "--env", "production", "--version", "v2.3.1", "--yes"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines() == ISSUE_LINES
    assert "SIMULATED CLUSTER — nothing is really deployed" in err

    # the simulated cluster kept its objects: status (a new process would see the same) shows v2.3.1
    assert main(["status", "payment-service", "--env", "production", "--output", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["stable"]["version"] == "v2.3.1" and status["stable"]["ready"] == 4
    assert status["canary"] is None and status["rollback_to"] == "v2.3.0"

    assert main(["rollback", "payment-service", "--env", "production", "--yes"]) == 0
    out, _ = capsys.readouterr()
    assert "✓ Rolled back payment-service: v2.3.1 → v2.3.0" in out and out.endswith("✓ Rollback complete.\n")


def test_demo_failing_canary_prints_cross_and_rollback(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deploy", "payment-service", "--env", "staging", "--version", "v2.3.1-crashloop"])
    out, _ = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert lines[:2] == ISSUE_LINES[:2]
    assert any(
        line.startswith("✗ ") and ("CrashLoopBackOff" in line or "restarted" in line) for line in lines
    )
    assert any(line.startswith("↩ Rolled back: payment-service back on v2.3.0 with 4 pods") for line in lines)
    assert lines[-1].startswith("✗ Deployment failed:") and lines[-1].endswith("is back on v2.3.0.")


def test_production_needs_confirmation_or_yes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deploy", "payment-service", "--env", "production", "--version", "v2.3.1"])
    _, err = capsys.readouterr()
    assert code == 2 and "pass --yes" in err


def test_json_output_is_one_event_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scale", "payment-service", "--env", "staging", "--replicas", "5", "--output", "json"])
    out, _ = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert events[0]["event"] == "StageStarted" and events[-1]["event"] == "DeployFinished"
    assert events[-1]["outcome"] == "succeeded"
    assert {"RolloutProgress", "StageFinished", "DeployStarted"} <= {e["event"] for e in events}


def test_unknown_environment_and_context(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "payment-service", "--env", "qa"]) == 2
    assert "unknown environment 'qa' (known: staging, production)" in capsys.readouterr().err


# -- a real kubeconfig, and a CLI process killed mid-canary ----------------------------------------


def _workspace(root: Path, kubeconfig: Path, prometheus: str) -> Path:
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "all.yaml").write_text(CATALOG_YAML)
    (root / "idp-console.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: test
            identity: {{user: jane.doe}}
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
              steps: [5, {{weight: 25, bake: 20s}}, 50, 100]
              analysis: {{prometheus: "{prometheus}", threshold: 0.01}}
            """
        )
    )
    return root


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from console.cli import main; sys.exit(main(sys.argv[1:]))",
         *args],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ), cwd=Path(__file__).parents[2],
    )  # fmt: skip


def test_killed_cli_leaves_the_deploy_running_in_its_runner(sim, tmp_path: Path) -> None:
    from backends.deploy.attach import attach
    from backends.deploy.events import DeployFinished, Outcome

    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    workspace = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    child = _cli("--workspace", str(workspace), "deploy", SERVICE, "--env", "production", "--version",
                 "v2.3.1", "--yes", "--output", "json")  # fmt: skip
    assert child.stdout is not None
    for line in child.stdout:
        event = json.loads(line)
        if event["event"] == "StageStarted" and event["stage"] == "analysis" and event["step"] == 1:
            break  # baking at 25 %: the terminal goes away here
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    deploy_id = event["deploy_id"]
    # the deploy did not notice: another session attaches, ends the bake early and sees it through
    run = attach(deploy_id)
    run.promote()
    *_, last = run.events()
    assert isinstance(last, DeployFinished) and last.outcome is Outcome.SUCCEEDED
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.1"
    assert DeployHistory().get(deploy_id).outcome == "succeeded"


def test_killed_foreground_cli_mid_canary_is_resumed(
    sim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    workspace = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    args = ["--workspace", str(workspace), "deploy", SERVICE, "--env", "production", "--version", "v2.3.1",
            "--foreground"]  # fmt: skip
    child = _cli(*args, "--yes", "--output", "json")
    assert child.stdout is not None
    deploy_id = ""
    for line in child.stdout:
        event = json.loads(line)
        deploy_id = event["deploy_id"]
        if event["event"] == "StageStarted" and event["stage"] == "analysis" and event["step"] == 1:
            break  # baking at 25% for 20 s: kill it here
    child.send_signal(signal.SIGKILL)
    child.wait(10)

    # the next start sees it, from history and the cluster
    assert main(["--workspace", str(workspace), "status", SERVICE, "--env", "production"]) == 0
    out = capsys.readouterr().out
    # 25 % was baking: its check never passed, so the deploy stands after step 1
    assert f"⚠ interrupted deploy {deploy_id} (v2.3.0 → v2.3.1) after step 1" in out
    assert "canary" in out  # the canary still runs
    record = DeployHistory().get(deploy_id)
    assert record is not None and record.outcome is None and record.pid == child.pid

    code = main(
        ["--workspace", str(workspace), "deploy", SERVICE, "--env", "production", "--resume", "--yes"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1] == "✓ Deployment complete. Rollback available for 72h."
    cluster = Cluster.from_kubeconfig(str(kubeconfig), "simulated")
    assert cn.deployed_version(cluster.get("deployments", "production", SERVICE)) == "v2.3.1"
    assert cluster.find("deployments", "production", f"{SERVICE}-canary") is None
    assert DeployHistory().get(deploy_id).outcome == "succeeded"
    # nothing left to resume
    assert (
        main(["--workspace", str(workspace), "deploy", SERVICE, "--env", "production", "--abort", "--yes"])
        == 2
    )
    assert "no interrupted deploy" in capsys.readouterr().err


class _Terminal:
    """A stdin that is a terminal and types ``answer``."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer + "\n"


def test_production_typed_confirmation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal("payment"))
    assert main(["scale", "payment-service", "--env", "production", "--replicas", "5"]) == 2
    assert "confirmation did not match; nothing was changed" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", _Terminal("payment-service"))
    assert main(["scale", "payment-service", "--env", "production", "--replicas", "5"]) == 0
    out, err = capsys.readouterr()
    assert "This will scale payment-service to 5 pods in PRODUCTION." in err
    assert "✓ Scaled payment-service in production: 4 → 5 pods, all ready" in out


# -- the run's log lines in the text output -------------------------------------------------------


def _registry_workspace(root: Path, sim: Any) -> Path:
    """``_workspace`` whose production names an image in a file registry (``root/registry``), with
    one bake for every step (its 20 s bake is for the kill tests above)."""
    workspace = _workspace(root / "ws", sim.kubeconfig(root / "kubeconfig"), sim.prometheus_url)
    config = workspace / "idp-console.yaml"
    text = config.read_text().replace(
        "    production: true\n", "    production: true\n    image: payments/{service}\n"
    )
    text = re.sub(r"\{weight: 25, bake: \d+s\}", "25", text)
    assert "image: payments" in text and "weight: 25" not in text, "_workspace changed shape"
    config.write_text(
        text + f"registry: {{host: registry.acme.example, url: 'file://{root / 'registry'}'}}\n"
    )
    return workspace


def test_text_output_shows_the_pinned_digest_and_marks_the_skip_warning(
    sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backends.registry import FileRegistry

    workspace = _registry_workspace(tmp_path, sim)
    registry = FileRegistry(tmp_path / "registry", host="registry.acme.example")
    registry.push(f"registry.acme.example/payments/{SERVICE}", "v2.3.1")
    digest = registry.digest(f"registry.acme.example/payments/{SERVICE}", "v2.3.1")
    deploy = [
        "--workspace",
        str(workspace),
        "deploy",
        SERVICE,
        "--env",
        "production",
        "--yes",
        "--foreground",
    ]

    assert main([*deploy, "--version", "v2.3.1"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    # Under the stage lines, not instead of them; plain text (no colour codes) off a terminal.
    pinned = f"  Image v2.3.1 found: {digest} (registry.acme.example/payments/{SERVICE}); pinned to it"
    assert pinned in lines, out
    assert lines[0] == "✓ Running pre-deployment checks..."
    assert lines[-1] == "✓ Deployment complete. Rollback available for 72h."
    assert "\x1b[" not in out

    assert main([*deploy, "--version", "v2.3.2", "--skip-image-check"]) == 0
    out, err = capsys.readouterr()
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: image check skipped (--skip-image-check): the version is deployed by tag, unverified "
        "— by jane.doe"
    ], out
    assert out.splitlines()[-1] == "✓ Deployment complete. Rollback available for 72h."


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_info_lines_are_dimmed_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from backends.deploy.events import LogLine
    from console.commands.deploy import TextPrinter

    created = LogLine("d1", "deployment/orders-api created in staging")
    slow = LogLine("d1", "the lease was renewed late", level="warning")
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = _Terminal()
    printer = TextPrinter(SERVICE, terminal, log_lines=True)
    printer(created)
    printer(slow)
    assert terminal.getvalue().splitlines() == [
        "\x1b[2m  deployment/orders-api created in staging\x1b[22m",
        "warning: the lease was renewed late",
    ]
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _Terminal()
    TextPrinter(SERVICE, plain, log_lines=True)(created)
    assert plain.getvalue() == "  deployment/orders-api created in staging\n"
    # A chat reply (no log_lines) keeps to the stage lines and the warnings.
    chat = io.StringIO()
    quiet = TextPrinter(SERVICE, chat)
    quiet(created)
    quiet(slow)
    assert chat.getvalue() == "warning: the lease was renewed late\n"
