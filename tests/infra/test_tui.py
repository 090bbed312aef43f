"""The Infra tab by keyboard: a real infra repository (bare, in tmp_path), the simulated cluster over
HTTP, the TUI driven with Pilot. The seed's example: payment-service gets a small LRU Redis cache."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.pilot import Pilot

from backends.infra.repo import ensure_demo_repo
from console.app import IdpConsoleApp
from screens.entity import EntityScreen
from screens.infra import InfraPane
from screens.infra_edit import InfraEditScreen, InfraPlanScreen
from tests.infra.conftest import Infra, wait_for
from tests.screens.helpers import screen_text, until, wait_for_catalog, workspace_app

SIZE = (120, 40)
PAYMENT_COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payment-service
  description: Takes payments.
spec: {type: service, lifecycle: production, owner: team-payments}
"""


def tui_workspace(infra: Infra) -> Path:
    """The infra fixture's workspace with a catalog holding payment-service."""
    catalog = infra.workspace / "catalog"
    catalog.mkdir(exist_ok=True)
    (catalog / "payment-service.yaml").write_text(PAYMENT_COMPONENT)
    config_file = infra.workspace / "idp-console.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["catalog"] = {"sources": [{"type": "dir", "path": "catalog"}]}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return infra.workspace


def _pane(app: IdpConsoleApp) -> InfraPane:
    return app.screen.query_one(InfraPane)


def _loaded(app: IdpConsoleApp) -> bool:
    return isinstance(app.screen, EntityScreen) and _pane(app).view is not None


async def _infra_tab(pilot: Pilot) -> None:
    """enter on the catalog's only entity, then i: its Infra tab, loaded."""
    app = pilot.app
    assert isinstance(app, IdpConsoleApp)
    await wait_for_catalog(pilot)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, EntityScreen), what="the entity")
    await pilot.press("i")
    await until(pilot, lambda: _loaded(app), what="the Infra tab")


async def _tab_to(pilot: Pilot, box: str) -> None:
    """tab until the control of the field box ``box`` has the focus, as a user walks the form."""
    for _ in range(20):
        focused = pilot.app.focused
        if focused is not None and box in {a.id for a in focused.ancestors}:
            return
        await pilot.press("tab")
    pytest.fail(f"tab never reaches {box} (focus: {pilot.app.focused})")


def _refs(infra: Infra) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(infra.repo), "for-each-ref", "--format=%(refname)"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


async def test_the_seed_example_adds_a_cache_by_keyboard_up_to_the_change_request(infra: Infra) -> None:
    # ~10 s: the whole example (an apply, :infra typed key by key, the form walked field by field,
    # the plan and the push of the change request) is the point of this test.
    code, _, err = infra.cli("infra", "apply")
    assert code == 0, err
    app = workspace_app(tui_workspace(infra))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"infra payment-service", "enter")
        await until(pilot, lambda: _loaded(app), what="the Infra tab")
        text = screen_text(app)
        assert "infrastructure/payment-service/resources.yaml at main" in text
        assert "owner team-payments · 98.00 /month" in text
        assert "replicas 4 · cpu 500m · memory 512Mi" in text
        assert "type postgres · size small · backups daily" in text
        assert "none: the cluster runs what the file says" in text
        assert "✔ pass  production-replicas" in text

        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, InfraEditScreen), what="the form")
        screen = app.screen
        assert isinstance(screen, InfraEditScreen)
        await until(pilot, lambda: "Cache" in screen_text(app), what="the form's fields")
        # Focus walks compute's fields and database's to the Cache checkbox; space turns it on.
        await _tab_to(pilot, "field-cache")
        await pilot.press("space")
        await until(pilot, lambda: screen.model.values["cache"] is True, what="the cache turned on")
        await until(pilot, lambda: "Eviction" in screen_text(app), what="the cache's fields")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, InfraPlanScreen), what="the plan")
        plan_screen = app.screen
        assert isinstance(plan_screen, InfraPlanScreen)
        await until(pilot, lambda: plan_screen.plan is not None, what="the plan to load")
        text = screen_text(app)
        assert "payment-service (team-payments): 98.00 → 113.00 /month (+15.00)" in text
        assert "+ create statefulsets/payment-service-cache" in text
        assert "team-payments: 352.00 → 367.00 /month" in text
        assert "✔ pass  cache-size-approval" in text
        assert "refs/pull/" not in _refs(infra)  # nothing pushed before the user asks

        await pilot.press("o")
        await until(pilot, lambda: plan_screen.request is not None, what="the change request")
        text = screen_text(app)
        assert "✔ Change request #1 opened: branch infra/payment-service-1 (refs/pull/1/head" in text
        assert "refs/pull/1/head" in _refs(infra)
        blob = "refs/pull/1/head:infrastructure/payment-service/resources.yaml"
        pushed = subprocess.run(
            ["git", "--git-dir", str(infra.repo), "show", blob], check=True, capture_output=True, text=True
        ).stdout
        assert "  cache:    {type: redis, size: small, eviction: lru}" in pushed

        # The review approves; on a plain git server m merges it (its plan checked again).
        await pilot.press("m")
        await until(pilot, lambda: plan_screen.merged is not None, what="the merge")
        assert "✔ Change request #1 merged into main (fast-forward" in screen_text(app)
        on_main = subprocess.run(
            ["git", "--git-dir", str(infra.repo), "show", "main:" + blob.split(":", 1)[1]],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        assert on_main == pushed

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, EntityScreen), what="back on the service")
        # The tab reads main again: the cache is in the file, and not applied yet.
        await until(pilot, lambda: "not applied: apply creates it" in screen_text(app), what="the reload")
        assert "type redis · size small · eviction lru" in screen_text(app)


async def test_a_denied_edit_is_marked_and_a_bad_answer_keeps_the_form(infra: Infra) -> None:
    app = workspace_app(tui_workspace(infra))
    async with app.run_test(size=SIZE) as pilot:
        await _infra_tab(pilot)
        # Nothing applied in this cluster: every object is drift (apply would create the database).
        assert "not applied: apply creates it" in screen_text(app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, InfraEditScreen), what="the form")
        screen = app.screen
        assert isinstance(screen, InfraEditScreen)
        await until(pilot, lambda: "Replicas" in screen_text(app), what="the form's fields")
        await _tab_to(pilot, "field-compute_replicas")
        await pilot.press("ctrl+a", "ctrl+k", "1", "tab", "ctrl+a", "ctrl+k", *"500 m")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "is not a Kubernetes quantity" in screen_text(app), what="the error")
        assert isinstance(app.screen, InfraEditScreen)
        assert screen.model.values["compute.cpu"] == "500 m"
        assert screen.model.values["compute.replicas"] == "1"
        await pilot.press("backspace", "backspace", "m")  # "500 m" → "500m"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, InfraPlanScreen), what="the plan")
        plan_screen = app.screen
        assert isinstance(plan_screen, InfraPlanScreen)
        await until(pilot, lambda: plan_screen.plan is not None, what="the plan to load")
        text = screen_text(app)
        assert "✖ deny  production-replicas: production runs at least 2 replicas" in text
        assert "✖ denied by 1 policy verdict(s)" in text
        await pilot.press("escape")  # back to the form: the answers are still there
        await until(pilot, lambda: app.screen is screen, what="the form again")
        assert screen.model.values["compute.replicas"] == "1"


def _editor(tmp_path: Path, script: str) -> str:
    path = tmp_path / "editor.sh"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_E_edits_the_yaml_and_an_invalid_file_says_its_line_and_is_kept(
    infra: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = workspace_app(tui_workspace(infra))
    # An "editor" that makes the database huge (line 8 of the file).
    monkeypatch.setenv("VISUAL", _editor(tmp_path, 'sed -i "s/size: small/size: huge/" "$1"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await _infra_tab(pilot)
        pane = _pane(app)
        await pilot.press("E")
        await until(pilot, lambda: pane.yaml_draft is not None, what="the edited text")
        assert "size: huge" in (pane.yaml_draft or "")
        messages = [n.message for n in app._notifications]
        assert any(
            "infrastructure/payment-service/resources.yaml:8: spec.database.size: unknown size 'huge'" in m
            for m in messages
        ), messages
        assert isinstance(app.screen, EntityScreen)
        # The next E opens the user's text, not the file again: this editor fixes it.
        monkeypatch.setenv("VISUAL", _editor(tmp_path, 'sed -i "s/size: huge/size: medium/" "$1"\n'))
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, InfraPlanScreen), what="the plan")
        plan_screen = app.screen
        assert isinstance(plan_screen, InfraPlanScreen)
        assert "size: medium" in plan_screen.text
        await until(pilot, lambda: plan_screen.plan is not None, what="the plan to load")
        assert "+ create statefulsets/payment-service-db" in screen_text(app)
    assert os.environ["VISUAL"].endswith("editor.sh")


def test_snapshot_infra_tab_with_drift_and_verdicts(
    infra: Infra, snap_compare: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commit shown on the tab: the same repository (dates fixed) on every run.
    shutil.rmtree(infra.repo)
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_DATE", "2026-01-05T10:00:00+00:00")
    ensure_demo_repo(str(infra.repo))
    code, _, err = infra.cli("infra", "apply")
    assert code == 0, err
    wait_for(
        lambda: (
            (s := infra.cluster.get("statefulsets", "production", "payment-service-db"))
            and (s.get("status") or {}).get("readyReplicas") == 1
        )
    )
    # Scaled by hand since: the tab shows it as drift.
    infra.cluster.patch("deployments", "production", "payment-service", {"spec": {"replicas": 2}})
    wait_for(
        lambda: (
            (status := infra.cluster.get("deployments", "production", "payment-service").get("status") or {})
            and (status.get("replicas"), status.get("readyReplicas")) == (2, 2)
        )
    )

    async def run_before(pilot: Pilot) -> None:
        await _infra_tab(pilot)
        app = pilot.app
        assert isinstance(app, IdpConsoleApp)
        await until(pilot, lambda: "✔ 2/2 ready" in screen_text(app), what="the scaled Deployment")
        await pilot.wait_for_scheduled_animations()  # the tab underline slides to Infra

    assert snap_compare(workspace_app(tui_workspace(infra)), terminal_size=SIZE, run_before=run_before)
