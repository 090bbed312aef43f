"""Hostile and mistaken input is refused with one line before anything runs (issue 8, findings 4,
5, 6, 9, 10): the config file at load with file:line, versions by the OCI tag grammar, replica
counts against a ceiling, Prometheus answers of any shape; refusals exit 2 and leave no history."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from backends.deploy import canary as cn
from backends.deploy.analysis import Prometheus, PrometheusError
from backends.deploy.engine import DeployEngine
from backends.deploy.events import Outcome, Paused, event_to_dict
from backends.deploy.history import DeployHistory
from backends.kube.cluster import Cluster
from console.cli import main

from .conftest import CATALOG_YAML, OLD, SERVICE, collect, make_context
from .test_deploy_cli import _cli

ROOT = Path(__file__).parents[2]

# -- a real Prometheus stand-in over HTTP ------------------------------------------------------------


class FakePrometheus:
    """Answers /api/v1/query with whatever the test sets: a status, a body, a delay."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {"status": "success", "data": {"resultType": "vector", "result": []}}
        self.delay = 0.0
        self.stalled = threading.Event()  # set: requests hang until the server closes
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if owner.delay:
                    owner.stalled.wait(owner.delay)
                raw = owner.body if isinstance(owner.body, str) else json.dumps(owner.body)
                data = raw.encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.stalled.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    yield fake
    fake.close()


def vector(value: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1.0, value]}]}}


# -- a workspace on the test's simulated cluster -----------------------------------------------------


def write_workspace(root: Path, config: str) -> Path:
    (root / "catalog").mkdir(parents=True, exist_ok=True)
    (root / "catalog" / "all.yaml").write_text(CATALOG_YAML)
    (root / "idp-console.yaml").write_text(textwrap.dedent(config))
    return root


def sim_workspace(root: Path, sim: Any, prometheus_url: str, deploy_extra: str = "") -> Path:
    kubeconfig = sim.kubeconfig(root.parent / f"{root.name}-kubeconfig")
    return write_workspace(
        root,
        f"""\
        name: test
        identity: {{user: jane.doe}}
        catalog: {{sources: [{{type: dir, path: catalog}}]}}
        environments:
          staging: {{kubeconfig: {kubeconfig}, context: simulated, namespace: staging}}
        deploy:
          bake: 0.3s
          progress_deadline: 20s
          steps: [5, 50, 100]
          analysis: {{prometheus: "{prometheus_url}", threshold: 0.01}}
        {deploy_extra}""",
    )


def run_cli(capsys: pytest.CaptureFixture[str], workspace: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(workspace), *args])
    out, err = capsys.readouterr()
    return code, out, err


def stable(sim: Any, tmp_path: Path) -> dict[str, Any]:
    cluster = Cluster.from_kubeconfig(str(sim.kubeconfig(tmp_path / "check-kubeconfig")), "simulated")
    return cluster.get("deployments", "staging", SERVICE)


# -- 1. the config file, validated when it is loaded -----------------------------------------------

BASE = "name: test\ncatalog: {sources: [{type: dir, path: catalog}]}\n"

BAD_CONFIGS = [
    ("deploy:\n  steps: [200]\n", 4, "deploy.steps[0].weight: expected 1..100, got 200"),
    ("deploy:\n  steps: []\n", 4, "deploy.steps: expected a non-empty list of weights, got []"),
    (
        "deploy:\n  steps: [5, 50, 25]\n",
        4,
        "deploy.steps[2].weight: weights must strictly increase up to 100",
    ),
    ("deploy:\n  analysis:\n    threshold: abc\n", 5, "deploy.analysis.threshold: expected a number in 0..1"),
    (
        "deploy:\n  analysis:\n    threshold: .nan\n",
        5,
        "deploy.analysis.threshold: expected a number in 0..1",
    ),
    ("deploy:\n  analysis: {threshold: inf}\n", 4, "deploy.analysis.threshold: expected a number in 0..1"),
    ("deploy:\n  analysis: {threshold: 1.5}\n", 4, "deploy.analysis.threshold: expected a number in 0..1"),
    (
        "deploy:\n  bake: 2 minutes\n",
        4,
        "deploy.bake: expected a duration (a number of seconds or 500ms, 30s",
    ),
    ("deploy:\n  progress_deadline: -10m\n", 4, "deploy.progress_deadline: expected a positive duration"),
    ("deploy:\n  steps:\n    - {weight: 5, bake: -1}\n", 5, "deploy.steps[0].bake: expected a positive"),
    ("deploy:\n  max_surge: -1\n", 4, "deploy.max_surge: expected 0 or more, got -1"),
    ("deploy:\n  lease: 0s\n", 4, "deploy.lease: expected a positive duration"),
    ("deploy:\n  analysis: {timeout: -5s}\n", 4, "deploy.analysis.timeout: expected a positive duration"),
    ('deploy: "fast"\n', 3, "deploy: expected a mapping, got 'fast'"),
    ("identity: bob\n", 3, "identity: expected a mapping, got 'bob'"),
    ("deploi:\n  bake: 2m\n", 3, "deploi: unknown key 'deploi' (did you mean 'deploy'?"),
    ("deploy:\n  bkae: 2m\n", 4, "deploy.bkae: unknown key 'bkae' (did you mean 'bake'?"),
    ("deploy:\n  analysis:\n    treshold: 0.1\n", 5, "deploy.analysis.treshold: unknown key"),
    ("environments:\n  prod:\n    contex: x\n", 5, "environments.prod.contex: unknown key 'contex'"),
    (
        "environments:\n  prod: {production: 'yes'}\n",
        4,
        "environments.prod.production: expected true or false",
    ),
    ("identity:\n  usr: bob\n", 4, "identity.usr: unknown key 'usr' (did you mean 'user'?"),
    (
        "deploy:\n  services:\n    payment-service:\n      analysis: {threshold: 7}\n",
        6,
        "deploy.services.payment-service.analysis.threshold: expected a number in 0..1, got 7",
    ),
    (
        "deploy:\n  services:\n    payment-service:\n      canary: yes\n",
        6,
        "deploy.services.payment-service.canary: unknown key 'canary'",
    ),
]


@pytest.mark.parametrize(("config", "line", "message"), BAD_CONFIGS)
def test_a_bad_config_is_one_line_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, line: int, message: str
) -> None:
    workspace = write_workspace(tmp_path / "ws", BASE + config)
    code, out, err = run_cli(capsys, workspace, "status", SERVICE, "--env", "staging")
    assert code == 2 and out == ""
    assert err.startswith(f"idp-console: {workspace / 'idp-console.yaml'}:{line}: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [
        ["deploy", SERVICE, "--env", "staging", "--version", "v2.3.1"],
        ["status", SERVICE, "--env", "staging"],
        ["rollback", SERVICE, "--env", "staging"],
        ["scale", SERVICE, "--env", "staging", "--replicas", "3"],
    ],
)
def test_every_deploy_command_refuses_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    workspace = write_workspace(tmp_path / "ws", BASE + "deploy:\n  steps:\n    - weight: 200\n")
    code, _, err = run_cli(capsys, workspace, *command)
    assert (code, err) == (2, f"idp-console: {workspace / 'idp-console.yaml'}:5: deploy.steps[0].weight: "
                              "expected 1..100, got 200\n")  # fmt: skip


def test_a_full_config_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = write_workspace(
        tmp_path / "ws",
        BASE
        + """\
identity: {user: jane.doe}
theme: nord
keymap: {catalog.filter: f}
templates: {sources: [{type: dir, path: templates}]}
git: {remoteBase: ./git, hosts: {github.com: ./gh}, author: {name: a, email: a@b}, tokenSecret: T}
docs: {base_url: https://docs.example}
environments:
  staging: {cluster: simulated, namespace: staging, lifecycles: [production]}
deploy:
  bake: 2m
  progress_deadline: 10m
  max_surge: 0
  max_replicas: 20
  lease: 90s
  steps: [{weight: 5, bake: 30s, analysis: false}, 25, {setWeight: 50}]
  analysis: {prometheus: http://prometheus:9090, query: 'up', threshold: 0.01, timeout: 5s}
  services:
    payment-service: {analysis: {threshold: 0.005}, steps: [10, 100]}
""",
    )
    code, out, _ = run_cli(capsys, workspace, "catalog", "list", "-o", "json")
    assert code == 0 and SERVICE in out


def test_a_bad_value_given_to_the_engine_directly_is_a_refusal(sim: Any, tmp_path: Path) -> None:
    # The TUI hands the engine the section it loaded; a value changed since is refused, not raised.
    context, _ = make_context(sim, tmp_path, deploy={"steps": [5, 200]})
    engine = DeployEngine(context)
    events = collect(engine.deploy(SERVICE, "staging", "v2.3.1"))
    assert events[-1].outcome is Outcome.FAILED
    assert "deploy.steps[1].weight: expected 1..100, got 200" in events[-1].reason
    assert context.history.records(SERVICE, "staging") == []


def _tui(workspace: Path) -> tuple[int | None, str]:
    """Start the TUI on a terminal (a pty); its exit code (None: still running after 20 s, which
    means it started instead of refusing) and what it printed."""
    leader, follower = pty.openpty()
    env = {**os.environ, "IDP_CONSOLE_WORKSPACE": str(workspace)}
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from console.cli import main; sys.exit(main([]))"],
        stdin=follower, stdout=follower, stderr=follower, cwd=ROOT, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 20  # a bound on a hung test, not a timing assertion
    try:
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        try:
            code: int | None = child.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        return code, output.decode(errors="replace")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
        os.close(leader)


def test_the_tui_reports_an_unknown_theme_and_a_bad_config(tmp_path: Path) -> None:
    workspace = write_workspace(tmp_path / "ws", BASE + "theme: solarised\n")
    code, output = _tui(workspace)
    assert code == 2
    assert f"{workspace / 'idp-console.yaml'}:3: theme: unknown theme 'solarised' (known: " in output
    assert "solarized-dark" in output and "Traceback" not in output
    (workspace / "idp-console.yaml").write_text(BASE + "identity: bob\n")
    code, output = _tui(workspace)
    assert code == 2 and "idp-console.yaml:3: identity: expected a mapping, got 'bob'" in output


# -- 2. versions are image tags -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version", ["v2 beta", "release/2", "v2.3.1-ünïcode", "v2@sha256:" + "a" * 64, "-v2", ""]
)
def test_a_version_that_is_not_an_image_tag_is_refused(
    sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str
) -> None:
    workspace = sim_workspace(tmp_path / "ws", sim, sim.prometheus_url)
    code, out, err = run_cli(capsys, workspace, "deploy", SERVICE, "--env", "staging", f"--version={version}")
    assert code == 2 and out == "" and err.count("\n") == 1
    if version:
        assert f"version {version!r} is" in err and ("image tag" in err or "digest" in err)
    code, _, err = run_cli(
        capsys, workspace, "rollback", SERVICE, "--env", "staging", f"--to={version or chr(32)}"
    )
    assert code == 2 and ("is not an image tag" in err or "is a digest" in err)
    assert cn.deployed_version(stable(sim, tmp_path)) == OLD
    assert DeployHistory().records(SERVICE, "staging") == []


def test_the_engine_refuses_a_bad_version_too(sim: Any, tmp_path: Path) -> None:
    context, _ = make_context(sim, tmp_path)
    events = collect(DeployEngine(context).deploy(SERVICE, "staging", "v2.3.1 beta"))
    assert events[-1].outcome is Outcome.FAILED and "is not an image tag" in events[-1].reason
    assert context.history.records(SERVICE, "staging") == []


# -- 3. Prometheus answers of any shape are "no data": the deploy pauses -------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, [1, 2, 3]),  # a JSON list (crashed the deploy mid-canary with an AttributeError)
        (200, "null"),
        (200, {"status": "success"}),
        (200, {"status": "success", "data": {"resultType": "vector", "result": {"a": 1}}}),
        (200, {"status": "success", "data": {"resultType": "vector", "result": ["x"]}}),
        (200, {"status": "success", "data": {"resultType": "matrix", "result": []}}),
        (200, vector(None)),
        (200, vector("abc")),
        (200, {"status": "success", "data": {"resultType": "vector", "result": [{"value": "0.5"}]}}),
        (404, "<html>not found</html>"),
        (400, {"status": "error", "errorType": "bad_data", "error": "parse error"}),
        (503, "busy"),
    ],
)
def test_an_unexpected_prometheus_answer_is_an_error_never_a_crash(
    prometheus: FakePrometheus, status: int, body: Any
) -> None:
    prometheus.status, prometheus.body = status, body
    with pytest.raises(PrometheusError):
        Prometheus(prometheus.url, timeout=2, attempts=1).query("up")


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
def test_nan_and_inf_samples_are_no_data(prometheus: FakePrometheus, value: str) -> None:
    prometheus.body = vector(value)
    assert Prometheus(prometheus.url, timeout=2, attempts=1).query("up") is None


def test_a_prometheus_that_never_answers_is_an_error(prometheus: FakePrometheus) -> None:
    prometheus.delay = 5
    with pytest.raises(PrometheusError):
        Prometheus(prometheus.url, timeout=0.2, attempts=1).query("up")


def test_a_json_list_from_prometheus_aborts_and_rolls_back_without_a_terminal(
    sim: Any, prometheus: FakePrometheus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prometheus.body = [{"value": [1, "0.5"]}]
    workspace = sim_workspace(tmp_path / "ws", sim, prometheus.url)
    code, out, err = run_cli(
        capsys, workspace, "deploy", SERVICE, "--env", "staging", "--version", "v2.3.1", "--output", "json"
    )
    assert code == 1, err
    events = [json.loads(line, parse_constant=_no_constants) for line in out.splitlines()]
    inconclusive = [e for e in events if e["event"] == "AnalysisResult" and e["check"] == "error-rate"]
    assert inconclusive and inconclusive[0]["verdict"] == "inconclusive"
    assert "unexpected answer" in inconclusive[0]["detail"]
    assert events[-1]["event"] == "DeployFinished" and events[-1]["outcome"] == "aborted"
    assert "analysis inconclusive (no terminal to ask)" in events[-1]["reason"]
    assert cn.deployed_version(stable(sim, tmp_path)) == OLD
    record = DeployHistory().records(SERVICE, "staging")[0]
    assert record.outcome == "aborted"


def _no_constants(name: str) -> None:
    raise AssertionError(f"{name} in JSON output")


def test_a_nan_answer_pauses_the_engine_for_a_decision(
    sim: Any, prometheus: FakePrometheus, tmp_path: Path
) -> None:
    prometheus.body = vector("NaN")
    context, _ = make_context(sim, tmp_path, deploy={"analysis": {"prometheus": prometheus.url}})
    run = DeployEngine(context).deploy(SERVICE, "staging", "v2.3.1")

    def decide(event: Any) -> None:
        if isinstance(event, Paused) and event.needs_decision:
            run.abort("no data")

    events = collect(run, decide)
    paused = [e for e in events if isinstance(e, Paused)]
    assert paused and "analysis inconclusive at 5%" in paused[0].reason
    assert events[-1].outcome is Outcome.ABORTED
    # strict JSON: a NaN anywhere in the stored events would raise here
    json.dumps([event_to_dict(e) for e in context.history.events(run.deploy_id)], allow_nan=False)


# -- 4. replica counts: impossible ones refused, a ceiling above which a person confirms ---------------


class _Terminal:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer + "\n"


def test_scaling_above_the_ceiling_needs_a_confirmation(
    sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = sim_workspace(tmp_path / "ws", sim, sim.prometheus_url, "  max_replicas: 5\n")
    scale = ["scale", SERVICE, "--env", "staging", "--replicas"]
    for replicas in ("-1", "100000000000000000000", "2147483648"):
        code, out, err = run_cli(capsys, workspace, *scale, replicas)
        assert (code, out) == (
            2,
            "",
        ) and err == f"idp-console: --replicas: expected 0..2147483647, got {int(replicas)}\n"
    code, out, err = run_cli(capsys, workspace, *scale, "6")
    assert (code, out) == (2, "")
    assert (
        "6 pods is above the ceiling of 5 (deploy.max_replicas in idp-console.yaml)" in err and "--yes" in err
    )
    monkeypatch.setattr(sys, "stdin", _Terminal("60"))
    code, _, err = run_cli(capsys, workspace, *scale, "6")
    assert code == 2 and "confirmation did not match; nothing was changed" in err
    assert stable(sim, tmp_path)["spec"]["replicas"] == 4
    monkeypatch.setattr(sys, "stdin", _Terminal("6"))
    code, out, err = run_cli(capsys, workspace, *scale, "6")
    assert code == 0 and "Type the number of pods (6) to confirm" in out
    assert "✓ Scaled payment-service in staging: 4 → 6 pods" in out
    assert stable(sim, tmp_path)["spec"]["replicas"] == 6
    code, _, _ = run_cli(capsys, workspace, *scale, "7", "--yes")
    assert code == 0 and stable(sim, tmp_path)["spec"]["replicas"] == 7


# -- 5. refusals exit 2 and are not deploys ------------------------------------------------------------


def test_a_refusal_exits_2_and_leaves_no_history(
    sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = sim_workspace(tmp_path / "ws", sim, sim.prometheus_url)
    code, out, _ = run_cli(capsys, workspace, "deploy", SERVICE, "--env", "staging", "--version", OLD)
    assert code == 2 and f"✗ Pre-deployment checks failed: {SERVICE} already runs {OLD} in staging" in out
    code, out, _ = run_cli(capsys, workspace, "deploy", "nope", "--env", "staging", "--version", "v2.3.1")
    assert code == 2 and "no such service in the catalog" in out
    assert (
        DeployHistory().records(SERVICE, "staging") == [] and DeployHistory().records("nope", "staging") == []
    )


def test_a_dead_holders_lease_names_resume_and_abort(
    sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = sim_workspace(tmp_path / "ws", sim, sim.prometheus_url, "  lease: 120s\n")
    workspace.joinpath("idp-console.yaml").write_text(
        workspace.joinpath("idp-console.yaml").read_text().replace("bake: 0.3s", "bake: 60s")
    )
    args = ["--workspace", str(workspace), "deploy", SERVICE, "--env", "staging", "--version", "v2.3.1"]
    child = _cli(*args, "--output", "json", "--foreground")
    assert child.stdout is not None
    for line in child.stdout:
        event = json.loads(line)
        if event["event"] == "StageStarted" and event["stage"] == "analysis":
            break  # baking at 5% for a minute, holding the lease: kill it here
    child.send_signal(signal.SIGKILL)
    child.wait(10)

    code, out, _ = run_cli(capsys, workspace, "status", SERVICE, "--env", "staging")
    assert code == 0 and "⚠ interrupted deploy" in out and "--resume` or `--abort`" in out
    assert "deploy in progress" not in out  # its process is gone: nothing is in progress

    code, out, _ = run_cli(capsys, workspace, "deploy", SERVICE, "--env", "staging", "--version", "v2.3.2")
    assert code == 2
    [refusal] = [line for line in out.splitlines() if line.startswith("✗ Pre-deployment checks failed")]
    assert f"was interrupted (its process {child.pid} has exited)" in refusal
    assert f"idp-console deploy {SERVICE} --env staging --resume" in refusal and "--abort" in refusal
    # only the killed deploy is in the history: the refusal is not
    assert [r.to_version for r in DeployHistory().records(SERVICE, "staging")] == ["v2.3.1"]
    code, out, _ = run_cli(capsys, workspace, "deploy", SERVICE, "--env", "staging", "--abort")
    assert "✗ Deployment aborted: interrupted deploy" in out
    assert cn.deployed_version(stable(sim, tmp_path)) == OLD
