"""A Backstage backend as a catalog source (``type: backstage``), kept current incrementally.

The organisation's catalog already lives in Backstage: rather than parsing every repository again,
the console reads Backstage's own view of it over the REST API — entities with the ``relations``
Backstage computed and the processing errors it recorded (``status.items``) — and keeps it current:

* cold: every entity through ``/api/catalog/entities/by-query`` (cursor paging);
* after that, a poll lists only ``kind``/``namespace``/``name``/``uid``/``etag`` of every entity
  (a ``fields`` projection: a few dozen bytes each) and re-reads through ``POST /entities/by-refs``
  just the entities whose ``etag`` changed or that are new. Backstage computes the etag over the
  stitched entity, relations included, so a group gaining a component changes the group's etag too.

Everything read is kept in an offline cache in the state dir (one file per backend URL, written
atomically). When Backstage cannot be reached the cache is what the catalog shows, with a warning
saying how old it is; without a cache the source fails with one line saying why.

The token comes from the secret store (``IDP_CONSOLE_SECRET_<NAME>`` or the keyring, name from
``tokenSecret``, default ``backstage``) and is only ever sent in the Authorization header.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from backends import paths
from backends.atomic import write_bytes_atomic
from backends.catalog.model import Entity, Problem, Severity, SourcePosition
from backends.catalog.query import SearchIndex
from backends.catalog.relations import OWNED_BY, REVERSE
from backends.http import tls_context

CACHE_FORMAT = 1
PAGE_SIZE = 1000  # entities per by-query page
REFS_CHUNK = 500  # refs per by-refs request
# The projection a poll asks for: enough to name an entity and see whether it changed.
VERSION_FIELDS = "kind,metadata.namespace,metadata.name,metadata.uid,metadata.etag"
DEFAULT_POLL_SECONDS = 1.0


class BackstageError(Exception):
    """Backstage cannot be used right now (unreachable, token refused, bad answer); one line."""


# -- the REST client ---------------------------------------------------------------------------------
class BackstageClient:
    """The few Backstage endpoints the console uses, with errors turned into one clear line."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # A server that is down refuses or times out the connection at once: say so quickly. A busy
        # one may take seconds to page through a large catalog: give the answer time.
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            verify=tls_context(),
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; any failure is a ``BackstageError`` naming the backend and the reason."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise BackstageError(f"Backstage at {self.url} did not answer in time ({path})") from error
        except httpx.HTTPError as error:
            raise BackstageError(
                f"Backstage at {self.url} is unreachable: {error or type(error).__name__}"
            ) from error
        if response.status_code == 401:
            raise BackstageError(
                f"Backstage at {self.url} refused the token (401): store the right one as the source's "
                "tokenSecret (keyring or IDP_CONSOLE_SECRET_BACKSTAGE)"
            )
        if response.status_code >= 400:
            raise BackstageError(
                f"Backstage at {self.url}: {path}: HTTP {response.status_code}: {_reason(response)}"
            )
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as error:
            raise BackstageError(f"Backstage at {self.url}: {path}: the answer is not JSON") from error

    def query(self, fields: str | None = None, filter: str | None = None) -> Iterator[dict[str, Any]]:
        """Every entity (matching ``filter``), page by page through the cursor."""
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if fields:
            params["fields"] = fields
        if filter:
            params["filter"] = filter
        while True:
            page = self.json("GET", "/api/catalog/entities/by-query", params=params)
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise BackstageError(f"Backstage at {self.url}: by-query answered without items")
            yield from (item for item in items if isinstance(item, dict))
            cursor = (page.get("pageInfo") or {}).get("nextCursor")
            if not cursor or not items:
                return
            params = {"cursor": cursor, "limit": PAGE_SIZE}
            if fields:
                params["fields"] = fields

    def by_refs(self, refs: list[str]) -> Iterator[dict[str, Any]]:
        """The current entities of ``refs`` (entities deleted meanwhile are left out)."""
        for start in range(0, len(refs), REFS_CHUNK):
            body = {"entityRefs": refs[start : start + REFS_CHUNK]}
            answer = self.json("POST", "/api/catalog/entities/by-refs", json=body)
            items = answer.get("items") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise BackstageError(f"Backstage at {self.url}: by-refs answered without items")
            yield from (item for item in items if isinstance(item, dict))


def _reason(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return str(error.get("message") or response.reason_phrase)
    except (ValueError, AttributeError):
        return response.reason_phrase or "error"


def entity_ref(data: dict[str, Any]) -> str:
    """``kind:namespace/name``, lowercase, as Backstage compares refs."""
    metadata = data.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    return f"{data.get('kind', '')}:{namespace}/{metadata.get('name', '')}".lower()


def _uid(data: dict[str, Any]) -> str:
    metadata = data.get("metadata") or {}
    return str(metadata.get("uid") or entity_ref(data))


def _etag(data: dict[str, Any]) -> str:
    return str((data.get("metadata") or {}).get("etag") or "")


# -- the offline cache -------------------------------------------------------------------------------
def cache_path(url: str) -> str:
    """Where the offline copy of the Backstage at ``url`` lives (one file per backend)."""
    folder = paths.state_dir() / "backstage"
    folder.mkdir(mode=paths.PRIVATE_DIR, parents=True, exist_ok=True)
    return str(folder / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.marshal")


def _load_cache(path: str, url: str) -> tuple[dict[str, dict[str, Any]], float | None]:
    """The cached entities by uid and when they were last confirmed; empty when there is no usable cache."""
    try:
        with open(path, "rb") as handle:
            data = marshal.load(handle)
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("url") != url:
            return {}, None
        return dict(data["entities"]), float(data["saved_at"])
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return {}, None  # no cache, or one this version cannot read: read Backstage in full


def _save_cache(path: str, url: str, entities: dict[str, dict[str, Any]], saved_at: float) -> None:
    data = {"format": CACHE_FORMAT, "url": url, "saved_at": saved_at, "entities": entities}
    with contextlib.suppress(OSError, ValueError):  # a cache that cannot be written costs only speed
        write_bytes_atomic(_as_path(path), marshal.dumps(data))


def _as_path(path: str) -> Any:
    from pathlib import Path

    return Path(path)


def describe_age(seconds: float) -> str:
    """``42 s`` / ``5 min`` / ``3 h`` / ``2 days``: how old the offline copy is."""
    if seconds < 90:
        return f"{max(0, int(seconds))} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"


# -- from Backstage's JSON to catalog entities -------------------------------------------------------
def to_entity(data: dict[str, Any], url: str) -> tuple[Entity, list[Problem]]:
    """A catalog ``Entity`` with Backstage's relations, and the problems Backstage recorded for it.

    The position is the file or URL Backstage read the entity from (its managed-by-location), so a
    ``dir:.`` TechDocs ref or a problem still names the real place.
    """
    ref = entity_ref(data)
    raw = {key: value for key, value in data.items() if key not in ("relations", "status")}
    position = SourcePosition(_location(data, url))
    relations: list[tuple[str, str]] = []
    for relation in data.get("relations") or ():
        kind, target = relation.get("type"), relation.get("targetRef")
        # Every type as Backstage reports it, those of custom processors included (both ends are
        # in Backstage's answer, so none needs a reverse computed here).
        if isinstance(kind, str) and kind and isinstance(target, str):
            relations.append((kind, target.lower()))
    problems = [
        _status_problem(item, position, ref)
        for item in ((data.get("status") or {}).get("items") or ())
        if isinstance(item, dict) and item.get("level") in ("error", "warning")
    ]
    return Entity(raw, position, None, relations), problems


def _location(data: dict[str, Any], url: str) -> str:
    annotations = (data.get("metadata") or {}).get("annotations") or {}
    location = str(annotations.get("backstage.io/managed-by-location") or "")
    kind, _, target = location.partition(":")
    if kind == "file" and target:
        return target
    if kind == "url" and target:
        return _git_position(target) or target
    return f"backstage:{url}"


def _git_position(target: str) -> str | None:
    """``<repo>@<ref>:<path>`` for a file URL of a git host (``…/blob/<ref>/<path>``), else None.

    A git source's position: the docs reader checks out that repository, so a ``dir:`` TechDocs
    ref resolves against the entity's own repository, as Backstage resolves it.
    """
    from backends.docs.location import parse_repository_url

    if not any(marker in target for marker in ("/blob/", "/tree/")):
        return None
    repository, ref, path = parse_repository_url(target)
    return f"{repository}@{ref}:{path}" if path and ref != "HEAD" else None


# Backstage's YAML errors name the line in the file they read ("… at line 6, column 1: …").
_AT_LINE = re.compile(r"\bat line (\d+)\b")


def _status_problem(item: dict[str, Any], position: SourcePosition, ref: str) -> Problem:
    """One of Backstage's ``status.items`` as a problem: its message on one line, at its line."""
    error = item.get("error") or {}
    said = error.get("message") if isinstance(error, dict) else None
    text = str(said or item.get("message") or item.get("type") or "processing problem")
    # Backstage quotes the offending YAML below its first line, with a caret: one line here.
    message = " ".join(text.split())
    line = _AT_LINE.search(text)
    if line is not None:
        position = SourcePosition(position.file, int(line.group(1)))
    severity = Severity.ERROR if item.get("level") == "error" else Severity.WARNING
    return Problem(severity, message, position, ref)


# -- the source ---------------------------------------------------------------------------------------
@dataclass
class Change:
    """What one sync found: entities new or changed (Backstage's JSON) and refs gone."""

    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)


class BackstageMirror:
    """This process's copy of one Backstage catalog: entities by uid, the offline cache behind it.

    ``sync()`` brings it up to date with as little traffic as the API allows; one per backend URL
    and state dir (``mirror_for``), shared by the load and the poller so neither reads twice.
    """

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token
        self.cache_file = cache_path(url)
        self.entities, self.confirmed_at = _load_cache(self.cache_file, url)
        self.lock = threading.Lock()
        # The problems last shown per entity ref, so a change replaces exactly those.
        self.problems: dict[str, list[Problem]] = {}
        self._client: BackstageClient | None = None

    @property
    def client(self) -> BackstageClient:
        if self._client is None:
            self._client = BackstageClient(self.url, self.token)
        return self._client

    def sync(self) -> Change:
        """Read what changed in Backstage since the last sync (everything the first time)."""
        with self.lock:
            if not self.entities:
                return self._full()
            versions = {_uid(item): item for item in self.client.query(fields=VERSION_FIELDS)}
            stale = [
                entity_ref(item)
                for uid, item in versions.items()
                if _etag(self.entities.get(uid) or {}) != _etag(item)
            ]
            change = Change()
            for uid in [uid for uid in self.entities if uid not in versions]:
                change.removed.append(entity_ref(self.entities.pop(uid)))
            for data in self.client.by_refs(stale) if stale else ():
                old = self.entities.get(_uid(data))
                if old is None or _etag(old) != _etag(data):
                    change.changed.append(data)
                self.entities[_uid(data)] = data
            self.confirmed_at = time.time()
            # Saved only when something changed: a quiet poll every second must not rewrite megabytes.
            if change:
                _save_cache(self.cache_file, self.url, self.entities, self.confirmed_at)
            return change

    def _full(self) -> Change:
        entities = {_uid(item): item for item in self.client.query()}
        self.entities = entities
        self.confirmed_at = time.time()
        _save_cache(self.cache_file, self.url, entities, self.confirmed_at)
        return Change(changed=list(entities.values()))

    def offline_note(self, error: BackstageError) -> str:
        """The warning shown while the offline copy stands in for an unreachable Backstage."""
        if self.confirmed_at is None:
            return str(error)
        age = describe_age(time.time() - self.confirmed_at)
        return f"{error} — showing the offline copy from {age} ago ({len(self.entities)} entities)"


_MIRRORS: dict[tuple[str, str], BackstageMirror] = {}
_MIRRORS_LOCK = threading.Lock()


def mirror_for(url: str, token_secret: str) -> BackstageMirror:
    """The process's mirror of ``url`` (one per state dir, so tests with their own dirs stay apart)."""
    from backends.secrets import default_secret_store

    key = (url, str(paths.state_dir()))
    with _MIRRORS_LOCK:
        mirror = _MIRRORS.get(key)
        if mirror is None:
            token = default_secret_store().get(token_secret)
            mirror = _MIRRORS[key] = BackstageMirror(url, token)
        return mirror


def forget_mirrors() -> None:
    """Drop every mirror of this process (tests; a reloaded configuration with other tokens)."""
    with _MIRRORS_LOCK:
        for mirror in _MIRRORS.values():
            if mirror._client is not None:
                mirror._client.close()
        _MIRRORS.clear()


@dataclass(frozen=True)
class EntityBatch:
    """What an entity source gives the catalog: entities with their relations, problems, a warning."""

    entities: list[Entity]
    problems: list[Problem]
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class BackstageSource:
    """The catalog of a Backstage backend at ``url``; its token is the secret ``token_secret``."""

    url: str
    token_secret: str = "backstage"

    @property
    def description(self) -> str:
        return f"backstage:{self.url}"

    def read_entities(self) -> EntityBatch:
        """Every entity of that Backstage, current if it answers, else from the offline cache.

        Raises ``BackstageError`` only when Backstage is unreachable and nothing was ever cached.
        """
        mirror = mirror_for(self.url, self.token_secret)
        warning = None
        try:
            mirror.sync()
        except BackstageError as error:
            if not mirror.entities:
                raise
            warning = mirror.offline_note(error)
        entities: list[Entity] = []
        problems: list[Problem] = []
        mirror.problems.clear()
        for data in list(mirror.entities.values()):
            entity, found = to_entity(data, self.url)
            entities.append(entity)
            if found:
                problems.extend(found)
                mirror.problems[entity.ref.canonical] = found
        return EntityBatch(entities, problems, warning)


# -- keeping a loaded catalog current -----------------------------------------------------------------
def backstage_sources(workspace: Any) -> list[BackstageSource]:
    """The workspace's ``type: backstage`` catalog sources."""
    return [
        BackstageSource(config.url, config.token_secret)
        for config in getattr(workspace, "catalog_sources", ())
        if config.type == "backstage"
    ]


def apply_change(catalog: Any, change: Change, mirror: BackstageMirror) -> Any:
    """Publish ``change`` in ``catalog`` like a registration; returns the ``CatalogChanged``.

    Only entities this Backstage gave are replaced: one with the same ref from another source stays.
    A changed entity takes its predecessor's place and a new one goes last, so the filter index is
    patched for those few instead of rebuilt for every entity (most of a poll's cost at 10k);
    a removal shifts positions and rebuilds it.
    """
    from backends.catalog.catalog import _Builder, _retire, gc_paused
    from backends.catalog.events import CatalogChanged

    fresh = [to_entity(data, mirror.url) for data in change.changed]
    with catalog._write_lock, gc_paused(promote=True):
        previous = catalog.snapshot()
        builder = _Builder.from_snapshot(previous)
        old_problems = {
            problem
            for ref in {e.ref.canonical for e, _ in fresh} | set(change.removed)
            for problem in mirror.problems.pop(ref, ())
        }
        if old_problems:
            builder.read_problems = [p for p in builder.read_problems if p not in old_problems]
        removed = _remove(builder, change.removed)
        gone = {entity.ref.canonical for entity in removed}
        shifted = bool(removed)  # positions moved: the index is rebuilt
        positions = {id(entity): number for number, entity in enumerate(builder.entities)}
        replaced: dict[int, tuple[Entity, Entity]] = {}  # position -> (old, new)
        added: list[Entity] = []
        for entity, problems in fresh:
            ref = entity.ref.canonical
            builder.read_problems.extend(problems)
            if problems:
                mirror.problems[ref] = problems
            old = builder.by_ref.get(ref)
            if old is not None and _from_backstage(old):
                position = positions[id(old)]
                replaced[position] = (old, entity)
                builder.entities[position] = entity
                builder.by_ref[ref] = entity
                removed.append(old)
                added.append(entity)
            elif builder._add_entity(entity, ref, replace=False) is not None:
                added.append(entity)
        index = None
        if not shifted:
            count = len(previous.entities)
            index = _patched_index(
                previous.index, replaced, builder.entities[count:], count, builder.entities
            )
        snapshot = _relink(builder, previous, catalog._relation_cache, added, removed, gone, index)
        if index is not None:
            index.entities = list(snapshot.entities)  # linking may have copied some (new relations)
        replaced_snapshots = [previous]
        catalog._snapshot = snapshot  # what Catalog._publish does, with the index patched above
        # Safe with a patched index too: retiring empties the previous index's own dicts and key list,
        # and the patched one has its own copies of those (the bucket lists it shares stay intact).
        _retire(replaced_snapshots)
    event = CatalogChanged(tuple(added), tuple(removed))
    catalog._notify(event)
    return event


def _relink(
    builder: Any,
    previous: Any,
    relation_cache: Any,
    added: list[Entity],
    removed: list[Entity],
    gone: set[str],
    index: Any,
) -> Any:
    """The snapshot ``builder.link`` would give, computing only what a poll's change can alter.

    An entity's relations are its declared ones plus the reverse of those declared towards it:
    only the changed entities and what they point (or pointed) at can differ. A dangling-ref
    warning changes only for the changed entities and for those pointing at an entity that came or
    went. Linking every entity again was most of a poll's cost at 10k (~0.2 s; seconds on a busy
    machine); this is one pass over the declared relations and a handful of entities.
    """
    import copy as _copy

    from backends.catalog.catalog import CatalogSnapshot

    by_ref: dict[str, Entity] = builder.by_ref
    published: dict[str, Entity] = previous.by_ref
    changed = {entity.ref.canonical for entity in added}
    touched = set(changed)
    for entity in (*added, *removed):
        touched.update(target for _, target in entity.declared_relations)
    incoming: dict[str, list[tuple[str, str]]] = {ref: [] for ref in touched if ref in by_ref}
    came_or_went = {ref for ref in changed if ref not in published} | (gone - changed)
    warn_again = set(changed)
    for source, entity in by_ref.items():
        for relation_type, target in entity.declared_relations:
            found = incoming.get(target)
            if found is not None and (reverse := REVERSE.get(relation_type)) is not None:
                found.append((reverse, source))
            if came_or_went and target in came_or_went:
                warn_again.add(source)
    shared = relation_cache.__getitem__
    copies: dict[int, Entity] = {}
    for ref, extra in incoming.items():
        entity = by_ref[ref]
        keys = entity.declared_relations + extra
        keys.sort()
        relations = list(map(shared, dict.fromkeys(keys)))  # as link orders them
        if relations == entity.relations:
            continue
        if published.get(ref) is entity:  # readers of the previous snapshot keep theirs
            entity = copies[id(entity)] = _copy.copy(entity)
            by_ref[ref] = entity
        entity.relations = relations
    if copies:
        builder.entities = [copies.get(id(e), e) for e in builder.entities]
    warnings = [
        problem
        for problem in previous.problems[len(previous.read_problems) :]
        if problem.ref not in warn_again and problem.ref not in gone
    ]
    for source in warn_again:
        pointing = by_ref.get(source)
        if pointing is None:
            continue
        for relation_type, target in pointing.declared_relations:
            if target not in by_ref:
                what = "owner" if relation_type == OWNED_BY else f"{relation_type} target"
                message = f"{what} {target} does not exist in the catalog"
                warnings.append(Problem(Severity.WARNING, message, pointing.position, source))
    return CatalogSnapshot(
        entities=builder.entities,
        by_ref=by_ref,
        problems=builder.read_problems + warnings,
        read_problems=builder.read_problems,
        index=index if index is not None else SearchIndex(builder.entities),
    )


def _remove(builder: Any, refs: list[str]) -> list[Entity]:
    gone = {id(e): e for ref in refs if (e := builder.by_ref.get(ref)) is not None and _from_backstage(e)}
    if gone:
        builder.entities = [entity for entity in builder.entities if id(entity) not in gone]
        for entity in gone.values():
            del builder.by_ref[entity.ref.canonical]
    return list(gone.values())


def _patched_index(
    index: Any,
    replaced: dict[int, tuple[Entity, Entity]],
    appended: list[Entity],
    start: int,
    entities: list[Entity],
) -> Any:
    """``index`` with a few entities swapped in place and some appended, copying only what changes.

    The previous index is still read by whoever holds the previous snapshot: its lists are never
    changed, the buckets touched are copied.
    """
    from bisect import insort

    from backends.catalog.query import FACETS, SearchIndex, _postings_of

    postings = {facet: dict(values) for facet, values in index.postings.items()}
    keys = list(index.keys)
    copied: set[int] = set()

    def bucket(facet: str, value: str) -> list[int]:
        values = postings[facet]
        current = values.get(value)
        if current is None:
            current = values[value] = []
            copied.add(id(current))
        elif id(current) not in copied:
            current = values[value] = list(current)
            copied.add(id(current))
        return current

    def values_of(entity: Entity, position: int) -> tuple[str, dict[str, dict[str, list[int]]]]:
        scratch: dict[str, dict[str, list[int]]] = {facet: {} for facet in FACETS}
        return _postings_of(entity, position, scratch), scratch

    changes: list[tuple[int, Entity | None, Entity]] = [
        (pos, old, new) for pos, (old, new) in replaced.items()
    ]
    changes += [(start + number, None, entity) for number, entity in enumerate(appended)]
    for position, old, new in changes:
        if old is not None:
            for facet, values in values_of(old, position)[1].items():
                for value in values:
                    found = bucket(facet, value)
                    found.remove(position)
                    if not found:
                        del postings[facet][value]
        key, scratch = values_of(new, position)
        for facet, values in scratch.items():
            for value in values:
                insort(bucket(facet, value), position)
        if position < len(keys):
            keys[position] = key
        else:
            keys.append(key)
    return SearchIndex.from_parts(entities, keys, postings)


def _from_backstage(entity: Entity) -> bool:
    # Backstage gives every entity a uid; catalog files do not carry one.
    return "uid" in entity.metadata


def poll_once(catalog: Any, sources: Iterable[BackstageSource]) -> list[str]:
    """Sync every source once and publish what changed; returns one line per source that failed."""
    failures: list[str] = []
    for source in sources:
        mirror = mirror_for(source.url, source.token_secret)
        try:
            change = mirror.sync()
        except BackstageError as error:
            failures.append(mirror.offline_note(error))
            continue
        if change:
            apply_change(catalog, change, mirror)
    return failures


def watch(
    catalog: Any,
    workspace: Any,
    *,
    stopped: Callable[[], bool],
    on_trouble: Callable[[str], object] | None = None,
    on_recovered: Callable[[str], object] | None = None,
    interval: float = DEFAULT_POLL_SECONDS,
) -> None:
    """Keep ``catalog`` current with its Backstage sources until ``stopped()`` (blocking; a worker).

    Polls every ``interval`` seconds (one at a time). ``on_trouble`` hears
    once when a backend stops answering, ``on_recovered`` once when it answers again.
    """
    sources = backstage_sources(workspace)
    if not sources:
        return
    failing = False
    while not stopped():
        # Polls start ``interval`` apart; one that took longer is followed at once (a large catalog
        # on a busy Backstage lists slower than once a second), never overlapped.
        deadline = time.monotonic() + interval
        failures = poll_once(catalog, sources)
        if failures and not failing and on_trouble is not None:
            on_trouble("; ".join(failures))
        elif not failures and failing and on_recovered is not None:
            on_recovered(", ".join(source.url for source in sources))
        failing = bool(failures)
        while not stopped() and time.monotonic() < deadline:
            time.sleep(min(0.1, interval))
