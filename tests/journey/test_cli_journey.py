"""Issue 10's CLI path: from idea to production in four commands, on a copy of the demo workspace.

scaffold (golden path) → deploy staging → promote the lifecycle → deploy production, each exactly as
the scaffolder's "Next steps" print them, through ``console.cli.main`` and the simulated cluster.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import git
import pytest

from backends.workspace import DEMO_WORKSPACE_DIR
from console.cli import main


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "acme"
    shutil.copytree(DEMO_WORKSPACE_DIR, root)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, f"{' '.join(args)} → {code}\n{out}{err}"
    return out


def test_idea_to_production_in_four_commands(
    workspace: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The service; go and services without a database: tests/journey/test_first_deploy.py.
    # ~10 s: the whole journey, each deploy in its detached runner process (as a user runs it).
    name, language, database = "orders-api", "python", "postgres"
    ws = ["--workspace", str(workspace)]
    out = run(
        capsys,
        *ws,
        "scaffold",
        "microservice-golden-path",
        *("--set", f"name={name}", "--set", "owner=group:default/team-payments"),
        *("--set", f"language={language}", "--set", f"database={database}"),
    )
    # The next steps are the rest of the journey, verbatim.
    commands = re.findall(r"^idp-console (.+)$", out, flags=re.MULTILINE)
    assert commands == [
        f"deploy {name} --env staging --version v0.1.0",
        f"catalog promote {name} --lifecycle production",
        f"deploy {name} --env production --version v0.1.0",
    ]
    for command in commands:
        extra = ["--yes"] if "--env production" in command else []
        out = run(capsys, *ws, *command.split(), *extra)
    assert "Deployment complete" in out

    status = json.loads(run(capsys, *ws, "status", name, "--env", "production", "--output", "json"))
    stable = status["stable"]
    assert (stable["version"], stable["ready"], stable["desired"]) == ("v0.1.0", 3, 3)  # the overlay's 3
    assert status["last_deploy"]["outcome"] == "succeeded"
    # The promotion is a commit in the service's own repository, by the person who asked.
    remote = git.Repo(isolated_home / f"data/git/team-payments/{name}.git")
    head = remote.commit("main")
    assert head.message.startswith(f"catalog: promote {name} to lifecycle production")
    assert head.author.name == "Jane Doe"
    assert "lifecycle: production" in (head.tree / "catalog-info.yaml").data_stream.read().decode()
