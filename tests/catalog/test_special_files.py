"""FIFOs, sockets, devices, symlink loops and links out of a source: one line each, never a hang."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from backends.catalog.reader import ReadOptions, read_documents
from backends.catalog.sources import DirSource, GitSource
from console.cli import main
from tests.fifo import make_fifo, unblocked

from .conftest import component
from .test_git import make_repo


def _socket(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    return server


def _device(path: Path) -> Path:
    """A character device: /dev/null's own node when we may create one, else a symlink to it."""
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        path.symlink_to("/dev/null")
    return path


def test_validate_directory_reports_each_special_file_and_validates_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "good.yaml").write_text(component("good"))
    fifo = make_fifo(tmp_path / "fifo.yaml")
    server = _socket(tmp_path / "sock.yaml")
    _device(tmp_path / "dev.yaml")
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    (tmp_path / "zz-good.yaml").write_text(component("also-good"))
    try:
        with unblocked(fifo):
            code = main(["catalog", "validate", "-o", "json", str(tmp_path)])
    finally:
        server.close()
    out, err = capsys.readouterr()
    assert err == ""
    verdicts = {Path(r["file"]).name: (r["valid"], r["errors"]) for r in json.loads(out)}
    assert verdicts == {
        "dev.yaml": (False, ["not a regular file (a device)"]),
        "fifo.yaml": (False, ["not a regular file (a FIFO)"]),
        "good.yaml": (True, []),
        "loop.yaml": (False, ["cannot read file: symlink loop"]),
        "sock.yaml": (False, ["not a regular file (a socket)"]),
        "zz-good.yaml": (True, []),
    }
    assert code == 1


def test_validate_a_fifo_named_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = make_fifo(tmp_path / "pipe.yaml")
    with unblocked(fifo):
        code = main(["catalog", "validate", str(fifo)])
    out, _ = capsys.readouterr()
    assert code == 1
    assert f"{fifo}:1" in out and "not a regular file (a FIFO)" in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any directory")
def test_validate_an_unreadable_directory_is_one_line_and_siblings_still_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    good = tmp_path / "good.yaml"
    good.write_text(component("good"))
    try:
        code = main(["catalog", "validate", "-o", "json", str(locked), str(good)])
    finally:
        locked.chmod(0o700)
    results = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(r["file"], r["valid"], r["errors"]) for r in results] == [
        (str(locked), False, ["cannot list directory: Permission denied"]),
        (str(good), True, []),
    ]


@pytest.mark.parametrize("kind", ["text", "json", "yaml"])
def test_placeholder_naming_a_fifo_is_an_error_on_that_entity(tmp_path: Path, kind: str) -> None:
    fifo = make_fifo(tmp_path / "data.txt")
    (tmp_path / "api.yaml").write_text(component("api", definition=f"{{${kind}: ./data.txt}}"))
    (tmp_path / "other.yaml").write_text(component("other"))
    with unblocked(fifo):
        results = list(
            read_documents([str(tmp_path / "api.yaml"), str(tmp_path / "other.yaml")], ReadOptions())
        )
    assert [(r.ref, r.valid) for r in results] == [
        ("component:default/api", False),
        ("component:default/other", True),
    ]
    assert results[0].errors == [
        f"Placeholder ${kind} could not read ./data.txt: not a regular file (a FIFO)"
    ]


def test_placeholder_naming_a_device_or_socket_is_an_error(tmp_path: Path) -> None:
    _device(tmp_path / "dev")
    server = _socket(tmp_path / "sock")
    (tmp_path / "a.yaml").write_text(
        component("a", definition="{$text: ./dev}") + "---\n" + component("b", definition="{$text: ./sock}")
    )
    try:
        results = list(read_documents([str(tmp_path / "a.yaml")], ReadOptions(root=str(tmp_path))))
    finally:
        server.close()
    assert [r.errors for r in results] == [
        ["Placeholder $text could not read ./dev: not a regular file (a device)"],
        ["Placeholder $text could not read ./sock: not a regular file (a socket)"],
    ]


def test_placeholder_symlink_that_leaves_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("top secret\n")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "innocent.txt").symlink_to(tmp_path / "secret.txt")
    (workspace / "api.yaml").write_text(component("api", definition="{$text: ./innocent.txt}"))
    [result] = read_documents([str(workspace / "api.yaml")], ReadOptions(root=str(workspace)))
    assert result.valid is False and "points outside the source root" in result.errors[0]
    assert "top secret" not in repr(result)


def test_a_workspace_file_that_links_out_of_its_source_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(component("smuggled"))
    workspace = tmp_path / "ws"
    (workspace / "catalog").mkdir(parents=True)
    (workspace / "catalog" / "ok.yaml").write_text(component("ok"))
    (workspace / "catalog" / "link.yaml").symlink_to(outside)
    resolved = DirSource(str(workspace / "catalog"), str(workspace)).resolve()
    results = list(read_documents(resolved.files, ReadOptions(root=resolved.root, label=resolved.label)))
    assert [(r.file, r.ref, r.valid) for r in results] == [
        ("catalog/link.yaml", None, False),
        ("catalog/ok.yaml", "component:default/ok", True),
    ]
    assert results[0].errors == [f"resolves to {outside}, outside the source root {workspace}; not read"]


def test_one_absolute_symlink_in_a_git_source_skips_only_that_file(tmp_path: Path) -> None:
    remote = make_repo(tmp_path / "remote", {"catalog-info.yaml": component("svc")})
    (remote / "passwd.yaml").symlink_to("/etc/passwd")
    (remote / "docs").mkdir()
    (remote / "docs" / "up.yaml").symlink_to("../../outside.yaml")
    subprocess.run(["git", "add", "-A"], cwd=remote, check=True)
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "links"], cwd=remote, check=True
    )
    source = GitSource(str(remote), "main", ("**/*.yaml",))
    for _ in range(2):  # the second sync reuses the extracted tree: the warning must stay
        files = source.resolve()
        assert [os.path.relpath(f, files.root) for f in files.files] == ["catalog-info.yaml"]
        assert files.warning == (
            "skipped 2 entries that would reach outside the checkout: "
            "docs/up.yaml (a link that points outside the repository), "
            "passwd.yaml (a symlink to an absolute path)"
        )
