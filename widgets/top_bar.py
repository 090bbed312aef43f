"""The two lines at the top of every screen: mode tabs + who you are in which workspace, then the
crumbs. On a shared bastion the first thing to know is as whom you act (and whether you can change
anything at all: READ-ONLY)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from widgets.guard import Guarded


class ModeTabs(Guarded, Static):
    """``catalog  scaffold  deploy  docs  status`` with the current one highlighted; on the right
    ``[READ-ONLY] jane.doe · Acme``."""

    def __init__(
        self, modes: Sequence[str], current: str, right: str, user: str = "", readonly: bool = False
    ) -> None:
        super().__init__()
        self._modes = list(modes)
        self._current = current
        self._right = right
        self._user = user
        self._readonly = readonly

    def render(self) -> Content:
        parts = [Content.styled(" idp-console ", "bold reverse")]
        for number, mode in enumerate(self._modes, start=1):
            style = "bold reverse" if mode == self._current else "dim"
            # @click runs the app action, so the tabs work with a mouse too.
            parts.append(Content(" "))
            action = f"app.switch_mode('{mode}')"
            parts.append(Content.from_markup(f"[{style} @click={action}] {number} {mode} [/]"))
        left = Content("").join(parts)
        room = self.size.width - left.cell_length - 1
        right = next((c for c in self._right_parts() if c.cell_length <= room), Content(""))
        padding = room - right.cell_length
        return Content("").join([left, Content(" " * max(padding, 1)), right])

    def _right_parts(self) -> list[Content]:
        """The right side, longest first: a narrow terminal drops the workspace, then who you are."""
        badge = [Content.styled(" READ-ONLY ", "bold reverse"), Content(" ")] if self._readonly else []
        user = [Content.styled(self._user, "bold")] if self._user else []
        workspace = Content.styled(self._right, "italic")
        full = [*badge, *user, Content(" · "), workspace] if user else [*badge, workspace]
        return [Content("").join(parts) for parts in (full, [*badge, *user], badge) if parts]


class Crumbs(Guarded, Static):
    """Where you are: ``catalog › component:payment-service › group:team-payments``."""

    def set_path(self, parts: Sequence[str]) -> None:
        text = Text(" ")
        for index, part in enumerate(parts):
            if index:
                text.append(" › ", style="dim")
            text.append(part, style="bold" if index == len(parts) - 1 else "")
        self.update(text)


class Banner(Guarded, Static):
    """A permanent warning line (e.g. the simulated cluster in the demo workspace)."""


class TopBar(Guarded, Vertical):
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
        *,
        user: str = "",
        readonly: bool = False,
    ) -> None:
        super().__init__()
        self._modes, self._current, self._workspace = modes, current, workspace
        self._user, self._readonly = user, readonly
        self._crumbs = list(crumbs)
        self._banner = banner

    def compose(self) -> ComposeResult:
        yield ModeTabs(self._modes, self._current, self._workspace, self._user, self._readonly)
        if self._banner:
            yield Banner(self._banner)
        crumbs = Crumbs()
        crumbs.set_path(self._crumbs)
        yield crumbs

    def set_crumbs(self, crumbs: Sequence[str]) -> None:
        self.query_one(Crumbs).set_path(crumbs)
