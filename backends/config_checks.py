"""The small checks every section of ``idp-console.yaml`` is validated with, and the error they raise.

A :class:`ConfigError` carries the path of the offending value (``("deploy", "steps", 0, "weight")``)
apart from its message, so the workspace loader can point at the file and line it came from:
``idp-console.yaml:12: deploy.steps[0].weight: expected 1..100, got 200``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

ConfigPath = tuple[str | int, ...]


def format_path(path: ConfigPath) -> str:
    """``("deploy", "steps", 0, "weight")`` → ``deploy.steps[0].weight``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class ConfigError(Exception):
    """A value in ``idp-console.yaml`` that idp-console refuses; ``path`` says which one."""

    def __init__(self, path: ConfigPath, message: str) -> None:
        super().__init__(f"{format_path(path)}: {message}" if path else message)
        self.path = path
        self.detail = message


def shown(value: Any) -> str:
    """A value as the user wrote it, short enough for one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def mapping(value: Any, path: ConfigPath, known: Iterable[str] | None = None) -> Mapping[str, Any]:
    """``value`` as a mapping; with ``known``, every key must be one of them."""
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"expected a mapping, got {shown(value)}")
    if known is not None:
        allowed = sorted(known)
        for key in value:
            if str(key) not in allowed:
                raise ConfigError((*path, str(key)), unknown_key_message(str(key), allowed))
    return value


def unknown_key_message(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r} ({hint}known: {', '.join(allowed)})"


def text(value: Any, path: ConfigPath, *, empty: bool = False) -> str:
    """A string (numbers are accepted as written: ``namespace: 2024`` is ``"2024"``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(path, f"expected a string, got {shown(value)}")
    result = str(value)
    if not empty and not result.strip():
        raise ConfigError(path, "expected a non-empty string")
    return result


def flag(value: Any, path: ConfigPath) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, f"expected true or false, got {shown(value)}")
    return value


def integer(value: Any, path: ConfigPath, low: int, high: int | None = None) -> int:
    """A whole number in ``low..high`` (YAML ints only: ``2.5`` and ``"3"`` are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, f"expected a whole number, got {shown(value)}")
    if value < low or (high is not None and value > high):
        wanted = f"{low}..{high}" if high is not None else f"{low} or more"
        raise ConfigError(path, f"expected {wanted}, got {value}")
    return value


def fraction(value: Any, path: ConfigPath) -> float:
    """A finite number in 0..1 (``.nan``, ``.inf`` and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(path, f"expected a number in 0..1, got {shown(value)}")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise ConfigError(path, f"expected a number in 0..1, got {shown(value)}")
    return number
