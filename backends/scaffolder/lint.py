"""Checking a template before it runs (errors) and linting it for likely mistakes (warnings)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from backends.scaffolder.errors import ExpressionError
from backends.scaffolder.expressions import TemplateEngine, is_templated, nunjucks_to_jinja
from backends.scaffolder.files import vcs_component
from backends.scaffolder.sandbox import Sandbox
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
        issues += [LintIssue("error", where, p) for p in _sandbox_problems(step, template, services)]
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


# Inputs that name a place in the workspace an action writes to.
_WRITE_INPUTS = ("targetPath", "filePath")
_MAX_SKELETON_ENTRIES = 20_000  # lint reads the skeleton; a huge one is checked at run time only


def _sandbox_problems(step: Any, template: Any, services: Any) -> list[str]:
    """What the run would refuse, where the inputs are literal: reads outside, VCS metadata."""
    sandbox = getattr(services, "sandbox", None) or Sandbox()
    problems = []
    url = step.input.get("url")
    if step.action.startswith("fetch:") and isinstance(url, str) and not is_templated(url):
        problem = sandbox.url_problem(url, template.base_dir)
        if problem is not None:
            problems.append(problem)
        elif step.action in ("fetch:template", "fetch:plain") and "://" not in url:
            problems += _skeleton_vcs_problems(step, template.base_dir / url)
    writes = [(key, step.input.get(key)) for key in _WRITE_INPUTS]
    if step.action == "fs:rename" and isinstance(step.input.get("files"), list):
        writes += [("to", item.get("to")) for item in step.input["files"] if isinstance(item, Mapping)]
    for key, value in writes:
        if isinstance(value, str) and not is_templated(value) and vcs_component(value):
            problems.append(f"{key} {value!r}: version-control metadata ({vcs_component(value)}) — {_NO_VCS}")
    return problems


_NO_VCS = "a template may not create or write .git, .hg or .svn entries"


def _skeleton_vcs_problems(step: Any, source: Any) -> list[str]:
    """Skeleton entries whose (rendered, where the values are literal) name is VCS metadata."""
    root = Path(source).resolve()
    if not root.is_dir():
        return []
    compat = bool(step.input.get("cookiecutterCompat"))
    engine = TemplateEngine(cookiecutter_compat=compat)
    values = step.input.get("values") if step.action == "fetch:template" else None
    context = {
        "cookiecutter" if compat else "values": _literal(values) if isinstance(values, Mapping) else {}
    }
    seen = 0
    for directory, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames) + sorted(filenames):
            seen += 1
            if seen > _MAX_SKELETON_ENTRIES:
                return []
            rel = (Path(directory) / name).relative_to(root).as_posix()
            rendered = rel
            if step.action == "fetch:template":
                try:
                    rendered = engine.render_string(rel, context)
                except ExpressionError:
                    continue  # reported elsewhere, or depends on values only known at run time
            found = vcs_component(rendered)
            if found:
                shown = (
                    f"skeleton entry {rel!r} renders to {rendered!r}"
                    if rendered != rel
                    else f"skeleton entry {rel!r}"
                )
                return [f"{shown}: version-control metadata ({found}) — {_NO_VCS}"]
    return []


def _literal(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every templated string replaced by a neutral word (known only at run time)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out[key] = _literal(value)
        elif is_templated(value):
            out[key] = "value"
        else:
            out[key] = value
    return out


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
