"""Options for the form's picker fields, fed by the catalog, and fuzzy search over them.

Implements what Backstage's field extensions offer: ``EntityPicker`` / ``MultiEntityPicker`` /
``OwnedEntityPicker`` (``catalogFilter``, ``defaultKind``, ``defaultNamespace``), ``OwnerPicker``
(Groups and Users), ``MyGroupsPicker``, ``EntityTagsPicker`` (``kinds``) and ``RepoUrlPicker``
(``host?owner=o&repo=r`` with ``allowedHosts`` / ``allowedOwners``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from rapidfuzz import fuzz, process

from backends.catalog.refs import DEFAULT_NAMESPACE, EntityRefError, parse_entity_ref

ENTITY_PICKERS = frozenset(
    {"EntityPicker", "OwnedEntityPicker", "MultiEntityPicker", "OwnerPicker", "MyGroupsPicker"}
)
ENTITY_NAME = re.compile(r"^([A-Za-z0-9][-_.A-Za-z0-9]*)?[A-Za-z0-9]$")
ENTITY_NAME_MESSAGE = (
    "must start and end with an alphanumeric character, and contain only alphanumeric characters, "
    "hyphens, underscores, and periods (at most 63 characters)"
)


@dataclass(frozen=True, slots=True)
class PickerOption:
    """One choice: ``value`` goes into the answer, ``label``/``detail`` are shown."""

    value: str
    label: str
    detail: str = ""
    count: int | None = None  # EntityTagsPicker with showCounts

    @property
    def search_key(self) -> str:
        return f"{self.label} {self.value} {self.detail}".lower()


def entity_value(entity: Any) -> str:
    """How Backstage's pickers store an entity: ``kind:namespace/name`` with kind/namespace lowercased."""
    return f"{entity.kind.lower()}:{entity.namespace.lower()}/{entity.name}"


def display_ref(
    value: str, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE
) -> str:
    """Shorten a stored ref for display, dropping the default kind and namespace."""
    try:
        ref = parse_entity_ref(value, default_kind=default_kind or "x", default_namespace=default_namespace)
    except EntityRefError:
        return value
    text = ref.name if ref.namespace.lower() == default_namespace.lower() else f"{ref.namespace}/{ref.name}"
    if default_kind and ref.kind.lower() == default_kind.lower():
        return text
    return f"{ref.kind.lower()}:{text}"


# -- catalogFilter ------------------------------------------------------------------------------


def _field_values(entity_raw: Mapping[str, Any], path: str) -> list[Any]:
    current: Any = entity_raw
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return []
        # Backstage matches keys case-insensitively (``kind``, ``spec.type``).
        match = next((k for k in current if str(k).lower() == part.lower()), None)
        if match is None:
            return []
        current = current[match]
    if isinstance(current, list):
        return current
    return [current]


def _matches_one(entity: Any, condition: Mapping[str, Any]) -> bool:
    for key, expected in condition.items():
        actual = _field_values(entity.raw, str(key))
        if isinstance(expected, Mapping) and "exists" in expected:
            if bool(actual) != bool(expected["exists"]):
                return False
            continue
        wanted = expected if isinstance(expected, list) else [expected]
        wanted_lower = {str(w).lower() for w in wanted}
        if not any(str(a).lower() in wanted_lower for a in actual):
            return False
    return True


def matches_catalog_filter(entity: Any, catalog_filter: Any) -> bool:
    """``catalogFilter`` is one condition object or a list of them (any may match)."""
    if not catalog_filter:
        return True
    filters = catalog_filter if isinstance(catalog_filter, list) else [catalog_filter]
    return any(_matches_one(entity, f) for f in filters if isinstance(f, Mapping))


# -- option builders ----------------------------------------------------------------------------


def _option(entity: Any, default_kind: str | None, default_namespace: str) -> PickerOption:
    value = entity_value(entity)
    label = entity.title or display_ref(value, default_kind, default_namespace)
    detail_bits = [display_ref(value, default_kind, default_namespace)] if entity.title else []
    if entity.type:
        detail_bits.append(entity.type)
    if entity.description:
        detail_bits.append(entity.description)
    return PickerOption(value=value, label=label, detail=" · ".join(detail_bits))


def entity_options(entities: Iterable[Any], ui_options: Mapping[str, Any]) -> list[PickerOption]:
    """EntityPicker / MultiEntityPicker choices under ``catalogFilter`` (or deprecated ``allowedKinds``)."""
    catalog_filter = ui_options.get("catalogFilter")
    allowed_kinds = ui_options.get("allowedKinds")
    if not catalog_filter and allowed_kinds:
        catalog_filter = {"kind": list(allowed_kinds)}
    default_kind = ui_options.get("defaultKind")
    default_namespace = str(ui_options.get("defaultNamespace") or DEFAULT_NAMESPACE)
    chosen = [e for e in entities if matches_catalog_filter(e, catalog_filter)]
    return sorted(
        (_option(e, default_kind, default_namespace) for e in chosen), key=lambda o: o.label.lower()
    )


def owner_options(entities: Iterable[Any], ui_options: Mapping[str, Any]) -> list[PickerOption]:
    """OwnerPicker: Groups and Users unless ``catalogFilter`` says otherwise."""
    options = dict(ui_options)
    options.setdefault("catalogFilter", {"kind": ["Group", "User"]})
    options.setdefault("defaultKind", "Group")
    return entity_options(entities, options)


def identity_refs(entities: Sequence[Any], user: str | None) -> set[str]:
    """The user's own ref plus the refs of the groups it belongs to (canonical, lowercase)."""
    if not user:
        return set()
    try:
        user_ref = parse_entity_ref(user, default_kind="User")
    except EntityRefError:
        return set()
    refs = {user_ref.canonical}
    for entity in entities:
        if entity.kind.lower() == "user" and entity.ref.canonical == user_ref.canonical:
            refs.update(entity.relations_of("memberOf"))
            for group in entity.spec.get("memberOf") or []:
                try:
                    refs.add(
                        parse_entity_ref(
                            str(group), default_kind="Group", default_namespace=entity.namespace
                        ).canonical
                    )
                except EntityRefError:
                    continue
        elif entity.kind.lower() == "group":
            members = entity.spec.get("members") or []
            if any(_same_ref(m, user_ref.canonical, "User", entity.namespace) for m in members):
                refs.add(entity.ref.canonical)
    return refs


def _same_ref(raw: Any, canonical: str, kind: str, namespace: str) -> bool:
    try:
        return (
            parse_entity_ref(str(raw), default_kind=kind, default_namespace=namespace).canonical == canonical
        )
    except EntityRefError:
        return False


def owned_entity_options(
    entities: Sequence[Any], ui_options: Mapping[str, Any], user: str | None
) -> list[PickerOption]:
    """OwnedEntityPicker: entities owned by the user or one of the user's groups."""
    mine = identity_refs(entities, user)
    owned = []
    for entity in entities:
        owners = set(entity.relations_of("ownedBy"))
        if not owners and entity.owner:
            try:
                owners = {
                    parse_entity_ref(
                        entity.owner, default_kind="Group", default_namespace=entity.namespace
                    ).canonical
                }
            except EntityRefError:
                owners = set()
        if owners & mine:
            owned.append(entity)
    return entity_options(owned, ui_options)


def my_groups_options(entities: Sequence[Any], user: str | None) -> list[PickerOption]:
    """MyGroupsPicker: the groups the user is a member of."""
    mine = identity_refs(entities, user)
    groups = [e for e in entities if e.kind.lower() == "group" and e.ref.canonical in mine]
    return entity_options(groups, {"defaultKind": "Group"})


def tag_options(entities: Iterable[Any], ui_options: Mapping[str, Any]) -> list[PickerOption]:
    """EntityTagsPicker: every tag used in the catalog (optionally only on ``kinds``), with counts."""
    kinds = {str(k).lower() for k in ui_options.get("kinds") or []}
    counts: Counter[str] = Counter()
    for entity in entities:
        if kinds and entity.kind.lower() not in kinds:
            continue
        counts.update(entity.tags)
    show = bool(ui_options.get("showCounts"))
    return [
        PickerOption(value=tag, label=tag, detail=f"{n} entities" if show else "", count=n)
        for tag, n in sorted(counts.items())
    ]


def fuzzy_filter(options: Sequence[PickerOption], query: str, limit: int = 50) -> list[PickerOption]:
    """Options best matching ``query``, all of them in order for an empty query.

    Substring hits (in label, value or detail) come first; then fuzzy (rapidfuzz WRatio) matches
    against the label and the value's name, whichever scores higher.
    """
    query = query.strip().lower()
    if not query:
        return list(options[:limit])
    scores: dict[int, float] = {}
    labels = [o.label.lower() for o in options]
    names = [o.value.lower().rsplit("/", 1)[-1] for o in options]
    for choices in (labels, names):
        for _, score, index in process.extract(
            query, choices, scorer=fuzz.WRatio, limit=None, score_cutoff=60
        ):
            scores[index] = max(score, scores.get(index, 0.0))
    for index, option in enumerate(options):
        if query in option.search_key:
            scores[index] = 200.0 + (100.0 if labels[index].startswith(query) else 0.0)
    ranked = sorted(scores, key=lambda i: (-scores[i], labels[i]))
    return [options[i] for i in ranked[:limit]]


# -- RepoUrlPicker ------------------------------------------------------------------------------

REPO_URL_KEYS = ("owner", "repo", "organization", "workspace", "project")


@dataclass(frozen=True, slots=True)
class RepoUrl:
    """The parts of a RepoUrlPicker value ``host?owner=o&repo=r``."""

    host: str = ""
    owner: str = ""
    repo: str = ""
    organization: str = ""
    workspace: str = ""
    project: str = ""

    @classmethod
    def parse(cls, value: str | None) -> RepoUrl:
        host, _, query = str(value or "").partition("?")
        params = {k: v[0] for k, v in parse_qs(query).items() if v}
        return cls(host=host, **{k: params.get(k, "") for k in REPO_URL_KEYS})

    def __str__(self) -> str:
        query = urlencode({k: getattr(self, k) for k in REPO_URL_KEYS if getattr(self, k)})
        return f"{self.host}?{query}" if query else self.host


def repo_url_error(value: Any, ui_options: Mapping[str, Any]) -> str | None:
    """Why a RepoUrlPicker value is not acceptable, or None."""
    if not isinstance(value, str) or not value:
        return None
    url = RepoUrl.parse(value)
    allowed_hosts = [str(h) for h in ui_options.get("allowedHosts") or []]
    if not url.host:
        return "needs a host"
    if allowed_hosts and url.host not in allowed_hosts:
        return f"host {url.host!r} is not allowed (allowed: {', '.join(allowed_hosts)})"
    allowed_owners = [str(o) for o in ui_options.get("allowedOwners") or []]
    if allowed_owners and url.owner not in allowed_owners:
        return f"owner {url.owner!r} is not allowed (allowed: {', '.join(allowed_owners)})"
    for key, allowed in (
        ("organization", "allowedOrganizations"),
        ("project", "allowedProjects"),
        ("repo", "allowedRepos"),
    ):
        choices = [str(c) for c in ui_options.get(allowed) or []]
        if choices and getattr(url, key) not in choices:
            return f"{key} {getattr(url, key)!r} is not allowed (allowed: {', '.join(choices)})"
    if not url.repo or not (url.owner or url.organization or url.workspace or url.project):
        return "incomplete repository location: needs an owner and a repository name"
    return None
