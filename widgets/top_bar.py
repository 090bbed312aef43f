"""The two lines at the top of every screen: mode tabs + workspace, then the crumbs."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static


class ModeTabs(Static):
    """``catalog  scaffold  deploy  docs  status`` with the current one highlighted."""

    def __init__(self, modes: Sequence[str], current: str, right: str) -> None:
        super().__init__()
        self._modes = list(modes)
        self._current = current
        self._right = right

    def render(self) -> Content:
        parts = [Content.styled(" idp-console ", "bold reverse")]
        for number, mode in enumerate(self._modes, start=1):
            style = "bold reverse" if mode == self._current else "dim"
            # @click runs the app action, so the tabs work with a mouse too.
            parts.append(Content(" "))
            action = f"app.switch_mode('{mode}')"
            parts.append(Content.from_markup(f"[{style} @click={action}] {number} {mode} [/]"))
        left = Content("").join(parts)
        padding = self.size.width - left.cell_length - len(self._right) - 1
        right = Content.styled(self._right, "italic")
        return Content("").join([left, Content(" " * max(padding, 1)), right])


class Crumbs(Static):
    """Where you are: ``catalog › component:payment-service › group:team-payments``."""

    def set_path(self, parts: Sequence[str]) -> None:
        text = Text(" ")
        for index, part in enumerate(parts):
            if index:
                text.append(" › ", style="dim")
            text.append(part, style="bold" if index == len(parts) - 1 else "")
        self.update(text)


class Banner(Static):
    """A permanent warning line (e.g. the simulated cluster in the demo workspace)."""


class TopBar(Vertical):
    DEFAULT_CSS = """
    TopBar { height: auto; dock: top; }
    TopBar ModeTabs { height: 1; background: $panel; }
    TopBar Crumbs { height: 1; color: $text-muted; }
    TopBar Banner { height: 1; background: $warning 30%; color: $text; text-style: bold; padding: 0 1; }
    """

    def __init__(
        self,
        modes: Sequence[str],
        current: str,
        workspace: str,
        crumbs: Sequence[str],
        banner: str | None = None,
    ) -> None:
        super().__init__()
        self._modes, self._current, self._workspace = modes, current, workspace
        self._crumbs = list(crumbs)
        self._banner = banner

    def compose(self) -> ComposeResult:
        yield ModeTabs(self._modes, self._current, self._workspace)
        if self._banner:
            yield Banner(self._banner)
        crumbs = Crumbs()
        crumbs.set_path(self._crumbs)
        yield crumbs

    def set_crumbs(self, crumbs: Sequence[str]) -> None:
        self.query_one(Crumbs).set_path(crumbs)
