"""How old something is, the way kubectl prints it (``45s``, ``12m``, ``5h``, ``3d``)."""

from __future__ import annotations


def kubectl_age(seconds: float) -> str:
    """A unit is used from two of it on: 119 s is ``119s``, 120 s is ``2m``; negative counts as 0."""
    whole = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= 2 * size:
            return f"{whole // size}{unit}"
    return f"{whole}s"
