"""A repository location in three parts — host, owner, repository — as Backstage's RepoUrlPicker.

The value is the picker's string form ``host?owner=o&repo=r``. Hosts and owners become choices when
the template restricts them (``allowedHosts`` / ``allowedOwners``); validation stays with the form
model, this widget only splits and joins the parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, urlencode

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Select

from widgets.guard import Guarded


def split_repo_url(value: str) -> tuple[str, str, str]:
    """(host, owner, repo) of ``host?owner=o&repo=r``; missing parts are empty."""
    host, _, query = value.partition("?")
    params = parse_qs(query)
    return host, (params.get("owner") or [""])[0], (params.get("repo") or [""])[0]


def join_repo_url(host: str, owner: str, repo: str) -> str:
    """The string form; empty while neither owner nor repo is given (so an untouched field stays empty)."""
    if not owner and not repo:
        return ""
    query = urlencode({k: v for k, v in (("owner", owner), ("repo", repo)) if v})
    return f"{host}?{query}"


class RepoUrlInput(Guarded, Horizontal):
    DEFAULT_CSS = """
    RepoUrlInput { height: auto; max-width: 100; }
    RepoUrlInput > * { width: 1fr; }
    """

    def __init__(
        self,
        value: str,
        *,
        hosts: Sequence[str] = (),
        owners: Sequence[str] = (),
        disabled: bool = False,
    ) -> None:
        super().__init__(disabled=disabled)
        self._host, self._owner, self._repo = split_repo_url(value)
        if not self._host and hosts:
            self._host = hosts[0]  # as Backstage: the first allowed host is preselected
        self._hosts = list(hosts)
        self._owners = list(owners)

    def compose(self) -> ComposeResult:
        yield self._choice_or_text(self._hosts, self._host, "host (e.g. github.com)", "host")
        yield self._choice_or_text(self._owners, self._owner, "owner", "owner")
        yield Input(self._repo, placeholder="repository", id="repo")

    @staticmethod
    def _choice_or_text(choices: list[str], current: str, placeholder: str, part: str) -> Widget:
        if choices:
            value = current if current in choices else Select.NULL
            return Select([(c, c) for c in choices], value=value, prompt=placeholder, id=part)
        return Input(current, placeholder=placeholder, id=part)

    def _part(self, part: str) -> str:
        widget = self.query_one(f"#{part}")
        if isinstance(widget, Select):
            return widget.value if isinstance(widget.value, str) else ""
        assert isinstance(widget, Input)
        return widget.value.strip()

    @property
    def value(self) -> str:
        return join_repo_url(self._part("host"), self._part("owner"), self._part("repo"))
