"""One SQL text for both stores: ``?`` placeholders, translated for psycopg (``%s``)."""

from __future__ import annotations


def to_pyformat(sql: str) -> str:
    """``?`` → ``%s`` and ``%`` → ``%%`` — outside string literals and quoted identifiers for ``?``
    (a ``'?'`` literal stays one), everywhere for ``%`` (psycopg reads ``%`` even inside literals)."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""  # a doubled quote closes and reopens: same result
            out.append("%%" if char == "%" else char)
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)
