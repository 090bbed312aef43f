"""The workspace: one ``idp-console.yaml`` naming every source and setting.

Found via ``--workspace DIR``, ``$IDP_CONSOLE_WORKSPACE`` or the XDG config dir; with none of
those, the built-in demo workspace shipped in ``backends/demo/`` is used. This module finds and reads
the file; ``backends.config`` parses every section into typed objects (``workspace.config``) when it
is loaded (unknown keys, wrong types, out-of-range values — each area's own rules for its section),
resolving relative paths against the workspace directory, and the first error is reported as one
line: ``idp-console.yaml:12: deploy.steps[0].weight: expected 1..100, got 200``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml_rs

from backends import paths
from backends.config import (  # noqa: F401 - SourceConfig and the key sets are imported from here too
    TOP_LEVEL_KEYS,
    SourceConfig,
    WorkspaceConfig,
    parse_config,
)
from backends.config_checks import ConfigError, ConfigPath

CONFIG_FILE = "idp-console.yaml"
DEMO_WORKSPACE_DIR = Path(__file__).parent / "demo" / "workspace"


class WorkspaceError(Exception):
    """The workspace config is missing, unreadable or malformed (message names the file)."""


@dataclass(slots=True)
class Workspace:
    root: Path
    config_file: Path | None  # None for the built-in demo
    name: str
    is_demo: bool
    raw: dict[str, Any] = field(default_factory=dict)
    catalog_sources: list[SourceConfig] = field(default_factory=list)
    template_sources: list[SourceConfig] = field(default_factory=list)
    config: WorkspaceConfig | None = None  # every section, checked and typed (None: built by hand)

    def section(self, key: str) -> dict[str, Any]:
        """A top-level section of the config (``{}`` when absent), as written.

        Prefer ``config``: the same values checked and typed. (Kept for areas not moved yet.)
        """
        value = self.raw.get(key)
        return value if isinstance(value, dict) else {}

    @property
    def identity(self) -> str:
        """Who is using the console, decided by the operating system (see :mod:`backends.identity`):
        the built-in SSH server's session (only for an account in ``identity.doors``, a personal
        workspace or the demo), else the account this process runs as, mapped through
        ``identity.accounts``. ``identity.user`` counts only in a config file owned by that account
        (a personal workspace): in a shared bastion's config it would make everyone that user."""
        from backends.identity import account_name, resolve_identity

        identity = self.typed.identity
        accounts = dict(identity.accounts)
        owned = self.config_file is not None and _owned_by_this_account(self.config_file)
        if identity.user and owned:
            accounts.setdefault(account_name(), str(identity.user))
        # A session file is written by a process of this same account, so any user could write
        # one naming someone else: only an account that runs a door for others (listed in
        # identity.doors, or owning this config, i.e. a personal workspace) may be spoken for.
        sessions = self.is_demo or owned or account_name() in identity.doors
        return resolve_identity(accounts, is_demo=self.is_demo, sessions=sessions)

    @property
    def readonly(self) -> bool:
        """Whether ``identity.readonly`` lists this account (its login name) or the catalog user it
        acts as: then nothing may change anything, in the TUI or the CLI (as with ``--readonly``)."""
        from backends.identity import account_name

        listed = set(self.typed.identity.readonly)
        return bool(listed) and (account_name() in listed or self.identity in listed)

    @property
    def keymap(self) -> dict[str, str]:
        return dict(self.typed.keymap)

    @property
    def theme(self) -> str | None:
        return self.typed.theme or None

    @property
    def typed(self) -> WorkspaceConfig:
        """``config``; for a Workspace built by hand (tests) or changed after loading, parsed from ``raw``."""
        if self.config is None:
            return parse_config(self.raw, self.root)
        return self.config

    def config_error(self, error: ConfigError) -> str:
        """``error`` as one line with the file and line of the value it names (for checks made
        outside this module, e.g. the theme name, which only the TUI knows)."""
        config_file = self.config_file or self.root / CONFIG_FILE
        try:
            source = config_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return f"{config_file}: {error}"
        return _located(config_file, source, error)


def locate_workspace(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The workspace directory to use, or None for the built-in demo."""
    candidate = explicit or os.environ.get("IDP_CONSOLE_WORKSPACE")
    if candidate:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path.parent
        if not path.exists():
            raise WorkspaceError(
                f"{path}: no such directory — create a workspace there with `idp-console init {path}`"
            )
        if not (path / CONFIG_FILE).is_file():
            raise WorkspaceError(
                f"{path}: no {CONFIG_FILE} in this directory — write a commented one with "
                f"`idp-console init {path}`"
            )
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
        source = config_file.read_text(encoding="utf-8")
    except OSError as error:
        raise WorkspaceError(f"{config_file}: cannot read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise WorkspaceError(f"{config_file}: not UTF-8 text") from error
    try:
        raw = yaml_rs.loads(source, parse_datetime=False) or {}
    except yaml_rs.YAMLDecodeError as error:
        raise WorkspaceError(f"{config_file}: {error}") from error
    if not isinstance(raw, dict):
        raise WorkspaceError(f"{config_file}: expected a mapping at the top level")
    root = root.resolve()
    try:
        config = parse_config(raw, root)
    except ConfigError as error:
        raise WorkspaceError(_located(config_file, source, error)) from error
    return Workspace(
        root=root,
        config_file=None if is_demo else config_file,
        name=config.name,
        is_demo=is_demo,
        raw=raw,
        catalog_sources=list(config.catalog),
        template_sources=list(config.templates.sources),
        config=config,
    )


def _located(config_file: Path, source: str, error: ConfigError) -> str:
    """``FILE:LINE: path: message``, or ``FILE: path: message`` when the line cannot be found."""
    line = config_line(source, error.path)
    return f"{config_file}:{line}: {error}" if line else f"{config_file}: {error}"


def config_line(source: str, path: ConfigPath) -> int | None:
    """The 1-based line of the value at ``path`` in the YAML ``source`` (the key's line for a
    mapping entry), else the line of the deepest part of the path that exists.

    yaml_rs gives no positions, so the file is composed again with PyYAML's node marks — only
    when there is an error to point at, so a good file costs nothing extra.
    """
    import yaml  # PyYAML: only for an error's line (~20 ms of every start otherwise)

    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1 if path else None
    for part in path:
        found = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, found = key.start_mark.line + 1, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            found = node.value[part]
            line = found.start_mark.line + 1
        if found is None:
            break
        node = found
    return line


def _owned_by_this_account(path: Path) -> bool:
    try:
        return path.stat().st_uid == os.geteuid()
    except OSError:
        return False
