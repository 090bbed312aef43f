"""What the TUI's Infra tab shows for one service, decided here so the screen only draws it.

:func:`load_view` reads the service's ``resources.yaml`` at the infra ref, the objects ``infra apply``
made in the cluster, and the plan of the ref (cost, policy verdicts, what an apply would write);
:func:`observe` turns the file and the live objects into one :class:`ResourceState` per resource
and a list of :class:`Drift` (a field whose applied value differs from the file). The edit form and
the plan of an edited file live in :mod:`backends.infra.edit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backends.infra.plan import Change, LiveObjects, live_objects, make_plan
from backends.infra.policy import Verdict
from backends.infra.quantity import QuantityError, parse_quantity
from backends.infra.render import REDIS_POLICIES
from backends.infra.repo import RESOURCES_FILE, InfraTree, read_tree
from backends.infra.resources import InfraInputError, ServiceResources, parse_resources
from backends.infra.settings import InfraSettings

if TYPE_CHECKING:
    from backends.infra.apply import InfraSession

NONE = "—"  # a value that is not there (in the file or in the cluster)
_EVICTION_OF_POLICY = {policy: eviction for eviction, policy in REDIS_POLICIES.items()}


@dataclass(frozen=True, slots=True)
class Drift:
    """A field whose applied value is not what the file on the ref says."""

    resource: str  # compute | database | cache
    field: str  # e.g. "replicas", or "" for the whole resource (missing on one side)
    file: str
    live: str

    @property
    def path(self) -> str:
        return f"{self.resource}.{self.field}" if self.field else self.resource


@dataclass(frozen=True, slots=True)
class ResourceState:
    """One resource: its fields as the file says (defaults filled in) and what runs."""

    resource: str  # compute | database | cache
    fields: tuple[tuple[str, str], ...]  # from the file; empty when only the cluster has it
    live: str  # one line: "3/3 ready · requests 500m / 512Mi", "not applied" …
    ready: bool | None  # None: nothing to be ready (not applied, not deployed, unknown)


@dataclass(slots=True)
class InfraView:
    """Everything the Infra tab shows for one service."""

    service: str
    ref: str
    commit: str = ""
    file: str = ""  # the path of resources.yaml in the infra repository
    text: str | None = None  # the file at the ref; None when the service has none
    resources: ServiceResources | None = None
    errors: list[str] = field(default_factory=list)  # the file (or the repo) is invalid
    states: list[ResourceState] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    pending: list[Change] = field(default_factory=list)  # what `infra apply` of the ref would write
    cost: float = 0.0  # per month, of the file at the ref
    verdicts: list[Verdict] = field(default_factory=list)
    live_error: str = ""  # the cluster did not answer: live state unknown


def resources_file(settings: InfraSettings, service: str) -> str:
    """Where the service's file sits in the infra repository."""
    return f"{settings.path.strip('/')}/{service}/{RESOURCES_FILE}".lstrip("/")


def load_view(session: InfraSession, service: str) -> InfraView:
    """The Infra tab of ``service``: blocking (git, the cluster); run it off the UI thread."""
    from backends.infra.history import last_applied

    settings = session.settings
    ref = settings.ref
    tree = read_tree(settings.repo, ref, settings.path)
    view = InfraView(service, ref, tree.commit, resources_file(settings, service))
    view.text = tree.resources.get(service)
    if view.text is None:
        view.errors.append(f"no {view.file} at {ref} yet: e writes one")
        return view
    try:
        view.resources = parse_resources(
            view.text, view.file, settings, production=session.target.production, service=service
        )
    except InfraInputError as error:
        view.errors.append(str(error))
        return view
    owned: LiveObjects = {}
    deployments: LiveObjects = {}
    try:
        owned, deployments = live_objects(session.cluster, session.target.namespace, settings)
    except Exception as error:  # noqa: BLE001 - any failure to reach the cluster: said on the tab
        view.live_error = str(error) or type(error).__name__
    previous = last_applied(session.history, session.target.environment)
    plan = make_plan(
        tree, settings, session.target, ref=ref,
        live=None if view.live_error else (lambda: (owned, deployments)),
        costs_before=dict(previous.costs) if previous else {}, service=service,
    )  # fmt: skip
    view.errors.extend(plan.errors)  # another service's broken file stops the plan too
    view.cost = plan.costs.get(service, 0.0)
    view.verdicts = [v for v in plan.verdicts if v.service == service]
    view.pending = [] if view.live_error else [c for c in plan.changes if c.service == service]
    if view.live_error:
        view.states = [
            ResourceState(name, fields, f"unknown: {view.live_error}", None)
            for name, fields in file_fields(view.resources)
        ]
    else:
        view.states, view.drift = observe(view.resources, owned, deployments, settings)
    return view


def with_file(tree: InfraTree, service: str, file: str, text: str) -> InfraTree:
    """``tree`` with the service's file replaced by ``text`` (a plan of an edit not pushed yet)."""
    return InfraTree(
        tree.commit,
        {**tree.resources, service: text},
        {**tree.resource_files, service: file},
        tree.policies,
    )


# -- the file's fields --------------------------------------------------------------------------
def file_fields(resources: ServiceResources) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each resource of the file with its typed fields, in the file's order."""
    out: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if resources.compute:
        c = resources.compute
        out.append(("compute", (("replicas", str(c.replicas)), ("cpu", c.cpu), ("memory", c.memory))))
    if resources.database:
        d = resources.database
        out.append(("database", (("type", d.type), ("size", d.size), ("backups", d.backups))))
    if resources.cache:
        k = resources.cache
        out.append(("cache", (("type", k.type), ("size", k.size), ("eviction", k.eviction))))
    return out


# -- live state and drift -----------------------------------------------------------------------
def observe(
    resources: ServiceResources, owned: LiveObjects, deployments: LiveObjects, settings: InfraSettings
) -> tuple[list[ResourceState], list[Drift]]:
    """Each resource's live state and the drift between the file and the cluster.

    ``owned``/``deployments`` are :func:`backends.infra.plan.live_objects`' answer. A resource the
    file has and the cluster not is drift of the whole resource (apply creates it); one the cluster
    has and the file not, too (apply deletes it)."""
    states: list[ResourceState] = []
    drift: list[Drift] = []
    fields = dict(file_fields(resources))
    name = resources.name
    if "compute" in fields:
        state, found = _compute(name, fields["compute"], deployments.get(("deployments", name)))
        states.append(state)
        drift.extend(found)
    for resource, role in (("database", "db"), ("cache", "cache")):
        live = _live_params(resource, f"{name}-{role}", owned, settings)
        wanted = fields.get(resource)
        if wanted is None and live is None:
            continue
        if wanted is None:
            assert live is not None
            shown = " ".join(v for _, v in live.fields if v != NONE)
            states.append(
                ResourceState(resource, (), f"{live.line} · not in the file: apply deletes it", None)
            )
            drift.append(Drift(resource, "", NONE, shown))
            continue
        if live is None:
            states.append(ResourceState(resource, wanted, "not applied: apply creates it", None))
            drift.append(Drift(resource, "", " ".join(v for _, v in wanted), NONE))
            continue
        states.append(ResourceState(resource, wanted, live.line, live.ready))
        have = dict(live.fields)
        drift.extend(
            Drift(resource, key, value, have.get(key, NONE))
            for key, value in wanted
            if have.get(key, NONE) != value
        )
    return states, drift


def _compute(
    service: str, wanted: tuple[tuple[str, str], ...], deployment: dict[str, Any] | None
) -> tuple[ResourceState, list[Drift]]:
    if deployment is None:
        # Infra sizes a Deployment the deploy area made: before the first deploy there is none.
        waiting = "not deployed yet: sized at the apply after its first deploy"
        return ResourceState("compute", wanted, waiting, None), []
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    container = next((c for c in containers if c.get("name") == service), containers[0] if containers else {})
    requests = (container.get("resources") or {}).get("requests") or {}
    replicas = int(spec.get("replicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    live = {
        "replicas": str(replicas),
        "cpu": str(requests.get("cpu", NONE)),
        "memory": str(requests.get("memory", NONE)),
    }
    line = f"{ready}/{replicas} ready · requests {live['cpu']} cpu, {live['memory']} memory"
    drift = [
        Drift("compute", key, value, live[key])
        for key, value in wanted
        if not _same_quantity(value, live[key])
    ]
    return ResourceState("compute", wanted, line, ready >= replicas), drift


def _same_quantity(a: str, b: str) -> bool:
    """``500m`` and ``0.5`` are the same request: compared as Kubernetes compares them."""
    if a == b:
        return True
    try:
        return parse_quantity(a) == parse_quantity(b)
    except QuantityError:
        return False


@dataclass(frozen=True, slots=True)
class _Live:
    fields: tuple[tuple[str, str], ...]  # type, size, backups|eviction as the cluster has them
    line: str
    ready: bool | None


def _live_params(resource: str, name: str, owned: LiveObjects, settings: InfraSettings) -> _Live | None:
    if settings.provisioner == "crossplane":
        plural = "databaseinstances" if resource == "database" else "cacheinstances"
        claim = owned.get((plural, name))
        return None if claim is None else _claim(resource, claim)
    sts = owned.get(("statefulsets", name))
    if sts is None:
        return None
    return _statefulset(resource, name, sts, owned, settings)


def _claim(resource: str, claim: dict[str, Any]) -> _Live:
    params = (claim.get("spec") or {}).get("parameters") or {}
    third = "backups" if resource == "database" else "eviction"
    fields = (
        ("type", str(params.get("engine", NONE))),
        ("size", str(params.get("size", NONE))),
        (third, str(params.get(third, NONE))),
    )
    conditions = (claim.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return _Live(fields, f"claim {claim['kind']}: {'ready' if ready else 'not ready yet'}", ready)


def _statefulset(
    resource: str, name: str, sts: dict[str, Any], owned: LiveObjects, settings: InfraSettings
) -> _Live:
    spec = sts.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    container = containers[0]
    requests = (container.get("resources") or {}).get("requests") or {}
    size = _size_of(resource, requests, settings)
    if resource == "database":
        annotations = (sts.get("metadata") or {}).get("annotations") or {}
        third = ("backups", str(annotations.get("platform.internal/backups", NONE)))
    else:
        args = [str(a) for a in container.get("args") or []]
        policy = args[args.index("--maxmemory-policy") + 1] if "--maxmemory-policy" in args[:-1] else ""
        third = ("eviction", _EVICTION_OF_POLICY.get(policy, policy or NONE))
    fields = (("type", str(container.get("name", NONE))), ("size", size), third)
    replicas = int(spec.get("replicas") or 0)
    ready_count = int((sts.get("status") or {}).get("readyReplicas") or 0)
    parts = [f"StatefulSet {ready_count}/{replicas} ready"]
    missing = [kind[:-1] for kind in ("services", "secrets") if (kind, name) not in owned]
    parts.append("Service, Secret" if not missing else f"no {' or '.join(missing)}")
    ready = ready_count >= replicas > 0 and not missing
    return _Live(fields, " · ".join(parts), ready)


def _size_of(resource: str, requests: Mapping[str, Any], settings: InfraSettings) -> str:
    """The size whose cpu and memory the live requests are (or the requests themselves)."""
    cpu, memory = str(requests.get("cpu", "")), str(requests.get("memory", ""))
    for size in settings.sizes.get(resource, {}).values():
        if _same_quantity(size.cpu, cpu) and _same_quantity(size.memory, memory):
            return size.name
    return f"{cpu or NONE}/{memory or NONE}"


def money(value: float) -> str:
    """A monthly amount as the CLI prints it."""
    return f"{Decimal(str(value)):,.2f}"
