"""``infra request`` → ``infra plan --ref refs/pull/N/head`` → ``infra merge N`` → ``infra apply``
against a real bare infra repository and the simulated cluster over HTTP."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backends.infra.apply import open_infra
from backends.infra.merge import MergeRefused, merge_change_request
from backends.workspace import load_workspace
from tests.infra.conftest import Infra, wait_for

PAYMENT = "infrastructure/payment-service/resources.yaml"
CACHE = "  cache:    {type: redis, size: small, eviction: lru}\n"


def _bare(infra: Infra, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(infra.repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _request(infra: Infra, tmp_path: Path, text: str, service: str = "payment-service") -> tuple[int, str]:
    file = tmp_path / f"{service}-new.yaml"
    file.write_text(text)
    code, out, err = infra.cli("infra", "request", service, "--file", str(file))
    assert "opened change request #" in out, err
    return code, out


def test_the_seed_example_by_cli_request_plan_merge_apply_running(infra: Infra, tmp_path: Path) -> None:
    assert infra.cli("infra", "apply")[0] == 0
    code, out = _request(infra, tmp_path, (infra.work / PAYMENT).read_text() + CACHE)
    assert code == 0 and "opened change request #1" in out
    code, out, err = infra.cli("infra", "plan", "payment-service", "--ref", "refs/pull/1/head")
    assert code == 0, err
    assert "payment-service (team-payments): 98.00 → 113.00 /month (+15.00)" in out
    assert "+ create statefulsets/payment-service-cache" in out
    assert "✔ pass  cache-size-approval (payment-service)" in out
    code, out, err = infra.cli("infra", "merge", "1")
    assert code == 0, err
    assert "merged change request #1 into main (fast-forward" in out
    assert _bare(infra, "rev-parse", "main") == _bare(infra, "rev-parse", "refs/pull/1/head")
    code, out, err = infra.cli("infra", "apply")
    assert code == 0, err
    assert "created statefulsets/payment-service-cache" in out
    wait_for(
        lambda: (
            (s := infra.cluster.find("statefulsets", "production", "payment-service-cache"))
            and (s.get("status") or {}).get("readyReplicas") == 1
        )
    )
    code, out, err = infra.cli("infra", "merge", "1")
    assert code == 1 and "change request #1 is already merged into main" in err


def test_merge_refuses_a_denied_request_naming_the_rule(infra: Infra, tmp_path: Path) -> None:
    text = (infra.work / PAYMENT).read_text().replace("replicas: 4", "replicas: 1")
    code, _ = _request(infra, tmp_path, text)
    assert code == 1  # the request is open for review, its plan already says no
    main_before = _bare(infra, "rev-parse", "main")
    code, out, err = infra.cli("infra", "merge", "1")
    assert code == 1
    assert "change request #1 not merged: policy production-replicas denies payment-service" in err
    assert "production runs at least 2 replicas" in err
    assert _bare(infra, "rev-parse", "main") == main_before


def test_merge_commits_when_main_moved_and_plans_the_result(infra: Infra, tmp_path: Path) -> None:
    _request(infra, tmp_path, (infra.work / PAYMENT).read_text() + CACHE)
    infra.edit(
        "infrastructure/user-service/resources.yaml", lambda d: d["spec"]["compute"].update(replicas=4)
    )
    moved = _bare(infra, "rev-parse", "main")
    code, out, err = infra.cli("infra", "merge", "1")
    assert code == 0, err
    assert "merged change request #1 into main (merge commit" in out
    parents = _bare(infra, "log", "-1", "--format=%P", "main").split()
    assert parents == [moved, _bare(infra, "rev-parse", "refs/pull/1/head")]
    assert "cache:" in _bare(infra, "show", f"main:{PAYMENT}")
    assert "replicas: 4" in _bare(infra, "show", "main:infrastructure/user-service/resources.yaml")


def test_merge_refuses_a_conflict_and_changes_nothing(infra: Infra, tmp_path: Path) -> None:
    base = (infra.work / PAYMENT).read_text()
    _request(infra, tmp_path, base + CACHE)
    _request(infra, tmp_path, base.replace("replicas: 4", "replicas: 3") + CACHE.replace("small", "medium"))
    assert infra.cli("infra", "merge", "1")[0] == 0
    merged = _bare(infra, "rev-parse", "main")
    code, _, err = infra.cli("infra", "merge", "2")
    assert code == 1
    assert f"change request #2 conflicts with main in {PAYMENT}: update its branch first" in err
    assert _bare(infra, "rev-parse", "main") == merged
    code, _, err = infra.cli("infra", "merge", "7")
    assert code == 1 and "no change request #7 (refs/pull/7/head)" in err


def test_a_push_to_main_during_the_merge_is_refused_and_nothing_is_half_done(
    infra: Infra, tmp_path: Path
) -> None:
    _request(infra, tmp_path, (infra.work / PAYMENT).read_text() + CACHE)
    workspace = load_workspace(infra.workspace)
    with open_infra(workspace) as session:

        def plan_while_someone_pushes(tree, ref):  # type: ignore[no-untyped-def]
            plan = session.plan_tree(tree, ref)
            infra.edit(
                "infrastructure/user-service/resources.yaml",
                lambda d: d["spec"]["compute"].update(replicas=5),
            )
            return plan

        with pytest.raises(MergeRefused, match="main moved while merging .* nothing changed"):
            merge_change_request(
                session.settings, 1, author=("jane.doe", "jane@acme.example"),
                plan_tree=plan_while_someone_pushes,
            )  # fmt: skip
    main = _bare(infra, "rev-parse", "main")
    assert main == infra.git("rev-parse", "origin/main").strip()  # the other push, alone
    assert "cache:" not in _bare(infra, "show", f"main:{PAYMENT}")


def test_a_push_the_server_refuses_says_the_servers_words(infra: Infra, tmp_path: Path) -> None:
    _request(infra, tmp_path, (infra.work / PAYMENT).read_text() + CACHE)
    hook = infra.repo / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nwhile read old new ref; do\n"
        '  [ "$ref" = refs/heads/main ] && { echo "main is protected: merge on the forge" >&2; exit 1; }\n'
        "done\nexit 0\n"
    )
    hook.chmod(0o755)
    main_before = _bare(infra, "rev-parse", "main")
    code, _, err = infra.cli("infra", "merge", "1")
    assert code == 1
    assert "change request #1 not merged: the push to main was refused: main is protected" in err
    assert _bare(infra, "rev-parse", "main") == main_before
