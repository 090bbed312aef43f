"""A production deploy checks who you are by the OS account, not by $USER."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.identity import account_name
from console.cli import main

from .test_deploy_cli import _workspace

ME = account_name()


def test_a_borrowed_user_cannot_deploy_to_production(
    sim, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    root = _workspace(tmp_path / "ws", kubeconfig, sim.prometheus_url)
    config = root / "idp-console.yaml"
    config.write_text(config.read_text().replace("identity: {user: jane.doe}\n", ""))
    monkeypatch.setenv("USER", "jane.doe")
    monkeypatch.setenv("IDP_CONSOLE_USER", "jane.doe")
    code = main(["--workspace", str(root), "deploy", "payment-service", "--env", "production",
                 "--version", "v2.3.1", "--yes"])  # fmt: skip
    assert code == 2
    assert f"{ME} is not a User in the catalog, so cannot deploy to production" in capsys.readouterr().out
