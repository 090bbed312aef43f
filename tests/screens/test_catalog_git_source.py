"""A git catalog source whose remote disappears: the last good clone stays, and the screen says so."""

from __future__ import annotations

import shutil
from pathlib import Path

import git

from tests.screens.helpers import until, wait_for_catalog, workspace_app

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: from-git
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


def make_remote(path: Path) -> None:
    repo = git.Repo.init(path, initial_branch="main")
    (path / "catalog-info.yaml").write_text(COMPONENT, encoding="utf-8")
    repo.index.add(["catalog-info.yaml"])
    actor = git.Actor("Test", "test@example.com")
    repo.index.commit("catalog", author=actor, committer=actor)


async def test_unreachable_remote_keeps_last_good_clone_and_warns(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    make_remote(remote)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "idp-console.yaml").write_text(
        f"name: git test\ncatalog:\n  sources:\n    - type: git\n      url: {remote}\n      ref: main\n",
        encoding="utf-8",
    )

    first = workspace_app(workspace)
    async with first.run_test(size=(120, 30)) as pilot:
        await wait_for_catalog(pilot)
        assert [e.name for e in first.catalog.entities] == ["from-git"]

    shutil.move(remote, tmp_path / "gone")  # the remote is now unreachable

    second = workspace_app(workspace)
    async with second.run_test(size=(120, 30)) as pilot:
        await wait_for_catalog(pilot)
        assert [e.name for e in second.catalog.entities] == ["from-git"]
        # The list may come from the warm snapshot first; the fetch that fails (and warns) runs
        # when the sources are revalidated behind it.
        await until(
            pilot,
            lambda: any("could not fetch" in n.message.lower() for n in second._notifications),
            what="the could-not-fetch warning",
        )
        assert [e.name for e in second.catalog.entities] == ["from-git"]  # the last good clone
        warnings = [n for n in second._notifications if n.severity == "warning"]
        assert any("could not fetch" in n.message.lower() for n in warnings), [
            n.message for n in second._notifications
        ]
