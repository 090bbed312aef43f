"""One error path: a worker that fails shows a toast and a log line; the session goes on."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import paths
from screens.catalog import CatalogScreen
from screens.deploy import DeployScreen
from screens.docs import DocsScreen
from screens.scaffold import ScaffoldScreen
from tests.screens.helpers import (
    demo_app,
    screen_text,
    until,
    wait_for_catalog,
    workspace_app,
    write_workspace,
)

ROOT = Path(__file__).resolve().parents[2]
UI_PACKAGES = ("console", "screens", "widgets")

LOOPED_DOCS = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: looped
  annotations:
    backstage.io/techdocs-ref: dir:./loop
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


async def test_a_failing_docs_worker_shows_a_toast_and_the_app_keeps_running(tmp_path: Path) -> None:
    write_workspace(tmp_path, {"looped.yaml": LOOPED_DOCS})
    # A docs directory that is a symlink to itself: resolving it raises inside load_site.
    (tmp_path / "catalog" / "loop").symlink_to("loop")
    app = workspace_app(tmp_path)
    # notifications=True: the toast is drawn on screen as a user sees it, not only recorded.
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("colon", *"docs looped", "enter")
        await until(pilot, lambda: "load docs failed" in screen_text(app))
        assert app.is_running
        assert isinstance(app.screen, DocsScreen)
        assert "Symlink loop" in screen_text(app)

        # The session goes on: back to the catalog, which still answers the keyboard.
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CatalogScreen))
        assert app.is_running

    log = (paths.state_dir() / "errors.log").read_text(encoding="utf-8")
    assert "load docs failed" in log
    assert "Traceback (most recent call last)" in log
    assert "Symlink loop" in log


def _errors_log() -> str:
    log = paths.state_dir() / "errors.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


def _failing(message: str, calls: list[int] | None = None) -> Callable[..., object]:
    """A backend call that fails as a broken disk or store would (counting its calls if asked)."""

    def fail(*_args: object, **_kwargs: object) -> object:
        if calls is not None:
            calls.append(1)
        raise OSError(message)

    return fail


async def test_failing_deploy_board_and_form_workers_show_a_toast_once_and_the_mode_keeps_working(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The deploy mode's views are widgets, not screens: their workers' failures reach the app's one
    # handler only if each view forwards them (Worker.StateChanged does not bubble).
    import screens.deploy_board

    monkeypatch.setattr(DeployScreen, "SESSION_TIME_SCALE", 0.02)
    monkeypatch.setattr(screens.deploy_board, "LIVE_RUNS_POLL", 0.1)
    app = demo_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await until(pilot, lambda: screen.desk is not None and screen.board is not None, what="the board")
        desk = screen.desk
        assert desk is not None

        # The board looks for running deploys every LIVE_RUNS_POLL: the store behind it breaks.
        polls: list[int] = []
        desk.find_live_runs = _failing("history store unreadable", polls)  # type: ignore[method-assign]
        await until(
            pilot, lambda: "find running deploys failed: history store unreadable" in screen_text(app)
        )
        # A poll that keeps failing is told once, not every LIVE_RUNS_POLL.
        await until(pilot, lambda: len(polls) >= 4, what="more polls")
        assert _errors_log().count("find running deploys failed") == 1

        # The form asks the registry for versions: that call breaks too.
        desk.versions_for = _failing("registry unreachable")  # type: ignore[method-assign]
        await pilot.press("n", *"payme", "enter")
        await until(pilot, lambda: "registry tags failed: registry unreachable" in screen_text(app))
        assert app.is_running
        assert screen.view == "form"
        await pilot.press("escape")  # the mode still answers the keyboard
        await until(pilot, lambda: screen.view == "board", what="back to the board")

    log = _errors_log()
    assert "Traceback (most recent call last)" in log
    assert "registry unreachable" in log


async def test_a_crashing_scaffolder_run_is_reported_like_any_failed_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backends.scaffolder.runner import TaskRunner
    from tests.screens.test_scaffold_screen import choose_template, open_scaffold, slow_workspace

    monkeypatch.setattr(TaskRunner, "create_task", _failing("runner exploded"))
    slow_workspace(tmp_path)
    app = workspace_app(tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        screen = await open_scaffold(pilot)
        await choose_template(pilot, screen, "slow")
        await pilot.press("enter")
        await until(pilot, lambda: "scaffolder run failed: runner exploded" in screen_text(app))
        assert isinstance(app.screen, ScaffoldScreen)
        assert not screen.running  # the run view says it stopped; esc is not blocked
        await pilot.press("escape")
        assert screen.stage == "review"

    log = _errors_log()
    assert "scaffolder run failed" in log
    assert "OSError: runner exploded" in log
    assert "Traceback (most recent call last)" in log


def _worker_calls(tree: ast.AST) -> list[ast.Call]:
    """Every ``@work(...)`` decorator and ``run_worker(...)`` call in a module."""
    calls: list[ast.Call] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("work", "run_worker"):
            calls.append(node)
    return calls


def test_every_worker_is_started_with_exit_on_error_false() -> None:
    # Textual's default (exit_on_error=True) ends the whole app, i.e. a user's SSH session, on any
    # unexpected exception in a worker. A bare `@work` (no call) has that default too.
    offenders: list[str] = []
    for package in UI_PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
            for node in ast.walk(tree):
                decorators = getattr(node, "decorator_list", [])
                for decorator in decorators:
                    if isinstance(decorator, ast.Name | ast.Attribute) and ast.unparse(decorator) in (
                        "work",
                        "textual.work",
                    ):
                        offenders.append(f"{file.relative_to(ROOT)}:{decorator.lineno}: bare @work")
            for call in _worker_calls(tree):
                keywords = {k.arg: k.value for k in call.keywords}
                value = keywords.get("exit_on_error")
                if not (isinstance(value, ast.Constant) and value.value is False):
                    offenders.append(f"{file.relative_to(ROOT)}:{call.lineno}: {ast.unparse(call.func)}")
    assert offenders == [], "workers without exit_on_error=False:\n" + "\n".join(offenders)


def _has_worker(cls: ast.ClassDef) -> bool:
    for item in cls.body:
        for decorator in getattr(item, "decorator_list", []):
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if ast.unparse(target) in ("work", "textual.work"):
                return True
    # Only the class's own workers: ``app.run_worker`` runs on the app, whose handler sees it.
    return any(
        isinstance(node, ast.Call) and ast.unparse(node.func) in ("run_worker", "self.run_worker")
        for node in ast.walk(cls)
    )


def _forwards_worker_failures(cls: ast.ClassDef) -> bool:
    """A Worker.StateChanged handler that hands the event on to the app (not only looks at it)."""
    if any(ast.unparse(base) == "ConsoleScreen" for base in cls.bases):
        return True  # screens inherit ConsoleScreen's forwarding handler
    for item in cls.body:
        if not isinstance(item, ast.FunctionDef):
            continue
        handles = item.name == "on_worker_state_changed" or any(
            ast.unparse(d) == "on(Worker.StateChanged)" for d in item.decorator_list
        )
        if handles and "app.post_message(" in ast.unparse(item):
            return True
    return False


def test_every_widget_with_a_worker_forwards_its_failures_to_the_app() -> None:
    # Worker.StateChanged does not bubble: a widget's failed worker reaches the app's one handler
    # only if the widget hands it on (screens inherit that from ConsoleScreen). Views that live in
    # screens/ (the deploy board, the form, the run view) are widgets too.
    silent: list[str] = []
    for package in ("screens", "widgets"):
        for file in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ClassDef)
                    and _has_worker(node)
                    and not _forwards_worker_failures(node)
                ):
                    silent.append(f"{file.relative_to(ROOT)}:{node.lineno}: {node.name}")
    assert silent == [], "widgets whose failed workers nobody would see:\n" + "\n".join(silent)
