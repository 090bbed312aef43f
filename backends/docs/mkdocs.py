"""Reading ``mkdocs.yml``: site_name, docs_dir and the nav tree.

Real-world mkdocs files carry Python tags (``!!python/name:material.extensions.emoji.twemoji``)
and ``!ENV`` tags that a safe loader rejects; we only need three keys, so unknown tags load as
plain values instead of failing the whole site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from backends.docs.model import NavItem

CONFIG_NAMES = ("mkdocs.yml", "mkdocs.yaml")
DEFAULT_DOCS_DIR = "docs"


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


class _TolerantLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that turns any unknown tag into its plain scalar/sequence/mapping value."""


def _construct_unknown(loader: Any, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_TolerantLoader.add_multi_constructor("!", _construct_unknown)
_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _construct_unknown)


@dataclass(slots=True)
class MkdocsConfig:
    """The parts of mkdocs.yml the viewer uses, plus problems found while reading it."""

    file: Path | None
    site_name: str = ""
    docs_dir: str = DEFAULT_DOCS_DIR
    nav: list[Any] | None = None  # raw nav; None when absent
    problems: list[str] = field(default_factory=list)


def find_config(directory: Path) -> Path | None:
    """The mkdocs config file in ``directory``, if any."""
    for name in CONFIG_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def read_config(file: Path) -> MkdocsConfig:
    """Parse ``file``; a broken file yields defaults plus a problem, never an exception."""
    config = MkdocsConfig(file=file)
    try:
        text = file.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_TolerantLoader)  # noqa: S506 - tolerant *safe* loader
    except (OSError, UnicodeDecodeError) as error:
        config.problems.append(f"{file.name}: cannot read ({error}); listing the Markdown files instead")
        return config
    except yaml.YAMLError as error:
        config.problems.append(f"{file.name}: invalid YAML ({_one_line(error)}); listing the Markdown files")
        return config
    if data is None:
        return config
    if not isinstance(data, dict):
        config.problems.append(f"{file.name}: expected a mapping at the top level")
        return config
    config.site_name = str(data.get("site_name") or "")
    docs_dir = data.get("docs_dir")
    if docs_dir is not None:
        if isinstance(docs_dir, str) and docs_dir.strip():
            config.docs_dir = docs_dir.strip()
        else:
            config.problems.append(f"{file.name}: docs_dir must be a path; using '{DEFAULT_DOCS_DIR}'")
    nav = data.get("nav")
    if nav is not None:
        if isinstance(nav, list):
            config.nav = nav
        else:
            config.problems.append(f"{file.name}: nav must be a list; listing the Markdown files")
    return config


def parse_nav(raw: list[Any], pages: set[str]) -> tuple[list[NavItem], list[str]]:
    """Turn mkdocs' raw nav into ``NavItem``s, checking each page exists in ``pages``.

    Accepted entries (as mkdocs does): ``"page.md"``, ``{"Title": "page.md"}``,
    ``{"Title": "https://…"}``, ``{"Section": [ …entries… ]}``. Anything else becomes an item with
    an ``error`` and a problem message, and the rest of the nav is still parsed.
    """
    problems: list[str] = []
    items = [_nav_item(entry, pages, problems, trail="nav") for entry in raw]
    return items, problems


def _nav_item(entry: Any, pages: set[str], problems: list[str], trail: str) -> NavItem:
    if isinstance(entry, str):
        return _leaf(None, entry, pages, problems, trail)
    if isinstance(entry, dict) and len(entry) == 1:
        ((title, value),) = entry.items()
        title = str(title)
        if isinstance(value, list):
            section_trail = f"{trail} > {title}"
            children = [_nav_item(child, pages, problems, section_trail) for child in value]
            return NavItem(title=title, children=children)
        if isinstance(value, str):
            return _leaf(title, value, pages, problems, trail)
        message = f"{trail} > {title}: expected a page path, URL or list, got {type(value).__name__}"
        problems.append(message)
        return NavItem(title=title, error=message)
    shown = str(entry)[:60]
    message = f"{trail}: cannot read nav entry {shown!r} (expected 'page.md' or 'Title: page.md')"
    problems.append(message)
    return NavItem(title=shown, error=message)


def _leaf(title: str | None, target: str, pages: set[str], problems: list[str], trail: str) -> NavItem:
    target = target.strip()
    if "://" in target or target.startswith("mailto:"):
        return NavItem(title=title or target, url=target)
    path = normalise_path(target)
    if path is None:
        message = f"{trail}: '{target}' points outside the docs directory"
        problems.append(message)
        return NavItem(title=title or target, error=message)
    if path not in pages:
        message = f"{trail}: page '{target}' does not exist"
        problems.append(message)
        return NavItem(title=title or target, error=message)
    return NavItem(title=title or "", page=path)


def normalise_path(target: str) -> str | None:
    """A docs-relative POSIX path (``a/./b/../c`` → ``a/c``), or None when it climbs out of the docs dir."""
    parts: list[str] = []
    for part in target.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:160]
