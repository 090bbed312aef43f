"""Where a template may read from, and how long its expressions may run: the ``templates:`` section.

``fetch:*`` reads only from the template's own directory (its checkout, for a template that came
from git), the configured template sources and repositories on allowed hosts::

    templates:
      sources: [...]
      allowedHosts: [github.com, git.acme.example]   # fetch:* may read repositories there
      expressionTimeLimit: 5                         # seconds of CPU per rendered string

Anything else — ``/etc/ssh``, ``file:///etc/hostname``, ``../../..``, a symlink out of the
template directory, a repository on an unlisted host — is refused with one line, before any git
fetch, because publish would push whatever was read.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from backends import paths

DEFAULT_EXPRESSION_SECONDS = 5.0
MAX_EXPRESSION_SECONDS = 600.0
_REMOTE_SCHEMES = frozenset({"https", "http", "ssh", "git", "git+ssh", "ssh+git"})


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The walls around one workspace's templates (see the module docstring)."""

    allowed_hosts: tuple[str, ...] = ()
    roots: tuple[Path, ...] = ()  # local template source directories
    repositories: tuple[str, ...] = ()  # git template source URLs
    expression_seconds: float = DEFAULT_EXPRESSION_SECONDS

    @classmethod
    def from_workspace(cls, workspace: Any) -> Sandbox:
        """The sandbox configured by ``workspace``'s ``templates:`` section (defaults when absent)."""
        if workspace is None:
            return cls()
        section = workspace.section("templates")
        hosts = section.get("allowedHosts") or []
        seconds = section.get("expressionTimeLimit", DEFAULT_EXPRESSION_SECONDS)
        sources = list(getattr(workspace, "template_sources", None) or [])
        return cls(
            allowed_hosts=tuple(str(h).lower() for h in hosts) if isinstance(hosts, list) else (),
            roots=tuple(_source_root(s.path) for s in sources if s.type == "dir"),
            repositories=tuple(_normal_repository(s.url) for s in sources if s.type == "git"),
            expression_seconds=_seconds(seconds),
        )

    def url_problem(self, url: str, template_dir: Path) -> str | None:
        """Why ``fetch:*`` may not read ``url`` for a template in ``template_dir``; None when it may."""
        if "://" in url or url.startswith("git@"):
            return self._remote_problem(url, template_dir)
        path = Path(url).expanduser()
        return self._local_problem(url, path if path.is_absolute() else template_dir / path, template_dir)

    def _remote_problem(self, url: str, template_dir: Path) -> str | None:
        from backends.docs.location import parse_repository_url

        parsed = urlparse(url)
        if parsed.scheme == "file":
            local = Path(unquote(parsed.path))
            if "/tree/" not in url and "/blob/" not in url:
                return self._local_problem(url, local, template_dir)
            repository, _, _ = parse_repository_url(url)
            if _normal_repository(repository) in self.repositories:
                return None
            return self._local_problem(url, Path(unquote(urlparse(repository).path)), template_dir)
        repository, _, _ = parse_repository_url(url)
        if _normal_repository(repository) in self.repositories:
            return None
        host = _host(url)
        if parsed.scheme and parsed.scheme.lower() not in _REMOTE_SCHEMES and not url.startswith("git@"):
            return f"url {url!r}: {parsed.scheme}:// is not a place templates may fetch from"
        if host and any(_host_matches(host, allowed) for allowed in self.allowed_hosts):
            return None
        allowed = ", ".join(self.allowed_hosts) or "none"
        return (
            f"url {url!r}: host {host or '?'!r} is not allowed for fetch "
            f"(templates.allowedHosts: {allowed}; git template sources are allowed too)"
        )

    def _local_problem(self, url: str, path: Path, template_dir: Path) -> str | None:
        resolved = path.resolve()  # follows symlinks: a link out of the template dir is outside
        roots = self.allowed_roots(template_dir)
        if any(resolved == root or resolved.is_relative_to(root) for root in roots):
            return None
        return (
            f"url {url!r} reads {resolved}, outside the template's directory and the configured "
            "template sources"
        )

    def allowed_roots(self, template_dir: Path) -> list[Path]:
        """Directories ``fetch:*`` may read for a template in ``template_dir``."""
        own = template_dir.resolve()
        roots = [own, *(root.resolve() for root in self.roots)]
        checkout = _checkout_root(own)
        if checkout is not None:
            roots.append(checkout)
        return roots


def _seconds(value: Any) -> float:
    """A configured time limit, or the default when it is not a sensible positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DEFAULT_EXPRESSION_SECONDS
    if not math.isfinite(value) or value <= 0:
        return DEFAULT_EXPRESSION_SECONDS
    return min(float(value), MAX_EXPRESSION_SECONDS)


def _source_root(path: str) -> Path:
    """The directory a ``dir`` template source covers (its glob's fixed prefix, or a file's dir)."""
    parts: list[str] = []
    for part in Path(path).parts:
        if any(char in part for char in "*?["):
            break
        parts.append(part)
    root = Path(*parts) if parts else Path(path)
    return root.parent if root.is_file() else root


def _checkout_root(directory: Path) -> Path | None:
    """For a template read from a git checkout in the cache: the checkout's tree root."""
    cache = (paths.cache_dir() / "git").resolve()
    if not directory.is_relative_to(cache):
        return None
    parts = directory.relative_to(cache).parts  # <digest>/trees/<commit>/...
    if len(parts) >= 3 and parts[1] == "trees":
        return cache.joinpath(*parts[:3])
    return None


def _normal_repository(url: str) -> str:
    text = url.strip().rstrip("/")
    text = text.removesuffix(".git")
    if os.path.isabs(text):
        return Path(text).as_uri()
    return text.lower() if "://" not in text else _lower_host(text)


def _lower_host(url: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(netloc=parsed.netloc.lower()).geturl()


def _host(url: str) -> str:
    if url.startswith("git@"):
        return url[4:].split(":", 1)[0].lower()
    return (urlparse(url).hostname or "").lower()


def _host_matches(host: str, allowed: str) -> bool:
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    return host == allowed
