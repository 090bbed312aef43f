"""Policies as code: CEL rules in the infra repository (``policies/*.yaml``), the language of
Kubernetes ValidatingAdmissionPolicy.

```yaml
apiVersion: platform.internal/v1
kind: InfraPolicy
metadata: {name: production-replicas}
spec:
  expression: "!environment.production || !has(object.spec.compute) || object.spec.compute.replicas >= 2"
  message: production runs at least 2 replicas
  action: deny          # or warn
```
The expression sees ``object`` (the ServiceResources, defaults filled in), ``owner`` (``name``,
``monthlyCost`` after the change, ``budget`` when the team has one) and ``environment`` (``name``,
``production``); true means the object passes. A rule that does not compile, errors when it runs or
answers anything but a boolean is reported with why, and counts as deny (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cel
import yaml

from backends.infra.resources import line_of

ACTIONS = ("deny", "warn")
POLICY_KEYS = {"apiVersion", "kind", "metadata", "spec"}
SPEC_KEYS = {"expression", "message", "action"}


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    file: str
    line: int | None
    expression: str
    message: str
    action: str  # deny | warn
    program: Any = None  # the compiled CEL program; None when the rule is broken
    error: str = ""  # why the rule is broken (then it denies everything)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(slots=True)  # not frozen: a plan makes 25k of them, and frozen init costs twice as much
class Verdict:
    policy: str
    service: str
    outcome: str  # pass | warn | deny
    message: str
    where: str = ""  # the policy's file:line

    def as_dict(self) -> dict[str, str]:
        return {
            "policy": self.policy, "service": self.service, "outcome": self.outcome,
            "message": self.message, "where": self.where,
        }  # fmt: skip


def _broken(name: str, file: str, line: int | None, why: str) -> Policy:
    return Policy(name, file, line, "", f"policy {name} is broken: {why}", "deny", None, why)


def load_policy(file: str, source: str) -> Policy:
    """One policy file, compiled; a broken one is returned as a policy that denies, saying why."""
    fallback = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    try:
        data = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return _broken(
            fallback,
            file,
            mark.line + 1 if mark else None,
            f"not valid YAML: {getattr(error, 'problem', error)}",
        )
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        return _broken(fallback, file, None, "expected a mapping with a 'spec'")
    for key in data:
        if key not in POLICY_KEYS:
            return _broken(fallback, file, line_of(source, (str(key),)), f"unknown key {key!r}")
    meta = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    name = str(meta.get("name") or fallback)
    spec = data["spec"]
    for key in spec:
        if key not in SPEC_KEYS:
            return _broken(name, file, line_of(source, ("spec", str(key))), f"unknown key spec.{key}")
    expression, line = spec.get("expression"), _expression_line(source)
    action = spec.get("action", "deny")
    if action not in ACTIONS:
        return _broken(
            name, file, line_of(source, ("spec", "action")), f"action {action!r} (expected deny or warn)"
        )
    if not isinstance(expression, str) or not expression.strip():
        return _broken(name, file, line, "spec.expression: expected a CEL expression")
    message = str(spec.get("message") or f"policy {name} denies this")
    try:
        program = cel.compile(expression)
    except Exception as error:  # the library raises ValueError, and others for odd input
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        return _broken(name, file, line, f"does not compile: {first}")
    return Policy(name, file, line, expression, message, str(action), program)


def _expression_line(source: str) -> int | None:
    """The line of ``expression:`` (a text scan: composing the YAML again for its marks costs more
    than the whole evaluation of a plan); the YAML locator when the key is written another way."""
    lines = [n for n, text in enumerate(source.splitlines(), 1) if text.strip().startswith("expression:")]
    return lines[0] if len(lines) == 1 else line_of(source, ("spec", "expression"))


def load_policies(files: dict[str, str]) -> list[Policy]:
    """Every policy of the repository, in file order."""
    return [load_policy(file, files[file]) for file in sorted(files)]


class Evaluator:
    """Evaluates every policy on one object after another, converting each variable to CEL only
    when it changes (the conversion costs more than an evaluation: 500 objects × 50 rules)."""

    def __init__(self, policies: list[Policy], environment: dict[str, Any]) -> None:
        self.policies = policies
        self._context = cel.Context()
        self._context.add_variable("environment", environment)
        self._owner: dict[str, Any] | None = None

    def verdicts(self, service: str, obj: dict[str, Any], owner: dict[str, Any]) -> list[Verdict]:
        if owner is not self._owner:
            self._context.add_variable("owner", owner)
            self._owner = owner
        self._context.add_variable("object", obj)
        return [evaluate(policy, service, self._context) for policy in self.policies]


def evaluate(policy: Policy, service: str, context: Any) -> Verdict:
    """The policy's verdict on one object; errors deny (fail closed)."""
    if policy.program is None:
        return Verdict(policy.name, service, "deny", policy.message, policy.where)
    try:
        result = policy.program.execute(context)
    except Exception as error:
        why = str(error).splitlines()[0] if str(error) else type(error).__name__
        message = f"policy {policy.name} failed on {service}: {type(error).__name__}: {why} (treated as deny)"
        return Verdict(policy.name, service, "deny", message, policy.where)
    if not isinstance(result, bool):
        message = f"policy {policy.name} answered {result!r}, not true or false (treated as deny)"
        return Verdict(policy.name, service, "deny", message, policy.where)
    if result:
        return Verdict(policy.name, service, "pass", "", policy.where)
    return Verdict(policy.name, service, policy.action, policy.message, policy.where)
