"""The workspace: one ``idp-console.yaml`` naming every source and setting.

Found via ``--workspace DIR``, ``$IDP_CONSOLE_WORKSPACE`` or the XDG config dir; with none of
those, the built-in demo workspace shipped in ``backends/demo/`` is used. Each area (catalog,
templates, environments, deploy, git, docs) reads its own section; this module only parses the
file, resolves relative paths against the workspace directory and reports errors with file:line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml_rs

from backends import paths

CONFIG_FILE = "idp-console.yaml"
DEMO_WORKSPACE_DIR = Path(__file__).parent / "demo" / "workspace"


class WorkspaceError(Exception):
    """The workspace config is missing, unreadable or malformed (message names the file)."""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A place to read YAML from: a local directory/glob, or a git repository at a ref."""

    type: str  # "dir" | "git"
    path: str = ""  # dir: directory, file or glob, relative to the workspace root
    url: str = ""  # git: any url gitpython can clone (path, file://, ssh, https)
    ref: str = "HEAD"  # git: branch, tag or commit
    paths: tuple[str, ...] = ("**/*.yaml",)  # git: globs inside the repository

    @classmethod
    def from_dict(cls, data: dict[str, Any], root: Path) -> SourceConfig:
        kind = str(data.get("type") or ("git" if "url" in data else "dir"))
        if kind not in ("dir", "git"):
            raise WorkspaceError(f"unknown source type {kind!r} (expected dir or git)")
        raw_path = str(data.get("path", ""))
        if kind == "dir":
            if not raw_path:
                raise WorkspaceError("a dir source needs a 'path'")
            resolved = raw_path if os.path.isabs(raw_path) else str(root / raw_path)
            return cls(type="dir", path=resolved)
        url = str(data.get("url") or "")
        if not url:
            raise WorkspaceError("a git source needs a 'url'")
        if not ("://" in url or "@" in url or os.path.isabs(url)):
            url = str((root / url).resolve())  # a relative path to a repository on disk
        globs = data.get("paths") or ["**/*.yaml"]
        if isinstance(globs, str):
            globs = [globs]
        return cls(type="git", url=url, ref=str(data.get("ref") or "HEAD"), paths=tuple(map(str, globs)))


@dataclass(slots=True)
class Workspace:
    root: Path
    config_file: Path | None  # None for the built-in demo
    name: str
    is_demo: bool
    raw: dict[str, Any] = field(default_factory=dict)
    catalog_sources: list[SourceConfig] = field(default_factory=list)
    template_sources: list[SourceConfig] = field(default_factory=list)

    def section(self, key: str) -> dict[str, Any]:
        """A top-level section of the config (``{}`` when absent) for an area to interpret."""
        value = self.raw.get(key)
        return value if isinstance(value, dict) else {}

    @property
    def identity(self) -> str:
        """Who is using the console: ``identity.user`` from config, else the (SSH) login name."""
        configured = self.section("identity").get("user")
        if configured:
            return str(configured)
        return os.environ.get("IDP_CONSOLE_USER") or os.environ.get("USER") or "guest"

    @property
    def keymap(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.section("keymap").items()}

    @property
    def theme(self) -> str | None:
        value = self.raw.get("theme")
        return str(value) if value else None


def locate_workspace(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The workspace directory to use, or None for the built-in demo."""
    candidate = explicit or os.environ.get("IDP_CONSOLE_WORKSPACE")
    if candidate:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path.parent
        if not (path / CONFIG_FILE).is_file():
            raise WorkspaceError(f"{path}: no {CONFIG_FILE} in this directory")
        return path
    default = paths.config_dir()
    if (default / CONFIG_FILE).is_file():
        return default
    return None


def load_workspace(explicit: str | os.PathLike[str] | None = None) -> Workspace:
    """Load the named workspace, or the demo workspace when none is configured anywhere."""
    root = locate_workspace(explicit)
    if root is None:
        return _load(DEMO_WORKSPACE_DIR, is_demo=True)
    return _load(root, is_demo=False)


def load_demo_workspace() -> Workspace:
    return _load(DEMO_WORKSPACE_DIR, is_demo=True)


def _load(root: Path, *, is_demo: bool) -> Workspace:
    config_file = root / CONFIG_FILE
    try:
        text = config_file.read_text(encoding="utf-8")
    except OSError as error:
        raise WorkspaceError(f"{config_file}: cannot read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise WorkspaceError(f"{config_file}: not UTF-8 text") from error
    try:
        raw = yaml_rs.loads(text, parse_datetime=False) or {}
    except yaml_rs.YAMLDecodeError as error:
        raise WorkspaceError(f"{config_file}: {error}") from error
    if not isinstance(raw, dict):
        raise WorkspaceError(f"{config_file}: expected a mapping at the top level")
    root = root.resolve()
    try:
        catalog_sources = [
            SourceConfig.from_dict(item, root) for item in _list(raw.get("catalog"), "sources")
        ]
        template_sources = [
            SourceConfig.from_dict(item, root) for item in _list(raw.get("templates"), "sources")
        ]
    except WorkspaceError as error:
        raise WorkspaceError(f"{config_file}: {error}") from error
    return Workspace(
        root=root,
        config_file=None if is_demo else config_file,
        name=str(raw.get("name") or root.name),
        is_demo=is_demo,
        raw=raw,
        catalog_sources=catalog_sources,
        template_sources=template_sources,
    )


def _list(section: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(section, dict):
        return []
    items = section.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise WorkspaceError(f"'{key}' must be a list of mappings")
    return items
