"""``idp-console doctor``: every check reports, a failing one names what to fix, exit 1 on failure."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from console.cli import main
from console.commands.doctor import terminal_checks


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict]]:
    code = main([*args, "doctor", "--output", "json"])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_demo_workspace_is_healthy(capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = _run(capsys)
    by_area = {c["area"]: c for c in checks if c["area"] != "terminal"}
    assert code == 0
    assert by_area["config"]["detail"] == "built-in demo workspace"
    assert by_area["catalog"]["status"] == "ok" and "70 entities" in by_area["catalog"]["detail"]
    assert by_area["identity"]["detail"].startswith("you are jane.doe")
    assert [c["detail"] for c in checks if c["area"] == "clusters"] == [
        "staging: simulated answers",
        "production: simulated answers",
    ]


def test_unreachable_cluster_and_broken_catalog_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "bad.yaml").write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
            users: [{name: u, user: {}}]
            contexts: [{name: prod, context: {cluster: c, user: u}}]
            current-context: prod
            """
        )
    )
    (tmp_path / "idp-console.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: broken
            catalog: {{sources: [{{type: dir, path: catalog}}]}}
            environments:
              production: {{kubeconfig: {kubeconfig}, context: prod}}
            """
        )
    )
    code, checks = _run(capsys, "--workspace", str(tmp_path))
    assert code == 1
    cluster = next(c for c in checks if c["area"] == "clusters")
    assert cluster["status"] == "fail" and cluster["detail"].startswith("production:")
    assert "kubectl --context" in cluster["fix"]
    catalog = next(c for c in checks if c["area"] == "catalog")
    assert catalog["status"] == "warn" and "bad.yaml:" in catalog["detail"]


def test_missing_workspace_is_a_config_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = _run(capsys, "--workspace", str(tmp_path / "nowhere"))
    config = next(c for c in checks if c["area"] == "config")
    assert code == 1 and config["status"] == "fail" and "idp-console init" in config["fix"]


def test_colours_over_ssh_and_a_small_terminal() -> None:
    checks = list(
        terminal_checks(
            {"SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22", "TERM": "xterm"}, is_tty=True, size=(70, 20)
        )
    )
    details = [(c.status, c.detail, c.fix) for c in checks]
    assert ("warn", "70x20 is smaller than 80x24", "enlarge the window") in details
    colour = next(c for c in checks if "COLORTERM" in c.detail)
    assert "AcceptEnv COLORTERM" in colour.fix and "SendEnv COLORTERM" in colour.fix
    truecolor = list(terminal_checks({"COLORTERM": "truecolor"}, is_tty=True, size=(120, 40)))
    assert [c.detail for c in truecolor] == ["120x40, TERM=?", "truecolor"]
