"""The golden path proposes the new service's ``resources.yaml`` to the workspace's infra repository
(a change request with a clean plan), and says so when the workspace has no ``infra:``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.infra.conftest import Infra

FILE = "infrastructure/ledger-api/resources.yaml"
NEW = ["--set", "name=ledger-api", "--set", "owner=group:default/team-payments", "--set", "language=python"]


def _with_git_server(infra: Infra, tmp_path: Path, *, infra_section: bool = True) -> None:
    config_file = infra.workspace / "idp-console.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["git"] = {"remoteBase": str(tmp_path / "git")}
    if not infra_section:
        del config["infra"]
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))


def _requested(infra: Infra) -> str:
    """The service's file on the change request's ref."""
    return subprocess.run(
        ["git", "--git-dir", str(infra.repo), "show", f"refs/pull/1/head:{FILE}"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def test_the_golden_path_opens_a_change_request_with_the_services_resources(
    infra: Infra, tmp_path: Path
) -> None:
    _with_git_server(infra, tmp_path)
    code, out, err = infra.cli("scaffold", "microservice-golden-path", *NEW, "--set", "database=postgres")
    assert code == 0, out + err
    assert "✓ infra: Request its infrastructure — done" in out
    assert "Change request #1: branch infra/ledger-api-1 (refs/pull/1/head)" in out
    assert "Cost: 0.00 → 47.00 /month" in out
    assert "Plan clean: 4 policy verdict(s), none denies" in out
    file = _requested(infra)
    resources = yaml.safe_load(file)
    assert resources["metadata"] == {"name": "ledger-api", "owner": "team-payments"}
    assert resources["spec"] == {
        "compute": {"replicas": 2, "cpu": "100m", "memory": "256Mi"},
        "database": {"type": "postgres", "size": "small"},
    }
    code, out, err = infra.cli("infra", "plan", "ledger-api", "--ref", "refs/pull/1/head")
    assert code == 0, err
    assert "+ create statefulsets/ledger-api-db" in out and "✖" not in out


def test_a_mongodb_service_gets_compute_only_and_says_why(infra: Infra, tmp_path: Path) -> None:
    _with_git_server(infra, tmp_path)
    code, out, err = infra.cli("scaffold", "microservice-golden-path", *NEW, "--set", "database=mongodb")
    assert code == 0, out + err
    assert "Database mongodb: the infra repository provisions postgres, mysql only" in out
    file = _requested(infra)
    assert "database" not in yaml.safe_load(file)["spec"]


def test_without_an_infra_section_the_step_is_skipped_and_says_so(infra: Infra, tmp_path: Path) -> None:
    _with_git_server(infra, tmp_path, infra_section=False)
    code, out, err = infra.cli("scaffold", "microservice-golden-path", *NEW, "--set", "database=none")
    assert code == 0, out + err
    assert "No infra: section in idp-console.yaml: no resources.yaml is requested" in out
    assert "infra: Request its infrastructure — skipped" in out
    refs = subprocess.run(
        ["git", "--git-dir", str(infra.repo), "for-each-ref"], check=True, capture_output=True, text=True
    ).stdout
    assert "refs/pull/" not in refs
