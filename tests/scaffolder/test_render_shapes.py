"""The shape cache renders exactly what a fresh Jinja2 compile renders (whitespace control included)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from backends.scaffolder.expressions import TemplateEngine, nunjucks_to_jinja

LITERAL = st.text(alphabet=" \t\nab}{%#$-+'\"", max_size=8)
MODIFIER = st.sampled_from(["", "-", "+"])


@st.composite
def tags(draw: Any, depth: int = 0) -> str:
    kind = draw(
        st.sampled_from(["var", "comment", "if", "for", "lit"] if depth < 2 else ["var", "comment", "lit"])
    )
    a, b = draw(MODIFIER.filter(lambda m: m != "+")), draw(MODIFIER.filter(lambda m: m != "+"))
    if kind == "var":
        return f"${{{{{a} values.name {b}}}}}"
    if kind == "comment":
        return f"{{#{a} note {b}#}}"
    if kind == "lit":
        return draw(LITERAL)
    c, d = draw(MODIFIER), draw(MODIFIER)
    body = "".join(draw(st.lists(tags(depth + 1), max_size=3)))
    inner = "".join(draw(st.lists(st.one_of(LITERAL, tags(depth + 1)), max_size=3)))
    if kind == "if":
        return f"{{%{c} if values.flag {d}%}}{body}{inner}{{%{d} endif {c}%}}"
    return f"{{%{c} for i in values.items {d}%}}{body}${{{{ i }}}}{inner}{{%{d} endfor {c}%}}"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(LITERAL, tags()), min_size=1, max_size=6), st.booleans(), st.booleans())
def test_shape_render_matches_jinja(parts: list[str], trim: bool, lstrip: bool) -> None:
    source = "".join(parts)
    engine = TemplateEngine(trim_blocks=trim, lstrip_blocks=lstrip)
    context = {"values": {"name": "N", "flag": True, "items": [1, 2]}}
    try:
        expected = engine._env.from_string(nunjucks_to_jinja(source)).render(context)
    except Exception:  # noqa: BLE001 - sources Jinja rejects are not this test's business
        return
    fast = engine._render_by_shape(source, context)
    if fast is not None:
        assert fast == expected, source


def test_shapes_are_shared_between_files() -> None:
    engine = TemplateEngine()
    for index in range(50):
        text = engine.render_string(
            f"file {index}: ${{{{ values.name }}}}{{% if values.on %}}!{{% endif %}}\n",
            {"values": {"name": "x", "on": True}},
        )
        assert text == f"file {index}: x!\n"
    assert len(engine._shape_cache) == 1
