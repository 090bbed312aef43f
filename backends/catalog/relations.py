"""The relations Backstage's ``BuiltinKindsEntityProcessor`` emits, and their reverse pairs.

Each spec field names targets by ref; missing kinds come from the field's default kind and missing
namespaces from the *referring entity's* namespace. A ref that does not parse fails the entity, as in
Backstage's postprocessing step. Targets are never required to exist (dangling refs are kept; the
catalog reports them as warnings).
"""

from __future__ import annotations

from typing import Any

from backends.catalog.refs import DEFAULT_NAMESPACE

OWNED_BY, OWNER_OF = "ownedBy", "ownerOf"
PART_OF, HAS_PART = "partOf", "hasPart"
DEPENDS_ON, DEPENDENCY_OF = "dependsOn", "dependencyOf"
PROVIDES_API, API_PROVIDED_BY = "providesApi", "apiProvidedBy"
CONSUMES_API, API_CONSUMED_BY = "consumesApi", "apiConsumedBy"
MEMBER_OF, HAS_MEMBER = "memberOf", "hasMember"
CHILD_OF, PARENT_OF = "childOf", "parentOf"

#: Every relation type and its reverse.
REVERSE: dict[str, str] = {
    OWNED_BY: OWNER_OF,
    OWNER_OF: OWNED_BY,
    PART_OF: HAS_PART,
    HAS_PART: PART_OF,
    DEPENDS_ON: DEPENDENCY_OF,
    DEPENDENCY_OF: DEPENDS_ON,
    PROVIDES_API: API_PROVIDED_BY,
    API_PROVIDED_BY: PROVIDES_API,
    CONSUMES_API: API_CONSUMED_BY,
    API_CONSUMED_BY: CONSUMES_API,
    MEMBER_OF: HAS_MEMBER,
    HAS_MEMBER: MEMBER_OF,
    CHILD_OF: PARENT_OF,
    PARENT_OF: CHILD_OF,
}

# kind -> [(spec field, default kind or None, forward relation)], in Backstage's order.
RELATION_FIELDS: dict[str, tuple[tuple[str, str | None, str], ...]] = {
    "Component": (
        ("owner", "Group", OWNED_BY),
        ("subcomponentOf", "Component", PART_OF),
        ("providesApis", "API", PROVIDES_API),
        ("consumesApis", "API", CONSUMES_API),
        ("dependsOn", None, DEPENDS_ON),
        ("dependencyOf", None, DEPENDENCY_OF),
        ("system", "System", PART_OF),
    ),
    "API": (("owner", "Group", OWNED_BY), ("system", "System", PART_OF)),
    "Resource": (
        ("owner", "Group", OWNED_BY),
        ("dependsOn", None, DEPENDS_ON),
        ("dependencyOf", None, DEPENDENCY_OF),
        ("system", "System", PART_OF),
    ),
    "User": (("memberOf", "Group", MEMBER_OF),),
    "Group": (
        ("parent", "Group", CHILD_OF),
        ("children", "Group", PARENT_OF),
        ("members", "User", HAS_MEMBER),
    ),
    "System": (("owner", "Group", OWNED_BY), ("domain", "Domain", PART_OF)),
    "Domain": (("owner", "Group", OWNED_BY), ("subdomainOf", "Domain", PART_OF)),
    # The scaffolder's ScaffolderEntitiesProcessor (only for scaffolder.backstage.io/v1beta3).
    "Template": (("owner", "Group", OWNED_BY),),
}


class RelationError(ValueError):
    """A relation field holds something that is not an entity reference."""


def target_ref(value: object, default_kind: str | None, namespace: str) -> str:
    """The canonical ref a relation field value points at (Backstage's ``parseEntityRef``)."""
    if not value:
        raise RelationError("Entity reference must not be empty")
    kind: object
    ns: object
    name: object  # a compound ref's parts are checked to be strings below
    if isinstance(value, str):
        colon = value.find(":")
        slash = value.find("/")
        if slash != -1 and slash < colon:
            colon = -1
        kind = value[:colon] if colon != -1 else None
        ns = value[colon + 1 : slash] if slash != -1 else None
        name = value[max(colon + 1, slash + 1) :]
        if kind == "" or ns == "" or name == "":
            raise RelationError(
                f'Entity reference "{value}" was not on the form [<kind>:][<namespace>/]<name>'
            )
    elif isinstance(value, dict):  # compound refs {kind, namespace, name} (fields outside the schemas)
        kind, ns, name = value.get("kind"), value.get("namespace"), value.get("name")
    else:
        kind = ns = name = None
    kind = kind if kind is not None else default_kind
    ns = ns if ns is not None else namespace
    if not kind:
        raise RelationError(
            f"Entity reference {_json(value)} had missing or empty kind "
            '(e.g. did not start with "component:" or similar)'
        )
    if not ns:
        raise RelationError(f"Entity reference {_json(value)} had missing or empty namespace")
    if not name:
        raise RelationError(f"Entity reference {_json(value)} had missing or empty name")
    if not all(isinstance(part, str) for part in (kind, ns, name)):
        raise RelationError(f"Entity reference {_json(value)} has parts that are not strings")
    return f"{kind}:{ns}/{name}".lower()


def _json(value: object) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


# (value, default kind, namespace) -> canonical ref: owners and systems repeat across many entities.
_TARGETS: dict[tuple[str, str | None, str], str] = {}
# One shared (type, target) tuple per distinct relation: 100k entities declare ~600k of them.
_PAIRS: dict[tuple[str, str], tuple[str, str]] = {}


def clear_caches() -> None:
    """Forget the memoized refs (call after a load; they only speed up one pass over many entities)."""
    _TARGETS.clear()
    _PAIRS.clear()


def _cached_target(value: object, default_kind: str | None, namespace: str) -> str:
    if type(value) is not str:
        return target_ref(value, default_kind, namespace)
    key = (value, default_kind, namespace)
    found = _TARGETS.get(key)
    if found is None:
        if len(_TARGETS) > 200_000:
            _TARGETS.clear()
        found = _TARGETS[key] = target_ref(value, default_kind, namespace)
    return found


def forward_relations(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``[(relation type, canonical target)]`` declared by a valid entity's spec fields."""
    kind = data["kind"]
    fields = RELATION_FIELDS.get(kind)
    if fields is None or (kind == "Template" and data.get("apiVersion") != "scaffolder.backstage.io/v1beta3"):
        return []
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return []
    namespace = data["metadata"].get("namespace") or DEFAULT_NAMESPACE
    relations: list[tuple[str, str]] = []
    for field_name, default_kind, relation in fields:
        value = spec.get(field_name)
        if _js_falsy(value):
            continue  # Backstage skips falsy values ("", 0, null, false)
        # `[targets].flat()`: one level of list flattening, exactly like Backstage
        for item in value if isinstance(value, list) else (value,):
            pair = (relation, _cached_target(item, default_kind, namespace))
            relations.append(_PAIRS.setdefault(pair, pair))
    return relations


def _js_falsy(value: object) -> bool:
    """JavaScript truthiness: empty lists and objects are *truthy* there, unlike in Python."""
    if value is None or value is False or value == "":
        return True
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0 or value != value  # 0 and NaN
    return False
