"""JSON-Schema resolution for the form: which properties a page shows for the current answers.

Pure functions of (schema, answers). ``resolve`` follows ``dependencies`` (list form = extra
required keys; schema form, with ``oneOf`` branches chosen by ``const``/``enum``), ``allOf`` /
top-level ``if``/``then``/``else``, and ``oneOf``/``anyOf``. ``error_field``/``error_message`` turn a
jsonschema error into the field it belongs to and a short sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema


def resolve(
    schema: Mapping[str, Any], answers: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """The properties (in order) and required names a page shows for ``answers``."""
    properties: dict[str, dict[str, Any]] = {
        k: dict(v) for k, v in (schema.get("properties") or {}).items() if isinstance(v, Mapping)
    }
    required = set(schema.get("required") or [])

    def merge(sub: Mapping[str, Any]) -> None:
        sub_properties, sub_required = resolve(sub, answers)
        for key, value in sub_properties.items():
            # A branch re-declaring the trigger (``const``) must not replace the trigger's schema.
            properties[key] = {**properties[key], **value} if key in properties else value
        required.update(sub_required)

    for trigger, dependency in (schema.get("dependencies") or {}).items():
        if isinstance(dependency, list):
            if trigger in answers:
                required.update(dependency)
        elif isinstance(dependency, Mapping):
            if "oneOf" in dependency:
                for branch in dependency["oneOf"]:
                    if isinstance(branch, Mapping) and _branch_selected(branch, trigger, answers):
                        merge(
                            {
                                **branch,
                                "properties": {
                                    k: v for k, v in (branch.get("properties") or {}).items() if k != trigger
                                },
                            }
                        )
                        break
            elif trigger in answers:
                merge(dependency)
    conditionals = list(schema.get("allOf") or [])
    if isinstance(schema.get("if"), Mapping):
        conditionals.append({k: schema[k] for k in ("if", "then", "else") if k in schema})
    for sub in conditionals:
        if not isinstance(sub, Mapping):
            continue
        if "if" in sub:
            branch = sub.get("then") if is_valid(answers, sub["if"]) else sub.get("else")
            if isinstance(branch, Mapping):
                merge(branch)
        else:
            merge(sub)
    one_of = [b for b in schema.get("oneOf") or [] if isinstance(b, Mapping)]
    if one_of:
        merge(_choose_branch(one_of, answers))
    for branch in schema.get("anyOf") or []:
        if isinstance(branch, Mapping) and _consts_match(branch, answers):
            merge(branch)
    return properties, required


def _branch_selected(branch: Mapping[str, Any], trigger: str, answers: Mapping[str, Any]) -> bool:
    condition = (branch.get("properties") or {}).get(trigger)
    if trigger not in answers:
        return False
    if not isinstance(condition, Mapping):
        return True
    return is_valid(answers[trigger], condition)


def _consts_match(branch: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    for key, prop in (branch.get("properties") or {}).items():
        if (
            isinstance(prop, Mapping)
            and ("const" in prop or "enum" in prop)
            and not (key in answers and is_valid(answers[key], prop))
        ):
            return False
    return True


def _choose_branch(branches: list[Mapping[str, Any]], answers: Mapping[str, Any]) -> Mapping[str, Any]:
    """The oneOf branch the answers point at: consts match and required answered, else consts match."""
    matching = [b for b in branches if _consts_match(b, answers)]
    for branch in matching:
        if all(key in answers for key in branch.get("required") or []):
            return branch
    return matching[0] if matching else branches[0]


def is_valid(instance: Any, schema: Any) -> bool:
    """Whether ``instance`` satisfies ``schema`` (an invalid schema counts as not satisfied)."""
    try:
        return jsonschema.Draft7Validator(schema).is_valid(instance)
    except jsonschema.SchemaError:
        return False


def all_properties(page: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every property declared anywhere in a page (any branch), for type lookups."""
    found: dict[str, dict[str, Any]] = {}

    def walk(schema: Any) -> None:
        if isinstance(schema, Mapping):
            for key, value in (schema.get("properties") or {}).items():
                if isinstance(value, Mapping):
                    found.setdefault(key, dict(value))
            for key in ("allOf", "oneOf", "anyOf"):
                for sub in schema.get(key) or []:
                    walk(sub)
            for key in ("then", "else"):
                walk(schema.get(key))
            for dependency in (schema.get("dependencies") or {}).values():
                walk(dependency)

    walk(page)
    return found


def ordered(names: list[str], order: Any) -> list[str]:
    """Apply ``ui:order`` (with ``*`` standing for every field not named)."""
    if not isinstance(order, list):
        return names
    named = [n for n in order if n != "*" and n in names]
    rest = [n for n in names if n not in named]
    if "*" not in order:
        return named + rest
    star = order.index("*")
    before = [n for n in order[:star] if n in names]
    after = [n for n in order[star + 1 :] if n in names]
    return before + [n for n in rest] + after


def error_field(error: jsonschema.ValidationError) -> str | None:
    if error.validator == "required" and not error.path:
        # "'name' is a required property": the field is the missing key.
        missing = [k for k in error.validator_value if k not in (error.instance or {})]
        return missing[0] if missing else None
    if error.validator == "dependencies" and not error.path:
        return None
    return str(error.path[0]) if error.path else None


def error_message(error: jsonschema.ValidationError, schema: Mapping[str, Any]) -> str:
    validator = error.validator
    if validator == "required":
        return "is required"
    if validator == "pattern":
        return f"must match pattern {schema.get('pattern', error.validator_value)}"
    if validator == "enum":
        return "must be one of: " + ", ".join(map(str, error.validator_value))
    if validator == "minLength":
        return f"must be at least {error.validator_value} characters"
    if validator == "maxLength":
        return f"must be at most {error.validator_value} characters"
    if validator == "minimum":
        return f"must be ≥ {error.validator_value}"
    if validator == "maximum":
        return f"must be ≤ {error.validator_value}"
    if validator == "type":
        return f"must be of type {error.validator_value}"
    if validator == "format":
        return f"must be a valid {error.validator_value}"
    if validator == "uniqueItems":
        return "must not contain duplicates"
    return error.message
