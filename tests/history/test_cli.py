"""``idp-console history``, the ``history:`` setting and ``doctor``, as a user meets them: one line
per problem, exit 2, never a traceback, never a password."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from backends.deploy.events import Outcome, Stage, StageStarted
from backends.deploy.history import DeployHistory, open_history
from backends.history.schema import LATEST
from console.cli import main
from tests.history.conftest import workspace_with
from tests.history.test_store import T0, record
from tests.pg import TEST_PASSWORD, free_port


def write_workspace(root: Path, history: str | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["name: t"]
    if history is not None:
        lines.append(f"history: {json.dumps(history)}")
    (root / "idp-console.yaml").write_text("\n".join(lines) + "\n")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def seed_sqlite(history: DeployHistory) -> None:
    for index in range(3):
        deploy_id = f"d-{index}"
        history.start(record(deploy_id, started_at=T0 + index * 100))
        for step in range(4):
            history.append(StageStarted(deploy_id, at=T0 + index * 100 + step, stage=Stage.CANARY, step=step))
        history.finish(deploy_id, Outcome.SUCCEEDED, "v2", at=T0 + index * 100 + 50)
    history.record_feedback("jane", 9, "quick", at=T0)
    history.record_scaffold("component:default/orders", "microservice-golden-path", "jane", at=T0)
    history.request_control("d-0", "pause", "omar")


def test_migrate_copies_every_table_keeping_ids_and_a_rerun_copies_nothing(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = write_workspace(tmp_path / "ws", None)  # the default: SQLite in the state dir
    source = DeployHistory()
    seed_sqlite(source)

    code, out, err = run(capsys, "--workspace", str(workspace), "history", "migrate", "--to", pg_url)
    assert code == 0, err
    assert (
        "copied 21 rows (deploys 3, outcomes 3, events 12, feedback 1, scaffolds 1, controls 1, "
        "infra_applies 0, chat_audit 0)" in out
    )
    assert "history migrate: events 12/12" in err  # the progress line
    assert TEST_PASSWORD not in out + err

    target = open_history(workspace_with(tmp_path, pg_url))
    assert target.records(limit=10) == source.records(limit=10)
    assert target.events_after("d-1", 0) == source.events_after("d-1", 0)  # same seqs, same events
    assert target.query('SELECT id, at, "user", score, comment FROM feedback') == source.query(
        'SELECT id, at, "user", score, comment FROM feedback'
    )
    assert target.controls_after("d-0") == source.controls_after("d-0")
    next_id = target.request_control("d-1", "abort", "jane")  # ids continue after the copied ones
    assert next_id > source.controls_after("d-0")[-1].id

    code, out, err = run(capsys, "--workspace", str(workspace), "history", "migrate", "--to", pg_url)
    assert code == 0, err
    assert "copied 0 rows" in out and "21 were already there" in out
    assert len(target.events("d-1")) == 4
    target.close()


def test_history_info_names_the_store_and_its_schema_version(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = write_workspace(tmp_path / "ws", pg_url)
    code, out, err = run(capsys, "--workspace", str(workspace), "history", "info")
    assert code == 0, err
    assert out.splitlines()[0] == f"postgresql {pg_url} (schema version {LATEST})"
    assert "deploys 0" in out


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgresql://jane:hunter2@db.example/history", "the URL holds a password"),
        ("postgresql://jane@db.example:notaport/history", "not a valid postgresql:// URL"),
        ("postgresql://jane@db.example:5432/", "names no database"),
        ("mysql://jane@db.example/history", "unknown store 'mysql'"),
        ("postgresql://jane@db.example/history?password=hunter2", "unknown option 'password'"),
    ],
)
def test_a_bad_history_setting_is_one_line_with_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, expected: str
) -> None:
    workspace = write_workspace(tmp_path / "ws", value)
    code, out, err = run(capsys, "--workspace", str(workspace), "history", "info")
    assert code == 2
    assert err.startswith(f"idp-console: {workspace / 'idp-console.yaml'}:2: history: ")
    assert expected in err and len(err.strip().splitlines()) == 1
    assert "hunter2" not in err and "Traceback" not in err


def test_a_wrong_password_is_one_line_without_the_password(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_HISTORY", "wrong-pass-42")
    workspace = write_workspace(tmp_path / "ws", pg_url)
    code, out, err = run(capsys, "--workspace", str(workspace), "history", "info")
    assert code == 2
    assert f"the history store {pg_url} refused the login" in err
    assert len(err.strip().splitlines()) == 1
    assert "wrong-pass-42" not in err + out and "Traceback" not in err


def test_a_newer_schema_is_one_line_naming_both_versions(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = write_workspace(tmp_path / "ws", pg_url)
    assert run(capsys, "--workspace", str(workspace), "history", "info")[0] == 0
    with psycopg.connect(pg_url, password=TEST_PASSWORD, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version VALUES (%s, 0)", (LATEST + 1,))
    code, out, err = run(capsys, "--workspace", str(workspace), "history", "info")
    assert code == 2
    assert f"schema version {LATEST + 1}, newer than this idp-console's {LATEST}" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def doctor_history(capsys: pytest.CaptureFixture[str], workspace: Path) -> dict:
    _code, out, _err = run(capsys, "--workspace", str(workspace), "doctor", "-o", "json")
    checks = [json.loads(line) for line in out.splitlines() if line.strip()]
    return next(check for check in checks if check["area"] == "history")


def test_doctor_reports_the_store_and_whether_it_answers(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    check = doctor_history(capsys, write_workspace(tmp_path / "ws", pg_url))
    assert check["status"] == "ok" and check["detail"] == f"postgresql {pg_url} (empty)"

    down = f"postgresql://idp_test@127.0.0.1:{free_port()}/history"
    check = doctor_history(capsys, write_workspace(tmp_path / "ws2", down))
    assert check["status"] == "fail"
    assert check["detail"] == f"cannot reach the history store {down}: connection refused"


class _Keyring:
    """A secret store standing in for the OS keyring (the same SecretStore protocol)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets

    def get(self, name: str) -> str | None:
        return self.secrets.get(name)

    def set(self, name: str, value: str) -> None:
        self.secrets[name] = value


def test_the_password_comes_from_the_secret_store_when_the_environment_has_none(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDP_CONSOLE_SECRET_HISTORY")
    history = open_history(workspace_with(tmp_path, pg_url), secrets=_Keyring({"history": TEST_PASSWORD}))
    history.ping()
    history.record_feedback("jane", 8)
    assert history.query("SELECT score FROM feedback") == [(8,)]
    history.close()
