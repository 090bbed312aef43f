"""Bad input: paths escaping the workspace, hostile skeleton symlinks, output caps, the file glob."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from backends.scaffolder import Limits, TaskRunner
from backends.scaffolder.files import GlobSet
from tests.scaffolder.helpers import finished, run, step_status, write_template


def single_step(tmp_path: Path, step: dict[str, Any], files: dict[str, str] | None = None) -> Any:
    base = {"id": "seed", "action": "fetch:plain", "input": {"url": "./s"}}
    return write_template(
        tmp_path / "t", [base, {"id": "bad", **step}], files={"s/a.txt": "a", **(files or {})}
    )


@pytest.mark.parametrize(
    "step",
    [
        {"action": "fetch:plain", "input": {"url": "./s", "targetPath": "../escaped"}},
        {"action": "fetch:plain", "input": {"url": "./s", "targetPath": "/tmp/escaped-absolute"}},
        {"action": "fetch:plain:file", "input": {"url": "./s/a.txt", "targetPath": "a/../../../x.txt"}},
        {"action": "fetch:template:file", "input": {"url": "./s/a.txt", "targetPath": "${{ '../' * 3 }}x"}},
        {"action": "fs:rename", "input": {"files": [{"from": "a.txt", "to": "../../moved.txt"}]}},
        {"action": "fs:rename", "input": {"files": [{"from": "/etc/hostname", "to": "h"}]}},
        {"action": "fs:delete", "input": {"files": ["../*"]}},
        {"action": "fs:readdir", "input": {"paths": ["/"]}},
        {"action": "catalog:write", "input": {"filePath": "/tmp/evil.yaml", "entity": {"kind": "X"}}},
        {"action": "publish:git", "input": {"repoUrl": str(Path("/tmp/x.git")), "sourcePath": "../"}},
    ],
)
def test_paths_outside_the_workspace_are_refused(tmp_path: Path, step: dict[str, Any]) -> None:
    events = run(single_step(tmp_path, step), keep_dir=tmp_path / "out")
    assert step_status(events)["bad"] == "failed"
    error = finished(events).error or ""
    assert "outside the task workspace" in error or "absolute" in error, error
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "moved.txt").exists()
    assert not Path("/tmp/escaped-absolute").exists() and not Path("/tmp/evil.yaml").exists()


def test_rendered_skeleton_names_cannot_escape(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [
            {
                "id": "fetch",
                "action": "fetch:template",
                "input": {"url": "./s", "values": {"dir": "../../pwned"}},
            }
        ],
        files={"s/${{ values.dir }}/x.txt": "x"},
    )
    events = run(template, keep_dir=tmp_path / "out")
    assert "outside the workspace" in (finished(events).error or "")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside.txt"])
@pytest.mark.parametrize("action", ["fetch:template", "fetch:plain"])
def test_skeleton_symlinks_pointing_outside_are_refused(tmp_path: Path, target: str, action: str) -> None:
    (tmp_path / "outside.txt").write_text("secret stuff")
    template = write_template(
        tmp_path / "t", [{"id": "fetch", "action": action, "input": {"url": "./s"}}], files={"s/ok.txt": "ok"}
    )
    os.symlink(target, tmp_path / "t/s/link")
    events = run(template, keep_dir=tmp_path / "out")
    assert step_status(events)["fetch"] == "failed"
    assert "points outside" in (finished(events).error or "")
    assert not (tmp_path / "out/link").exists()


def test_symlinks_inside_the_skeleton_are_copied_as_links(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t", [{"action": "fetch:template", "input": {"url": "./s"}}], files={"s/docs/real.md": "r"}
    )
    os.symlink("docs/real.md", tmp_path / "t/s/alias.md")
    assert finished(run(template, keep_dir=tmp_path / "out")).status == "completed"
    assert os.readlink(tmp_path / "out/alias.md") == "docs/real.md"
    assert (tmp_path / "out/alias.md").read_text() == "r"


def test_file_count_cap(tmp_path: Path) -> None:
    files = {f"s/f{i}.txt": str(i) for i in range(20)}
    template = write_template(
        tmp_path / "t", [{"id": "fetch", "action": "fetch:template", "input": {"url": "./s"}}], files=files
    )
    events = list(TaskRunner(limits=Limits(max_files=10)).run(template, {}))
    assert "more than 10 files" in (finished(events).error or "")


def test_byte_caps(tmp_path: Path) -> None:
    template = write_template(
        tmp_path / "t",
        [{"id": "fetch", "action": "fetch:template", "input": {"url": "./s", "values": {"n": 50}}}],
        files={"s/big.txt": "{% for i in range(values.n) %}0123456789{% endfor %}", "s/b.txt": "x" * 300},
    )
    per_file = list(TaskRunner(limits=Limits(max_file_bytes=400)).run(template, {}))
    assert "exceeds the file cap" in (finished(per_file).error or "")
    total = list(TaskRunner(limits=Limits(max_total_bytes=700)).run(template, {}))
    assert "more than 700 bytes" in (finished(total).error or "")


def test_glob_set() -> None:
    globs = GlobSet([".github/workflows/*", "static/**", "!static/keep.txt", "*.{png,jpg}"], dot=True)
    assert globs.matches(".github/workflows/ci.yaml")
    assert not globs.matches(".github/dependabot.yml")
    assert globs.matches("static/a/b/c.css")
    assert not globs.matches("static/keep.txt")
    assert globs.matches("logo.png") and globs.matches("x.jpg") and not globs.matches("dir/logo.png")
    assert not GlobSet([], dot=True)
    # Dot names: the scaffolder's `*` matches them (globby, dot: true); node glob's default does not.
    assert GlobSet(["*"], dot=True).matches(".env") and not GlobSet(["*"], dot=False).matches(".env")
    assert GlobSet(["**/*.yaml"], dot=True).matches(".config/a.yaml")
    assert not GlobSet(["**/*.yaml"], dot=False).matches(".config/a.yaml")
