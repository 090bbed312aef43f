"""``infra apply`` and ``infra reconcile``: make the cluster hold what the infra repository says.

Apply plans first and refuses a plan that is invalid or that a policy denies (a merge that went
around review is stopped here). Then it writes only what differs — server-side apply as
:data:`~backends.infra.render.FIELD_MANAGER`, creates before deletes — so an unchanged repository
costs no write, and an apply killed half-way converges when run again (every step is "make this
object look like this", and what no file describes any more is found by label and deleted).
Every apply is recorded in the history, refused ones too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backends.infra.history import last_applied, record_apply
from backends.infra.merge import MergeResult, merge_change_request
from backends.infra.plan import Change, LiveObjects, Plan, Target, live_objects, make_plan
from backends.infra.render import FIELD_MANAGER
from backends.infra.repo import DEMO_INFRA_REPO, InfraTree, ensure_demo_repo, git_dir_for, read_tree, resolve
from backends.infra.request import ChangeRequest, open_change_request
from backends.infra.settings import InfraSettings

if TYPE_CHECKING:
    from backends.deploy.history import DeployHistory
    from backends.deploy.session import DeploySession
    from backends.kube.cluster import Cluster
    from backends.workspace import Workspace


class InfraError(Exception):
    """Infra cannot run here (no ``infra:`` section, unknown environment…); one line."""


class ApplyRefused(Exception):
    """The plan is invalid or a policy denies it; ``plan`` says why."""

    def __init__(self, message: str, plan: Plan) -> None:
        super().__init__(message)
        self.plan = plan


@dataclass(slots=True)
class ApplyResult:
    plan: Plan
    writes: int


class InfraSession:
    """Infra for one workspace: its settings, target environment, cluster and history."""

    def __init__(self, workspace: Workspace, deploy: DeploySession) -> None:
        settings = workspace.typed.infra
        if settings is None:
            raise InfraError(
                "no infra: section in idp-console.yaml (infra: {repo: URL, ref: main, path: infrastructure/})"
            )
        self.workspace = workspace
        self.settings: InfraSettings = settings
        self.deploy = deploy
        environments = deploy.context.environments()
        name = settings.environment or next(
            (env.name for env in environments.values() if env.production), next(iter(environments), "")
        )
        if name not in environments:
            raise InfraError(
                f"infra.environment: unknown environment {name!r} "
                f"(known: {', '.join(environments) or 'none'})"
            )
        self.environment = environments[name]
        self.target = Target(name, self.environment.namespace or "default", self.environment.production)
        if workspace.is_demo or settings.repo == DEMO_INFRA_REPO:
            ensure_demo_repo(settings.repo, settings.ref)
        self._cluster: Cluster | None = None

    @property
    def history(self) -> DeployHistory:
        return self.deploy.context.history

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = self.deploy.context.cluster_for(self.environment)
        return self._cluster

    def head(self, ref: str | None = None) -> str:
        """The commit ``ref`` (default: ``infra.ref``) names now."""
        return resolve(git_dir_for(self.settings.repo), ref or self.settings.ref)

    def plan(self, ref: str | None = None, service: str | None = None, *, live: bool = True) -> Plan:
        """The plan of ``ref`` (``live=False``: without reading the cluster — nothing there yet)."""
        ref = ref or self.settings.ref
        tree = read_tree(self.settings.repo, ref, self.settings.path)
        return self.plan_tree(tree, ref, service, live=live)

    def plan_tree(self, tree: InfraTree, ref: str, service: str | None = None, *, live: bool = True) -> Plan:
        """The plan of files already read (``ref`` names them in the plan)."""
        previous = last_applied(self.history, self.target.environment)
        return make_plan(
            tree,
            self.settings,
            self.target,
            ref=ref,
            live=self._listing() if live else None,
            costs_before=dict(previous.costs) if previous else {},
            service=service,
        )

    def _listing(self) -> Callable[[], tuple[LiveObjects, LiveObjects]]:
        """The cluster's objects, listed on a thread while the plan validates, costs and evaluates
        (the lists are waits on the API server; the rest is this process's CPU)."""
        outcome: list[tuple[LiveObjects, LiveObjects] | BaseException] = []

        def list_them() -> None:
            try:  # the cluster is reached from here too: invalid input is reported without it
                outcome.append(live_objects(self.cluster, self.target.namespace, self.settings))
            except BaseException as error:  # noqa: BLE001 - handed to the plan's thread below
                outcome.append(error)

        # A daemon thread, not an executor: a plan that stops at invalid input never waits for it.
        worker = threading.Thread(target=list_them, name="infra-live", daemon=True)
        worker.start()

        def result() -> tuple[LiveObjects, LiveObjects]:
            worker.join()
            listed = outcome[0]
            if isinstance(listed, BaseException):
                raise listed
            return listed

        return result

    def apply(
        self, ref: str | None = None, *, on_write: Callable[[Change], None] | None = None
    ) -> ApplyResult:
        """Apply ``ref``; raises :class:`ApplyRefused` (recorded) when the plan may not go through."""
        ref = ref or self.settings.ref
        plan = self.plan(ref)
        before = sum(s.cost_before for s in plan.services)
        after = sum(plan.costs.values())
        changes = [c.as_dict() for c in plan.changes]
        if plan.errors or plan.denied:
            reasons = plan.errors or [f"{v.service}: {v.policy}: {v.message}" for v in plan.denied]
            why = "invalid input" if plan.errors else "policy denies it"
            record_apply(
                self.history, user=self.workspace.identity, environment=self.target.environment, ref=ref,
                commit=plan.commit, outcome="refused", writes=0, cost_before=before, cost_after=after,
                changes=changes, costs=plan.costs, reason="; ".join(reasons),
            )  # fmt: skip
            raise ApplyRefused(
                f"apply of {ref} ({plan.commit[:8]}) refused, {why}: " + "; ".join(reasons), plan
            )
        writes = 0
        try:
            writes = self._write(plan, on_write)
        except Exception as error:
            record_apply(
                self.history, user=self.workspace.identity, environment=self.target.environment, ref=ref,
                commit=plan.commit, outcome="failed", writes=writes, cost_before=before, cost_after=after,
                changes=changes, costs=plan.costs, reason=str(error),
            )  # fmt: skip
            raise
        record_apply(
            self.history, user=self.workspace.identity, environment=self.target.environment, ref=ref,
            commit=plan.commit, outcome="applied", writes=writes, cost_before=before, cost_after=after,
            changes=changes, costs=plan.costs,
        )  # fmt: skip
        return ApplyResult(plan, writes)

    def _write(self, plan: Plan, on_write: Callable[[Change], None] | None) -> int:
        desired = {item.key: item for item in plan.desired}
        ordered = [c for c in plan.changes if c.action != "delete"] + [
            c for c in plan.changes if c.action == "delete"
        ]
        writes = 0
        for change in ordered:
            if change.action == "delete":
                self.cluster.delete(change.kind, plan.namespace, change.name)
            else:
                item = desired[(change.kind, change.name)]
                self.cluster.apply(change.kind, plan.namespace, item.body, field_manager=FIELD_MANAGER)
            writes += 1
            if on_write is not None:
                on_write(change)
        return writes

    def request(self, service: str, text: str, *, live: bool = True) -> ChangeRequest:
        """Open a change request with ``text`` as the service's new resources.yaml (see request.py);
        ``live=False`` plans it without the cluster (a service being created has nothing there)."""
        from backends.git.publish import GitSettings

        git = GitSettings.from_config(self.workspace.section("git"), is_demo=self.workspace.is_demo)
        return open_change_request(
            self.settings, service, text,
            author=(self.workspace.identity, git.author_email), production=self.target.production,
            plan_of=lambda ref: self.plan(ref, service, live=live),
        )  # fmt: skip

    def merge(self, number: int) -> MergeResult:
        """Merge change request ``number`` into ``infra.ref`` unless its plan is refused (merge.py)."""
        from backends.git.publish import GitSettings

        git = GitSettings.from_config(self.workspace.section("git"), is_demo=self.workspace.is_demo)
        return merge_change_request(
            self.settings, number, author=(self.workspace.identity, git.author_email),
            plan_tree=lambda tree, ref: self.plan_tree(tree, ref),
        )  # fmt: skip

    def reconcile(
        self, *, interval: float, ref: str | None = None, stop: Callable[[], bool] = lambda: False
    ) -> Iterator[ApplyResult | ApplyRefused | Exception]:
        """Apply every new commit of ``ref`` (and once at start), checking every ``interval`` s."""
        seen = ""
        while not stop():
            try:
                head = self.head(ref)
                if head != seen:
                    seen = head
                    yield self.apply(ref)
            except ApplyRefused as refused:
                yield refused
            except Exception as error:  # an unreachable cluster or repo: say so, try the next round
                seen = ""
                yield error
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not stop():
                time.sleep(min(0.2, interval))


@contextmanager
def open_infra(workspace: Workspace) -> Iterator[InfraSession]:
    """An :class:`InfraSession` over a deploy session (cluster access, history), closed after."""
    from backends.deploy.session import open_deploy

    with open_deploy(workspace) as deploy:
        yield InfraSession(workspace, deploy)
