"""Nunjucks built-in filters whose meaning differs from Jinja2's filter of the same name.

Backstage renders with nunjitsu (Nunjucks 3.2.4 semantics, JavaScript values). Each filter here is
the Nunjucks behaviour, recorded from a real Backstage in ``tests/scaffolder/fidelity``; Jinja2's
filters that Nunjucks lacks (``map``, ``unique``, ``tojson``…) are not offered at all, so a
template that works here works there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from jinja2 import Undefined, pass_environment

from backends.scaffolder import jsvalues as js
from backends.scaffolder.errors import ExpressionError

# The filters Nunjucks has (https://mozilla.github.io/nunjucks/templating.html#builtin-filters),
# plus selectattr/rejectattr, which nunjitsu keeps. Every other Jinja2 filter is removed.
NUNJUCKS_FILTERS = frozenset(
    [
        "abs",
        "batch",
        "capitalize",
        "center",
        "d",
        "default",
        "dictsort",
        "dump",
        "e",
        "escape",
        "first",
        "float",
        "forceescape",
        "groupby",
        "indent",
        "int",
        "join",
        "last",
        "length",
        "list",
        "lower",
        "nl2br",
        "random",
        "reject",
        "rejectattr",
        "replace",
        "reverse",
        "round",
        "safe",
        "select",
        "selectattr",
        "slice",
        "sort",
        "string",
        "striptags",
        "sum",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
    ]
)

_INT_PREFIX = re.compile(r"^\s*([+-]?\d+)")
_FLOAT_PREFIX = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_TAG = re.compile(r"</?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->", re.IGNORECASE)


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, Undefined) else js.to_string(value)


def reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return list(value)[::-1] if isinstance(value, Iterable) else value


def to_list(value: Any) -> list[Any]:
    """``list``: a string's characters; an object's ``{key, value}`` entries."""
    if isinstance(value, str):
        return list(value)
    if isinstance(value, Mapping):
        return [{"key": k, "value": v} for k, v in value.items()]
    return list(value) if isinstance(value, Iterable) else []


def indent(value: Any, width: int | str = 4, first: bool = False) -> str:
    """Every line but the first (unless ``first``) gets the indent, blank lines included."""
    text = _text(value)
    if text == "":
        return ""
    pad = " " * int(width) if not isinstance(width, str) else width
    lines = text.split("\n")
    return "\n".join(line if i == 0 and not first else pad + line for i, line in enumerate(lines))


def round_(value: Any, precision: int = 0, method: str = "common") -> float | int:
    """JavaScript ``Math.round`` (halves go up), or ``floor`` / ``ceil``."""
    number = float(js.to_number(value))
    factor = 10 ** int(precision)
    if method == "ceil":
        result = math.ceil(number * factor) / factor
    elif method == "floor":
        result = math.floor(number * factor) / factor
    else:
        result = math.floor(number * factor + 0.5) / factor
    return int(result) if result.is_integer() and abs(result) < 2**53 else result


def title(value: Any) -> str:
    """Each space-separated word capitalized (``big-world`` stays ``Big-world``)."""
    return " ".join(capitalize(word) for word in _text(value).split(" "))


def capitalize(value: Any) -> str:
    text = _text(value)
    return text[:1].upper() + text[1:].lower()


def to_int(value: Any, default: Any = None) -> Any:
    """``parseInt(value, 10)``: the leading integer; otherwise the default (undefined)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)) and math.isfinite(value):
        return int(value)
    match = _INT_PREFIX.match(_text(value))
    return int(match.group(1)) if match else default


def to_float(value: Any, default: Any = None) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    match = _FLOAT_PREFIX.match(_text(value))
    return float(match.group(1)) if match else default


def urlencode(value: Any) -> str:
    """``encodeURIComponent`` of a string; ``k=v&…`` of an object or a list of pairs."""
    if isinstance(value, Mapping):
        pairs: Iterable[Any] = value.items()
    elif isinstance(value, (list, tuple)):
        pairs = value
    else:
        return quote(_text(value), safe="-_.!~*'()")
    return "&".join(f"{urlencode(k)}={urlencode(v)}" for k, v in pairs)


def striptags(value: Any, preserve_linebreaks: bool = False) -> str:
    text = _TAG.sub("", _text(value))
    if preserve_linebreaks:
        text = re.sub(r"^ +| +$", "", text, flags=re.MULTILINE)
        text = re.sub(r" +", " ", text).replace("\r\n", "\n")
        text = re.sub(r"\n\n\n+", "\n\n", text)
    else:
        text = re.sub(r"\s+", " ", text)
    return text.strip()


def wordcount(value: Any) -> int:
    return len(re.findall(r"\w+", _text(value), flags=re.ASCII))


def batch(value: Any, size: int, fill: Any = None) -> list[list[Any]]:
    """Rows of ``size``; the last one is padded only with a truthy ``fill`` (as Nunjucks does)."""
    items = list(value)
    count = int(size)
    rows = [items[i : i + count] for i in range(0, len(items), max(count, 1))]
    if rows and js.truthy(fill):
        rows[-1] = rows[-1] + [fill] * (count - len(rows[-1]))
    return rows


def _attribute(item: Any, name: Any) -> Any:
    if isinstance(item, Mapping):
        return item.get(name) if name in item else Undefined(name=str(name))
    if isinstance(item, (list, tuple, str)) and isinstance(name, int) and 0 <= name < len(item):
        return item[name]
    return Undefined(name=str(name))


def selectattr(value: Any, attribute: str, *_ignored: Any) -> list[Any]:
    """Items whose ``attribute`` is truthy (Nunjucks ignores any test named after it)."""
    return [item for item in value if js.truthy(_attribute(item, attribute))]


def rejectattr(value: Any, attribute: str, *_ignored: Any) -> list[Any]:
    return [item for item in value if not js.truthy(_attribute(item, attribute))]


def groupby(value: Any, attribute: str) -> dict[str, list[Any]]:
    """An object of lists keyed by the attribute's string value, in order of first appearance."""
    groups: dict[str, list[Any]] = {}
    for item in value:
        groups.setdefault(js.to_string(_attribute(item, attribute)), []).append(item)
    return groups


def sum_(value: Any, attribute: Any = None, start: Any = 0) -> Any:
    total = start
    for item in value:
        total = js.add(total, _attribute(item, attribute) if attribute is not None else item)
    return total


def length(value: Any) -> int:
    if value is None or isinstance(value, Undefined):
        return 0
    return len(value) if hasattr(value, "__len__") else 0


def string(value: Any) -> str:
    return _text(value)


@pass_environment
def select(environment: Any, value: Any, test: str | None = None, *args: Any) -> list[Any]:
    if test is None:
        return [item for item in value if js.truthy(item)]
    check = environment.tests[test]
    return [item for item in value if check(item, *args)]


@pass_environment
def reject(environment: Any, value: Any, test: str | None = None, *args: Any) -> list[Any]:
    if test is None:
        return [item for item in value if not js.truthy(item)]
    check = environment.tests[test]
    return [item for item in value if not check(item, *args)]


def _require_text(name: str, value: Any) -> str:
    if value is None or isinstance(value, Undefined):
        raise ExpressionError(f'filter "{name}" failed for undefined input: filter input must be a string')
    return js.to_string(value)


@pass_environment
def join(environment: Any, value: Any, separator: str = "", attribute: Any = None) -> str:
    if value is None or isinstance(value, Undefined):
        raise ExpressionError('filter "join" failed for undefined input: join requires an array')
    items = [_attribute(item, attribute) for item in value] if attribute is not None else list(value)
    return str(separator).join(
        "" if v is None or isinstance(v, Undefined) else js.to_string(v) for v in items
    )


FILTERS: dict[str, Any] = {
    "upper": lambda value: _text(value).upper(),
    "lower": lambda value: _text(value).lower(),
    "trim": lambda value: _require_text("trim", value).strip(),
    "join": join,
    "reverse": reverse,
    "list": to_list,
    "indent": indent,
    "round": round_,
    "title": title,
    "capitalize": capitalize,
    "int": to_int,
    "float": to_float,
    "urlencode": urlencode,
    "striptags": striptags,
    "wordcount": wordcount,
    "batch": batch,
    "selectattr": selectattr,
    "rejectattr": rejectattr,
    "groupby": groupby,
    "sum": sum_,
    "length": length,
    "string": string,
    "select": select,
    "reject": reject,
}
