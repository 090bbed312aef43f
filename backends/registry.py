"""Container image registries: which tags (versions) of a service's image exist.

```yaml
registry:
  host: registry.acme.example        # images are called <host>/<owner>/<name>:<version>
  url: https://registry.acme.example # where tags are listed (OCI Distribution API); for the demo a
                                     # directory ("{data_dir}/registry") that the simulated CI writes
```

Two implementations of one small protocol: :class:`OciRegistry` speaks the OCI Distribution API
(``GET /v2/<name>/tags/list``, following ``Link`` pages) with httpx; :class:`FileRegistry` keeps
one JSON file of tags per repository, which the demo's simulated first CI run pushes to.
``tags()`` is newest first: semantic versions in descending order, then the other tags.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin

from backends import paths
from backends.atomic import write_text_atomic

DEMO_HOST = "registry.acme.example"
DEMO_URL = "{data_dir}/registry"
REGISTRY_KEYS = frozenset({"host", "url", "tokenSecret"})
# The catalog annotation a service declares its image repository with (the golden path writes it);
# deploys of such a service check that the version is a tag there before touching the cluster.
IMAGE_ANNOTATION = "idp-console.dev/image"

_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")
_NAME = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


class RegistryError(Exception):
    """The registry cannot answer (unreachable, unknown repository, bad configuration)."""


class Registry(Protocol):
    """Where a workspace's images live."""

    host: str

    def tags(self, image_repo: str) -> list[str]:
        """The repository's tags, newest first; ``RegistryError`` if it cannot say."""
        ...

    def push(self, image_repo: str, tag: str) -> None:
        """Record that ``image_repo:tag`` exists (what a CI run's ``docker push`` does)."""
        ...


def version_key(tag: str) -> tuple[int, tuple[int, int, int], tuple[tuple[int, Any], ...], str]:
    """Sort key, ascending: non-semver tags first, then semantic versions (pre-releases before
    their release, numeric identifiers numerically, as semver.org §11 says)."""
    match = _SEMVER.fullmatch(tag)
    if match is None:
        return (0, (0, 0, 0), (), tag)
    core = (int(match[1]), int(match[2]), int(match[3]))
    if match[4] is None:
        pre: tuple[tuple[int, Any], ...] = ((2, ""),)  # a release ranks above its pre-releases
    else:
        pre = tuple((0, int(p)) if p.isdigit() else (1, p) for p in match[4].split("."))
    return (1, core, pre, tag)


def newest_first(tags: list[str]) -> list[str]:
    """``tags`` ordered newest first: semantic versions descending, then the rest by name."""
    versions = sorted((t for t in tags if _SEMVER.fullmatch(t)), key=version_key, reverse=True)
    others = sorted(t for t in tags if not _SEMVER.fullmatch(t))
    return versions + others


def split_image(image: str) -> tuple[str, str]:
    """``host/path/name:tag`` → (``host/path/name``, ``tag``); the tag is "" when there is none."""
    base = image.split("@", 1)[0]
    head, _, last = base.rpartition("/")
    if ":" in last:
        name, _, tag = last.partition(":")
        return (f"{head}/{name}" if head else name), tag
    return base, ""


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """The ``registry:`` section: how images are named and where their tags are listed."""

    host: str
    url: str

    @classmethod
    def from_config(cls, section: Mapping[str, Any], *, is_demo: bool = False) -> RegistrySettings | None:
        """None when the workspace names no registry (and is not the demo)."""
        if not section and not is_demo:
            return None
        url = str(section.get("url") or (DEMO_URL if is_demo or not section.get("host") else ""))
        host = str(section.get("host") or "")
        if not host:
            host = _host_of(url) if "://" in url else DEMO_HOST
        return cls(host=host, url=url or f"https://{host}")

    def image_repository(self, owner: str, name: str) -> str:
        """``<host>/<owner>/<name>``: what the golden path's CI pushes and its manifests use."""
        return f"{self.host}/{owner}/{name}" if owner else f"{self.host}/{name}"


def _host_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def validate_registry_section(section: Any) -> None:
    """Config check for ``registry:`` (unknown keys, non-text values), with the key's path."""
    from backends.config_checks import mapping, text

    data = mapping(section, ("registry",), REGISTRY_KEYS)
    for key in REGISTRY_KEYS:
        if data.get(key) is not None:
            text(data[key], ("registry", key))


def registry_for(workspace: Any) -> Registry | None:
    """The workspace's registry (the demo's file registry by default); None if none is configured."""
    settings = RegistrySettings.from_config(
        workspace.section("registry") if workspace is not None else {},
        is_demo=bool(workspace is not None and workspace.is_demo),
    )
    if settings is None:
        return None
    return open_registry(settings, root=getattr(workspace, "root", None))


def open_registry(
    settings: RegistrySettings, *, root: Path | None = None, token: str | None = None
) -> Registry:
    """An :class:`OciRegistry` for an http(s) URL, else a :class:`FileRegistry` at that directory."""
    if settings.url.startswith(("http://", "https://")):
        return OciRegistry(settings.url, host=settings.host, token=token)
    directory = settings.url.removeprefix("file://").replace("{data_dir}", str(paths.data_dir()))
    path = Path(os.path.expanduser(directory))
    if not path.is_absolute() and root is not None:
        path = root / path
    return FileRegistry(path, host=settings.host)


def _repository_path(image_repo: str, host: str) -> str:
    """The repository's name inside the registry (``owner/name``), checked against the OCI grammar."""
    name = image_repo.split("@", 1)[0]
    name = split_image(name)[0] if ":" in name.rsplit("/", 1)[-1] else name
    if name.startswith(host + "/"):
        name = name[len(host) + 1 :]
    if not _NAME.fullmatch(name):
        raise RegistryError(
            f"{image_repo!r} is not an image repository name (lowercase path such as team/app)"
        )
    return name


class FileRegistry:
    """Tags kept as ``<root>/<owner>/<name>/tags.json`` (``{"tag": pushed-at}``): the demo's registry."""

    def __init__(self, root: Path, host: str = DEMO_HOST) -> None:
        self.root = root
        self.host = host

    def _file(self, image_repo: str) -> Path:
        return self.root / _repository_path(image_repo, self.host) / "tags.json"

    def _read(self, file: Path) -> dict[str, float]:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise RegistryError(f"{file}: unreadable tag list: {error}") from error
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def tags(self, image_repo: str) -> list[str]:
        file = self._file(image_repo)
        if not file.exists():
            raise RegistryError(
                f"{split_image(image_repo)[0]}: no such repository in the registry {self.root}"
            )
        return newest_first(list(self._read(file)))

    def push(self, image_repo: str, tag: str) -> None:
        file = self._file(image_repo)
        tags = self._read(file)
        tags.setdefault(tag, time.time())
        file.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(file, json.dumps(tags, indent=2, sort_keys=True))


class OciRegistry:
    """A registry that speaks the OCI Distribution API (distribution, Harbor, GHCR, ECR …)."""

    def __init__(self, url: str, *, host: str | None = None, token: str | None = None, timeout: float = 10.0):
        self.url = url.rstrip("/") + "/"
        self.host = host or _host_of(url)
        self.token = token
        self.timeout = timeout

    def tags(self, image_repo: str) -> list[str]:
        import httpx

        name = _repository_path(image_repo, self.host)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        found: list[str] = []
        next_url: str | None = urljoin(self.url, f"v2/{name}/tags/list")
        try:
            with httpx.Client(timeout=self.timeout, headers=headers) as client:
                while next_url:
                    response = client.get(next_url)
                    if response.status_code == 404:
                        raise RegistryError(f"{self.host}/{name}: no such repository in the registry")
                    if response.status_code in (401, 403):
                        raise RegistryError(
                            f"{self.host}/{name}: the registry refused to list tags (HTTP "
                            f"{response.status_code}); set registry.tokenSecret"
                        )
                    if response.status_code != 200:
                        raise RegistryError(
                            f"{self.host}/{name}: tag list failed: HTTP {response.status_code}"
                        )
                    found.extend(str(t) for t in (response.json().get("tags") or []))
                    next_url = _next_page(response.headers.get("Link"), str(response.url))
        except httpx.HTTPError as error:
            raise RegistryError(f"cannot reach the registry {self.url}: {error}") from error
        except ValueError as error:
            raise RegistryError(f"{self.url}: the tag list is not JSON") from error
        return newest_first(found)

    def push(self, image_repo: str, tag: str) -> None:
        raise RegistryError(f"{self.host}: images are pushed by CI (docker push), not by idp-console")


def _next_page(link: str | None, current: str) -> str | None:
    """The ``rel="next"`` target of a Link header (the API's pagination), absolute."""
    if not link:
        return None
    for part in link.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return urljoin(current, target.strip().strip("<>"))
    return None


def check_tag(registry: Registry, image_repo: str, version: str) -> None:
    """Raise ``RegistryError`` with what to do when ``image_repo:version`` was never pushed."""
    tags = registry.tags(image_repo)
    if version in tags:
        return
    newest = ", ".join(tags[:3]) or "none yet"
    raise RegistryError(
        f"{image_repo}:{version} is not in the registry (newest tags: {newest}); "
        "push it first — the service's CI builds and pushes every version"
    )


def service_versions(workspace: Any, entity: Any) -> list[str]:
    """The versions a deploy of catalog ``entity`` may pick: its image's tags, newest first ([] when
    it declares no image, the workspace has no registry, or the registry cannot answer)."""
    image_repo = (getattr(entity, "annotations", None) or {}).get(IMAGE_ANNOTATION)
    registry = registry_for(workspace) if image_repo else None
    if registry is None or not image_repo:
        return []
    try:
        return registry.tags(image_repo)
    except RegistryError:
        return []
