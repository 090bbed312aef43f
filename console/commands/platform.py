"""The platform verbs in the shell: ``idp-console create-service`` and ``idp-console help``, and the
``platform`` console script (the same program, reading its words through the one grammar of
:mod:`backends.commands.grammar`, so ``platform deploy payment-service --env production --version
v2.3.1`` is the line a user types in Slack or on the TUI's ``:`` line, verbatim).

``deploy``, ``rollback``, ``scale`` and ``status`` are the existing commands of
console/commands/deploy.py; ``platform`` checks a line against the grammar first (one-line usage
errors, the same as chat's) and then runs them. The shell alone may add ``--yes``, ``--output`` and
``--foreground`` (a script has no terminal to confirm production in).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from console.commands import CommandError, mutating, workspace_from_args

EXIT_OK, EXIT_USAGE = 0, 2
# Options of the shell door only: they change how the CLI runs a verb, not what the verb means.
_SHELL_SWITCHES = ("--yes", "--foreground")
_SHELL_OPTIONS = ("--output",)
_GLOBAL_OPTIONS = ("--workspace",)
_GLOBAL_SWITCHES = ("--readonly",)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``create-service`` and ``help``."""
    create = subparsers.add_parser(
        "create-service",
        help="create a service from the workspace's default golden path, without questions",
        description="Runs scaffolder.defaultGoldenPath (default: microservice-golden-path) with "
        "name, language and owner; every other answer takes the template's default.",
    )
    create.add_argument("--name", required=True, metavar="NAME")
    create.add_argument("--language", required=True, metavar="LANGUAGE")
    create.add_argument("--owner", required=True, metavar="GROUP")
    create.add_argument("--output", choices=("text", "json"), default="text")
    create.set_defaults(handler=_create_service)
    mutating(create)

    help_ = subparsers.add_parser("help", help="the platform verbs (the same in chat and on the : line)")
    help_.add_argument("topic", nargs="?", metavar="VERB")
    help_.set_defaults(handler=_help)


def default_golden_path(workspace: object) -> str:
    """The template ``create-service`` runs: ``scaffolder.defaultGoldenPath`` or the demo's."""
    from backends.config import DEFAULT_GOLDEN_PATH

    config = getattr(workspace, "config", None)
    return config.scaffolder.default_golden_path if config is not None else DEFAULT_GOLDEN_PATH


def _create_service(args: argparse.Namespace) -> int:
    from backends.commands.grammar import CreateService, UsageError, parse
    from console.commands.scaffold import run_scaffold

    words = ["create-service", "--name", args.name, "--language", args.language, "--owner", args.owner]
    try:
        command = parse(words)
    except UsageError as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    assert isinstance(command, CreateService)
    workspace = workspace_from_args(args)
    scaffold_args = argparse.Namespace(
        workspace=args.workspace,
        template=default_golden_path(workspace),
        values=None,
        overrides=[f"name={command.name}", f"language={command.language}", f"owner={command.owner}"],
        dry_run=False,
        keep=None,
        output=args.output,
    )
    return run_scaffold(scaffold_args)


def _help(args: argparse.Namespace) -> int:
    from backends.commands.grammar import UsageError, help_text, parse

    try:
        command = parse(["help"] + ([args.topic] if args.topic else []))
    except UsageError as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    print(help_text(getattr(command, "topic", None)))
    return EXIT_OK


def platform_argv(argv: Sequence[str]) -> list[str]:
    """``idp-console``'s argv for a ``platform`` command line: a grammar verb is checked by the
    grammar (raising its UsageError) and rewritten in its canonical words; anything else (``platform
    catalog list``) passes through, as ``platform`` is the same program."""
    from backends.commands.grammar import VERBS, parse, words_of

    words = list(argv)
    leading: list[str] = []
    while words and (
        words[0] in _GLOBAL_OPTIONS + _GLOBAL_SWITCHES or words[0].split("=")[0] in _GLOBAL_OPTIONS
    ):
        option = words.pop(0)
        leading.append(option)
        if option in _GLOBAL_OPTIONS and words:
            leading.append(words.pop(0))
    if not words or words[0].lower() not in VERBS:
        return leading + words
    extras: list[str] = []
    grammar_words: list[str] = []
    while words:
        word = words.pop(0)
        if word in _SHELL_SWITCHES:
            extras.append(word)
        elif word.split("=")[0] in _SHELL_OPTIONS:
            extras.append(word)
            if "=" not in word and words:
                extras.append(words.pop(0))
        else:
            grammar_words.append(word)
    return leading + words_of(parse(grammar_words)) + extras


def platform_main(argv: Sequence[str] | None = None) -> int:
    """The ``platform`` console script."""
    from backends.commands.grammar import UsageError
    from console.cli import main

    try:
        translated = platform_argv(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        print(f"platform: {error}", file=sys.stderr)
        return EXIT_USAGE
    return main(translated)
