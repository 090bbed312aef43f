"""``ServiceResources``: one service's infrastructure, as a developer writes it in the infra repo.

```yaml
apiVersion: platform.internal/v1
kind: ServiceResources
metadata:
  name: payment-service
  owner: team-payments
spec:
  compute:  {replicas: 3, cpu: "500m", memory: "512Mi"}
  database: {type: postgres, size: small, backups: daily}
  cache:    {type: redis, size: small, eviction: lru}
```
Parsing checks every key (unknown keys, unknown sizes and types, quantities Kubernetes would refuse)
and reports the first problem of a file as ``FILE:LINE: spec.cache.size: …``; what the file leaves
out the platform fills in (the size's defaults, then eviction ``lru``, backups ``daily`` in
production). ``metadata.approvedBy`` (optional) lists the groups that approved the change, for
policies that need an approver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
import yaml_rs

from backends.config_checks import (
    ConfigError,
    ConfigPath,
    format_path,
    mapping,
    shown,
    text,
    unknown_key_message,
)
from backends.infra.quantity import QuantityError, parse_quantity
from backends.infra.settings import InfraSettings

API_VERSION = "platform.internal/v1"
KIND = "ServiceResources"
TOP_KEYS = ("apiVersion", "kind", "metadata", "spec")
METADATA_KEYS = ("name", "owner", "approvedBy")
SPEC_KEYS = ("compute", "database", "cache")
COMPUTE_KEYS = ("replicas", "cpu", "memory")
DATABASE_KEYS = ("type", "size", "backups")
CACHE_KEYS = ("type", "size", "eviction")
DATABASE_TYPES = ("postgres", "mysql")
CACHE_TYPES = ("redis", "memcached")
BACKUPS = ("hourly", "daily", "weekly", "none")
EVICTIONS = ("lru", "lfu", "random", "noeviction")
DEFAULT_COMPUTE = {"replicas": 1, "cpu": "250m", "memory": "256Mi"}


class InfraInputError(Exception):
    """A file in the infra repository that idp-console refuses: ``FILE:LINE: key: why``."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")
        self.file = file
        self.line = line


@dataclass(frozen=True, slots=True)
class Compute:
    replicas: int
    cpu: str
    memory: str


@dataclass(frozen=True, slots=True)
class Database:
    type: str
    size: str
    backups: str


@dataclass(frozen=True, slots=True)
class Cache:
    type: str
    size: str
    eviction: str


@dataclass(frozen=True, slots=True)
class ServiceResources:
    """One file, checked, with the platform's defaults filled in."""

    name: str
    owner: str
    file: str
    compute: Compute | None = None
    database: Database | None = None
    cache: Cache | None = None
    approved_by: tuple[str, ...] = ()

    def as_object(self) -> dict[str, Any]:
        """The document as policies see it (``object`` in CEL), defaults included."""
        spec: dict[str, Any] = {}
        if self.compute:
            spec["compute"] = {
                "replicas": self.compute.replicas, "cpu": self.compute.cpu, "memory": self.compute.memory,
            }  # fmt: skip
        if self.database:
            spec["database"] = {
                "type": self.database.type, "size": self.database.size, "backups": self.database.backups,
            }  # fmt: skip
        if self.cache:
            spec["cache"] = {
                "type": self.cache.type,
                "size": self.cache.size,
                "eviction": self.cache.eviction,
            }
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name, "owner": self.owner, "approvedBy": list(self.approved_by)},
            "spec": spec,
        }


def line_of(source: str, path: ConfigPath) -> int | None:
    """The line of the value at ``path`` in ``source`` (the workspace's own locator)."""
    from backends.workspace import config_line

    return config_line(source, path)


def parse_resources(
    source: str, file: str, settings: InfraSettings, *, production: bool, service: str | None = None
) -> ServiceResources:
    """Check one ``resources.yaml`` (``service``: the directory it sits in, which must be its name)
    and fill in the defaults; raises :class:`InfraInputError` with file and line."""
    try:
        # yaml_rs, as the workspace loader: ~10x PyYAML's C loader; PyYAML only to place an error.
        data = yaml_rs.loads(source, parse_datetime=False)
    except yaml_rs.YAMLDecodeError:
        try:
            yaml.safe_load(source)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise InfraInputError(file, line, f"not valid YAML: {problem}") from None
        raise InfraInputError(file, None, "not valid YAML") from None
    try:
        return _checked(data, file, settings, production=production, service=service)
    except ConfigError as error:
        raise InfraInputError(file, line_of(source, error.path), str(error)) from None


def _choice(value: Any, path: ConfigPath, allowed: tuple[str, ...] | list[str], what: str) -> str:
    chosen = text(value, path)
    if chosen not in allowed:
        raise ConfigError(path, f"unknown {what} {chosen!r} (known: {', '.join(allowed)})")
    return chosen


def _quantity(value: Any, path: ConfigPath) -> str:
    raw = text(value, path)
    try:
        if parse_quantity(raw) == 0:
            raise ConfigError(path, f"{raw!r}: a request of zero runs nothing")
    except QuantityError as error:
        raise ConfigError(path, str(error)) from None
    return raw


def _section(data: Any, path: ConfigPath, keys: tuple[str, ...]) -> dict[str, Any]:
    section = mapping(data, path)
    for key in section:
        if str(key) not in keys:
            raise ConfigError((*path, str(key)), unknown_key_message(str(key), list(keys)))
    return dict(section)


def _checked(
    data: Any, file: str, settings: InfraSettings, *, production: bool, service: str | None
) -> ServiceResources:
    top = _section(data, (), TOP_KEYS)
    if top.get("apiVersion") != API_VERSION:
        raise ConfigError(("apiVersion",), f"expected {API_VERSION}, got {shown(top.get('apiVersion'))}")
    if top.get("kind") != KIND:
        raise ConfigError(("kind",), f"expected {KIND}, got {shown(top.get('kind'))}")
    meta = _section(top.get("metadata"), ("metadata",), METADATA_KEYS)
    for needed in ("name", "owner"):
        if not meta.get(needed):
            raise ConfigError(("metadata",), f"metadata.{needed} is required")
    name = text(meta["name"], ("metadata", "name"))
    if service is not None and name != service:
        raise ConfigError(("metadata", "name"), f"{name!r} sits in the directory of {service!r}")
    approved = meta.get("approvedBy") or []
    if not isinstance(approved, list):
        raise ConfigError(("metadata", "approvedBy"), f"expected a list of groups, got {shown(approved)}")
    spec = _section(top.get("spec") or {}, ("spec",), SPEC_KEYS)
    compute = database = cache = None
    if spec.get("compute") is not None:
        raw = {**DEFAULT_COMPUTE, **_section(spec["compute"], ("spec", "compute"), COMPUTE_KEYS)}
        from backends.config_checks import integer

        compute = Compute(
            integer(raw["replicas"], ("spec", "compute", "replicas"), 0, 1000),
            _quantity(raw["cpu"], ("spec", "compute", "cpu")),
            _quantity(raw["memory"], ("spec", "compute", "memory")),
        )
    if spec.get("database") is not None:
        raw = _section(spec["database"], ("spec", "database"), DATABASE_KEYS)
        kind = _choice(
            raw.get("type") or "postgres", ("spec", "database", "type"), DATABASE_TYPES, "database type"
        )
        size = _choice(
            raw.get("size") or "small", ("spec", "database", "size"), settings.size_names("database"), "size"
        )
        default = settings.sizes["database"][size].defaults.get("backups") or (
            "daily" if production else "none"
        )
        backups = _choice(
            raw.get("backups") or default, ("spec", "database", "backups"), BACKUPS, "backup schedule"
        )
        database = Database(kind, size, backups)
    if spec.get("cache") is not None:
        raw = _section(spec["cache"], ("spec", "cache"), CACHE_KEYS)
        kind = _choice(raw.get("type") or "redis", ("spec", "cache", "type"), CACHE_TYPES, "cache type")
        size = _choice(
            raw.get("size") or "small", ("spec", "cache", "size"), settings.size_names("cache"), "size"
        )
        default = settings.sizes["cache"][size].defaults.get("eviction") or "lru"
        eviction = _choice(
            raw.get("eviction") or default, ("spec", "cache", "eviction"), EVICTIONS, "eviction"
        )
        cache = Cache(kind, size, eviction)
    return ServiceResources(
        name=name,
        owner=text(meta["owner"], ("metadata", "owner")),
        file=file,
        compute=compute,
        database=database,
        cache=cache,
        approved_by=tuple(str(group) for group in approved),
    )


__all__ = ["InfraInputError", "ServiceResources", "format_path", "parse_resources"]
