"""A garbage kubeconfig is one line naming the file (exit 2), and a visible error in the TUI."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from screens.deploy import DeployScreen
from tests.screens.helpers import kube_workspace, screen_text, until, wait_for_catalog, workspace_app

GARBAGE = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file, not YAML"),
    "latin1": (
        "current-context: z\u00fcrich\n".encode("latin-1"),
        "not UTF-8 text (invalid byte at offset 18)",
    ),
    "invalid-yaml": (b"apiVersion: v1\nclusters: [\n  - {name: x\n", "not valid YAML at line 3, column 3"),
    "a-list": (b"- just\n- a list\n", "expected a mapping (apiVersion, clusters, contexts, users)"),
    "contexts-not-a-list": (b"apiVersion: v1\ncontexts: prod\n", "contexts must be a list"),
    "missing-context": (
        b"apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters: []\ncontexts: []\nusers: []\n",
        "no context 'prod' (its current-context); it defines: none",
    ),
}


@pytest.mark.parametrize("command", ["status", "deploy"])
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_kubeconfig_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, kind: str
) -> None:
    content, reason = GARBAGE[kind]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(content)
    argv = [command, "payment-service", "--env", "production", "--kubeconfig", str(kubeconfig)]
    if command == "deploy":
        argv += ["--version", "v9.9.9", "--yes"]
    code = main(argv)
    out, err = capsys.readouterr()
    lines = (out + err).splitlines()  # deploy reports its failed pre-checks as a stage, on stdout
    assert code == 2
    assert len(lines) == 1 and f"kubeconfig {kubeconfig}: {reason}" in lines[0]


def test_context_not_in_the_kubeconfig_names_the_ones_it_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
        "clusters: [{name: prod, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: prod, context: {cluster: prod, user: me}}]\n"
        "users: [{name: me, user: {token: x}}]\n"
    )
    argv = ["status", "payment-service", "--env", "production", "--kubeconfig", str(kubeconfig)]
    assert main([*argv, "--context", "staging"]) == 2
    assert capsys.readouterr().err == (
        f"idp-console: kubeconfig {kubeconfig}: no context 'staging' (--context); it defines: prod\n"
    )


async def test_tui_shows_a_garbage_kubeconfig_on_the_deploy_board(tmp_path: Path) -> None:
    kubeconfig = kube_workspace(tmp_path, b"- not\n- a kubeconfig\n")
    app = workspace_app(tmp_path / "ws")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("3")
        assert isinstance(app.screen, DeployScreen)
        await until(pilot, lambda: "expected a mapping" in screen_text(app), timeout=30)
        text = screen_text(app)
        assert f"production: kubeconfig {kubeconfig}: expected a mapping" in text
        assert "SIMULATED CLUSTER" not in text
