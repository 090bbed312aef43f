"""The state dir and the deploy history are private, and a bad IDP_CONSOLE_HOME is one line."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import paths
from backends.deploy.history import DeployHistory
from console.cli import main


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most accounts have: without our own modes, files would be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("IDP_CONSOLE_HOME", str(home))
    return home


def test_home_that_is_a_file_is_one_line_exit_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home.write_text("not a directory\n")
    assert main(["catalog", "list"]) == 2
    assert capsys.readouterr().err == f"idp-console: IDP_CONSOLE_HOME={home}: not a directory\n"


def test_tui_with_a_home_that_is_a_file_is_one_line_exit_2(home: Path) -> None:
    home.write_text("not a directory\n")
    controller, terminal = os.openpty()  # the TUI only starts on a terminal
    try:
        done = subprocess.run(
            [sys.executable, "-m", "console.cli"],
            stdin=terminal,
            stdout=terminal,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
            env={**os.environ, "IDP_CONSOLE_HOME": str(home)},
            timeout=120,  # a safety net against a TUI that starts anyway, not a measurement
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert (done.returncode, done.stderr) == (2, f"idp-console: IDP_CONSOLE_HOME={home}: not a directory\n")


def test_home_with_a_missing_parent_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "typo" / "home"
    monkeypatch.setenv("IDP_CONSOLE_HOME", str(home))
    assert main(["catalog", "list"]) == 2
    assert capsys.readouterr().err == (
        f"idp-console: IDP_CONSOLE_HOME={home}: its parent {home.parent} is not an existing directory\n"
    )
    assert not home.parent.exists()  # nothing was created on the way


def test_home_with_a_file_where_the_state_dir_goes_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home.mkdir()
    (home / "state").write_text("")
    assert main(["catalog", "list"]) == 2
    assert capsys.readouterr().err == (
        f"idp-console: cannot use {home / 'state'}: it exists and is not a directory\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_home_is_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home.mkdir()
    home.chmod(0o500)
    try:
        assert main(["catalog", "list"]) == 2
    finally:
        home.chmod(0o700)
    err = capsys.readouterr().err
    assert err.startswith(f"idp-console: cannot create {home / 'state'}: ") and err.count("\n") == 1


def test_state_dir_is_created_private_and_tightened(home: Path) -> None:
    assert _mode(paths.state_dir()) == 0o700
    (home / "state").chmod(0o755)  # as an older version left it
    assert _mode(paths.state_dir()) == 0o700


def test_history_database_and_its_wal_are_owner_only(home: Path) -> None:
    history = DeployHistory()
    assert history.get("none") is None
    files = [history.path, *(history.path.with_name(history.path.name + s) for s in ("-wal", "-shm"))]
    present = [f for f in files if f.exists()]
    assert history.path in present and len(present) == 3  # WAL mode: all three exist while open
    assert {f.name: _mode(f) for f in present} == {f.name: 0o600 for f in present}


def test_history_files_left_world_readable_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        (tmp_path / name).chmod(0o644)
    history = DeployHistory(path)
    modes = {name: _mode(tmp_path / name) for name in (path.name, path.name + "-wal", path.name + "-shm")}
    db.close()
    assert history.path == path
    assert modes == dict.fromkeys(modes, 0o600)


def test_an_existing_private_file_is_never_opened_again(tmp_path: Path) -> None:
    """Opening and closing a file SQLite has open drops SQLite's locks (POSIX): only chmod it."""
    import threading

    from backends.paths import private_file

    fifo = tmp_path / "history.sqlite3"
    os.mkfifo(fifo, 0o644)  # opening it for writing would block: a call that opens it never returns
    done = threading.Event()
    worker = threading.Thread(target=lambda: (private_file(fifo), done.set()), daemon=True)
    worker.start()
    finished = done.wait(10)
    if not finished:  # unblock the opener so the test process can end
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    assert finished
    assert stat.S_IMODE(fifo.stat().st_mode) == 0o600
