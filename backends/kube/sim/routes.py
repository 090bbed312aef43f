"""Parsing Kubernetes API URLs into (group, version, namespace, plural, name, subresource).

kmock's own parser reads ``/api/v1/namespaces`` as "a namespace with no name" and fails, so
resource URLs are parsed here; kmock still sees everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

# Subresources of a Namespace object: ``/api/v1/namespaces/{name}/status`` is not a collection.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class ApiPath:
    """A parsed API path; ``plural`` is None for discovery paths (``/api/v1``, ``/apis/apps``)."""

    group: str
    version: str | None
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_api_path(path: str) -> ApiPath | None:
    """Parse ``/api/...`` and ``/apis/...`` URLs (trailing slash tolerated); None for other paths."""
    parts = [part for part in path.strip("/").split("/") if part]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    if parts[0] == "api":
        group, rest = "", parts[1:]
    else:
        if len(parts) < 2:
            return None
        group, rest = parts[1], parts[2:]
    if not rest:
        return ApiPath(group, None)
    version, rest = rest[0], rest[1:]
    namespace = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return ApiPath(group, version)
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return ApiPath(group, version, plural, namespace, name, subresource)
