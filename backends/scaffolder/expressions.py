"""The template engine: Backstage's ``${{ … }}`` / ``{% … %}`` syntax on a sandboxed Jinja2.

Backstage renders with nunjitsu (a Nunjucks subset). Real templates lean on a few JavaScript-isms
that Jinja2 does not speak, so sources are lightly rewritten before compiling:

- ``===`` / ``!==`` become ``==`` / ``!=`` (outside string literals);
- ``{% for k, v in obj %}`` iterates an object's entries, as Nunjucks does;
- ``null`` / ``undefined`` are names; ``x.length`` and a handful of JS string/array methods work;
- attribute access prefers mapping keys (``values.items`` is the value named ``items``);
- output is stringified the JavaScript way (``true``, ``a,b``, nothing for undefined).

The sandbox (Jinja2's ``ImmutableSandboxedEnvironment``) refuses ``_``-prefixed attributes,
interpreter internals and in-place mutation; there is no loader, so ``include``/``import`` cannot
read files. Each render call runs under a CPU-time budget and every operation's result under a
size cap (``expression_limits``): a runaway expression fails its step, never the console.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import jinja2
from jinja2 import ChainableUndefined, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment, SecurityError

from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.scaffolder import expression_limits as limits
from backends.scaffolder import jsvalues as js
from backends.scaffolder import nunjucks_filters
from backends.scaffolder.errors import ExpressionError

MAX_RENDERED_CHARS = 10_000_000  # one rendered string; a skeleton file bigger than this is a bug
MAX_BINOP_RESULT = 1_000_000  # ``'x' * 10**9`` must not eat the machine
DEFAULT_TIME_LIMIT = 5.0  # seconds of one render call; see expression_limits

_REGION = re.compile(r"\$\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_STRICT_EQ = re.compile(
    r"(===|!==)"
    r"|('(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\")"
    r"|(?<![\w.)\]])r/((?:\\.|[^/\\\n])+)/([gimsuy]*)"  # a Nunjucks regex literal: r/pattern/flags
    r"|(?<=[{,])(\s*)([A-Za-z_$][\w$]*)(\s*:)"  # an object key written bare: {defaultKind: 'x'}
    r"|(?<![\w.])(\d+(?:\.\d+)?[eE][+-]?\d+)"  # 1e3: not a number literal in Nunjucks
)
_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u")
_FOR_PAIR = re.compile(r"(\{%-?\s*for\s+\w+\s*,\s*\w+\s+in\s+)(.+?)(\s*-?%\})", re.DOTALL)
# A step input keeps its native type only when it is exactly one ``${{ }}`` (Backstage's
# renderValue): " ${{ n }}" and "${{ n }}\n" are text.
_LONE_EXPR = re.compile(r"^\$\{\{(.*)\}\}\Z", re.DOTALL)
_LONE_BLOCK = re.compile(r"^\{%.*%\}\Z", re.DOTALL)


class SandboxRefusal(ExpressionError):
    """A template reached for something the sandbox forbids: always an error, never kept as text."""


class _Absent:
    """A step input that rendered to JavaScript ``undefined``: its key is dropped (falsy)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Absent()


def _fix_operators(region: str) -> str:
    """Rewrite JS strict equality inside one ``${{ }}``/``{% %}`` region, leaving strings alone."""

    def swap(match: re.Match[str]) -> str:
        if match.group(1):
            # ``a === b`` parses as the chain ``a == _strict_ == b``, which the code generator turns
            # into one strict comparison (``==`` itself is JavaScript's loose equality).
            return " == _strict_ == " if match.group(1) == "===" else " != _strict_ != "
        if match.group(3) is not None:
            return f"_regex({json.dumps(match.group(3))}, {json.dumps(match.group(4))})"
        if match.group(6) is not None:
            return f'{match.group(5)}"{match.group(6)}"{match.group(7)}'
        if match.group(8) is not None:
            raise ExpressionError(f"syntax error: invalid numeric literal {match.group(8)}")
        # Nunjucks has no \uXXXX escape: "\u00e9" is "u00e9"
        return _UNICODE_ESCAPE.sub(r"\1u", match.group(2))

    return _STRICT_EQ.sub(swap, region)


_FOR_ONE = re.compile(r"(\{%-?\s*for\s+\w+\s+in\s+)(.+?)(\s*-?%\})", re.DOTALL)
_ELSEIF = re.compile(r"(\{%-?\s*)elseif\b")
_VERBATIM = re.compile(r"(\{%-?\s*)(end)?verbatim(\s*-?%\})")
_SET_MANY = re.compile(r"\{%(-?)\s*set\s+(\w+(?:\s*,\s*\w+)+)\s*=\s*(.+?)\s*(-?)%\}", re.DOTALL)
_COMMENT = re.compile(r"(\s*)\{#(-?)(.*?)(-?)#\}(\s*)", re.DOTALL)


def _set_many(match: re.Match[str]) -> str:
    # Nunjucks: ``{% set a, b = x %}`` gives every name the same value (no unpacking).
    first, *others = (name.strip() for name in match.group(2).split(","))
    tags = [f"{{%{match.group(1)} set {first} = {match.group(3)} %}}"]
    tags += [f"{{% set {name} = {first} %}}" for name in others]
    tags[-1] = tags[-1][:-2] + f"{match.group(4)}%}}"
    return "".join(tags)


def _for_one(match: re.Match[str]) -> str:
    iterable = match.group(2)
    if re.search(r"\s(if|recursive)\b", iterable):
        return match.group(0)  # Jinja2's loop filter / recursive loop: left as written
    return f"{match.group(1)}({iterable})|_sequence{match.group(3)}"


def strip_comments(source: str) -> str:
    """Drop ``{# #}`` comments first: Nunjucks' trim_blocks/lstrip_blocks never touch the text
    around a comment (Jinja2's do); ``{#-`` / ``-#}`` still trim the whitespace on their side."""
    if "{#" not in source or re.search(r"\{%-?\s*(raw|verbatim)", source):
        return source
    return _COMMENT.sub(
        lambda m: ("" if m.group(2) else m.group(1)) + ("" if m.group(4) else m.group(5)), source
    )


def nunjucks_to_jinja(source: str) -> str:
    """The Jinja2 spelling of a Nunjucks-flavoured template (see the module docstring)."""
    if "${{" not in source and "{%" not in source:
        return source
    source = _REGION.sub(lambda m: _fix_operators(m.group(0)), source)
    if "{%+" in source:
        raise ExpressionError("syntax error: '{%+' is Jinja2's, not a Nunjucks tag")
    if "{%" in source:
        source = _ELSEIF.sub(r"\1elif", source)
        source = _VERBATIM.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}raw{m.group(3)}", source)
        source = _SET_MANY.sub(_set_many, source)
        # Nunjucks iterates an object's entries with two names, and nothing with one.
        source = _FOR_PAIR.sub(lambda m: f"{m.group(1)}({m.group(2)})|_entries{m.group(3)}", source)
        source = _FOR_ONE.sub(_for_one, source)
    return source


def is_templated(value: Any) -> bool:
    """Whether a string contains template syntax at all (cheap test before rendering)."""
    return isinstance(value, str) and ("${{" in value or "{%" in value)


# -- JavaScript-ish output and member access ---------------------------------------------------


def js_string(value: Any) -> str:
    """How JavaScript would print ``value`` inside a template (``true``, ``a,b``, ``3``)."""
    if value is None or isinstance(value, Undefined):
        return ""
    return js.to_string(value)


class JsRegex:
    """A Nunjucks ``r/…/flags`` literal: a compiled pattern and whether it is global (``g``)."""

    def __init__(self, pattern: str, flags: str = "") -> None:
        options = 0
        for flag, value in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL)):
            if flag in flags:
                options |= value
        try:
            self.pattern = re.compile(pattern, options)
        except re.error as error:
            raise ExpressionError(f"invalid regular expression r/{pattern}/: {error}") from error
        self.is_global = "g" in flags

    def test(self, text: Any) -> bool:
        """JavaScript ``RegExp.test``."""
        return self.pattern.search(js_string(text)) is not None

    def sub(self, replacement: str, text: str) -> str:
        """JavaScript ``String.replace(regex, replacement)`` ($&, $1…, $$ in the replacement)."""
        template = _JS_GROUP.sub(
            lambda m: (
                "$" if m.group(0) == "$$" else ("\\g<0>" if m.group(0) == "$&" else f"\\g<{m.group(1)}>")
            ),
            replacement.replace("\\", "\\\\"),
        )
        if self.is_global:
            limits.check_regex_replace(text, template)
        return self.pattern.sub(template, text, count=0 if self.is_global else 1)


_JS_GROUP = re.compile(r"\$\$|\$&|\$(\d+)")


def _js_replace(text: str, old: Any, new: str = "") -> str:
    if isinstance(old, JsRegex):
        return old.sub(str(new), text)
    return text.replace(str(old), str(new), 1)  # JS String.replace with a string: first only


def _replace_all(text: str, old: str, new: str) -> str:
    limits.check_replace(text, old, new, "replaceAll()")
    return text.replace(old, new)


_STR_METHODS: dict[str, Callable[..., Any]] = {
    "toUpperCase": lambda s: s.upper(),
    "toLowerCase": lambda s: s.lower(),
    "trim": lambda s: s.strip(),
    "startsWith": lambda s, p: s.startswith(str(p)),
    "endsWith": lambda s, p: s.endswith(str(p)),
    "includes": lambda s, p: str(p) in s,
    "indexOf": lambda s, p: s.find(str(p)),
    "replace": _js_replace,
    "replaceAll": lambda s, a, b="": _replace_all(s, str(a), str(b)),
    "substring": lambda s, a, b=None: s[int(a) : None if b is None else int(b)],
    "slice": lambda s, a, b=None: s[int(a) : None if b is None else int(b)],
    "charAt": lambda s, i=0: s[int(i)] if 0 <= int(i) < len(s) else "",
    "lastIndexOf": lambda s, p: s.rfind(str(p)),
    "toString": lambda s: s,
}
_LIST_METHODS: dict[str, Callable[..., Any]] = {
    "includes": lambda seq, x: x in seq,
    "indexOf": lambda seq, x: seq.index(x) if x in seq else -1,
    "join": lambda seq, sep=",": str(sep).join(js_string(v) for v in seq),
    "concat": lambda seq, *more: [*seq, *(v for m in more for v in (m if isinstance(m, list) else [m]))],
    "slice": lambda seq, a=0, b=None: list(seq[int(a) : None if b is None else int(b)]),
    "reverse": lambda seq: list(seq)[::-1],
    "sort": lambda seq: sorted(seq, key=js.to_string),  # JavaScript sorts by string value
}


# -- filters: Backstage's own and the Nunjucks built-ins Jinja2 lacks or spells differently -----


def parse_repo_url(value: Any) -> dict[str, str]:
    """Backstage's ``parseRepoUrl``: ``host?owner=o&repo=r`` → ``{host, owner, repo, …}``."""
    text = str(value or "")
    host, _, query = text.partition("?")
    if not host:
        raise ExpressionError(f"parseRepoUrl: no host in {text!r} (expected host?owner=o&repo=r)")
    params = {k: v[0] for k, v in parse_qs(query).items() if v}
    if not params.get("repo"):
        raise ExpressionError(f"parseRepoUrl: no repo in {text!r} (expected host?owner=o&repo=r)")
    if host == "github.com" and not params.get("owner"):
        raise ExpressionError(f"parseRepoUrl: no owner in {text!r} (github.com needs host?owner=o&repo=r)")
    result = {"host": host}
    for key in ("owner", "repo", "organization", "workspace", "project"):
        if params.get(key):
            result[key] = params[key]
    return result


def _parse_entity_ref_filter(value: Any, options: Mapping[str, Any] | None = None) -> dict[str, str]:
    options = options or {}
    try:
        ref = parse_entity_ref(
            str(value),
            default_kind=options.get("defaultKind"),
            default_namespace=str(options.get("defaultNamespace") or "default"),
        )
    except EntityRefError as error:
        raise ExpressionError(f"parseEntityRef: {error}") from error
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def pick(value: Any, path: str) -> Any:
    """lodash ``get``: ``pick(obj, 'a.b[0].c')``; undefined (None) when any step is missing."""
    current = value
    for part in re.findall(r"[^.\[\]]+", str(path)):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, (list, tuple)) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def project_slug(value: Any) -> str:
    """Backstage's ``projectSlug``: ``owner/repo`` of a RepoUrlPicker value."""
    try:
        parsed = parse_repo_url(value)
    except ExpressionError as error:
        raise ExpressionError(f"projectSlug: {error}") from error
    return (
        f"{parsed.get('owner') or parsed.get('organization') or parsed.get('workspace', '')}/{parsed['repo']}"
    )


def _dump(value: Any, spaces: int | str | None = None) -> str:
    if isinstance(value, Undefined):
        return ""
    indent: int | str | None = spaces if isinstance(spaces, int) and spaces > 0 else None
    if isinstance(spaces, str) and spaces:
        indent = spaces
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(
        _js_numbers(value), indent=indent, separators=separators, default=_json_default, ensure_ascii=False
    )


def _js_numbers(value: Any) -> Any:
    """Whole floats as integers: ``JSON.stringify(4 / 2)`` is ``2``, not ``2.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, list):
        return [_js_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _js_numbers(v) for k, v in value.items()}
    return value


def _json_default(value: Any) -> Any:
    # A read-only mapping (the secrets' taint-tracking view) dumps as the object it stands for.
    return dict(value) if isinstance(value, Mapping) else js_string(value)


def _truncate(text: Any, length: int = 255, killwords: bool = False, end: str = "...") -> str:
    # Nunjucks semantics: no "leeway", cut at a word boundary unless killwords.
    text = js_string(text)
    if len(text) <= length:
        return text
    cut = text[:length]
    if not killwords and " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut + end


def _nl2br(text: Any) -> str:
    return js_string(text).replace("\r\n", "<br />\n").replace("\n", "<br />\n")


def _entries(value: Any) -> Any:
    return list(value.items()) if isinstance(value, Mapping) else value


def _sequence(value: Any) -> Any:
    return [] if isinstance(value, Mapping) else value


def _replace(text: Any, old: Any, new: Any = "", count: int | None = None) -> str:
    text = js_string(text)
    if isinstance(old, JsRegex):
        return old.sub(js_string(new), text)
    if count is None:
        return text.replace(js_string(old), js_string(new))
    return text.replace(js_string(old), js_string(new), int(count))


def _divide(left: Any, right: Any) -> Any:
    left, right = js.to_number(left), js.to_number(right)
    if right == 0:  # JavaScript: Infinity, -Infinity or NaN, never an exception
        return (
            math.nan
            if left == 0 or math.isnan(left)
            else math.copysign(math.inf, left) * math.copysign(1, right)
        )
    return left / right


_SAFE_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,  # printf widths: '%999999999d' % 1
    "+": js.add,  # JavaScript: "a" + 1 is "a1"; repeated doubling of a string is size-checked
    "/": _divide,
}


class _JsCodeGenerator(CodeGenerator):
    """Jinja2's code generator with JavaScript meanings (see ``jsvalues``): every test of ``if``,
    the inline ``if``, ``and``/``or``/``not`` use JavaScript truthiness (``[]`` is true, and
    ``a or b`` is ``a`` when it is truthy), ``==``/``!=`` are loose, ``===``/``!==`` strict, and
    ``~`` joins JavaScript strings."""

    def _test(self, node: nodes.Node, frame: Frame) -> None:
        self.write("environment.js_truthy(")
        self.visit(node, frame)
        self.write(")")

    def visit_If(self, node: nodes.If, frame: Frame) -> None:
        if_frame = frame.soft()
        self.writeline("if ", node)
        self._test(node.test, if_frame)
        self.write(":")
        self.indent()
        self.blockvisit(node.body, if_frame)
        self.outdent()
        for elif_ in node.elif_:
            self.writeline("elif ", elif_)
            self._test(elif_.test, if_frame)
            self.write(":")
            self.indent()
            self.blockvisit(elif_.body, if_frame)
            self.outdent()
        if node.else_:
            self.writeline("else:")
            self.indent()
            self.blockvisit(node.else_, if_frame)
            self.outdent()

    def visit_CondExpr(self, node: nodes.CondExpr, frame: Frame) -> None:
        frame = frame.soft()
        self.write("(")
        self.visit(node.expr1, frame)
        self.write(" if ")
        self._test(node.test, frame)
        self.write(" else ")
        if node.expr2 is not None:
            self.visit(node.expr2, frame)
        else:
            self.write("undefined(name=None)")  # Nunjucks: no else part renders nothing
        self.write(")")

    def visit_And(self, node: nodes.And, frame: Frame) -> None:  # type: ignore[override]
        # ``a and b`` is ``b`` when ``a`` is truthy, else ``a`` (evaluated once, kept in a local)
        self.write("(")
        self.visit(node.right, frame)
        self.write(" if environment.js_truthy(_js_t := ")
        self.visit(node.left, frame)
        self.write(") else _js_t)")

    def visit_Or(self, node: nodes.Or, frame: Frame) -> None:  # type: ignore[override]
        self.write("(_js_t if environment.js_truthy(_js_t := ")
        self.visit(node.left, frame)
        self.write(") else ")
        self.visit(node.right, frame)
        self.write(")")

    def visit_Not(self, node: nodes.Not, frame: Frame) -> None:  # type: ignore[override]
        self.write("(not ")
        self._test(node.node, frame)
        self.write(")")

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        ops = node.ops
        strict = (
            len(ops) == 2
            and ops[0].op == ops[1].op
            and ops[0].op in ("eq", "ne")
            and isinstance(ops[0].expr, nodes.Name)
            and ops[0].expr.name == "_strict_"
        )
        if strict or (len(ops) == 1 and ops[0].op in ("eq", "ne")):
            negate = ops[0].op == "ne"
            self.write(f"({'not ' if negate else ''}environment.js_{'strict' if strict else 'loose'}_equal(")
            self.visit(node.expr, frame)
            self.write(", ")
            self.visit(ops[-1].expr, frame)
            self.write("))")
            return
        super().visit_Compare(node, frame)

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        # Jinja2 pre-renders constant output with Python's meaning of ==, ~, + and truthiness
        if not isinstance(node, (nodes.TemplateData, nodes.Const)):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.js_concat(")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")")


class _ScaffolderEnvironment(ImmutableSandboxedEnvironment):
    # Immutable: a template must not change the parameters or step outputs other steps read.
    intercepted_binops = frozenset(_SAFE_BINOPS)
    concat = staticmethod(limits.bounded_concat)  # the rendered output and every block / macro body
    code_generator_class = _JsCodeGenerator
    js_truthy = staticmethod(js.truthy)
    js_loose_equal = staticmethod(js.loose_equal)
    js_strict_equal = staticmethod(js.strict_equal)

    @staticmethod
    def js_concat(*values: Any) -> str:
        text: str = limits.check_size(js.concat(*values), "the result of ~")
        return text

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        """Refuse ``*``/``**``/``%``/``+`` results that would be huge (strings, lists, giant integers)."""
        limits.check_time()
        limits.check_binop(operator_name, left, right)
        if operator_name == "+":
            # JavaScript turns arrays added to anything into their comma-joined text; joining a
            # million items is already too slow and too big for one operation.
            items = sum(len(side) for side in (left, right) if isinstance(side, (list, tuple)))
            if items > limits.MAX_ITEMS:
                raise limits.LimitError(
                    f"template expression exceeded the memory cap: + of arrays with {items:,} items "
                    f"(cap {limits.MAX_ITEMS:,})"
                )
        return limits.check_size(_SAFE_BINOPS[operator_name](left, right), f"the result of {operator_name}")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Every call (methods, macros, ``loop()``): on the clock, and size-checked before and after."""
        args = limits.check_call(__obj, args, kwargs)
        return limits.check_size(super().call(__context, __obj, *args, **kwargs), "the result of a call")

    def _generate(self, source: Any, name: Any, filename: Any, defer_init: bool = False) -> Any:
        limits.guard_loops(source)  # every {% for %} iterates on the clock; every ~ is size-checked
        return super()._generate(source, name, filename, defer_init=defer_init)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``list[-1]`` is undefined in JavaScript (no negative indexing)."""
        if isinstance(argument, int) and argument < 0 and isinstance(obj, (str, list, tuple)):
            return self.undefined(obj=obj, name=str(argument))
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Refuse loudly: a silent undefined would hide an attempted sandbox escape."""
        raise SandboxRefusal(f"access to attribute {attribute!r} of {type(obj).__name__} is not allowed")

    def getattr(self, obj: Any, attribute: str) -> Any:
        """JavaScript member access: mapping keys first, then ``length`` and a few JS methods."""
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        if attribute == "length" and isinstance(obj, (str, list, tuple)):
            return len(obj)  # an object has no length in JavaScript
        if isinstance(obj, Mapping):
            return self.undefined(obj=obj, name=attribute)
        if isinstance(obj, str) and attribute in _STR_METHODS:
            method = _STR_METHODS[attribute]
            return lambda *args: method(obj, *args)
        if isinstance(obj, (list, tuple)) and attribute in _LIST_METHODS:
            method = _LIST_METHODS[attribute]
            return lambda *args: method(obj, *args)
        return super().getattr(obj, attribute)


def _finalize(value: Any) -> str:
    limits.check_printed(value, "a printed value")  # ``${{ [big] * 1000 }}`` joins a thousand copies
    return js_string(value)


_OWN_FILTERS = frozenset(
    {
        "dump",
        "jsonify",
        "nl2br",
        "_entries",
        "_sequence",
        "parseRepoUrl",
        "parseEntityRef",
        "pick",
        "projectSlug",
    }
)


def _build_environment(*, trim_blocks: bool, lstrip_blocks: bool, cookiecutter: bool) -> SandboxedEnvironment:
    env = _ScaffolderEnvironment(
        variable_start_string="{{" if cookiecutter else "${{",
        variable_end_string="}}",
        block_start_string="{%",
        block_end_string="%}",
        comment_start_string="{#",
        comment_end_string="#}",
        trim_blocks=trim_blocks,
        lstrip_blocks=lstrip_blocks,
        keep_trailing_newline=True,
        undefined=ChainableUndefined,  # Nunjucks: a.b.c on undefined is undefined, not an error
        autoescape=False,
        finalize=_finalize,
        loader=None,  # no include/import/extends: templates cannot read files
        optimized=False,  # constant folding would apply Python's meaning of ==, ~ and + at compile time
    )
    env.filters.update(
        {
            "dump": _dump,
            "jsonify": _dump,
            "nl2br": _nl2br,
            "truncate": _truncate,
            "replace": _replace,
            "_entries": _entries,
            "_sequence": _sequence,
            "parseRepoUrl": parse_repo_url,
            "parseEntityRef": _parse_entity_ref_filter,
            "pick": pick,
            "projectSlug": project_slug,
        }
    )
    env.filters.update(nunjucks_filters.FILTERS)
    for name in set(env.filters) - nunjucks_filters.NUNJUCKS_FILTERS - _OWN_FILTERS:
        del env.filters[name]  # a Jinja2-only filter would work here and fail on Backstage
    env.policies["urlize.rel"] = ""  # Nunjucks' urlize adds no rel attribute
    limits.guard_filters(env.filters)
    env.filters.update({"_tick": limits.tick, "_bounded": limits.bounded})
    env.globals.update({"null": None, "undefined": None, "true": True, "false": False, "_regex": JsRegex})
    env.globals["range"] = limits.safe_range
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": _json_default}  # tojson, too
    for name in ("cycler", "joiner", "lipsum"):
        env.globals.pop(name, None)
    return env


class TemplateEngine:
    """Renders Backstage template strings and step inputs in a sandbox.

    One engine per option set; it caches compiled templates, so reuse it across files and steps.
    """

    def __init__(
        self,
        *,
        trim_blocks: bool = False,
        lstrip_blocks: bool = False,
        cookiecutter_compat: bool = False,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        self.time_limit = time_limit  # seconds per render call (templates.expressionTimeLimit)
        self._env = _build_environment(
            trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks, cookiecutter=cookiecutter_compat
        )
        self._cookiecutter = cookiecutter_compat
        self._cache: dict[str, jinja2.Template] = {}
        self._shape_cache: dict[tuple[str, ...], jinja2.Template] = {}
        start = re.escape("{{" if cookiecutter_compat else "${{")
        self._region_pattern = re.compile(start + r".*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
        self._expr_cache: dict[str, Callable[..., Any]] = {}

    def add_globals(self, **functions: Any) -> None:
        """Expose extra names (the runner adds ``always()`` and ``failure()``)."""
        self._env.globals.update(functions)

    # -- strings ------------------------------------------------------------------------------
    def render_string(self, source: str, context: Mapping[str, Any]) -> str:
        """Render ``source`` to text; raises ExpressionError naming the offending expression.

        The call has ``time_limit`` seconds; past it (or past a size cap) it raises LimitError.
        """
        with limits.budget(self.time_limit):
            return self._render_string(source, context)

    def _render_string(self, source: str, context: Mapping[str, Any]) -> str:
        if not self._has_syntax(source):
            return source
        source = strip_comments(source)
        fast = self._render_by_shape(source, context)
        if fast is not None:
            return fast
        template = self._cache.get(source)
        try:
            if template is None:
                template = self._env.from_string(nunjucks_to_jinja(source))
                self._cache[source] = template
            text = template.render(dict(context))
        except ExpressionError:
            raise
        except jinja2.TemplateSyntaxError as error:
            raise ExpressionError(f"syntax error in {_short(source)}: {error.message}") from error
        except SecurityError as error:
            raise SandboxRefusal(f"cannot render {_short(source)}: {error}") from error
        except Exception as error:  # noqa: BLE001 - any failure inside a template is the template's
            raise ExpressionError(f"cannot render {_short(source)}: {error}") from error
        if len(text) > MAX_RENDERED_CHARS:
            raise ExpressionError(
                f"rendered text of {_short(source)} exceeds {MAX_RENDERED_CHARS} characters"
            )
        return text

    # Compiling a Jinja2 template costs ~1 ms; a skeleton of 1,000 files would spend seconds on it.
    # Files usually share their *shape* (the same tags, different literal text), so the literal
    # text is lifted out into a variable and one compiled template serves every file of a shape.
    # Whitespace control (``-``, trim_blocks, lstrip_blocks) is applied to the lifted text first,
    # exactly as Jinja's lexer would. Anything unusual (raw blocks, quotes that could hide a
    # delimiter, any error) takes the ordinary path, which also produces the error messages.
    def _render_by_shape(self, source: str, context: Mapping[str, Any]) -> str | None:
        split = self._split(source)
        if split is None:
            return None
        regions, literals = split
        template = self._shape_cache.get(regions)
        try:
            if template is None:
                start = self._env.variable_start_string
                parts = [f"{start} _L[{i}] }}}}{region}" for i, region in enumerate(regions)]
                shape = "".join(parts) + f"{start} _L[{len(regions)}] }}}}"
                template = self._env.from_string(nunjucks_to_jinja(shape))
                self._shape_cache[regions] = template
            text = template.render({**context, "_L": literals})
        except limits.LimitError:
            raise  # rendering again would only spend the budget twice
        except Exception:  # noqa: BLE001 - the ordinary path reports the error properly
            return None
        return text if len(text) <= MAX_RENDERED_CHARS else None

    def _split(self, source: str) -> tuple[tuple[str, ...], list[str]] | None:
        if ("raw" in source or "verbatim" in source) and re.search(r"\{%[-+]?\s*(raw|verbatim)", source):
            return None
        literals: list[str] = []
        regions: list[str] = []
        position = 0
        for match in self._region_pattern.finditer(source):
            region = match.group(0)
            inner = region[2:-2]
            if inner.count("'") % 2 or inner.count('"') % 2:
                return None  # a quoted "%}" may have ended the match early
            literals.append(source[position : match.start()])
            regions.append(region)
            position = match.end()
        literals.append(source[position:])
        starts = ("{%", "{#", self._env.variable_start_string)
        if any(start in literal for literal in literals for start in starts):
            return None  # an unclosed tag: let Jinja decide what it means
        options = self._env
        trimmed: set[int] = set()  # literals that start a line because a trim_blocks ate the newline
        for index, region in enumerate(regions):
            is_variable = region.startswith(options.variable_start_string)
            opener = region[len(options.variable_start_string) if is_variable else 2 :][:1]
            closer = region[-3:-2]
            if opener == "-":
                literals[index] = literals[index].rstrip()
            elif not is_variable and options.lstrip_blocks and opener != "+":
                literals[index] = _strip_line_start(
                    literals[index], at_file_start=index == 0 or index in trimmed
                )
            if closer == "-":
                literals[index + 1] = literals[index + 1].lstrip()
            elif not is_variable and options.trim_blocks and closer != "+":
                following = literals[index + 1]
                if following.startswith(("\n", "\r\n")):
                    literals[index + 1] = following[2:] if following.startswith("\r\n") else following[1:]
                    trimmed.add(index + 1)
        return tuple(regions), literals

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> Any:
        """Evaluate a bare expression (no delimiters) to its native value; undefined → None."""
        with limits.budget(self.time_limit):
            return self._evaluate(expression, context)

    def _evaluate(self, expression: str, context: Mapping[str, Any]) -> Any:
        value = self._evaluate_native(expression, context)
        return None if isinstance(value, Undefined) else value

    def _evaluate_native(self, expression: str, context: Mapping[str, Any]) -> Any:
        """The expression's value; an undefined one stays a jinja2 ``Undefined`` (not null)."""
        compiled = self._expr_cache.get(expression)
        try:
            if compiled is None:
                compiled = self._env.compile_expression(_fix_operators(expression), undefined_to_none=False)
                self._expr_cache[expression] = compiled
            value = compiled(**dict(context))
        except ExpressionError:
            raise
        except jinja2.TemplateSyntaxError as error:
            raise ExpressionError(
                f"syntax error in ${{{{ {expression.strip()} }}}}: {error.message}"
            ) from error
        except SecurityError as error:
            raise SandboxRefusal(f"cannot evaluate ${{{{ {expression.strip()} }}}}: {error}") from error
        except Exception as error:  # noqa: BLE001
            raise ExpressionError(f"cannot evaluate ${{{{ {expression.strip()} }}}}: {error}") from error
        return value

    # -- values (step inputs, conditions, outputs) -------------------------------------------
    def render_value(
        self,
        value: Any,
        context: Mapping[str, Any],
        *,
        keep_undefined: bool = False,
        keep_text_on_error: bool = False,
    ) -> Any:
        """Render every string inside ``value`` the way Backstage renders step inputs.

        Exactly one ``${{ x }}`` keeps its native type (``null`` and ``""`` included); a lone
        ``{% %}`` block is JSON-coerced (``"2 "`` → 2); other text stays text. A string that renders
        to nothing, or a lone expression that is undefined, is ``undefined``: its key is dropped from
        a mapping (so the action's default holds), it is null inside a list, and at the top it is
        None (``UNDEFINED`` with ``keep_undefined``). With ``keep_text_on_error`` a string whose
        rendering fails is kept as written, as Backstage keeps step inputs; a sandbox refusal or a
        blown time or size limit still fails.
        The whole value shares one ``time_limit``: a step cannot multiply it by adding inputs.
        """
        with limits.budget(self.time_limit):
            result = self._render_value(value, context, keep_text_on_error)
        return None if result is UNDEFINED and not keep_undefined else result

    def _render_value(self, value: Any, context: Mapping[str, Any], keep_text: bool) -> Any:
        if isinstance(value, str):
            return self._render_scalar(value, context, keep_text)
        if isinstance(value, Mapping):
            rendered = {}
            for key, item in value.items():
                result = self._render_value(item, context, keep_text)
                if result is not UNDEFINED:
                    rendered[key] = result
            return rendered
        if isinstance(value, list):
            items = (self._render_value(item, context, keep_text) for item in value)
            return [None if result is UNDEFINED else result for result in items]
        return value

    def _render_scalar(self, text: str, context: Mapping[str, Any], keep_text: bool) -> Any:
        if not self._has_syntax(text):
            return UNDEFINED if text == "" else text
        try:
            return self._render_text_value(text, context)
        except (limits.LimitError, SandboxRefusal):
            raise
        except ExpressionError:
            if keep_text:
                return text  # Backstage: a render error silently leaves the raw string in place
            raise

    def _render_text_value(self, text: str, context: Mapping[str, Any]) -> Any:
        lone = None if self._cookiecutter else _LONE_EXPR.match(text)
        if lone and "${{" not in lone.group(1) and "}}" not in lone.group(1):
            result = self._evaluate_native(lone.group(1), context)
            return UNDEFINED if isinstance(result, Undefined) else result
        rendered = self.render_string(text, context)
        if rendered == "":
            return UNDEFINED
        if _LONE_BLOCK.match(text) and self._is_one_statement(text):
            try:
                return json.loads(rendered)
            except ValueError:
                return rendered
        return rendered

    def _is_one_statement(self, text: str) -> bool:
        """Whether the template is a single ``{% %}`` statement (its JSON is the value)."""
        try:
            body = self._env.parse(nunjucks_to_jinja(text)).body
        except jinja2.TemplateSyntaxError:
            return False
        return len(body) == 1 and not isinstance(body[0], jinja2.nodes.Output)

    def _has_syntax(self, text: str) -> bool:
        return ("{{" if self._cookiecutter else "${{") in text or "{%" in text or "{#" in text


def _strip_line_start(text: str, *, at_file_start: bool) -> str:
    """lstrip_blocks: drop spaces/tabs between the last line start and a block tag."""
    newline = text.rfind("\n")
    if newline == -1 and not at_file_start:
        return text
    tail = text[newline + 1 :]
    return text[: newline + 1] if tail.strip(" \t") == "" else text


def is_truthy(value: Any) -> bool:
    """JavaScript truthiness (``{}`` is true), plus: an empty array is false (Backstage's ``isTruthy``)."""
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return js.truthy(value)


def _short(source: str) -> str:
    text = source.strip().replace("\n", "⏎")
    return repr(text if len(text) <= 80 else text[:77] + "...")
