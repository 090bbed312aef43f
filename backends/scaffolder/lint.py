"""Checking a template before it runs (errors) and linting it for likely mistakes (warnings)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from backends.scaffolder.errors import ExpressionError
from backends.scaffolder.expressions import TemplateEngine, nunjucks_to_jinja
from backends.scaffolder.schema import all_properties

_STEP_REF = re.compile(r"steps\s*(?:\[\s*['\"]([^'\"]+)['\"]\s*\]|\.([A-Za-z_][\w]*))")
_PARAM_REF = re.compile(r"parameters\s*(?:\.([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")
_EXPR = re.compile(r"\$\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class LintIssue:
    severity: Literal["error", "warning"]
    where: str  # "step 'publish' (publish:git)", "spec.output", "template"
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


def precheck(template: Any, registry: Any, services: Any = None) -> list[str]:
    """Errors that must stop a run before anything is written, each naming its step."""
    return [
        f"{issue.where}: {issue.message}"
        for issue in lint(template, registry, services)
        if issue.severity == "error"
    ]


def lint(template: Any, registry: Any, services: Any = None) -> list[LintIssue]:
    """Every issue found in ``template``: unknown actions, bad inputs, broken expressions, smells."""
    issues: list[LintIssue] = []
    engine = TemplateEngine()
    step_ids = [s.id for s in template.steps]
    declared = _declared_parameters(template.pages)
    for position, step in enumerate(template.steps):
        where = f"step {step.id!r} ({step.action})"
        action = registry.get(step.action)
        if action is None:
            known = ", ".join(registry.ids())
            issues.append(LintIssue("error", where, f"unknown action {step.action!r} (known: {known})"))
        else:
            issues += [LintIssue("error", where, p) for p in action.precheck(step.input, template)]
            if step.action.startswith("publish:") and services is not None:
                from backends.scaffolder.actions.publish import check_remote_configured

                missing = check_remote_configured(step.action, step.input.get("repoUrl"), services.git)
                if missing:
                    issues.append(LintIssue("error", where, missing))
        if "copyWithoutRender" in step.input:
            issues.append(
                LintIssue(
                    "warning",
                    where,
                    "copyWithoutRender is ignored since scaffolder-backend 2.0 (files get rendered, so "
                    "'${{ matrix.os }}' in a workflow becomes empty): use copyWithoutTemplating",
                )
            )
        for text in _strings([step.input, step.condition, step.each]):
            problem = _compile_problem(engine, text)
            if problem:
                issues.append(LintIssue("error", where, problem))
            for match in _STEP_REF.finditer(_expressions(text)):
                target = match.group(1) or match.group(2)
                if target not in step_ids:
                    issues.append(LintIssue("warning", where, f"refers to unknown step {target!r}"))
                elif step_ids.index(target) >= position:
                    issues.append(LintIssue("warning", where, f"refers to step {target!r}, which runs later"))
            issues += _parameter_issues(text, declared, where)
    for text in _strings([template.output]):
        problem = _compile_problem(engine, text)
        if problem:
            issues.append(LintIssue("error", "spec.output", problem))
        if re.search(r"\bsecrets\b", _expressions(text)):
            issues.append(LintIssue("warning", "spec.output", "secrets are not available in spec.output"))
        issues += _parameter_issues(text, declared, "spec.output")
    if not template.owner:
        issues.append(LintIssue("warning", "template", "spec.owner is not set"))
    return issues


def _declared_parameters(pages: Iterable[Mapping[str, Any]]) -> set[str]:
    names: set[str] = set()
    for page in pages:
        names.update(all_properties(page))
    return names


def _parameter_issues(text: str, declared: set[str], where: str) -> list[LintIssue]:
    issues = []
    for match in _PARAM_REF.finditer(_expressions(text)):
        name = match.group(1) or match.group(2)
        if name not in declared:
            issues.append(
                LintIssue("warning", where, f"parameters.{name} is not declared in spec.parameters")
            )
    return issues


def _compile_problem(engine: TemplateEngine, text: str) -> str | None:
    try:
        engine._env.parse(nunjucks_to_jinja(text))  # noqa: SLF001 - syntax only, nothing is rendered
    except ExpressionError as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 - jinja2.TemplateSyntaxError and friends
        return f"syntax error in {text.strip()[:80]!r}: {getattr(error, 'message', error)}"
    return None


def _expressions(text: str) -> str:
    return " ".join((m.group(1) or m.group(2) or "") for m in _EXPR.finditer(text))


def _strings(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            if "${{" in value or "{%" in value:
                yield value
        elif isinstance(value, Mapping):
            yield from _strings(value.values())
        elif isinstance(value, list):
            yield from _strings(value)
