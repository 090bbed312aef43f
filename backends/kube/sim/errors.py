"""API errors of the simulated cluster, rendered as Kubernetes ``Status`` objects."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the emulator answers with ``status`` and a ``kind: Status`` body, as kube-apiserver does."""

    def __init__(self, status: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}

    def to_status(self) -> dict[str, Any]:
        """The ``Status`` body; the official client puts it into ``ApiException.body``."""
        return {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.status,
        }


def not_found(kind: str, name: str) -> ApiError:
    """404 for a missing object."""
    return ApiError(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind})


def already_exists(kind: str, name: str) -> ApiError:
    """409 for a create whose name is taken."""
    return ApiError(409, "AlreadyExists", f'{kind} "{name}" already exists', {"name": name, "kind": kind})


def conflict(kind: str, name: str) -> ApiError:
    """409 for a write based on a stale resourceVersion (the wording of kube-apiserver)."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "kind": kind},
    )


def gone(resource_version: int | str, oldest: int) -> ApiError:
    """410 for a watch resuming from a version older than the retained history."""
    return ApiError(410, "Expired", f"too old resource version: {resource_version} ({oldest})")


def bad_request(message: str) -> ApiError:
    """400 for a request that cannot be understood."""
    return ApiError(400, "BadRequest", message)


def invalid(kind: str, name: str, message: str) -> ApiError:
    """422 for an object that fails validation."""
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {message}', {"name": name, "kind": kind})
