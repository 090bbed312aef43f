"""Shared helpers for Pilot tests: start the app on a workspace and wait for the catalog."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.cells import cell_len
from textual.errors import NoWidget
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

from backends.workspace import Workspace, load_demo_workspace, load_workspace
from console.app import IdpConsoleApp


def demo_app() -> IdpConsoleApp:
    return IdpConsoleApp(load_demo_workspace())


def workspace_app(root: Path) -> IdpConsoleApp:
    return IdpConsoleApp(load_workspace(root))


def write_workspace(root: Path, files: dict[str, str], extra_config: str = "") -> Workspace:
    """A workspace whose catalog is the given files (relative path → YAML text)."""
    (root / "catalog").mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        target = root / "catalog" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    config = "name: Test workspace\ncatalog:\n  sources:\n    - type: dir\n      path: catalog\n"
    (root / "idp-console.yaml").write_text(config + extra_config, encoding="utf-8")
    return load_workspace(root)


async def wait_for_catalog(pilot: Pilot, timeout: float = 20.0) -> None:
    app = pilot.app
    assert isinstance(app, IdpConsoleApp)
    from screens.catalog import CatalogScreen

    def ready() -> bool:
        # The app has the catalog, and every catalog screen has prepared its rows (a worker).
        screens = [s for s in app.screen_stack if isinstance(s, CatalogScreen)]
        return app.catalog is not None and all(s.is_ready for s in screens)

    await until(pilot, ready, timeout, what="the catalog to load")


UNREACHABLE_KUBECONFIG = (
    "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
    "clusters: [{name: prod, cluster: {server: 'http://127.0.0.1:9'}}]\n"
    "contexts: [{name: prod, context: {cluster: prod, user: me}}]\n"
    "users: [{name: me, user: {token: x}}]\n"
)


def kube_workspace(root: Path, kubeconfig: str | bytes = UNREACHABLE_KUBECONFIG) -> Path:
    """``root/ws``: one service, ``api``, whose production environment is the cluster ``root/kubeconfig``
    describes (by default one that refuses every connection). Returns the kubeconfig's path."""
    path = root / "kubeconfig"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(kubeconfig, bytes):
        path.write_bytes(kubeconfig)
    else:
        path.write_text(kubeconfig, encoding="utf-8")
    component = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: api\n"
        "  annotations: {backstage.io/kubernetes-id: api}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )
    environments = f"environments:\n  production:\n    kubeconfig: {path}\n    context: prod\n"
    write_workspace(root / "ws", {"api.yaml": component}, environments)
    return path


def screen_text(app: IdpConsoleApp) -> str:
    """What the terminal shows for the current screen, as plain text lines.

    Painted from public API only: each widget the screen has placed (``Screen.find_widget``) renders
    its visible part (``Widget.render_lines``), back to front by its order, scrollbars over their
    widget, as Textual's compositor does.
    """
    screen = app.screen
    try:
        screen.find_widget(screen)
    except NoWidget:
        return ""  # not laid out yet: nothing on the terminal
    width, height = screen.size
    cells = [[" "] * width for _ in range(height)]
    for _, _, region, visible, widget in sorted(_placed_widgets(screen), key=lambda p: p[:2]):
        local = visible.translate((-region.x, -region.y))
        for y, strip in zip(range(visible.y, visible.bottom), widget.render_lines(local), strict=False):
            _paint(cells[y], visible.x, visible.right, strip.text)
    return "\n".join("".join(row) for row in cells)


def _placed_widgets(screen: Screen) -> Iterator[tuple[object, int, Region, Region, Widget]]:
    """(order, chrome?, region, visible part, widget) for every widget with a visible part on screen."""
    whole = Region(0, 0, *screen.size)
    for widget in (screen, *screen.walk_children(with_self=False)):
        if not isinstance(widget, Widget) or not widget.display:
            continue
        parts: list[tuple[int, Widget]] = [(0, widget)]
        if widget.show_vertical_scrollbar:
            parts.append((1, widget.vertical_scrollbar))
        if widget.show_horizontal_scrollbar:
            parts.append((1, widget.horizontal_scrollbar))
        if widget.show_vertical_scrollbar and widget.show_horizontal_scrollbar:
            parts.append((1, widget.scrollbar_corner))
        for chrome, part in parts:
            try:
                geometry = screen.find_widget(part)
            except NoWidget:
                continue  # not placed: hidden, or not laid out yet
            visible = geometry.region.intersection(geometry.clip).intersection(whole)
            if visible.area:
                yield geometry.order, chrome, geometry.region, visible, part


def _paint(row: list[str], start: int, end: int, text: str) -> None:
    """Write ``text`` into ``row`` from cell ``start``; a wide character takes two cells."""
    x = start
    for char in text:
        if x >= end:
            break
        row[x] = char
        if cell_len(char) == 2 and x + 1 < end:
            x += 1
            row[x] = ""
        x += 1


async def until(pilot: Pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Let the app run until ``condition`` holds, then settle one more frame.

    The one wait helper of the screen tests: work finishes in thread workers and messages, so a test
    waits for the state it asserts on, never for a fixed time. The timeout is generous because CI runs
    the suite in parallel on a loaded 2-core machine; a passing test never waits for it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what or 'condition'}"
        await pilot.pause(0.02)
    await pilot.pause()
