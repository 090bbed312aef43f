"""Backstage entity references: ``[kind:][namespace/]name``.

Parsing follows Backstage's ``parseEntityRef``: the first ``:`` separates the kind unless a ``/``
comes before it, and every part must be non-empty. Comparison is case-insensitive; the canonical
string form (``stringifyEntityRef``) is all lowercase.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"


class EntityRefError(ValueError):
    """A string that is not of the form ``[kind:][namespace/]name``."""


@dataclass(frozen=True, slots=True)
class EntityRef:
    kind: str
    namespace: str
    name: str

    @property
    def canonical(self) -> str:
        """Backstage's stringified ref, lowercase: ``component:default/payment-service``."""
        return f"{self.kind}:{self.namespace}/{self.name}".lower()

    @property
    def short(self) -> str:
        """How a person writes it: the namespace is left out when it is the default."""
        if self.namespace.lower() == DEFAULT_NAMESPACE:
            return f"{self.kind.lower()}:{self.name}"
        return f"{self.kind.lower()}:{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return self.canonical


def parse_entity_ref(
    ref: str,
    *,
    default_kind: str | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> EntityRef:
    """Parse ``ref`` the way Backstage does, filling in the defaults for missing parts."""
    if not isinstance(ref, str):
        raise EntityRefError(f"Entity reference must be a string, got {type(ref).__name__}")
    colon = ref.find(":")
    slash = ref.find("/")
    if slash != -1 and colon > slash:
        colon = -1  # a colon after the namespace separator belongs to the name
    kind: str | None
    if colon == -1:
        kind, rest = None, ref
    else:
        kind, rest = ref[:colon], ref[colon + 1 :]
    slash = rest.find("/")
    if slash == -1:
        namespace: str | None = None
        name = rest
    else:
        namespace, name = rest[:slash], rest[slash + 1 :]
    if kind == "" or namespace == "" or name == "":
        raise EntityRefError(f'Entity reference "{ref}" was not on the form [<kind>:][<namespace>/]<name>')
    kind = kind if kind is not None else default_kind
    if not kind:
        raise EntityRefError(
            f'Entity reference "{ref}" had missing or empty kind '
            '(e.g. did not start with "component:" or similar)'
        )
    return EntityRef(kind=kind, namespace=namespace or default_namespace, name=name)
