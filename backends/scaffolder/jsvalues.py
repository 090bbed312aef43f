"""JavaScript value semantics for the template engine, as Backstage's nunjitsu applies them.

Backstage renders templates in JavaScript, so ``"a" + 1`` is ``"a1"``, ``[]`` is truthy in an
``if``, ``1 == "1"`` holds and ``4 / 2`` prints ``2``. These helpers give Python values the same
meaning; the engine's code generator routes ``+``, ``~``, ``==``, ``===``, ``and``/``or``/``not``
and every ``if`` test through them. Checked against a real Backstage by the fidelity corpus
(``tests/scaffolder/fidelity``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from jinja2 import Undefined

MAX_SAFE_INTEGER = 2**53 - 1


def is_undefined(value: Any) -> bool:
    return isinstance(value, Undefined)


def truthy(value: Any) -> bool:
    """JavaScript truthiness: ``[]`` and ``{}`` are true; ``""``, 0, NaN, null, undefined false."""
    if value is None or value is False or isinstance(value, Undefined):
        return False
    if isinstance(value, (int, float)):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return len(value) > 0
    return True


def number_text(value: float | int) -> str:
    """``Number.prototype.toString``: ``2``, ``0.1``, ``1e+21``, ``1e-7``, ``NaN``, ``Infinity``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) <= MAX_SAFE_INTEGER:
            return str(value)
        value = float(value)  # a JavaScript number is a double
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr() is the shortest round-tripping form, as in ECMAScript; only the layout differs.
    digits_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()[1:]
    digits = "".join(str(d) for d in digits_tuple)
    k, n = len(digits), len(digits) + int(exponent)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + text


def to_primitive(value: Any) -> Any:
    """ToPrimitive: arrays join with commas (null items empty), objects are ``[object Object]``."""
    if isinstance(value, (list, tuple)):
        return ",".join("" if v is None or is_undefined(v) else to_string(v) for v in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return value


def to_string(value: Any) -> str:
    """ToString, as ``+`` with a string and ``~`` use it (``undefined``, ``null`` spelled out)."""
    value = to_primitive(value)
    if is_undefined(value):
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return number_text(value)
    return str(value)


def to_number(value: Any) -> float | int:
    value = to_primitive(value)
    if is_undefined(value):
        return math.nan
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    if text == "":
        return 0
    try:
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        return math.nan


def add(left: Any, right: Any) -> Any:
    """JavaScript ``+``: string concatenation as soon as either side is (or becomes) a string."""
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left + right
    left_p, right_p = to_primitive(left), to_primitive(right)
    if isinstance(left_p, str) or isinstance(right_p, str):
        return to_string(left_p) + to_string(right_p)
    return to_number(left_p) + to_number(right_p)


def concat(*values: Any) -> str:
    """Nunjucks ``~``: every operand as a JavaScript string."""
    return "".join(to_string(v) for v in values)


def _primitive(value: Any) -> bool:
    return value is None or isinstance(value, (Undefined, bool, int, float, str))


def strict_equal(left: Any, right: Any) -> bool:
    """``===``: same type and value; arrays and objects only equal themselves."""
    if not (_primitive(left) and _primitive(right)):
        return left is right
    if is_undefined(left) or is_undefined(right):
        return is_undefined(left) and is_undefined(right)
    if left is None or right is None:
        return left is right
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, str) != isinstance(right, str):
        return False
    return bool(left == right)


def loose_equal(left: Any, right: Any) -> bool:
    """``==``: null equals undefined, numbers and strings compare as numbers, booleans as 0/1."""
    if strict_equal(left, right):
        return True
    if not _primitive(left) and not _primitive(right):
        return False
    return _primitive_loose(to_primitive(left), to_primitive(right))


def _primitive_loose(left: Any, right: Any) -> bool:
    if strict_equal(left, right):
        return True
    nullish = (left is None or is_undefined(left), right is None or is_undefined(right))
    if any(nullish):
        return all(nullish)
    if isinstance(left, bool) and not isinstance(right, bool):
        return _primitive_loose(int(left), right)
    if isinstance(right, bool) and not isinstance(left, bool):
        return _primitive_loose(left, int(right))
    if type(left) is type(right) or (isinstance(left, (int, float)) and isinstance(right, (int, float))):
        return False
    if isinstance(left, (int, float)) and isinstance(right, str):
        return left == to_number(right)
    if isinstance(left, str) and isinstance(right, (int, float)):
        return to_number(left) == right
    return False
