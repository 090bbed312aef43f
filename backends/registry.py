"""Container image registries: which tags (versions) of a service's image exist.

```yaml
registry:
  host: registry.acme.example        # images are called <host>/<owner>/<name>:<version>
  url: https://registry.acme.example # where tags are listed (OCI Distribution API); for the demo a
                                     # directory ("{data_dir}/registry") that the simulated CI writes
  tokenSecret: registry              # secret name (keyring / IDP_CONSOLE_SECRET_REGISTRY): a token,
                                     # or user:password for basic auth and token services
```

Before a deploy, :func:`resolve_image` turns the version's tag into the manifest digest
(``HEAD /v2/<name>/manifests/<tag>``), so the Deployment is pinned to what was checked; a missing
tag is refused with the nearest tags the repository has.

Two implementations of one small protocol: :class:`OciRegistry` speaks the OCI Distribution API
(``GET /v2/<name>/tags/list``, following ``Link`` pages) with httpx; :class:`FileRegistry` keeps
one JSON file of tags per repository, which the demo's simulated first CI run pushes to.
``tags()`` is newest first: semantic versions in descending order, then the other tags.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import os
import re
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin

import httpx

from backends import paths
from backends.atomic import write_text_atomic
from backends.http import tls_context

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


class ImageNotFound(RegistryError):
    """The repository has no such tag (the message names the nearest ones it has)."""


class RegistryUnauthorized(RegistryError):
    """The registry refused our credentials (or asked for some and we have none)."""


# What a registry may answer for a tag: an OCI index or manifest, a Docker manifest list or
# manifest. Without these in Accept, distribution converts or refuses, and the digest would be
# of another document than the one the container runtime pulls.
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """A tag as the registry resolved it: ``repository`` is ``host/path``."""

    repository: str
    tag: str
    digest: str

    @property
    def reference(self) -> str:
        """``host/path:tag@sha256:…``: the runtime pulls the digest; the tag stays for people and
        for the engine, which reads the running version from it."""
        return f"{self.repository}:{self.tag}@{self.digest}"

    @classmethod
    def parse(cls, reference: str) -> ResolvedImage | None:
        """The inverse of :attr:`reference` (a pin recorded in the history); None if not pinned."""
        base, at, digest = reference.partition("@")
        repository, tag = split_image(base)
        if not at or not tag or not _DIGEST.fullmatch(digest):
            return None
        return cls(repository=repository, tag=tag, digest=digest)


class Registry(Protocol):
    """Where a workspace's images live."""

    host: str

    def tags(self, image_repo: str) -> list[str]:
        """The repository's tags, newest first; ``RegistryError`` if it cannot say."""
        ...

    def push(self, image_repo: str, tag: str) -> None:
        """Record that ``image_repo:tag`` exists (what a CI run's ``docker push`` does)."""
        ...

    def digest(self, image_repo: str, tag: str) -> str:
        """The manifest digest ``image_repo:tag`` points at; ``ImageNotFound`` when there is no such
        tag, ``RegistryError`` when the registry cannot say."""
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
    missing_secret: str = ""  # tokenSecret names a secret nobody stored: its variable, for the refusal

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
    """The workspace's registry (the demo's file registry by default); None if none is configured.
    Its credentials come from the secret ``registry.tokenSecret`` names (never logged)."""
    section = workspace.section("registry") if workspace is not None else {}
    settings = RegistrySettings.from_config(
        section, is_demo=bool(workspace is not None and workspace.is_demo)
    )
    if settings is None:
        return None
    token = None
    if section.get("tokenSecret"):
        from backends.secrets import default_secret_store, env_name

        name = str(section["tokenSecret"])
        token = default_secret_store().get(name)
        if token is None:
            token = ""  # named but absent: said in the refusal, not guessed around
            settings = RegistrySettings(settings.host, settings.url, missing_secret=env_name(name))
    return open_registry(settings, root=getattr(workspace, "root", None), token=token)


def open_registry(
    settings: RegistrySettings, *, root: Path | None = None, token: str | None = None
) -> Registry:
    """An :class:`OciRegistry` for an http(s) URL, else a :class:`FileRegistry` at that directory."""
    if settings.url.startswith(("http://", "https://")):
        registry = OciRegistry(settings.url, host=settings.host, token=token)
        registry.missing_secret = settings.missing_secret
        return registry
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

    def digest(self, image_repo: str, tag: str) -> str:
        """A stable fake digest per repository and tag (the demo has no image bytes to hash), so the
        demo pins its Deployments through the same code path as a real registry."""
        if tag not in self.tags(image_repo):
            raise ImageNotFound(f"{tag} is not in registry {split_image(image_repo)[0]}")
        name = _repository_path(image_repo, self.host)
        return "sha256:" + hashlib.sha256(f"{self.host}/{name}:{tag}".encode()).hexdigest()

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
        self.missing_secret = ""

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, auth=_RegistryAuth(self.token), verify=tls_context())

    def _refused(self, name: str, status: int, what: str) -> RegistryUnauthorized:
        if self.missing_secret:
            how = f"no credentials: {self.missing_secret} is not set and the keyring has none"
        elif self.token:
            how = "check the credentials registry.tokenSecret names"
        else:
            how = "set registry.tokenSecret in idp-console.yaml"
        return RegistryUnauthorized(f"registry {self.host} refused to {what} {name} (HTTP {status}); {how}")

    def tags(self, image_repo: str) -> list[str]:
        name = _repository_path(image_repo, self.host)
        found: list[str] = []
        next_url: str | None = urljoin(self.url, f"v2/{name}/tags/list")
        try:
            with self._client() as client:
                while next_url:
                    response = client.get(next_url, headers={"Accept": "application/json"})
                    if response.status_code == 404:
                        raise RegistryError(f"{self.host}/{name}: no such repository in the registry")
                    if response.status_code in (401, 403):
                        raise self._refused(name, response.status_code, "list the tags of")
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

    def digest(self, image_repo: str, tag: str) -> str:
        """``HEAD`` the tag's manifest and read ``Docker-Content-Digest``; a registry that does not
        send it is asked with ``GET`` and the body hashed (the digest is defined as that hash)."""
        name = _repository_path(image_repo, self.host)
        url = urljoin(self.url, f"v2/{name}/manifests/{tag}")
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        try:
            with self._client() as client:
                response = client.head(url, headers=headers)
                digest = response.headers.get("Docker-Content-Digest", "")
                if response.status_code == 200 and not _DIGEST.fullmatch(digest):
                    response = client.get(url, headers=headers)
                    digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
        except httpx.HTTPError as error:
            raise RegistryError(f"cannot reach the registry {self.url}: {error}") from error
        if response.status_code == 404:
            raise ImageNotFound(f"{tag} is not in registry {self.host}/{name}")
        if response.status_code in (401, 403):
            raise self._refused(name, response.status_code, "show")
        if response.status_code != 200:
            raise RegistryError(
                f"{self.host}/{name}:{tag}: manifest lookup failed: HTTP {response.status_code}"
            )
        return digest

    def push(self, image_repo: str, tag: str) -> None:
        raise RegistryError(f"{self.host}: images are pushed by CI (docker push), not by idp-console")


def _auth_params(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…",scope="…"`` → ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return scheme.lower(), params


class _RegistryAuth(httpx.Auth):
    """The registry's auth handshake (an ``httpx.Auth``): a request without credentials; on a
    ``401`` with ``WWW-Authenticate: Basic`` the same request with ``user:password``; with ``Bearer
    realm=…`` a token from that token service (with ``user:password`` if we have them, anonymous
    otherwise) and the request again with it. A bare token (no ``:``) is sent as a Bearer token
    at once. Credentials never appear in an error message."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret or ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        user, colon, password = self.secret.partition(":")
        if self.secret and not colon:
            request.headers["Authorization"] = f"Bearer {self.secret}"
        response = yield request
        if response.status_code != 401 or ("Authorization" in request.headers and not colon):
            return
        scheme, params = _auth_params(response.headers.get("WWW-Authenticate", ""))
        basic = (user, password) if colon else None
        if scheme == "basic" and basic is not None:
            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.headers["Authorization"] = f"Basic {pair}"
            yield request
        elif scheme == "bearer" and params.get("realm"):
            query = {k: params[k] for k in ("service", "scope") if params.get(k)}
            with httpx.Client(timeout=10, verify=tls_context()) as client:
                answer = client.get(params["realm"], params=query, auth=basic)
            if answer.status_code != 200:
                return  # the original 401 stands: refused, said by the caller
            try:
                body = answer.json()
            except ValueError:
                return
            token = body.get("token") or body.get("access_token")
            if token:
                request.headers["Authorization"] = f"Bearer {token}"
                yield request


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


def nearest_tags(wanted: str, tags: list[str], count: int = 3) -> list[str]:
    """The tags closest to ``wanted``: for a semantic version, by distance in (major, minor, patch),
    the newer first on a tie (v2.3.9 → v2.3.1, v2.3.0, then v2.4.0); otherwise by spelling."""
    match = _SEMVER.fullmatch(wanted)
    if match is None:
        close = difflib.get_close_matches(wanted, tags, n=count, cutoff=0.0)
        return close or tags[:count]
    core = (int(match[1]), int(match[2]), int(match[3]))

    def distance(tag: str) -> tuple[int, ...]:
        key = version_key(tag)
        if key[0] == 0:
            return (10**9,)  # not a version: after every version
        return (*(abs(a - b) for a, b in zip(key[1], core, strict=True)), 0 if key[1] < core else 1)

    ranked = sorted(tags, key=lambda t: (distance(t), [-x for x in version_key(t)[1]]))
    return ranked[:count]


def image_repository(image: str, registry: Registry) -> str:
    """``host/path`` for an image name that may leave the host out (then the workspace registry's);
    a name on another host than the workspace registry's is refused, as it cannot be checked."""
    first, slash, _rest = image.partition("/")
    looks_like_host = bool(slash) and ("." in first or ":" in first or first == "localhost")
    if not looks_like_host:
        return f"{registry.host}/{image}"
    if first != registry.host:
        raise RegistryError(
            f"image {image} is on {first}, but the workspace registry is {registry.host} "
            "(registry.host in idp-console.yaml): it cannot be checked"
        )
    return image


def resolve_image(registry: Registry, image: str, tag: str) -> ResolvedImage:
    """``image:tag`` resolved to its manifest digest; ``ImageNotFound`` naming the nearest tags the
    repository has when the tag is missing, ``RegistryError`` when the registry cannot say."""
    repository = image_repository(split_image(image)[0], registry)
    try:
        digest = registry.digest(repository, tag)
    except ImageNotFound:
        tags = registry.tags(repository)  # its own errors (no such repository …) say it better
        nearest = ", ".join(nearest_tags(tag, tags)) or "none — nothing was pushed yet"
        raise ImageNotFound(
            f"{tag} is not in registry {repository}; nearest tags: {nearest} — push it first "
            "(the service's CI builds and pushes every version)"
        ) from None
    return ResolvedImage(repository=repository, tag=tag, digest=digest)


def service_image(entity: Any, environment: Any) -> str | None:
    """The image repository a deploy of ``entity`` to ``environment`` checks: the environment's
    ``image`` ({service} replaced), else the service's ``idp-console.dev/image`` annotation."""
    configured = getattr(environment, "image", "") or ""
    if configured:
        return str(configured).replace("{service}", entity.name)
    return (getattr(entity, "annotations", None) or {}).get(IMAGE_ANNOTATION) or None


def service_versions(workspace: Any, entity: Any, environment: Any = None) -> list[str]:
    """The versions a deploy of catalog ``entity`` to ``environment`` may pick: the tags of the
    repository that deploy checks (:func:`service_image`: the environment's ``image``, else the
    service's annotation), newest first; [] when there is none, the workspace has no registry, or
    the registry cannot answer."""
    image = service_image(entity, environment)
    registry = registry_for(workspace) if image else None
    if registry is None or not image:
        return []
    try:
        return registry.tags(image_repository(split_image(image)[0], registry))
    except RegistryError:
        return []
