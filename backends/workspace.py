"""The workspace: one ``idp-console.yaml`` naming every source and setting.

Found via ``--workspace DIR``, ``$IDP_CONSOLE_WORKSPACE`` or the XDG config dir; with none of
those, the built-in demo workspace shipped in ``backends/demo/`` is used. Each area (catalog,
templates, environments, deploy, git, docs) reads its own section; this module parses the file,
validates every section when it is loaded (unknown keys, wrong types, out-of-range values — each
area's own rules for its section), resolves relative paths against the workspace directory and
reports the first error as one line: ``idp-console.yaml:12: deploy.steps[0].weight: expected
1..100, got 200``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
import yaml_rs

from backends import paths
from backends.config_checks import ConfigError, ConfigPath, flag, mapping, shown, text

CONFIG_FILE = "idp-console.yaml"
DEMO_WORKSPACE_DIR = Path(__file__).parent / "demo" / "workspace"

# Every key idp-console.yaml may hold, per section; anything else is reported with its line
# (a misspelt key silently ignored is a guardrail silently off). Areas with their own rules
# (environments, deploy) check their sections in their own modules.
TOP_LEVEL_KEYS = frozenset(
    {
        "name",
        "identity",
        "theme",
        "keymap",
        "catalog",
        "templates",
        "git",
        "environments",
        "deploy",
        "docs",
        "registry",
        "history",
    }
)
IDENTITY_KEYS = frozenset({"user", "accounts", "readonly"})
SOURCES_SECTION_KEYS = frozenset({"sources"})  # catalog: and templates:
# templates: also holds the template sandbox's settings (backends/scaffolder/sandbox.py)
TEMPLATES_KEYS = SOURCES_SECTION_KEYS | {"allowedHosts", "expressionTimeLimit"}
SOURCE_KEYS = frozenset({"type", "path", "url", "ref", "paths"})
GIT_KEYS = frozenset(
    {"remoteBase", "hosts", "contentsUrl", "tokenSecret", "tokenUser", "author", "createMissing"}
)
GIT_AUTHOR_KEYS = frozenset({"name", "email"})
DOCS_KEYS = frozenset({"base_url"})


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
    def from_dict(cls, data: Any, root: Path, path: ConfigPath = ("sources",)) -> SourceConfig:
        """One ``sources:`` entry; raises :class:`ConfigError` naming the key under ``path``."""
        data = mapping(data, path, SOURCE_KEYS)
        kind = text(data.get("type") or ("git" if "url" in data else "dir"), (*path, "type"))
        if kind not in ("dir", "git"):
            raise ConfigError((*path, "type"), f"unknown source type {kind!r} (expected dir or git)")
        if kind == "dir":
            if not data.get("path"):
                raise ConfigError(path, "a dir source needs a 'path'")
            raw_path = text(data["path"], (*path, "path"))
            resolved = raw_path if os.path.isabs(raw_path) else str(root / raw_path)
            return cls(type="dir", path=resolved)
        if not data.get("url"):
            raise ConfigError(path, "a git source needs a 'url'")
        url = text(data["url"], (*path, "url"))
        if not ("://" in url or "@" in url or os.path.isabs(url)):
            url = str((root / url).resolve())  # a relative path to a repository on disk
        globs = data.get("paths") or ["**/*.yaml"]
        if isinstance(globs, str):
            globs = [globs]
        if not isinstance(globs, list):
            raise ConfigError((*path, "paths"), f"expected a list of globs, got {globs!r}")
        patterns = tuple(text(glob, (*path, "paths", i)) for i, glob in enumerate(globs))
        ref = text(data["ref"], (*path, "ref")) if data.get("ref") else "HEAD"
        return cls(type="git", url=url, ref=ref, paths=patterns)


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
        """Who is using the console, decided by the operating system (see :mod:`backends.identity`):
        the built-in SSH server's session, else the account this process runs as, mapped through
        ``identity.accounts``. ``identity.user`` counts only in a config file owned by that account
        (a personal workspace): in a shared bastion's config it would make everyone that user."""
        from backends.identity import account_name, resolve_identity

        section = self.section("identity")
        accounts = {str(k): str(v) for k, v in (section.get("accounts") or {}).items()}
        personal = section.get("user")
        if personal and self.config_file is not None and _owned_by_this_account(self.config_file):
            accounts.setdefault(account_name(), str(personal))
        return resolve_identity(accounts, is_demo=self.is_demo)

    @property
    def readonly(self) -> bool:
        """Whether ``identity.readonly`` lists this account (its login name) or the catalog user it
        acts as: then nothing may change anything, in the TUI or the CLI (as with ``--readonly``)."""
        from backends.identity import account_name

        listed = {str(name) for name in self.section("identity").get("readonly") or ()}
        return bool(listed) and (account_name() in listed or self.identity in listed)

    @property
    def keymap(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.section("keymap").items()}

    @property
    def theme(self) -> str | None:
        value = self.raw.get("theme")
        return str(value) if value else None

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
        catalog_sources, template_sources = _validate(raw, root)
    except ConfigError as error:
        raise WorkspaceError(_located(config_file, source, error)) from error
    return Workspace(
        root=root,
        config_file=None if is_demo else config_file,
        name=str(raw.get("name") or root.name),
        is_demo=is_demo,
        raw=raw,
        catalog_sources=catalog_sources,
        template_sources=template_sources,
    )


def _validate(raw: dict[str, Any], root: Path) -> tuple[list[SourceConfig], list[SourceConfig]]:
    """Check every section; the catalog and template sources, read on the way."""
    # Imported here: the areas' modules are heavier than this one, and they never import it back.
    from backends.deploy.config import validate_deploy_section
    from backends.kube.environments import parse_environments

    mapping(raw, (), TOP_LEVEL_KEYS)
    present = {key: value for key, value in raw.items() if value is not None}  # `key:` alone = unset
    if "name" in present:
        text(present["name"], ("name",))
    if "identity" in present:
        identity = mapping(present["identity"], ("identity",), IDENTITY_KEYS)
        if identity.get("user") is not None:
            text(identity["user"], ("identity", "user"))
        if identity.get("accounts") is not None:
            for account, user in mapping(identity["accounts"], ("identity", "accounts")).items():
                text(user, ("identity", "accounts", str(account)))
        readonly = identity.get("readonly")
        if readonly is not None:
            if not isinstance(readonly, list):
                raise ConfigError(
                    ("identity", "readonly"), f"expected a list of accounts, got {shown(readonly)}"
                )
            for index, account in enumerate(readonly):
                text(account, ("identity", "readonly", index))
    if "theme" in present:
        text(present["theme"], ("theme",))
    if "keymap" in present:
        for binding, keys in mapping(present["keymap"], ("keymap",)).items():
            text(keys, ("keymap", str(binding)))
    if "git" in present:
        _validate_git(present["git"])
    if "docs" in present:
        docs = mapping(present["docs"], ("docs",), DOCS_KEYS)
        if docs.get("base_url") is not None:
            text(docs["base_url"], ("docs", "base_url"))
    if "registry" in present:
        from backends.registry import validate_registry_section

        validate_registry_section(present["registry"])
    if "environments" in present:
        parse_environments(present["environments"])
    if "deploy" in present:
        validate_deploy_section(present["deploy"])
    if "history" in present:
        from backends.history.url import validate_history_setting

        validate_history_setting(present["history"], root)
    return _sources(present, "catalog", root), _sources(present, "templates", root)


def _sources(raw: dict[str, Any], section: str, root: Path) -> list[SourceConfig]:
    if section not in raw:
        return []
    data = mapping(
        raw[section], (section,), TEMPLATES_KEYS if section == "templates" else SOURCES_SECTION_KEYS
    )
    if section == "templates":
        _validate_template_sandbox(data)
    items = data.get("sources")
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError((section, "sources"), f"expected a list of sources, got {items!r}")
    return [SourceConfig.from_dict(item, root, (section, "sources", i)) for i, item in enumerate(items)]


def _validate_template_sandbox(data: Mapping[str, Any]) -> None:
    hosts = data.get("allowedHosts")
    if hosts is not None:
        if not isinstance(hosts, list):
            raise ConfigError(
                ("templates", "allowedHosts"), f"expected a list of host names, got {shown(hosts)}"
            )
        for index, host in enumerate(hosts):
            text(host, ("templates", "allowedHosts", index))
    seconds = data.get("expressionTimeLimit")
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or not 0 < seconds <= 600
    ):
        raise ConfigError(
            ("templates", "expressionTimeLimit"),
            f"expected seconds above 0, at most 600, got {shown(seconds)}",
        )


def _validate_git(section: Any) -> None:
    git = mapping(section, ("git",), GIT_KEYS)
    for key in ("remoteBase", "contentsUrl", "tokenSecret", "tokenUser"):
        if git.get(key) is not None:
            text(git[key], ("git", key))
    if git.get("hosts") is not None:
        for host, base in mapping(git["hosts"], ("git", "hosts")).items():
            text(base, ("git", "hosts", str(host)))
    if git.get("author") is not None:
        author = mapping(git["author"], ("git", "author"), GIT_AUTHOR_KEYS)
        for key in ("name", "email"):
            if author.get(key) is not None:
                text(author[key], ("git", "author", key))
    if git.get("createMissing") is not None:
        flag(git["createMissing"], ("git", "createMissing"))


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
