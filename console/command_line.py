"""The ``:`` command line: k9s-style commands with short aliases.

Parsing is pure (no Textual) so it can be tested directly and listed in the help overlay.
The app executes a parsed ``Command`` by its ``name``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    aliases: tuple[str, ...]
    usage: str
    help: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("catalog", ("c", "cat"), ":catalog [FILTER]", "the catalog, optionally filtered"),
    CommandSpec("entity", ("e", "ent"), ":entity NAME|REF", "open an entity (e.g. :entity payment-service)"),
    CommandSpec("scaffold", ("s", "new", "create"), ":scaffold [TEMPLATE]", "golden paths: create a service"),
    CommandSpec("deploy", ("d", "dep"), ":deploy [SERVICE]", "deploy and watch rollouts"),
    CommandSpec("docs", ("doc",), ":docs [ENTITY]", "TechDocs"),
    CommandSpec("search", ("find", "?"), ":search QUERY", "search catalog, docs and templates"),
    CommandSpec("status", ("st",), ":status", "what runs where, platform metrics"),
    CommandSpec("infra", ("inf",), ":infra SERVICE", "a service's infrastructure: resources, drift, edit"),
    CommandSpec(
        "metrics", ("m", "scorecard"), ":metrics [team:T|service:S]", "the platform's scorecard (DORA …)"
    ),
    CommandSpec("feedback", ("fb", "nps"), ":feedback", "rate the platform from 0 to 10"),
    CommandSpec("problems", ("p", "errors"), ":problems", "catalog validation problems"),
    CommandSpec("theme", (), ":theme NAME", "switch the colour theme"),
    CommandSpec("help", ("h",), ":help", "keys and commands for this screen"),
    CommandSpec("quit", ("q", "q!", "exit"), ":quit", "leave idp-console"),
    # The platform verbs (backends/commands/grammar.py): the same words as the shell and Slack.
    CommandSpec(
        "create-service", (), ":create-service --name N --language L --owner G", "run the default golden path"
    ),
    CommandSpec("scale", (), ":scale SERVICE --replicas N --env ENV", "set how many pods a service runs"),
    CommandSpec("rollback", (), ":rollback SERVICE --env ENV [--to V]", "return to the last good version"),
)

_BY_WORD: dict[str, CommandSpec] = {word: spec for spec in COMMANDS for word in (spec.name, *spec.aliases)}


class CommandLineError(ValueError):
    """Unknown command or malformed arguments (message is shown to the user)."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...] = ()

    @property
    def argument(self) -> str:
        """All arguments as one string (e.g. a filter query with spaces)."""
        return " ".join(self.args)


def parse_command(text: str) -> Command:
    """``"d payment-service"`` → ``Command("deploy", ("payment-service",))``."""
    text = text.strip().removeprefix(":").strip()
    if not text:
        raise CommandLineError("empty command — try :help")
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise CommandLineError(f"cannot parse {text!r}: {error}") from error
    if is_platform_line(words):
        from backends.commands.grammar import UsageError, parse

        try:
            parse(words)  # refused here with the grammar's one line, as in the shell and in chat
        except UsageError as error:
            raise CommandLineError(str(error)) from error
        return Command(PLATFORM, tuple(words))
    spec = _BY_WORD.get(words[0].lower())
    if spec is None:
        raise CommandLineError(f"unknown command :{words[0]} — try :help")
    return Command(spec.name, tuple(words[1:]))


PLATFORM = "platform"  # the name of a Command whose args are a platform verb's words
_ALWAYS_PLATFORM = ("create-service", "scale", "rollback")
_FLAGGED_PLATFORM = ("deploy", "status")  # with a flag; without, :deploy and :status navigate


def is_platform_line(words: Sequence[str]) -> bool:
    """Whether ``words`` are a platform verb (``:deploy S --env E --version V``) rather than a
    navigation command (``:deploy S``)."""
    if not words:
        return False
    verb = words[0].lower()
    return verb in _ALWAYS_PLATFORM or (
        verb in _FLAGGED_PLATFORM and any(word.startswith("--") for word in words[1:])
    )


def completer(
    services: Callable[[], Iterable[str]], environments: Callable[[], Iterable[str]]
) -> Callable[[str], str | None]:
    """:func:`complete`, and for a platform verb its flags, the catalog's services and the
    workspace's environments (the input's inline suggestion: the whole line, completed)."""

    cache: dict[str, list[str]] = {}  # read once per prompt, on the first platform word completed

    def suggest(text: str) -> str | None:
        words = text.strip().removeprefix(":").split()
        if " " not in text.strip() and not text.endswith(" "):
            return complete(text)
        if not words or words[0].lower() not in (*_ALWAYS_PLATFORM, *_FLAGGED_PLATFORM):
            return None
        from backends.commands.grammar import complete as grammar_complete

        line = text.removeprefix(":")
        if not cache:
            cache["services"], cache["environments"] = list(services()), list(environments())
        candidates = grammar_complete(line, cache["services"], cache["environments"])
        if not candidates:
            return None
        current = "" if text.endswith(" ") else text.split()[-1]
        return text[: len(text) - len(current)] + candidates[0]

    return suggest


def complete(prefix: str) -> str | None:
    """The first command name starting with ``prefix`` (for the input's suggestion)."""
    prefix = prefix.strip().lower()
    if not prefix or " " in prefix:
        return None
    for spec in COMMANDS:
        if spec.name.startswith(prefix):
            return spec.name
    return None


def hints(text: str) -> list[tuple[str, str]]:
    """(usage, help) of the commands the first word of ``text`` may be, shown above the ``:`` prompt.

    Empty text lists every command; once a command is complete (a space follows), only its usage.
    """
    words = text.strip().removeprefix(":").split()
    if not words:
        return [(spec.usage, spec.help) for spec in COMMANDS]
    word = words[0].lower()
    exact = _BY_WORD.get(word)
    if exact is not None and (len(words) > 1 or text.endswith(" ")):
        return [(exact.usage, exact.help)]
    return [
        (spec.usage, spec.help)
        for spec in COMMANDS
        if any(candidate.startswith(word) for candidate in (spec.name, *spec.aliases))
    ]
