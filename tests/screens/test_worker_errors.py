"""One error path: a worker that fails shows a toast and a log line; the session goes on."""

from __future__ import annotations

import ast
from pathlib import Path

from backends import paths
from screens.catalog import CatalogScreen
from screens.docs import DocsScreen
from tests.screens.helpers import screen_text, until, wait_for_catalog, workspace_app, write_workspace

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
    return any(
        isinstance(node, ast.Call) and ast.unparse(node.func).endswith("run_worker") for node in ast.walk(cls)
    )


def _forwards_worker_failures(cls: ast.ClassDef) -> bool:
    for item in cls.body:
        if not isinstance(item, ast.FunctionDef):
            continue
        if item.name == "on_worker_state_changed":
            return True
        if any(ast.unparse(d) == "on(Worker.StateChanged)" for d in item.decorator_list):
            return True
    return False


def test_every_widget_with_a_worker_forwards_its_failures_to_the_app() -> None:
    # Worker.StateChanged does not bubble: a widget's failed worker reaches the app's one handler
    # only if the widget hands it on (screens inherit that from ConsoleScreen).
    silent: list[str] = []
    for file in sorted((ROOT / "widgets").rglob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and _has_worker(node) and not _forwards_worker_failures(node):
                silent.append(f"{file.relative_to(ROOT)}:{node.lineno}: {node.name}")
    assert silent == [], "widgets whose failed workers nobody would see:\n" + "\n".join(silent)
