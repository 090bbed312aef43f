"""The template engine: Backstage semantics, Nunjucks compatibility, and the sandbox."""

from __future__ import annotations

import pytest

from backends.scaffolder.errors import ExpressionError
from backends.scaffolder.expressions import TemplateEngine, is_truthy, nunjucks_to_jinja

CONTEXT = {
    "parameters": {
        "name": "svc",
        "tags": ["a", "b"],
        "flag": True,
        "count": 3,
        "items": "the items field",
        "repoUrl": "github.com?owner=acme&repo=svc",
        "owner": "group:platform/team-a",
        "nested": {"deep": [{"x": 42}]},
        "empty": "",
    },
    "steps": {"publish-it": {"output": {"remoteUrl": "https://git/acme/svc"}}},
}


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine()


def test_lone_expression_keeps_native_type(engine: TemplateEngine) -> None:
    assert engine.render_value("${{ parameters.tags }}", CONTEXT) == ["a", "b"]
    assert engine.render_value("${{ parameters.flag }}", CONTEXT) is True
    assert engine.render_value("${{parameters.count}}", CONTEXT) == 3
    # Backstage: only exactly one ${{ }} keeps its type; surrounding spaces make it text
    assert engine.render_value("  ${{ parameters.count }} ", CONTEXT) == "  3 "
    assert engine.render_value("${{ parameters.nested }}", CONTEXT) == {"deep": [{"x": 42}]}


def test_mixed_text_is_a_string_printed_the_javascript_way(engine: TemplateEngine) -> None:
    assert engine.render_value("tags: ${{ parameters.tags }}", CONTEXT) == "tags: a,b"
    assert engine.render_value("on=${{ parameters.flag }}", CONTEXT) == "on=true"


def test_empty_result_drops_the_key(engine: TemplateEngine) -> None:
    rendered = engine.render_value(
        {"keep": "x", "missing": "${{ parameters.nope }}", "blank": "${{ parameters.empty }}", "n": 0},
        CONTEXT,
    )
    # an undefined value drops its key; an empty string the expression produced stays (Backstage)
    assert rendered == {"keep": "x", "blank": "", "n": 0}


def test_lone_block_is_json_coerced(engine: TemplateEngine) -> None:
    assert engine.render_value("{% if parameters.flag %}true{% else %}false{% endif %}", CONTEXT) is True
    assert engine.render_value("{% if parameters.flag %}[1, 2]{% endif %}", CONTEXT) == [1, 2]
    assert engine.render_value("{% if parameters.flag %}plain words{% endif %}", CONTEXT) == "plain words"


def test_strict_equality_and_inline_if(engine: TemplateEngine) -> None:
    assert engine.render_value("${{ parameters.name === 'svc' }}", CONTEXT) is True
    assert engine.render_value("${{ parameters.name !== 'svc' }}", CONTEXT) is False
    assert engine.render_value("${{ 'yes' if parameters.flag else 'no' }}", CONTEXT) == "yes"
    # An === inside a string literal is text, not an operator.
    assert engine.render_value("${{ 'a === b' }}", CONTEXT) == "a === b"


def test_nunjucks_for_over_object_entries(engine: TemplateEngine) -> None:
    text = "{% for key, value in parameters.nested %}${{ key }}={{ value | length }}{% endfor %}"
    assert "for key, value in (parameters.nested)|_entries" in nunjucks_to_jinja(text)
    assert (
        engine.render_string("{% for k, v in {'a': 1, 'b': 2} %}${{ k }}${{ v }};{% endfor %}", {})
        == "a1;b2;"
    )


def test_mapping_keys_win_over_methods(engine: TemplateEngine) -> None:
    assert engine.render_value("${{ parameters.items }}", CONTEXT) == "the items field"


def test_dashed_step_ids_and_outputs(engine: TemplateEngine) -> None:
    assert (
        engine.render_value("${{ steps['publish-it'].output.remoteUrl }}", CONTEXT) == "https://git/acme/svc"
    )


def test_undefined_chains_like_nunjucks(engine: TemplateEngine) -> None:
    assert engine.render_value("x${{ parameters.a.b.c }}y", CONTEXT) == "xy"
    assert engine.render_value("${{ null }}", CONTEXT) is None


def test_dump_filter(engine: TemplateEngine) -> None:
    assert engine.render_value("${{ parameters.tags | dump }}", CONTEXT) == '["a","b"]'
    assert engine.render_value("${{ {'a': 1} | dump(2) }}", CONTEXT) == '{\n  "a": 1\n}'


def test_backstage_filters(engine: TemplateEngine) -> None:
    assert engine.render_value("${{ parameters.repoUrl | parseRepoUrl }}", CONTEXT) == {
        "host": "github.com",
        "owner": "acme",
        "repo": "svc",
    }
    assert engine.render_value("${{ parameters.repoUrl | projectSlug }}", CONTEXT) == "acme/svc"
    assert engine.render_value("${{ parameters.owner | parseEntityRef }}", CONTEXT) == {
        "kind": "group",
        "namespace": "platform",
        "name": "team-a",
    }
    assert (
        engine.render_value(
            "${{ 'team-b' | parseEntityRef({'defaultKind': 'Group'}) | pick('kind') }}", CONTEXT
        )
        == "Group"
    )
    assert engine.render_value("${{ parameters | pick('nested.deep[0].x') }}", CONTEXT) == 42
    with pytest.raises(ExpressionError, match="parseRepoUrl"):
        engine.render_value("${{ 'github.com?owner=a' | parseRepoUrl }}", CONTEXT)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${{ 'hello world' | capitalize }}", "Hello world"),
        ("${{ 'hello world' | title }}", "Hello World"),
        ("${{ 'a-b-c' | replace('-', '_') }}", "a_b_c"),
        ("${{ 'The quick brown fox' | truncate(9) }}", "The..."),
        ("${{ [3, 1, 2] | sort | join('') }}", "123"),
        ("${{ [1, 2, 3] | first }}${{ [1, 2, 3] | last }}", "13"),
        ("${{ '  pad ' | trim | upper }}", "PAD"),
        ("${{ 'a\nb' | nl2br }}", "a<br />\nb"),
        ("${{ [1, 2, 3] | sum }}", "6"),
        ("${{ 'x' | default('y') }}${{ parameters.nope | d('z') }}", "xz"),
        ("${{ 'one two three' | wordcount }}", "3"),
        ("${{ 'a b' | urlencode }}", "a%20b"),
        ("${{ [1, 2, 3, 4] | batch(2) | length }}", "2"),
        ("${{ parameters.name | length }}", "3"),
    ],
)
def test_nunjucks_builtin_filters(engine: TemplateEngine, expression: str, expected: str) -> None:
    assert str(engine.render_value(expression, CONTEXT)) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${{ 'a-b_c' | replace(r/[-_]/g, '.') }}", "a.b.c"),
        ("${{ 'a-b_c' | replace(r/[-_]/, '.') }}", "a.b_c"),
        ("${{ 'Hello' | replace(r/l+/, '[$&]') }}", "He[ll]o"),
        ("${{ 'John Smith' | replace(r/(\\w+)\\s(\\w+)/, '$2, $1') }}", "Smith, John"),
        ("${{ 'ABC' | replace(r/b/gi, 'x') }}", "AxC"),
        ("${{ 'xx'.replace(r/x/g, 'y') }}", "yy"),
        ("${{ 'user/r/x' }}", "user/r/x"),
    ],
)
def test_nunjucks_regex_literals(engine: TemplateEngine, expression: str, expected: str) -> None:
    assert engine.render_value(expression, CONTEXT) == expected


def test_javascript_members(engine: TemplateEngine) -> None:
    assert engine.render_value("${{ parameters.name.length }}", CONTEXT) == 3
    assert engine.render_value("${{ parameters.name.toUpperCase() }}", CONTEXT) == "SVC"
    assert engine.render_value("${{ parameters.tags.includes('b') }}", CONTEXT) is True
    assert engine.render_value("${{ parameters.name.startsWith('sv') }}", CONTEXT) is True


def test_trim_and_lstrip_blocks() -> None:
    source = "a\n  {% if true %}\nb\n  {% endif %}\nc"
    assert TemplateEngine(trim_blocks=True, lstrip_blocks=True).render_string(source, {}) == "a\nb\nc"
    assert TemplateEngine().render_string(source, {}) == "a\n  \nb\n  \nc"


def test_cookiecutter_compat() -> None:
    engine = TemplateEngine(cookiecutter_compat=True)
    assert engine.render_string("{{ cookiecutter.name | jsonify }}", {"cookiecutter": {"name": "x"}}) == '"x"'


@pytest.mark.parametrize(
    "expression",
    [
        "${{ ''.__class__.__mro__ }}",
        "${{ parameters.name.__class__.__base__.__subclasses__() }}",
        "${{ parameters['__class__'] }}",
        "${{ parameters.name | attr('__class__') }}",
        "${{ (parameters.tags).pop() }}",
        "x ${{ ''.__class__ }} y",
        "${{ self.__init__.__globals__ }}",
        "${{ range.__call__.__globals__ }}",
    ],
)
def test_sandbox_refuses_internals(engine: TemplateEngine, expression: str) -> None:
    with pytest.raises(ExpressionError):
        engine.render_value(expression, CONTEXT)
    assert CONTEXT["parameters"]["tags"] == ["a", "b"]  # and nothing was mutated


@pytest.mark.parametrize(
    "expression",
    [
        "{% include '/etc/passwd' %}",
        "{% import '/etc/passwd' as x %}",
        "{% extends '/etc/hostname' %}",
        "${{ 'x' * 100000000 }}",
        "${{ 10 ** 100000 }}",
    ],
)
def test_sandbox_refuses_files_and_huge_results(engine: TemplateEngine, expression: str) -> None:
    with pytest.raises(ExpressionError):
        engine.render_value(expression, CONTEXT)


def test_syntax_errors_name_the_expression(engine: TemplateEngine) -> None:
    with pytest.raises(ExpressionError, match="syntax error"):
        engine.render_value("${{ parameters.name ++ }}", CONTEXT)


def test_truthiness() -> None:
    assert not is_truthy([])
    assert not is_truthy("")
    assert is_truthy("false")  # JavaScript: a non-empty string
    assert is_truthy([0])
