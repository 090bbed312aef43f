"""The ``:`` command line: aliases, arguments, errors a user sees."""

from __future__ import annotations

import pytest

from console.command_line import COMMANDS, Command, CommandLineError, complete, hints, parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":catalog", Command("catalog")),
        (":c", Command("catalog")),
        ("c kind:component owner:team-a", Command("catalog", ("kind:component", "owner:team-a"))),
        (":entity payment-service", Command("entity", ("payment-service",))),
        (":e component:default/payment-service", Command("entity", ("component:default/payment-service",))),
        (":d payment-service", Command("deploy", ("payment-service",))),
        (":Q", Command("quit")),
        ('  :search "canary rollout"  ', Command("search", ("canary rollout",))),
    ],
)
def test_parse_command_resolves_aliases_and_arguments(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


def test_argument_joins_words_for_filters() -> None:
    assert parse_command(":c kind:api tag:rest").argument == "kind:api tag:rest"


@pytest.mark.parametrize(("text", "message"), [(":", "empty command"), (":frobnicate", "unknown command")])
def test_bad_commands_explain_themselves(text: str, message: str) -> None:
    with pytest.raises(CommandLineError, match=message):
        parse_command(text)


def test_unbalanced_quotes_are_an_error_not_a_crash() -> None:
    with pytest.raises(CommandLineError, match="cannot parse"):
        parse_command(':search "oops')


def test_completion_suggests_the_command_name() -> None:
    assert complete("dep") == "deploy"
    assert complete("sta") == "status"
    assert complete("zzz") is None
    assert complete("deploy x") is None


def test_hints_list_the_commands_a_prefix_may_become() -> None:
    assert len(hints("")) == len(COMMANDS)
    assert [usage for usage, _ in hints("d")] == [":deploy [SERVICE]", ":docs [ENTITY]"]
    assert [usage for usage, _ in hints("q")] == [":quit"]
    assert [usage for usage, _ in hints("c ")] == [":catalog [FILTER]"]  # alias, then its usage only
    assert hints("zzz") == []
