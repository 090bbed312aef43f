"""Label and field selectors, parsed and matched the way kube-apiserver does for list and watch.

Label selectors support ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` and
``!k``; field selectors support ``=``, ``==`` and ``!=`` on any dotted path (``metadata.name``,
``metadata.namespace``, ``status.phase``, ``spec.nodeName`` …).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*([^\s,]*)\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


@dataclass(frozen=True)
class LabelRequirement:
    """One clause of a label selector; ``op`` is ``=``, ``!=``, ``in``, ``notin``, ``exists`` or ``!``."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this clause."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            # Kubernetes: "!=" and "notin" also match objects that lack the label altogether.
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!"


def _split_top_level(text: str) -> list[str]:
    """Split at commas that are not inside ``( … )`` (the value lists of ``in``/``notin``)."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in (p.strip() for p in parts) if part]


def parse_label_selector(text: str | None) -> list[LabelRequirement]:
    """Parse a ``labelSelector`` query parameter; an empty or missing selector matches everything."""
    if not text:
        return []
    requirements: list[LabelRequirement] = []
    for clause in _split_top_level(text):
        if match := _SET_RE.match(clause):
            values = frozenset(v.strip() for v in match.group(3).split(",") if v.strip())
            requirements.append(LabelRequirement(match.group(1), match.group(2), values))
        elif match := _EQ_RE.match(clause):
            op = "=" if match.group(2) == "==" else match.group(2)
            requirements.append(LabelRequirement(match.group(1), op, frozenset({match.group(3)})))
        elif match := _EXISTS_RE.match(clause):
            requirements.append(LabelRequirement(match.group(2), "!" if match.group(1) else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: {clause!r}")
    return requirements


def selector_from_match_labels(selector: Mapping[str, Any] | None) -> list[LabelRequirement]:
    """Turn a workload's ``spec.selector`` (``matchLabels`` + ``matchExpressions``) into requirements."""
    if not selector:
        return []
    requirements = [
        LabelRequirement(key, "=", frozenset({str(value)}))
        for key, value in (selector.get("matchLabels") or {}).items()
    ]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions") or []:
        op = operators[expression["operator"]]
        requirements.append(
            LabelRequirement(expression["key"], op, frozenset(expression.get("values") or ()))
        )
    return requirements


def labels_match(requirements: list[LabelRequirement], labels: Mapping[str, str] | None) -> bool:
    """True when every requirement holds for ``labels`` (no requirements: always true)."""
    labels = labels or {}
    return all(requirement.matches(labels) for requirement in requirements)


@dataclass(frozen=True)
class FieldRequirement:
    """One clause of a field selector, e.g. ``metadata.name=payment-service``."""

    path: tuple[str, ...]
    negate: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` satisfies this clause."""
        current: Any = obj
        for part in self.path:
            current = current.get(part) if isinstance(current, Mapping) else None
        # Field values compare as strings, booleans as Go prints them; a missing field is "".
        if current is None:
            actual = ""
        elif isinstance(current, bool):
            actual = "true" if current else "false"
        else:
            actual = str(current)
        return (actual != self.value) if self.negate else (actual == self.value)


def parse_field_selector(text: str | None) -> list[FieldRequirement]:
    """Parse a ``fieldSelector`` query parameter (``a.b=v,c.d!=w``)."""
    if not text:
        return []
    requirements: list[FieldRequirement] = []
    for clause in _split_top_level(text):
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", clause)
        if not match:
            raise bad_request(f"invalid field selector: {clause!r}")
        path = tuple(match.group(1).split("."))
        requirements.append(FieldRequirement(path, match.group(2) == "!=", match.group(3)))
    return requirements


def fields_match(requirements: list[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    """True when every field requirement holds for ``obj``."""
    return all(requirement.matches(obj) for requirement in requirements)
