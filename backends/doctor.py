"""``idp-console doctor``: what is wrong with this installation, and what to do about it.

Each check is small and independent; one that fails never stops the others (a broken catalog
source must not hide an unreachable cluster). Terminal checks live with the command (they read the
process's own terminal); everything here works without one.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    area: str  # terminal | config | catalog | identity | clusters | history | runner
    status: Status
    detail: str
    fix: str = ""  # what to do, when not OK


def check_workspace(workspace: Any) -> Iterator[Check]:
    """Every check that needs only the workspace (catalog, identity, clusters, history, runner)."""
    catalog = None
    try:
        result, catalog = _catalog(workspace)
        yield result
    except Exception as error:  # a doctor reports; it never dies of what it diagnoses
        yield _crashed(_catalog, error)
    checks: tuple[Callable[[Any, Any], Check | list[Check]], ...] = (_identity, _history, _runner, _clusters)
    for check in checks:
        try:
            yield from _as_checks(check(workspace, catalog))
        except Exception as error:
            yield _crashed(check, error)


def _crashed(check: Callable[..., object], error: Exception) -> Check:
    return Check(check.__name__.strip("_"), Status.FAIL, f"check crashed: {error}")


def _as_checks(value: Check | list[Check]) -> list[Check]:
    return value if isinstance(value, list) else [value]


def _catalog(workspace: Any) -> tuple[Check, Any]:
    from backends.catalog import load_catalog

    catalog = load_catalog(workspace)
    errors = catalog.errors() if callable(getattr(catalog, "errors", None)) else []
    sources = len(workspace.catalog_sources)
    detail = f"{len(catalog.entities)} entities from {sources} source{'s' if sources != 1 else ''}"
    if errors:
        first = errors[0]
        return (
            Check(
                "catalog",
                Status.WARN,
                f"{detail}; {len(errors)} error{'s' if len(errors) != 1 else ''}, first: {first}",
                "`idp-console catalog list` prints every problem with file:line (p in the TUI)",
            ),
            catalog,
        )
    return Check("catalog", Status.OK, detail), catalog


def _identity(workspace: Any, catalog: Any) -> Check:
    user = workspace.identity
    if catalog is None:
        return Check("identity", Status.WARN, f"you are {user!r} (catalog not loaded, not checked)")
    entity = catalog.get(f"user:{user}", default_kind="User")
    if entity is None:
        return Check(
            "identity",
            Status.WARN,
            f"you are {user!r}, which is no User in the catalog: production deploys will be refused",
            "add a User entity with this name, or map the account under identity: in idp-console.yaml",
        )
    groups = sorted(r.target for r in entity.relations if r.type == "memberOf")
    return Check("identity", Status.OK, f"you are {user} ({', '.join(groups) or 'no groups'})")


def _history(workspace: Any, _catalog: Any) -> Check:
    from backends.deploy.history import open_history
    from backends.history.errors import HistoryError

    try:
        history = open_history(workspace)
        history.ping()
        records = history.records(limit=1)
    except HistoryError as error:
        return Check(
            "history",
            Status.FAIL,
            str(error),
            "deploys are refused until the history store answers (a deploy must record itself)",
        )
    where = f"{history.dialect} {history.where}"
    detail = f"{where} ({'empty' if not records else 'last deploy ' + records[0].id})"
    # Spool files left after the recovery `ping` made belong to live deploys still cut off from it.
    waiting = len(list(history.spool.directory.glob("*.jsonl")))
    history.close()
    if waiting:
        return Check("history", Status.WARN, f"{detail}; {waiting} running deploys still spool their writes")
    if history.path is not None:
        mode = stat.S_IMODE(history.path.stat().st_mode)
        if mode & 0o077:
            return Check(
                "history",
                Status.WARN,
                f"{detail} is readable by others (mode {mode:o})",
                f"chmod 600 {history.path}",
            )
    return Check("history", Status.OK, detail)


def _runner(workspace: Any, _catalog: Any) -> Check:
    from backends.deploy.attach import running_deploys
    from backends.deploy.runner import runs_dir

    directory = runs_dir()
    if not os.access(directory, os.W_OK):
        return Check("runner", Status.FAIL, f"{directory} is not writable", f"fix the owner of {directory}")
    running = running_deploys()
    return Check(
        "runner",
        Status.OK,
        f"{len(running)} deploy{'s' if len(running) != 1 else ''} running in detached runners"
        + (f": {', '.join(running)}" if running else ""),
    )


def _clusters(workspace: Any, catalog: Any) -> list[Check]:
    from backends.deploy.session import open_deploy

    checks = []
    with open_deploy(workspace, catalog=catalog) as session:
        try:
            environments = session.context.environments()
        except Exception as error:
            return [Check("clusters", Status.FAIL, str(error), "fix environments: in idp-console.yaml")]
        if not environments:
            return [
                Check(
                    "clusters",
                    Status.WARN,
                    "no environments configured: nothing can be deployed",
                    "add environments: to idp-console.yaml (`idp-console init` writes an example)",
                )
            ]
        for name, environment in environments.items():
            checks.append(_reach(name, functools.partial(session.context.cluster_for, environment)))
    return checks


def _reach(name: str, connect: Callable[[], Any]) -> Check:
    try:
        cluster = connect()
    except Exception as error:
        return Check(
            "clusters",
            Status.FAIL,
            f"{name}: {error}",
            "check the environment's kubeconfig/context (`kubectl --context CTX version`)",
        )
    return Check("clusters", Status.OK, f"{name}: {getattr(cluster, 'name', 'reachable')} answers")
