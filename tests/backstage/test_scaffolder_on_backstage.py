"""Templates from a Backstage, run on its scaffolder (``scaffolder.runOn: backstage``)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.catalog import load_catalog
from backends.catalog.backstage import forget_mirrors
from backends.scaffolder import Services, TaskRunner, TemplateLibrary, load_template_file
from backends.scaffolder.backstage_runner import BackstageTaskRunner, task_runner
from backends.scaffolder.events import StepFinished, StepLog, StepStarted, TaskFinished, TaskStarted
from backends.workspace import load_workspace
from tests.backstage.conftest import TOKEN, Backstage

pytestmark = pytest.mark.xdist_group("backstage")


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_BACKSTAGE", TOKEN)
    yield
    forget_mirrors()


def backstage_workspace(tmp_path: Path, url: str) -> Path:
    (tmp_path / "idp-console.yaml").write_text(
        "name: backstage\n"
        f"catalog:\n  sources:\n    - type: backstage\n      url: {url}\n"
        "scaffolder:\n  runOn: backstage\n"
    )
    return tmp_path


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_template_from_backstage_runs_on_its_scaffolder_with_the_local_step_list(
    backstage: Backstage, tmp_path: Path
) -> None:
    workspace = load_workspace(backstage_workspace(tmp_path, backstage.url))
    catalog = load_catalog(workspace)
    template = TemplateLibrary.discover(workspace, catalog).find("hello-backstage")
    runner = task_runner(workspace, Services())
    assert isinstance(runner, BackstageTaskRunner)

    events = list(runner.create_task(template, {"name": "demo-svc", "owner": "team-a"}).run())

    assert isinstance(events[0], TaskStarted)
    assert [s.id for s in events[0].steps] == ["fetch", "log"]
    steps = [(type(e).__name__, e.step_id) for e in events if isinstance(e, (StepStarted, StepFinished))]
    assert steps == [
        ("StepStarted", "fetch"),
        ("StepFinished", "fetch"),
        ("StepStarted", "log"),
        ("StepFinished", "log"),
    ]
    assert all(e.status == "done" for e in events if isinstance(e, StepFinished))
    logs = [e.message for e in events if isinstance(e, StepLog) and e.step_id == "log"]
    assert "Rendered demo-svc" in logs
    assert not any("\x1b[" in e.message for e in events if isinstance(e, StepLog))  # colours stripped
    finished = events[-1]
    assert isinstance(finished, TaskFinished)
    assert finished.status == "completed", finished.error
    assert finished.outputs["text"][0]["content"] == "Created demo-svc"


def test_a_template_renders_the_same_files_on_backstage_and_here(
    backstage: Backstage, tmp_path: Path
) -> None:
    template = load_template_file(backstage.catalog_dir / "template" / "template.yaml")
    values = {"name": "same-svc", "owner": "team-b"}
    here, there = tmp_path / "here", tmp_path / "there"

    local = list(TaskRunner(services=Services()).create_task(template, values, keep_dir=here).run())
    remote = list(
        BackstageTaskRunner(backstage.url, TOKEN)
        .create_task(template, values, dry_run=True, keep_dir=there)
        .run()
    )

    assert local[-1].status == "completed" and remote[-1].status == "completed", (local[-1], remote[-1])
    assert files_under(there) == files_under(here)
    assert b"Owned by team-b." in files_under(there)["README.md"]


def test_an_unreachable_backstage_fails_the_run_with_one_line(backstage: Backstage) -> None:
    template = load_template_file(backstage.catalog_dir / "template" / "template.yaml")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    events = list(
        BackstageTaskRunner(f"http://127.0.0.1:{port}", TOKEN).create_task(template, {"name": "x"}).run()
    )
    finished = events[-1]
    assert isinstance(finished, TaskFinished) and finished.status == "failed"
    assert (
        finished.error is not None
        and f"Backstage at http://127.0.0.1:{port} is unreachable" in finished.error
    )
    assert "\n" not in finished.error


def test_a_refused_token_fails_the_run_saying_so(backstage: Backstage) -> None:
    template = load_template_file(backstage.catalog_dir / "template" / "template.yaml")
    events = list(BackstageTaskRunner(backstage.url, "wrong").create_task(template, {"name": "x"}).run())
    assert events[-1].status == "failed"
    assert "refused the token (401)" in events[-1].error


def test_run_on_backstage_without_a_backstage_source_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "idp-console.yaml").write_text("name: x\nscaffolder:\n  runOn: backstage\n")
    from backends.scaffolder.errors import ScaffolderError

    with pytest.raises(ScaffolderError, match="needs a catalog source of type: backstage"):
        task_runner(load_workspace(tmp_path), Services())


def test_an_integer_backstage_would_round_is_named_before_the_run(
    backstage: Backstage, tmp_path: Path
) -> None:
    template = load_template_file(backstage.catalog_dir / "template" / "template.yaml")
    values = {"name": "big-svc", "owner": "team-a", "account": {"ids": [12345678901234567890]}}
    events = list(
        BackstageTaskRunner(backstage.url, TOKEN)
        .create_task(template, values, dry_run=True, keep_dir=tmp_path / "out")
        .run()
    )
    warnings = [e.message for e in events if isinstance(e, StepLog) and e.level == "warning"]
    assert warnings == [
        "account.ids[0] = 12345678901234567890 is beyond 2**53: Backstage reads it as "
        "12345678901234567000 (pass it as a string to keep every digit)"
    ]
    # The fidelity corpus recorded that very rounding from Backstage (case native-big-number).
    recorded = Path(__file__).parents[1] / "scaffolder/fidelity/cases/native-big-number/recorded/result.json"
    assert '"a": 12345678901234567000' in recorded.read_text()
    assert events[-1].status == "completed", events[-1].error
