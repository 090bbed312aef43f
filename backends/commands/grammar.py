"""One grammar for the platform verbs, whatever door they come through.

``platform deploy payment-service --env production --version v2.3.1`` in a shell,
``:deploy payment-service --env production --version v2.3.1`` in the TUI and
``/platform deploy payment-service --env production --version v2.3.1`` in Slack all reach
:func:`parse` and come out as the same typed command. Bad input is a :class:`UsageError` whose
message is one line ending in the verb's usage, so every door can show it as it is.

```python
parse("scale payment-service --replicas 5 --env staging")
# Scale(service='payment-service', replicas=5, env='staging')
```
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class UsageError(ValueError):
    """Input the grammar refuses; ``str()`` is one line a user can act on."""


@dataclass(frozen=True)
class CreateService:
    name: str
    language: str
    owner: str
    verb: str = "create-service"


@dataclass(frozen=True)
class Scale:
    service: str
    replicas: int
    env: str
    verb: str = "scale"


@dataclass(frozen=True)
class Rollback:
    service: str
    env: str
    to: str | None = None
    verb: str = "rollback"


@dataclass(frozen=True)
class Status:
    service: str
    env: str | None = None
    verb: str = "status"


@dataclass(frozen=True)
class Deploy:
    service: str
    env: str
    version: str
    verb: str = "deploy"


@dataclass(frozen=True)
class Help:
    topic: str | None = None
    verb: str = "help"


Command = CreateService | Scale | Rollback | Status | Deploy | Help


@dataclass(frozen=True)
class Flag:
    name: str  # without the dashes
    field: str
    metavar: str
    required: bool = True
    integer: bool = False


@dataclass(frozen=True)
class VerbSpec:
    verb: str
    summary: str
    positional: str | None  # the metavar of the one positional argument, if the verb takes one
    flags: tuple[Flag, ...]
    mutates: bool

    @property
    def usage(self) -> str:
        parts = [self.verb]
        if self.positional:
            parts.append(self.positional)
        for flag in self.flags:
            text = f"--{flag.name} {flag.metavar}"
            parts.append(text if flag.required else f"[{text}]")
        return " ".join(parts)


VERBS: dict[str, VerbSpec] = {
    spec.verb: spec
    for spec in (
        VerbSpec(
            "create-service",
            "create a service from the workspace's default golden path",
            None,
            (
                Flag("name", "name", "NAME"),
                Flag("language", "language", "LANGUAGE"),
                Flag("owner", "owner", "GROUP"),
            ),
            mutates=True,
        ),
        VerbSpec(
            "scale",
            "set how many pods a service runs",
            "SERVICE",
            (Flag("replicas", "replicas", "N", integer=True), Flag("env", "env", "ENV")),
            mutates=True,
        ),
        VerbSpec(
            "rollback",
            "return a service to its last good version (or --to VERSION)",
            "SERVICE",
            (Flag("env", "env", "ENV"), Flag("to", "to", "VERSION", required=False)),
            mutates=True,
        ),
        VerbSpec(
            "status",
            "what runs where for one service",
            "SERVICE",
            (Flag("env", "env", "ENV", required=False),),
            mutates=False,
        ),
        VerbSpec(
            "deploy",
            "canary-deploy a version of a service to an environment",
            "SERVICE",
            (Flag("env", "env", "ENV"), Flag("version", "version", "VERSION")),
            mutates=True,
        ),
        VerbSpec("help", "the verbs, or one verb's usage", "[VERB]", (), mutates=False),
    )
}
_TYPES: dict[str, type] = {
    "create-service": CreateService,
    "scale": Scale,
    "rollback": Rollback,
    "status": Status,
    "deploy": Deploy,
}
_POSITIONAL_FIELD = {"scale": "service", "rollback": "service", "status": "service", "deploy": "service"}


def tokenize(text: str) -> list[str]:
    """Shell-like words (quotes group); an unbalanced quote is a :class:`UsageError`."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise UsageError(f"cannot read the command: {error}") from error


def parse(command: str | Sequence[str]) -> Command:
    """The typed command for ``command`` (a line, or words already split as a shell does)."""
    words = tokenize(command) if isinstance(command, str) else list(command)
    if words and words[0].startswith("/"):
        words = words[1:]  # "/platform deploy …" pasted from Slack
    if not words:
        raise UsageError(f"no command; verbs: {', '.join(VERBS)}")
    verb, rest = words[0].lower(), words[1:]
    spec = VERBS.get(verb)
    if spec is None:
        raise UsageError(f"unknown command {words[0]!r}; verbs: {', '.join(VERBS)}")
    if verb == "help":
        return _help(rest)
    values = _values(spec, rest)
    parsed: Command = _TYPES[verb](**values)
    return parsed


def _help(rest: list[str]) -> Help:
    if len(rest) > 1:
        raise UsageError(f"help takes at most one verb; usage: {VERBS['help'].usage}")
    if rest and rest[0].lower() not in VERBS:
        raise UsageError(f"unknown command {rest[0]!r}; verbs: {', '.join(VERBS)}")
    return Help(rest[0].lower() if rest else None)


def _values(spec: VerbSpec, rest: list[str]) -> dict[str, object]:
    by_name = {flag.name: flag for flag in spec.flags}
    values: dict[str, object] = {}
    positional: list[str] = []
    index = 0
    while index < len(rest):
        word = rest[index]
        index += 1
        if not word.startswith("--"):
            positional.append(word)
            continue
        name, has_value, value = word[2:].partition("=")
        flag = by_name.get(name)
        if flag is None:
            raise UsageError(f"{spec.verb}: unknown flag {word.split('=')[0]}; usage: {spec.usage}")
        if not has_value:
            if index >= len(rest) or rest[index].startswith("--"):
                raise UsageError(f"{spec.verb}: --{name} needs a value; usage: {spec.usage}")
            value = rest[index]
            index += 1
        if not value:
            raise UsageError(f"{spec.verb}: --{name} needs a value; usage: {spec.usage}")
        if flag.field in values:
            raise UsageError(f"{spec.verb}: --{name} given twice; usage: {spec.usage}")
        values[flag.field] = _typed(spec, flag, value)
    _positional(spec, positional, values)
    missing = [f"--{flag.name}" for flag in spec.flags if flag.required and flag.field not in values]
    if missing:
        raise UsageError(f"{spec.verb}: missing {', '.join(missing)}; usage: {spec.usage}")
    return values


def _positional(spec: VerbSpec, positional: list[str], values: dict[str, object]) -> None:
    field = _POSITIONAL_FIELD.get(spec.verb)
    if field is None:
        if positional:
            raise UsageError(f"{spec.verb}: unexpected {positional[0]!r}; usage: {spec.usage}")
        return
    if not positional:
        raise UsageError(f"{spec.verb}: missing {spec.positional}; usage: {spec.usage}")
    if len(positional) > 1:
        raise UsageError(f"{spec.verb}: unexpected {positional[1]!r}; usage: {spec.usage}")
    values[field] = positional[0]


def _typed(spec: VerbSpec, flag: Flag, value: str) -> object:
    if not flag.integer:
        return value
    try:
        number = int(value)
    except ValueError:
        raise UsageError(
            f"{spec.verb}: --{flag.name} must be a whole number, not {value!r}; usage: {spec.usage}"
        ) from None
    if number < 0:
        raise UsageError(f"{spec.verb}: --{flag.name} cannot be negative; usage: {spec.usage}")
    return number


def help_text(topic: str | None = None) -> str:
    """The usage of one verb, or of every verb (one per line)."""
    if topic is not None:
        spec = VERBS[topic]
        return f"{spec.usage}  — {spec.summary}"
    return "\n".join(f"{spec.usage}  — {spec.summary}" for spec in VERBS.values())


def render(command: Command) -> str:
    """``command`` as a line of the grammar again (for audit records and chat replies)."""
    return " ".join(shlex.quote(word) for word in words_of(command))


def words_of(command: Command) -> list[str]:
    """The grammar's words for ``command`` (render and the shell's argv share them)."""
    if isinstance(command, Help):
        return ["help"] + ([command.topic] if command.topic else [])
    spec = VERBS[command.verb]
    words = [command.verb]
    field = _POSITIONAL_FIELD.get(command.verb)
    if field:
        words.append(str(getattr(command, field)))
    for flag in spec.flags:
        value = getattr(command, flag.field)
        if value is not None:
            words += [f"--{flag.name}", str(value)]
    return words


def complete(line: str, services: Iterable[str] = (), environments: Iterable[str] = ()) -> list[str]:
    """Candidates for the last word of ``line`` (the word being typed, or a new one after a space):
    verbs first, then the verb's positional (service names) and flags, then a flag's values."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    if line.endswith(" ") or not words:
        words.append("")
    *before, current = words
    if not before:
        return sorted(verb for verb in VERBS if verb.startswith(current.lower()))
    spec = VERBS.get(before[0].lower())
    if spec is None:
        return []
    if spec.verb == "help":
        return sorted(verb for verb in VERBS if verb.startswith(current)) if len(before) == 1 else []
    previous = before[-1] if len(before) > 1 else ""
    if previous.startswith("--"):
        name = previous[2:]
        pool: Iterable[str] = environments if name == "env" else services if name == "name" else ()
        if spec.verb == "create-service" and name == "name":
            pool = ()
        return sorted(value for value in pool if value.startswith(current))
    used = {word[2:].split("=")[0] for word in before if word.startswith("--")}
    flags = [f"--{flag.name}" for flag in spec.flags if flag.name not in used]
    has_positional = any(
        not word.startswith("--") and not (before[i - 1].startswith("--") if i > 1 else False)
        for i, word in enumerate(before)
        if i > 0
    )
    candidates = [flag for flag in flags if flag.startswith(current)]
    if spec.verb in _POSITIONAL_FIELD and not has_positional and not current.startswith("-"):
        candidates = sorted(name for name in services if name.startswith(current)) + candidates
    return candidates
