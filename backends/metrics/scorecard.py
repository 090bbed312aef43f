"""The scorecard: DORA, adoption, quality and satisfaction figures for a scope and a window.

```python
scope = resolve_scope(catalog, team="team-payments")        # or service=..., or neither: the org
card = compute_scorecard(history, catalog, scope, window_days=30,
                         production=production_environments(workspace), now=time.time())
card.figure("change_failure_rate").universe   # "3 of 57 production deploys failed"
```

Deploy figures come from the history store in SQL (``queries.py``); ownership, docs and golden-path
coverage from the catalog as it is now (they have no history, hence no trend).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.metrics import bands, queries
from backends.metrics.bands import DAY, duration_text
from backends.metrics.model import DeployRow, Figure, MetricsError, Scope, Scorecard
from backends.metrics.queries import Frame

SOURCE_TEMPLATE_ANNOTATION = "backstage.io/source-template"  # written by the scaffolder's catalog:write
TECHDOCS_REF = "backstage.io/techdocs-ref"
OWNED_KINDS = ("component", "api", "resource", "system", "domain")
DEMO_HOST = "demo-history"  # the host of every record the demo's generated history holds


def production_environments(workspace: Any) -> tuple[str, ...]:
    """Environments marked ``production: true`` (else one called ``production``)."""
    envs = workspace.section("environments") if workspace is not None else {}
    marked = tuple(name for name, env in envs.items() if isinstance(env, dict) and env.get("production"))
    return marked or ("production",)


# -- scope ----------------------------------------------------------------------------------------


def _canonical(ref: str, kind: str, namespace: str = "default") -> str | None:
    try:
        return parse_entity_ref(ref, default_kind=kind, default_namespace=namespace).canonical
    except EntityRefError:
        return None


def _entities(catalog: Any) -> list[Any]:
    entities = getattr(catalog, "entities", []) or []
    return list(entities.values() if isinstance(entities, dict) else entities)


def _teams(catalog: Any) -> list[Any]:
    return [e for e in _entities(catalog) if e.kind.lower() == "group" and e.type == "team"]


def _owner_ref(entity: Any) -> str | None:
    return _canonical(entity.owner, "group", entity.namespace) if entity.owner else None


def _components(catalog: Any) -> list[Any]:
    return [e for e in _entities(catalog) if e.kind.lower() == "component"]


def resolve_scope(catalog: Any, *, team: str | None = None, service: str | None = None) -> Scope:
    """The organisation, or one team (a Group) or service (a Component); MetricsError if unknown."""
    if team and service:
        raise MetricsError("choose --team or --service, not both")
    if team:
        group = catalog.get(team, default_kind="group")
        if group is None or group.kind.lower() != "group":
            raise MetricsError(f"no group {team!r} in the catalog")
        ref = group.ref.canonical
        services = tuple(sorted(c.name for c in _components(catalog) if _owner_ref(c) == ref))
        members = tuple(sorted(_name(m) for m in group.relations_of("hasMember")))
        return Scope("team", group.name, services, (ref,), members)
    if service:
        component = catalog.get(service, default_kind="component")
        if component is None or component.kind.lower() != "component":
            raise MetricsError(f"no component {service!r} in the catalog")
        owner = _owner_ref(component)
        return Scope("service", component.name, (component.name,), (owner,) if owner else (), None)
    return Scope("org", "", None, tuple(sorted(t.ref.canonical for t in _teams(catalog))), None)


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


# -- the card -------------------------------------------------------------------------------------


def compute_scorecard(
    history: Any,
    catalog: Any,
    scope: Scope,
    *,
    window_days: int,
    now: float,
    production: Iterable[str] = ("production",),
    workspace_root: Path | None = None,
) -> Scorecard:
    """Every figure for ``scope`` over the ``window_days`` before ``now``."""
    frame = Frame(now, window_days, tuple(production), scope.services)
    # A PostgreSQL server runs the DORA statement and the others at once, on two connections of
    # the store's pool: the card waits for the longest, not for their sum (~25 ms on 100k
    # records). SQLite works in this process: one after the other, on this thread's connection.
    workers = 2 if queries.store.dialect(history) == "postgresql" else 0
    with ThreadPoolExecutor(max_workers=workers) if workers else nullcontext() as pool:
        others = pool.submit(_history_figures, history, catalog, scope, frame) if pool else None
        deploys = queries.deploy_figures(history, frame)
        teams, first, satisfaction, demo = (
            others.result() if others else _history_figures(history, catalog, scope, frame)
        )
    figures = [
        _frequency(deploys, frame),
        _lead_time(deploys),
        _failure_rate(deploys),
        _recovery(deploys),
        teams,
        _golden_paths(catalog, scope),
        first,
        _ownership(catalog, scope),
        _docs(catalog, scope, workspace_root),
        satisfaction,
    ]
    return Scorecard(scope, window_days, now, figures, demo)


def _history_figures(
    history: Any, catalog: Any, scope: Scope, frame: Frame
) -> tuple[Figure, Figure, Figure, bool]:
    """The figures from the history besides DORA: teams deploying, time to first deploy, NPS, and
    whether the history is the demo's."""
    demo = queries.store.query(history, "SELECT 1 FROM deploys WHERE host = ? LIMIT 1", (DEMO_HOST,))
    return (
        _teams_deploying(history, catalog, scope, frame),
        _first_deploy(history, catalog, scope, frame),
        _nps(history, scope, frame.now),
        bool(demo),
    )


def drilldown(history: Any, ids: list[str]) -> list[DeployRow]:
    """The deploys behind a figure, newest first."""
    return [DeployRow(*row) for row in queries.deploy_rows(history, ids)]


def _percent(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pct_text(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def _frequency(d: queries.DeployFigures, frame: Frame) -> Figure:
    w = d.window
    per_day = w.shipped / frame.window_days
    per_service = per_day / w.services if w.services else 0.0
    return Figure(
        key="deployment_frequency",
        title="Deployment frequency",
        group="DORA",
        value=per_day,
        unit="deploys per day",
        display=f"{per_day:.1f}/day" if per_day >= 0.95 else f"{per_day * 7:.1f}/week",
        numerator=w.shipped,
        denominator=frame.window_days,
        universe=f"{w.shipped} production deploys in {frame.window_days} days by {w.services} services",
        target="≥ 1/day per service",
        target_met=per_service >= 1 if w.services else False,
        band=bands.frequency_band(per_service) if w.services else "low",
        trend=[float(c.shipped) for c in d.weekly],
        ids=d.ids.get("deployment_frequency", []),
    )


def _lead_time(d: queries.DeployFigures) -> Figure:
    value = d.lead_time
    return Figure(
        key="lead_time",
        title="Lead time for changes",
        group="DORA",
        value=value,
        unit="seconds (median)",
        display=duration_text(value),
        numerator=d.window.with_commit,
        denominator=d.window.shipped,
        universe=f"median of {d.window.with_commit} of {d.window.shipped} production deploys "
        "with a commit time",
        target="< 1 day",
        target_met=None if value is None else value < DAY,
        band=None if value is None else bands.lead_time_band(value),
        trend=d.weekly_lead_time,
        ids=d.ids.get("lead_time", []),
    )


def _failure_rate(d: queries.DeployFigures) -> Figure:
    w = d.window
    rate = _percent(w.failed, w.changes)
    return Figure(
        key="change_failure_rate",
        title="Change failure rate",
        group="DORA",
        value=rate,
        unit="share",
        display=_pct_text(rate),
        numerator=w.failed,
        denominator=w.changes,
        universe=f"{w.failed} of {w.changes} production deploys failed",
        target="≤ 5 %",
        target_met=None if rate is None else rate <= 0.05,
        band=None if rate is None else bands.failure_rate_band(rate),
        trend=[_percent(c.failed, c.changes) for c in d.weekly],
        ids=d.ids.get("change_failure_rate", []),
    )


def _recovery(d: queries.DeployFigures) -> Figure:
    value = d.recovery
    return Figure(
        key="recovery_time",
        title="Failed-deploy recovery time",
        group="DORA",
        value=value,
        unit="seconds (median)",
        display=duration_text(value),
        numerator=d.window.recovered,
        denominator=d.window.failed,
        universe=f"median of {d.window.recovered} of {d.window.failed} failed deploys recovered",
        target="< 1 hour",
        target_met=None if value is None else value < bands.HOUR,
        band=None if value is None else bands.recovery_band(value),
        trend=d.weekly_recovery,
        ids=d.ids.get("recovery_time", []),
    )


def _teams_deploying(history: Any, catalog: Any, scope: Scope, frame: Frame) -> Figure:
    teams = set(scope.teams)
    owners = sorted((c.name, ref) for c in _components(catalog) if (ref := _owner_ref(c)) in teams)
    activity = queries.team_activity(history, frame, owners)
    share = _percent(len(activity.active), len(teams))
    idle = sorted(teams - {team for team, _ in activity.active})
    return Figure(
        key="teams_deploying",
        title="Teams deploying through the platform",
        group="Adoption",
        value=share,
        unit="share",
        display=_pct_text(share),
        numerator=len(activity.active),
        denominator=len(teams),
        universe=f"{len(activity.active)} of {len(teams)} teams deployed in {frame.window_days} days",
        target="> 80 %",
        target_met=None if share is None else share > bands.TEAMS_TARGET,
        trend=[_percent(n, len(teams)) for n in activity.weekly],
        ids=[deploy_id for _, deploy_id in activity.active],
        details=[f"{_name(team)}: deployed ({deploy_id})" for team, deploy_id in activity.active]
        + [f"{_name(team)}: no deploy" for team in idle],
    )


def _in_scope_components(catalog: Any, scope: Scope) -> list[Any]:
    components = _components(catalog)
    if scope.services is None:
        return components
    wanted = set(scope.services)
    return [c for c in components if c.name in wanted]


def _golden_paths(catalog: Any, scope: Scope) -> Figure:
    components = _in_scope_components(catalog, scope)
    golden = [c for c in components if c.annotations.get(SOURCE_TEMPLATE_ANNOTATION)]
    share = _percent(len(golden), len(components))
    return Figure(
        key="golden_paths",
        title="Components from golden paths",
        group="Adoption",
        value=share,
        unit="share",
        display=_pct_text(share),
        numerator=len(golden),
        denominator=len(components),
        universe=f"{len(golden)} of {len(components)} components were created from a template",
        target="> 90 %",
        target_met=None if share is None else share > bands.GOLDEN_PATH_TARGET,
        trend=[],
        trend_unit="",
        details=[
            f"{c.name}: {c.annotations.get(SOURCE_TEMPLATE_ANNOTATION) or 'by hand'}" for c in components
        ],
    )


def _first_deploy(history: Any, catalog: Any, scope: Scope, frame: Frame) -> Figure:
    rows = queries.scaffolds_since(history, frame.range_start, frame.now)
    wanted = set(scope.services) if scope.services is not None else None
    new: list[tuple[str, str, float]] = []
    for ref, _template, _user, at in rows:
        service = _name(ref)
        if wanted is None or service in wanted:
            new.append((ref, service, at))
    firsts = queries.first_deploys(history, frame, new)
    in_window = [(ref, service, at) for ref, service, at in new if at >= frame.window_start]
    times = {ref: firsts[ref][1] - at for ref, _service, at in new if ref in firsts}
    window_times = [times[ref] for ref, _s, _a in in_window if ref in times]
    value = statistics.median(window_times) if window_times else None
    fast = sum(1 for t in window_times if t < bands.FIRST_DEPLOY_TARGET)
    trend: list[float | None] = []
    for week in range(frame.weeks):
        start = frame.range_start + week * bands.WEEK
        week_times = [times[r] for r, _s, at in new if start <= at < start + bands.WEEK and r in times]
        trend.append(statistics.median(week_times) if week_times else None)
    details = [
        f"{service}: "
        + (f"{duration_text(times[ref])} to production" if ref in times else "not in production yet")
        for ref, service, _at in in_window
    ]
    return Figure(
        key="time_to_first_deploy",
        title="Time to first deploy",
        group="Adoption",
        value=value,
        unit="seconds (median)",
        display=duration_text(value),
        numerator=len(window_times),
        denominator=len(in_window),
        universe=f"{len(window_times)} of {len(in_window)} new services reached production, "
        f"{fast} within 30 min",
        target="< 30 min",
        target_met=None if value is None else value < bands.FIRST_DEPLOY_TARGET,
        trend=trend,
        ids=[firsts[ref][0] for ref, _s, _a in reversed(in_window) if ref in firsts],
        details=details,
    )


def _ownership(catalog: Any, scope: Scope) -> Figure:
    known = set(getattr(catalog, "by_ref", {}) or {})
    owned = [e for e in _entities(catalog) if e.kind.lower() in OWNED_KINDS]
    if scope.services is not None:
        wanted = set(scope.services)
        owned = [e for e in owned if e.kind.lower() == "component" and e.name in wanted]
    resolves = [_owner_ref(e) in known for e in owned]
    resolved = [e for e, ok in zip(owned, resolves, strict=True) if ok]
    share = _percent(len(resolved), len(owned))
    broken = [e for e, ok in zip(owned, resolves, strict=True) if not ok]
    return Figure(
        key="ownership",
        title="Ownership coverage",
        group="Quality",
        value=share,
        unit="share",
        display=_pct_text(share),
        numerator=len(resolved),
        denominator=len(owned),
        universe=f"{len(resolved)} of {len(owned)} entities have an owner that resolves",
        target="100 %",
        target_met=None if share is None else share >= bands.OWNERSHIP_TARGET,
        trend=[],
        trend_unit="",
        details=[f"{e.ref}: owner {e.owner or '(none)'} not in the catalog" for e in broken],
    )


def _has_docs(entity: Any, root: Path | None) -> bool:
    if entity.annotations.get(TECHDOCS_REF):
        return True
    from backends.docs.location import locate_docs

    def no_fetch(url: str, ref: str) -> Any:  # coverage never clones a repository
        raise OSError("not fetched")

    try:
        found = locate_docs(entity, root=root, checkout=no_fetch)
    except Exception:  # noqa: BLE001 - an entity we cannot look at has no docs we can show
        return False
    return found.error is None and (found.directory is not None or found.readme is not None)


def _docs(catalog: Any, scope: Scope, root: Path | None) -> Figure:
    components = _in_scope_components(catalog, scope)
    documented = [_has_docs(c, root) for c in components]
    with_docs = [c for c, ok in zip(components, documented, strict=True) if ok]
    share = _percent(len(with_docs), len(components))
    return Figure(
        key="docs",
        title="Docs coverage",
        group="Quality",
        value=share,
        unit="share",
        display=_pct_text(share),
        numerator=len(with_docs),
        denominator=len(components),
        universe=f"{len(with_docs)} of {len(components)} components have docs",
        target="≥ 80 %",
        target_met=None if share is None else share >= bands.DOCS_TARGET,
        trend=[],
        trend_unit="",
        details=[f"{c.name}: no docs" for c, ok in zip(components, documented, strict=True) if not ok],
    )


def quarters(now: float, count: int = 4) -> list[tuple[str, float, float]]:
    """The last ``count`` calendar quarters (UTC) up to the one holding ``now``, oldest first."""
    today = dt.datetime.fromtimestamp(now, dt.UTC)
    year, quarter = today.year, (today.month - 1) // 3
    found = []
    for _ in range(count):
        start = dt.datetime(year, quarter * 3 + 1, 1, tzinfo=dt.UTC)
        end_year, end_quarter = (year + 1, 0) if quarter == 3 else (year, quarter + 1)
        end = dt.datetime(end_year, end_quarter * 3 + 1, 1, tzinfo=dt.UTC)
        found.append((f"Q{quarter + 1} {year}", start.timestamp(), end.timestamp()))
        year, quarter = (year - 1, 3) if quarter == 0 else (year, quarter - 1)
    return list(reversed(found))


def nps(promoters: int, detractors: int, responses: int) -> float | None:
    """Net promoter score: % promoters (9–10) minus % detractors (0–6)."""
    return (promoters - detractors) * 100 / responses if responses else None


def _nps(history: Any, scope: Scope, now: float) -> Figure:
    periods = quarters(now)
    counts = queries.nps_by_period(history, [(start, end) for _, start, end in periods], scope.users)
    promoters, detractors, responses = counts[-1]
    value = nps(promoters, detractors, responses)
    label = periods[-1][0]
    return Figure(
        key="nps",
        title="Satisfaction (NPS)",
        group="Satisfaction",
        value=value,
        unit="NPS (−100…100)",
        display="—" if value is None else f"{value:+.0f}",
        numerator=promoters - detractors,
        denominator=responses,
        universe=f"{label}: {promoters} promoters, {detractors} detractors of {responses} responses",
        target="> 40 per quarter",
        target_met=None if value is None else value > bands.NPS_TARGET,
        trend=[nps(*c) for c in counts],
        trend_unit="quarter",
        details=[
            f"{name}: {'—' if nps(*c) is None else f'{nps(*c):+.0f}'} ({c[2]} responses)"
            for (name, _s, _e), c in zip(periods, counts, strict=True)
        ],
    )
