"""The workspace configuration as typed objects: every section of ``idp-console.yaml`` parsed once, at load.

``parse_config(raw, root)`` checks every section and returns a frozen :class:`WorkspaceConfig`;
the first problem is a :class:`~backends.config_checks.ConfigError` naming its key
(``environments.prod.on_orphan: expected one of rollback, resume, pause``), which the workspace loader
turns into ``idp-console.yaml:12: …`` before any screen opens or any command runs. Screens and
backends then read ``workspace.config.docs.base_url`` or ``workspace.config.environments["prod"]``,
never a raw dict, so a typo cannot wait until the mode that reads it opens.

Adding a key is a one-place change:

* to a section parsed here (identity, templates, git, docs, …): its keys set, its dataclass field and
  its check all sit together in that section's dataclass and parser below;
* to a section an area owns (``environments`` in ``backends/kube/environments.py``, ``deploy`` in
  ``backends/deploy/config.py``, ``registry`` in ``backends/registry.py``, ``history`` in
  ``backends/history/url.py``): in that area's parser, which this module calls;
* a new top-level section: one entry in :data:`SECTIONS` (its parser) and one field on
  :class:`WorkspaceConfig`. The set of known top-level keys *is* ``SECTIONS``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from backends.config_checks import ConfigError, ConfigPath, flag, mapping, shown, text

if TYPE_CHECKING:
    from backends.deploy.config import DeploySettings
    from backends.kube.environments import Environment

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen(items: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(items))


# -- catalog: and templates: ---------------------------------------------------------------------
SOURCE_KEYS = frozenset({"type", "path", "url", "ref", "paths", "tokenSecret"})
SOURCES_SECTION_KEYS = frozenset({"sources"})
# templates: also holds the template sandbox's settings (backends/scaffolder/sandbox.py)
TEMPLATES_KEYS = SOURCES_SECTION_KEYS | {"allowedHosts", "expressionTimeLimit"}


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A place to read YAML from: a local directory/glob, a git repository at a ref, or a Backstage."""

    type: str  # "dir" | "git" | "backstage"
    path: str = ""  # dir: directory, file or glob, relative to the workspace root
    url: str = ""  # git: any url gitpython can clone (path, file://, ssh, https)
    ref: str = "HEAD"  # git: branch, tag or commit
    paths: tuple[str, ...] = ("**/*.yaml",)  # git: globs inside the repository
    token_secret: str = "backstage"  # backstage: the secret (keyring / IDP_CONSOLE_SECRET_*) with its token

    @classmethod
    def from_dict(cls, data: Any, root: Path, path: ConfigPath = ("sources",)) -> SourceConfig:
        """One ``sources:`` entry; raises :class:`ConfigError` naming the key under ``path``."""
        data = mapping(data, path, SOURCE_KEYS)
        kind = text(data.get("type") or ("git" if "url" in data else "dir"), (*path, "type"))
        if kind not in ("dir", "git", "backstage"):
            raise ConfigError(
                (*path, "type"), f"unknown source type {kind!r} (expected dir, git or backstage)"
            )
        if kind == "backstage":
            return cls._backstage(data, path)
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

    @classmethod
    def _backstage(cls, data: Mapping[str, Any], path: ConfigPath) -> SourceConfig:
        """``type: backstage``: its backend's base URL and the name of the secret holding its token."""
        url = text(data.get("url") or "", (*path, "url")).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError((*path, "url"), f"a backstage source needs an http(s) 'url', got {shown(url)}")
        secret = text(data.get("tokenSecret") or "backstage", (*path, "tokenSecret"))
        return cls(type="backstage", url=url, ref="", token_secret=secret)


def _sources(data: Mapping[str, Any], section: str, root: Path) -> tuple[SourceConfig, ...]:
    items = data.get("sources")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ConfigError((section, "sources"), f"expected a list of sources, got {items!r}")
    return tuple(SourceConfig.from_dict(item, root, (section, "sources", i)) for i, item in enumerate(items))


def _catalog(value: Any, root: Path) -> tuple[SourceConfig, ...]:
    if value is None:
        return ()
    return _sources(mapping(value, ("catalog",), SOURCES_SECTION_KEYS), "catalog", root)


@dataclass(frozen=True, slots=True)
class TemplatesConfig:
    """``templates:``: where golden paths come from, and the template sandbox's limits."""

    sources: tuple[SourceConfig, ...] = ()
    allowed_hosts: tuple[str, ...] = ()  # hosts fetch:* may read from besides the sources
    expression_time_limit: float | None = None  # seconds; None: the sandbox's default


def _templates(value: Any, root: Path) -> TemplatesConfig:
    if value is None:
        return TemplatesConfig()
    data = mapping(value, ("templates",), TEMPLATES_KEYS)
    hosts = data.get("allowedHosts")
    allowed: tuple[str, ...] = ()
    if hosts is not None:
        if not isinstance(hosts, list):
            raise ConfigError(
                ("templates", "allowedHosts"), f"expected a list of host names, got {shown(hosts)}"
            )
        allowed = tuple(text(host, ("templates", "allowedHosts", i)) for i, host in enumerate(hosts))
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
    return TemplatesConfig(
        _sources(data, "templates", root), allowed, None if seconds is None else float(seconds)
    )


# -- identity: -----------------------------------------------------------------------------------
IDENTITY_KEYS = frozenset({"user", "accounts", "readonly", "doors"})


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    """``identity:``: who the OS accounts are in the catalog, and who may change nothing."""

    user: str | None = None  # counts only in a config file its account owns (see Workspace.identity)
    accounts: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # OS account -> catalog user
    readonly: tuple[str, ...] = ()  # accounts or catalog users
    # OS accounts that may speak for others (the accounts serve-ssh / serve-chatops run as): only
    # their sessions name a user other than the account itself (see Workspace.identity).
    doors: tuple[str, ...] = ()


def _identity(value: Any, root: Path) -> IdentityConfig:
    if value is None:
        return IdentityConfig()
    data = mapping(value, ("identity",), IDENTITY_KEYS)
    user = text(data["user"], ("identity", "user")) if data.get("user") is not None else None
    accounts: dict[str, str] = {}
    if data.get("accounts") is not None:
        for account, name in mapping(data["accounts"], ("identity", "accounts")).items():
            accounts[str(account)] = text(name, ("identity", "accounts", str(account)))
    readonly = data.get("readonly")
    listed: tuple[str, ...] = ()
    if readonly is not None:
        if not isinstance(readonly, list):
            raise ConfigError(("identity", "readonly"), f"expected a list of accounts, got {shown(readonly)}")
        listed = tuple(text(account, ("identity", "readonly", i)) for i, account in enumerate(readonly))
    return IdentityConfig(user, _frozen(accounts), listed, _accounts_list(data.get("doors"), "doors"))


def _accounts_list(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(("identity", key), f"expected a list of accounts, got {shown(value)}")
    return tuple(text(account, ("identity", key, i)) for i, account in enumerate(value))


# -- git: ----------------------------------------------------------------------------------------
GIT_KEYS = frozenset(
    {"remoteBase", "hosts", "contentsUrl", "tokenSecret", "tokenUser", "author", "createMissing"}
)
GIT_AUTHOR_KEYS = frozenset({"name", "email"})


@dataclass(frozen=True, slots=True)
class GitConfig:
    """``git:``: where the scaffolder publishes repositories, and as whom."""

    remote_base: str | None = None
    hosts: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    contents_url: str | None = None
    token_secret: str | None = None
    token_user: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    create_missing: bool | None = None


def _git(value: Any, root: Path) -> GitConfig:
    if value is None:
        return GitConfig()
    git = mapping(value, ("git",), GIT_KEYS)

    def optional(key: str) -> str | None:
        return text(git[key], ("git", key)) if git.get(key) is not None else None

    hosts: dict[str, str] = {}
    if git.get("hosts") is not None:
        for host, base in mapping(git["hosts"], ("git", "hosts")).items():
            hosts[str(host)] = text(base, ("git", "hosts", str(host)))
    author: Mapping[str, Any] = {}
    if git.get("author") is not None:
        author = mapping(git["author"], ("git", "author"), GIT_AUTHOR_KEYS)
        for key in ("name", "email"):
            if author.get(key) is not None:
                text(author[key], ("git", "author", key))
    create = (
        flag(git["createMissing"], ("git", "createMissing")) if git.get("createMissing") is not None else None
    )
    return GitConfig(
        remote_base=optional("remoteBase"),
        hosts=_frozen(hosts),
        contents_url=optional("contentsUrl"),
        token_secret=optional("tokenSecret"),
        token_user=optional("tokenUser"),
        author_name=str(author["name"]) if author.get("name") is not None else None,
        author_email=str(author["email"]) if author.get("email") is not None else None,
        create_missing=create,
    )


# -- docs: ---------------------------------------------------------------------------------------
DOCS_KEYS = frozenset({"base_url"})


@dataclass(frozen=True, slots=True)
class DocsConfig:
    """``docs:``: the web address of the same TechDocs, so a copied link works in a browser."""

    base_url: str = ""  # without a trailing slash; "" copies site-relative links


def _docs(value: Any, root: Path) -> DocsConfig:
    if value is None:
        return DocsConfig()
    data = mapping(value, ("docs",), DOCS_KEYS)
    base = text(data["base_url"], ("docs", "base_url")) if data.get("base_url") is not None else ""
    return DocsConfig(base.rstrip("/"))


# -- sections owned by an area -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeployConfig:
    """``deploy:``: the canary settings, with per-service overrides (``deploy.services.<name>``)."""

    section: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # validated at load

    def for_service(self, service: str | None = None) -> DeploySettings:
        """The settings ``service`` deploys with (the section's defaults when it has no override)."""
        from backends.deploy.config import parse_deploy_settings

        return parse_deploy_settings(dict(self.section), service)


def _deploy(value: Any, root: Path) -> DeployConfig:
    if value is None:
        return DeployConfig()
    from backends.deploy.config import validate_deploy_section

    validate_deploy_section(value)
    return DeployConfig(_frozen(value))


def _environments(value: Any, root: Path) -> Mapping[str, Environment]:
    if value is None:
        return _EMPTY
    from backends.kube.environments import parse_environments

    return _frozen(parse_environments(value))


def _registry(value: Any, root: Path) -> Mapping[str, Any]:
    if value is None:
        return _EMPTY
    from backends.registry import validate_registry_section

    validate_registry_section(value)
    return _frozen(value)  # RegistrySettings.from_config(workspace) reads it (it needs is_demo)


def _history(value: Any, root: Path) -> str | None:
    if value is None:
        return None
    from backends.history.url import validate_history_setting

    validate_history_setting(value, root)
    return str(value)


# -- scaffolder: ---------------------------------------------------------------------------------
SCAFFOLDER_KEYS = frozenset({"runOn", "defaultGoldenPath"})
DEFAULT_GOLDEN_PATH = "microservice-golden-path"
RUN_ON = ("local", "backstage")


@dataclass(frozen=True, slots=True)
class ScaffolderConfig:
    """``scaffolder:``: where templates run (here, or on the ``type: backstage`` catalog source's backend)."""

    run_on: str = "local"
    # The template ``create-service`` runs (shell, `:` line and chat), by name.
    default_golden_path: str = DEFAULT_GOLDEN_PATH


def _scaffolder(value: Any, root: Path) -> ScaffolderConfig:
    if value is None:
        return ScaffolderConfig()
    data = mapping(value, ("scaffolder",), SCAFFOLDER_KEYS)
    run_on = text(data.get("runOn") or "local", ("scaffolder", "runOn"))
    if run_on not in RUN_ON:
        raise ConfigError(
            ("scaffolder", "runOn"), f"expected one of {', '.join(RUN_ON)}, got {shown(run_on)}"
        )
    golden_path = text(
        data.get("defaultGoldenPath") or DEFAULT_GOLDEN_PATH, ("scaffolder", "defaultGoldenPath")
    )
    return ScaffolderConfig(run_on, golden_path)


def _infra(value: Any, root: Path) -> Any:
    if value is None:
        return None  # no section: its parser (and the forge client behind it) is never imported
    from backends.infra.settings import parse_infra_settings

    return parse_infra_settings(value, root)


def _name(value: Any, root: Path) -> str:
    return text(value, ("name",)) if value is not None else root.name


def _theme(value: Any, root: Path) -> str | None:
    return text(value, ("theme",)) if value is not None else None


def _keymap(value: Any, root: Path) -> Mapping[str, str]:
    if value is None:
        return _EMPTY
    return _frozen(
        {
            str(binding): text(keys, ("keymap", str(binding)))
            for binding, keys in mapping(value, ("keymap",)).items()
        }
    )


# Every top-level key idp-console.yaml may hold, with its parser, in the order they are checked
# (a misspelt key silently ignored is a guardrail silently off: anything else is an error).
SECTIONS: dict[str, Callable[[Any, Path], Any]] = {
    "name": _name,
    "identity": _identity,
    "theme": _theme,
    "keymap": _keymap,
    "git": _git,
    "docs": _docs,
    "registry": _registry,
    "environments": _environments,
    "deploy": _deploy,
    "history": _history,
    "catalog": _catalog,
    "templates": _templates,
    "scaffolder": _scaffolder,
    "infra": _infra,
}
TOP_LEVEL_KEYS = frozenset(SECTIONS)


@dataclass(frozen=True, slots=True)
class WorkspaceConfig:
    """Every section of ``idp-console.yaml``, checked and typed (defaults for absent sections)."""

    name: str
    identity: IdentityConfig
    theme: str | None
    keymap: Mapping[str, str]
    git: GitConfig
    docs: DocsConfig
    registry: Mapping[str, Any]
    environments: Mapping[str, Environment]
    deploy: DeployConfig
    history: str | None  # a postgresql:// URL or a SQLite path, as written
    catalog: tuple[SourceConfig, ...]
    templates: TemplatesConfig
    scaffolder: ScaffolderConfig
    infra: Any = None  # backends.infra.settings.InfraSettings, None when the section is absent


def parse_config(raw: Mapping[str, Any], root: Path) -> WorkspaceConfig:
    """Check and type every section of ``raw``; raises :class:`ConfigError` at the first problem.

    A key with no value (``docs:`` alone) counts as absent. ``root`` is the workspace directory
    (relative paths are resolved against it).
    """
    mapping(raw, (), TOP_LEVEL_KEYS)
    parsed = {key: parser(raw.get(key), root) for key, parser in SECTIONS.items()}
    backstage = next((s for s in parsed["catalog"] if s.type == "backstage"), None)
    if backstage is not None and not parsed["docs"].base_url:
        # Docs links then point at that Backstage's TechDocs pages (app and backend on one address).
        parsed["docs"] = DocsConfig(backstage.url.rstrip("/"))
    return WorkspaceConfig(**parsed)
