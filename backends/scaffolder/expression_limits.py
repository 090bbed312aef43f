"""CPU-time and memory caps for template expressions, enforced from inside the sandbox.

A template is code written by someone else, run inside the console's own process, so neither a
subprocess nor ``RLIMIT_AS`` (which would cap the whole TUI) is an option. Instead:

- **time**: every render call gets a deadline (``budget``); it is checked on each iteration of
  every ``{% for %}`` loop (the parsed template is rewritten so each loop iterable passes through
  ``tick``), on every call (methods, macros, ``loop()`` recursion) and every filter;
- **memory**: operations that can build a huge value from a small expression — ``'x'.ljust(n)``,
  ``'x' * n``, ``'%999999999d' % 1``, ``replace``, ``join``, ``indent``, ``batch`` … — are
  estimated *before* they run; every call, filter, operator and concatenation result is checked
  after, so repeated doubling stops at the first step past the cap.

Both raise ``LimitError`` ("template expression exceeded …"), which fails the step, not the app.
"""

from __future__ import annotations

import functools
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2 import nodes, pass_context

from backends.scaffolder.errors import ExpressionError

MAX_VALUE_CHARS = 10_000_000  # a string any one operation may build
MAX_ITEMS = 1_000_000  # a list or mapping any one operation may build
MAX_REPEAT = 1_000_000  # ``'x' * n`` / ``[x] * n``: as strict as before the other caps existed
MAX_RANGE_ITEMS = 100_000  # range(); also fill counts of batch/slice
MAX_INT_BITS = 100_000  # ~30,000 decimal digits
_TICK_EVERY = 64  # loop iterations between clock reads


class LimitError(ExpressionError):
    """A template expression went past its time or memory cap."""


class _Budget(threading.local):
    deadline: float | None = None
    seconds: float = 0.0


_BUDGET = _Budget()


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Give the render call inside the block ``seconds`` of time; nested renders share the outer one."""
    if _BUDGET.deadline is not None:
        yield
        return
    _BUDGET.deadline = time.monotonic() + seconds
    _BUDGET.seconds = seconds
    try:
        yield
    finally:
        _BUDGET.deadline = None


def check_time() -> None:
    """LimitError once the current render call is past its deadline."""
    deadline = _BUDGET.deadline
    if deadline is not None and time.monotonic() > deadline:
        raise LimitError(f"template expression exceeded the time limit ({_BUDGET.seconds:g} s per render)")


def _too_big(what: str, size: int, cap: int) -> LimitError:
    return LimitError(
        f"template expression exceeded the memory cap: {what} would be {size:,} long (cap {cap:,})"
    )


def check_size(value: Any, what: str = "a value") -> Any:
    """``value`` unchanged, or LimitError when it is larger than a single operation may build."""
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise _too_big(what, len(value), MAX_VALUE_CHARS)
    elif isinstance(value, (list, tuple, dict)):
        if len(value) > MAX_ITEMS:
            raise _too_big(what, len(value), MAX_ITEMS)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise LimitError(
            f"template expression exceeded the memory cap: {what} has more than {MAX_INT_BITS:,} bits"
        )
    return value


def _check_width(what: str, width: Any, extra: int = 0) -> None:
    if isinstance(width, int) and width + extra > MAX_VALUE_CHARS:
        raise _too_big(what, width + extra, MAX_VALUE_CHARS)


def estimate_chars(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
    """Roughly how many characters ``value`` prints as; stops counting once past ``limit``.

    Shared references count every time (``[big] * 1000`` prints ``big`` a thousand times).
    """
    total = 0
    stack = [value]
    visited = 0
    while stack and total <= limit:
        item = stack.pop()
        visited += 1
        if visited % 4096 == 0:
            check_time()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            total += 2 * len(item) + 2
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            total += len(item) + 2
            stack.extend(item)
        else:
            total += 8
    return total


def check_printed(value: Any, what: str) -> None:
    """LimitError when printing / dumping ``value`` would exceed the string cap."""
    if isinstance(value, (list, tuple, Mapping)):
        size = estimate_chars(value)
        if size > MAX_VALUE_CHARS:
            raise _too_big(what, size, MAX_VALUE_CHARS)


# -- estimates for operations whose result can dwarf their inputs ----------------------------


def replace_size(text: str, old: str, new: str) -> int:
    """The length of ``text.replace(old, new)`` (exact for strings, cheap: one count)."""
    matches = len(text) + 1 if old == "" else text.count(old)
    return len(text) + matches * (len(new) - len(old))


def check_replace(text: Any, old: Any, new: Any, what: str = "replace()") -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        size = replace_size(text, old, new)
        if size > MAX_VALUE_CHARS:
            raise _too_big(what, size, MAX_VALUE_CHARS)


def check_regex_replace(text: str, replacement: str) -> None:
    """A global regex replace may match at every position: refuse when that could be too big."""
    size = len(text) + (len(text) + 1) * len(replacement)
    if size > MAX_VALUE_CHARS:
        raise _too_big("a regex replace", size, MAX_VALUE_CHARS)


def _check_join(separator: str, items: Any) -> None:
    if isinstance(items, (list, tuple)):
        size = sum(len(i) if isinstance(i, str) else 8 for i in items) + len(separator) * len(items)
        if size > MAX_VALUE_CHARS:
            raise _too_big("join()", size, MAX_VALUE_CHARS)


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_printf(template: Any, arguments: Any) -> None:
    """``'%999999999d' % 1`` and ``'%*d' % (10**9, 1)`` build huge strings: refuse big widths."""
    if not isinstance(template, str):
        return
    stars = False
    for match in _PRINTF_SPEC.finditer(template):
        for number in match.groups():
            if number == "*":
                stars = True
            elif number:
                _check_width("a %-format width", int(number), len(template))
    values = arguments if isinstance(arguments, tuple) else (arguments,)
    if stars:
        for value in values:
            if isinstance(value, int) and not isinstance(value, bool):
                _check_width("a %-format width", value, len(template))
    # '%(a)s' * 100000 % {'a': big} repeats one argument per conversion.
    fields = len(_PRINTF_SPEC.findall(template))
    _check_fields("a %-format", template, fields, [*values, *_mapping_values(arguments)])


def _mapping_values(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, Mapping) else []


def _check_fields(what: str, template: str, fields: int, arguments: Iterable[Any]) -> None:
    """Each replacement field may print the longest argument: bound the result by that."""
    longest = max((len(a) if isinstance(a, str) else estimate_chars(a) for a in arguments), default=0)
    size = len(template) + fields * longest
    if size > MAX_VALUE_CHARS:
        raise _too_big(what, size, MAX_VALUE_CHARS)


def check_format_spec(template: str, arguments: Iterable[Any] = ()) -> None:
    """``'{:>999999999}'.format(x)``: refuse big widths and nested (computed) widths.

    ``('{0}' * 300000).format(big)`` is bounded by fields × the longest argument.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format will raise its own error
    _check_fields("a format()", template, sum(1 for p in parsed if p[1] is not None), arguments)
    for _, _, spec, _ in parsed:
        if not spec:
            continue
        if "{" in spec:
            raise LimitError(
                "template expression exceeded the memory cap: computed format widths are not allowed"
            )
        for number in re.findall(r"\d+", spec):
            _check_width("a format width", int(number), len(template))


def check_binop(operator_name: str, left: Any, right: Any) -> None:
    """Refuse ``*`` / ``**`` / ``%`` whose result would be huge, before computing it."""
    if operator_name == "**":
        if isinstance(right, (int, float)) and abs(right) > 1000:
            raise LimitError("template expression exceeded the memory cap: exponent larger than 1000")
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and left.bit_length() * right > MAX_INT_BITS
        ):
            raise LimitError(
                f"template expression exceeded the memory cap: a power of more than {MAX_INT_BITS:,} bits"
            )
    elif operator_name == "*":
        sequence, count = (left, right) if isinstance(left, (str, list, tuple)) else (right, left)
        if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
            cap = MAX_REPEAT
            if count * len(sequence) > cap:
                raise _too_big("a repetition", count * len(sequence), cap)
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_INT_BITS
        ):
            raise LimitError(
                f"template expression exceeded the memory cap: a product of more than {MAX_INT_BITS:,} bits"
            )
    elif operator_name == "%":
        check_printf(left, right)


# -- calls and filters -------------------------------------------------------------------------

_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


def check_call(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse a call whose result would be huge (str methods that take a width or multiply).

    Returns the arguments to call with: a lazy sequence handed to ``str.join`` is read first,
    under the caps, so its size is known before the join.
    """
    check_time()
    owner = getattr(getattr(func, "__wrapped__", func), "__self__", None)
    name = getattr(func, "__name__", "")
    if not isinstance(owner, str) or not args:
        return args
    if name == "join" and _is_lazy(args[0]):
        args = (_materialise(args[0]), *args[1:])
    if name in _WIDTH_METHODS:
        _check_width(f"{name}()", args[0])
    elif name == "expandtabs" and isinstance(args[0], int):
        _check_width("expandtabs()", args[0] * (owner.count("\t") + 1), len(owner))
    elif name == "replace" and len(args) >= 2:
        check_replace(owner, args[0], args[1])
    elif name == "join":
        _check_join(owner, args[0])
    elif name == "format":
        check_format_spec(owner, [*args, *kwargs.values()])
    elif name == "format_map":
        check_format_spec(owner, _mapping_values(args[0]))
    return args


def _filter_guard(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Checks before a filter runs, for filters whose output can dwarf their input."""
    value = args[0] if args else None
    rest = args[1:]

    def option(position: int, key: str, default: Any = None) -> Any:
        return rest[position] if len(rest) > position else kwargs.get(key, default)

    if name == "center":
        _check_width("center()", option(0, "width", 80))
    elif name == "indent":
        width = option(0, "width", 4)
        lines = value.count("\n") + 1 if isinstance(value, str) else 1
        size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _check_width("indent()", size * lines, len(value) if isinstance(value, str) else 0)
    elif name == "wordwrap" and isinstance(value, str):
        width = option(0, "width", 79)
        wrap = option(2, "wrapstring", "\n")
        if isinstance(width, int) and width > 0 and isinstance(wrap, str):
            _check_width("wordwrap()", (len(value) // width + 1) * len(wrap), len(value))
    elif name in ("batch", "slice"):
        count = option(0, "linecount" if name == "batch" else "slices", 0)
        if isinstance(count, int) and count > MAX_RANGE_ITEMS:
            raise _too_big(f"{name}()", count, MAX_RANGE_ITEMS)
    elif name == "format":
        check_printf(value, tuple(rest) if rest else dict(kwargs))
    elif name == "sum" and isinstance(value, (list, tuple)):
        # sum(start=[]) concatenates: its result is as long as all the items together.
        size = sum(len(item) for item in value if isinstance(item, (list, tuple, str)))
        if size > MAX_ITEMS:
            raise _too_big("sum()", size, MAX_ITEMS)
    elif name == "replace" and len(rest) >= 2:
        check_replace(value, rest[0], rest[1], "replace")
    elif name == "join":
        separator = option(0, "d", "")
        _check_join(separator if isinstance(separator, str) else "", value)
        check_printed(value, name)
    elif name in ("dump", "jsonify", "tojson", "pprint", "string", "list"):
        check_printed(value, name)


_ITERATING_FILTERS = frozenset({"join", "list", "sum"})  # they consume their input whole anyway


def _is_lazy(value: Any) -> bool:
    return isinstance(value, Iterator)  # map/select/… results; a range or dict view is sized


def _materialise(values: Iterable[Any]) -> list[Any]:
    """The items of a lazy sequence, stopping as soon as they add up to more than the caps."""
    items: list[Any] = []
    chars = 0
    for count, item in enumerate(values, 1):
        if count > MAX_ITEMS:
            raise _too_big("a sequence", count, MAX_ITEMS)
        chars += len(item) if isinstance(item, str) else estimate_chars(item)
        if chars > MAX_VALUE_CHARS:
            raise _too_big("a sequence", chars, MAX_VALUE_CHARS)
        if count % 4096 == 0:
            check_time()
        items.append(item)
    return items


def guard_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Wrap every filter: clock check, the pre-checks above, and a size check of the result."""
    for name, function in list(filters.items()):
        filters[name] = _guarded_filter(name, function)


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    pass_arg = getattr(function, "jinja_pass_arg", None)

    first = 1 if pass_arg is not None else 0  # where the filtered value sits in args

    @functools.wraps(function)  # keeps jinja_pass_arg: context-taking filters still get it
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_time()
        if name in _ITERATING_FILTERS and len(args) > first and _is_lazy(args[first]):
            # A generator of big strings would only be measured after the join: measure it first.
            args = (*args[:first], _materialise(args[first]), *args[first + 1 :])
        _filter_guard(name, args[first:], kwargs)
        return check_size(function(*args, **kwargs), f"the result of the {name} filter")

    return guarded


@pass_context  # a context filter is never folded at compile time: the loop is timed when it runs
def tick(_context: Any, iterable: Any) -> Iterator[Any]:
    """Each ``{% for %}`` iterates through this, so a loop cannot outlive the render's deadline."""
    check_time()
    for count, item in enumerate(iterable, 1):
        if count % _TICK_EVERY == 0:
            check_time()
        yield item


@pass_context
def bounded(_context: Any, value: Any) -> Any:
    """Size check for ``a ~ b`` results (string concatenation is not an intercepted operator)."""
    check_time()
    return check_size(value, "a concatenation")


def guard_loops(template: nodes.Template) -> None:
    """Rewrite a parsed template so every loop is timed and every ``~`` is size-checked."""
    for node in [template, *template.find_all(nodes.Node)]:
        for field, value in node.iter_fields():
            if isinstance(value, nodes.Concat):
                setattr(node, field, _through(value, "_bounded"))
            elif isinstance(value, list):
                value[:] = [_through(v, "_bounded") if isinstance(v, nodes.Concat) else v for v in value]
        if isinstance(node, nodes.For):
            node.iter = _through(node.iter, "_tick")


def _through(node: nodes.Node, filter_name: str) -> nodes.Filter:  # For.iter is typed Node
    return nodes.Filter(node, filter_name, [], [], None, None, lineno=node.lineno)


def bounded_concat(pieces: Iterable[str]) -> str:
    """``"".join`` that stops once the output passes the cap (a loop printing a big value)."""
    parts: list[str] = []
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > MAX_VALUE_CHARS:
            raise _too_big("the rendered text", total, MAX_VALUE_CHARS)
        parts.append(piece)
    return "".join(parts)


def safe_range(*args: int) -> range:
    """``range`` with at most MAX_RANGE_ITEMS items."""
    result = range(*args)
    if len(result) > MAX_RANGE_ITEMS:
        raise LimitError(
            f"template expression exceeded the range cap: range({', '.join(map(str, args))}) "
            f"has {len(result):,} items (cap {MAX_RANGE_ITEMS:,})"
        )
    return result
