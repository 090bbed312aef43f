"""The shell door: ``idp-console create-service`` / ``help`` and the ``platform`` script, which
reads its words through the same grammar as chat and the ``:`` line."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.catalog import load_catalog
from backends.workspace import load_workspace
from console.cli import main
from console.commands.platform import platform_main


def test_platform_deploy_works_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    code = platform_main(["deploy", "payment-service", "--env", "staging", "--version", "v2.3.1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines()[0] == "✓ Running pre-deployment checks..."
    assert out.splitlines()[-1] == "✓ Deployment complete. Rollback available for 72h."
    assert platform_main(["status", "payment-service", "--env", "staging", "--output", "json"]) == 0
    assert '"version": "v2.3.1"' in capsys.readouterr().out


def test_platform_scale_and_rollback_and_production_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert platform_main(["scale", "payment-service", "--replicas", "3", "--env", "staging"]) == 0
    assert "✓ Scaled payment-service in staging: 4 → 3 pods" in capsys.readouterr().out
    # production asks for the typed confirmation as `idp-console` does; a script passes --yes
    assert platform_main(["rollback", "payment-service", "--env", "production"]) == 2
    assert "pass --yes" in capsys.readouterr().err


def test_platform_bad_input_is_the_grammars_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = platform_main(["deploy", "payment-service", "--env", "staging", "--verison", "v2.3.1"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == (
        "platform: deploy: unknown flag --verison; usage: deploy SERVICE --env ENV --version VERSION\n"
    )


def test_help_lists_the_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == [
        "create-service",
        "scale",
        "rollback",
        "status",
        "deploy",
        "help",
    ]
    assert platform_main(["help", "scale"]) == 0
    assert capsys.readouterr().out.startswith("scale SERVICE --replicas N --env ENV")


def test_create_service_runs_the_default_golden_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from backends.workspace import DEMO_WORKSPACE_DIR

    root = tmp_path / "acme"
    shutil.copytree(DEMO_WORKSPACE_DIR, root)
    code = platform_main(
        [
            "--workspace",
            str(root),
            "create-service",
            "--name",
            "ledger-sync",
            "--language",
            "go",
            "--owner",
            "team-payments",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "Running template:default/microservice-golden-path" in out or "microservice-golden-path" in out
    entity = load_catalog(load_workspace(str(root))).get("ledger-sync", default_kind="Component")
    assert entity is not None and entity.owner.endswith("team-payments")
