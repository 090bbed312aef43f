"""``idp-console infra plan|apply`` against a real git infra repository and the simulated cluster."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest

from backends.deploy.history import open_history
from backends.infra.history import applies
from backends.workspace import load_workspace
from tests.infra.conftest import Infra, wait_for

PAYMENT = "infrastructure/payment-service/resources.yaml"


def _line(process: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """The process's next line of output; fails (instead of hanging the suite) after ``timeout``."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stream = process.stdout
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no output within {timeout}s") from None


def _applies(infra: Infra) -> list[Any]:
    history = open_history(load_workspace(infra.workspace))
    try:
        return applies(history, "production")
    finally:
        history.close()


def _add_cache(size: str = "small", **extra: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc["spec"]["cache"] = {"type": "redis", "size": size, "eviction": "lru"}
        doc["metadata"].update(extra)

    return change


def test_the_seed_example_cache_by_branch_plan_merge_apply(infra: Infra) -> None:
    code, _, err = infra.cli("infra", "apply")
    assert code == 0, err
    infra.edit(PAYMENT, _add_cache(), branch="add-cache")
    code, out, err = infra.cli("infra", "plan", "payment-service", "--ref", "add-cache")
    assert code == 0, err
    assert "payment-service (team-payments): 98.00 → 113.00 /month (+15.00)" in out
    assert "+ create statefulsets/payment-service-cache" in out
    assert "team-payments: 352.00 → 367.00 /month" in out
    assert "✔ pass  cache-size-approval (payment-service)" in out
    assert "✔ pass  team-budget (payment-service)" in out
    infra.git("checkout", "-q", "main")
    infra.git("merge", "-q", "--ff-only", "origin/add-cache")
    infra.git("push", "-q", "origin", "main")
    code, out, err = infra.cli("infra", "apply", "--ref", "main")
    assert code == 0, err
    assert "created statefulsets/payment-service-cache" in out
    sts = wait_for(
        lambda: (
            (s := infra.cluster.get("statefulsets", "production", "payment-service-cache"))
            and (s.get("status") or {}).get("readyReplicas") == 1
            and s
        )
    )
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru"]
    pod = infra.cluster.get("pods", "production", "payment-service-cache-0")
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    newest = _applies(infra)[0]
    assert (newest.outcome, newest.user, newest.costs["payment-service"]) == ("applied", "jane.doe", 113.0)
    assert {
        "action": "create",
        "kind": "statefulsets",
        "name": "payment-service-cache",
        "service": "payment-service",
    } in newest.changes


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("size: small", "sise: small", ":8: spec.database.sise: unknown key 'sise' (did you mean 'size'?"),
        (
            "size: small",
            "size: huge",
            ":8: spec.database.size: unknown size 'huge' (known: small, medium, large)",
        ),
        ('cpu: "500m"', 'cpu: "500 m"', ":7: spec.compute.cpu: '500 m' is not a Kubernetes quantity"),
        (
            'memory: "512Mi"',
            'memory: "512MB"',
            ":7: spec.compute.memory: '512MB' is not a Kubernetes quantity",
        ),
        (
            "  owner: team-payments\n",
            "  owner: team-payments\n  team: x\n",
            ":6: metadata.team: unknown key 'team'",
        ),
    ],
)
def test_invalid_input_names_file_and_line_and_exits_2(infra: Infra, old: str, new: str, where: str) -> None:
    text = (infra.work / PAYMENT).read_text()
    assert old in text
    infra.edit(PAYMENT, text.replace(old, new, 1), branch="broken")
    code, out, err = infra.cli("infra", "plan", "--ref", "broken")
    assert code == 2
    assert f"{PAYMENT}{where}" in err
    code, _, err = infra.cli("infra", "apply", "--ref", "broken")
    assert code == 2 and "refused, invalid input" in err


def _replicas(n: int) -> Any:
    return lambda d: d["spec"]["compute"].update(replicas=n)


@pytest.mark.parametrize(
    ("edit", "policy"),
    [
        (_replicas(1), "production-replicas"),
        (lambda d: d["spec"]["database"].update(backups="weekly"), "production-database-backups"),
        (lambda d: d["spec"]["database"].update(size="large"), "team-budget"),
        (_add_cache("large"), "cache-size-approval"),
    ],
)
def test_each_demo_policy_denies_with_exit_1(infra: Infra, edit: Any, policy: str) -> None:
    infra.edit(PAYMENT, edit, branch="risky")
    code, out, err = infra.cli("infra", "plan", "payment-service", "--ref", "risky", "--output", "json")
    assert code == 1, err
    plan = json.loads(out)
    denied = [(v["policy"], v["service"]) for v in plan["verdicts"] if v["outcome"] == "deny"]
    assert denied == [(policy, "payment-service")]


def test_a_large_cache_passes_with_a_platform_approver(infra: Infra) -> None:
    infra.edit(PAYMENT, _add_cache("large", approvedBy=["team-platform"]), branch="approved")
    code, out, err = infra.cli("infra", "plan", "payment-service", "--ref", "approved", "--output", "json")
    assert code == 0, err
    assert json.loads(out)["services"][0]["cost"] == {"before": 0.0, "after": 258.0}


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("object.spec.(", "does not compile"),
        ("object.spec.cache.size == 'small'", "failed on payment-service"),
        ("'yes'", "not true or false"),
    ],
)
def test_a_broken_policy_names_the_rule_and_denies(infra: Infra, expression: str, why: str) -> None:
    policy = (
        "apiVersion: platform.internal/v1\nkind: InfraPolicy\nmetadata: {name: broken-rule}\nspec:\n"
        f"  expression: {json.dumps(expression)}\n  message: m\n  action: warn\n"
    )
    infra.edit("policies/broken.yaml", policy, branch="policy")
    code, out, err = infra.cli("infra", "plan", "payment-service", "--ref", "policy")
    assert code == 1
    assert "✖ deny  broken-rule (payment-service)" in out
    assert why in out and "policies/broken.yaml:5" in out


def test_a_denied_merge_is_refused_by_apply_and_recorded(infra: Infra) -> None:
    infra.edit(PAYMENT, _replicas(1))
    before = infra.writes()
    code, _, err = infra.cli("infra", "apply")
    assert code == 1
    assert "refused, policy denies it: payment-service: production-replicas" in err
    assert infra.writes() == before
    assert _applies(infra)[0].outcome == "refused"


def test_an_unchanged_repo_applies_with_zero_writes(infra: Infra) -> None:
    code, out, _ = infra.cli("infra", "apply")
    assert code == 0 and "24 write(s)" in out
    before = infra.writes()
    code, out, _ = infra.cli("infra", "apply")
    assert code == 0 and "0 write(s)" in out
    assert infra.writes() == before


def test_an_interrupted_apply_converges_and_prunes(infra: Infra) -> None:
    # The second write (the first StatefulSet) hangs: the apply is killed in the middle of it.
    # A stall, not a one-request hang: the client gives up on a request after 15 s and retries, and
    # on a loaded machine a retry let through could create the StatefulSet before the kill lands.
    infra.sim.faults.stall(120, method="PATCH", path="/statefulsets/")
    runner = subprocess.Popen(
        [sys.executable, "-c", "from console.cli import main; raise SystemExit(main())",
         "--workspace", str(infra.workspace), "infra", "apply"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert runner.stdout is not None
    assert _line(runner).startswith("changed deployments/")
    wait_for(lambda: any(hit.kind == "stall" for hit in infra.sim.faults.hits), timeout=60)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=10)
    infra.sim.faults.clear()  # the held write still ends in a 504, never applied
    assert infra.cluster.find("statefulsets", "production", "user-service-db") is None  # half-way
    code, _, err = infra.cli("infra", "apply")
    assert code == 0, err
    assert infra.cluster.find("statefulsets", "production", "user-service-db") is not None
    before = infra.writes()
    assert infra.cli("infra", "apply")[0] == 0
    assert infra.writes() == before  # converged: nothing left to write
    infra.remove("infrastructure/cart-service")
    code, out, _ = infra.cli("infra", "apply")
    assert code == 0
    for kind in ("statefulsets", "services", "secrets"):
        assert f"deleted {kind}/cart-service-cache" in out
        assert infra.cluster.find(kind, "production", "cart-service-cache") is None


def test_reconcile_watch_applies_each_new_commit(infra: Infra) -> None:
    watcher = subprocess.Popen(
        [sys.executable, "-c", "from console.cli import main; raise SystemExit(main())",
         "--workspace", str(infra.workspace), "infra", "reconcile", "--watch", "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert watcher.stdout is not None
        assert "24 write(s)" in _line(watcher)
        infra.edit(PAYMENT, _add_cache())
        assert "3 write(s)" in _line(watcher)  # the cache's StatefulSet, Service and Secret
        assert infra.cluster.find("statefulsets", "production", "payment-service-cache") is not None
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def test_a_change_request_is_a_branch_and_a_pull_ref_with_its_plan(infra: Infra, tmp_path: Any) -> None:
    text = (infra.work / PAYMENT).read_text() + "  cache:    {type: redis, size: small, eviction: lru}\n"
    (tmp_path / "new.yaml").write_text(text)
    main_before = infra.git("ls-remote", "origin", "refs/heads/main")
    code, out, err = infra.cli("infra", "request", "payment-service", "--file", str(tmp_path / "new.yaml"))
    assert code == 0, err
    assert "opened change request #1: branch infra/payment-service-1 (refs/pull/1/head)" in out
    assert "payment-service (team-payments): 0.00 → 113.00 /month (+113.00)" in out
    assert infra.git("ls-remote", "origin", "refs/heads/main") == main_before  # for review, not merged
    description = subprocess.run(
        ["git", "--git-dir", str(infra.repo), "log", "-1", "--format=%B", "refs/pull/1/head"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "payment-service: 0.00 → 113.00 /month" in description
    assert "pass: cache-size-approval" in description
    code, out, _ = infra.cli("infra", "plan", "payment-service", "--ref", "refs/pull/1/head")
    assert code == 0 and "+ create statefulsets/payment-service-cache" in out
    (tmp_path / "bad.yaml").write_text(text.replace("size: small, eviction", "size: huge, eviction"))
    code, _, err = infra.cli("infra", "request", "payment-service", "--file", str(tmp_path / "bad.yaml"))
    assert code == 2 and f"{PAYMENT}:9: spec.cache.size: unknown size 'huge'" in err
    assert "refs/pull/2/head" not in infra.git("ls-remote", "origin")
