"""The deploy engine's front door: one :class:`DeployEngine` per workspace, handing out runs.

:class:`DeployContext` holds what every run shares: the catalog, the environments, the ``deploy:``
settings, the history, who the user is, and one :class:`~backends.kube.cluster.Cluster` per
kubeconfig context (verified reachable once; an unreachable real cluster is an error, never a
reason to use the simulated one).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from backends.deploy import canary as cn
from backends.deploy.analysis import Prometheus
from backends.deploy.config import DeploySettings, parse_deploy_settings
from backends.deploy.events import DeployStarted, Outcome, Stage, StageStarted
from backends.deploy.history import DeployHistory, DeployRecord, read_facts
from backends.deploy.lease import canonical_service, current_holder, describe_holder, lease_name
from backends.deploy.prechecks import (
    CatalogLike,
    DeployRefused,
    DeployTarget,
    find_service,
    process_alive,
    resolve_target,
)
from backends.deploy.reducer import RunKind
from backends.deploy.run import ACTIVE_RUNS, DeployRun, InterruptedDeploy, healthy_rollback_version, run_for
from backends.deploy.status import ServiceStatus, read_status
from backends.deploy.traffic import RouteTraffic, canary_weight
from backends.kube.cluster import Cluster, ClusterError, ClusterUnreachable, RetryPolicy
from backends.kube.environments import (
    Environment,
    EnvironmentConfigError,
    get_environment,
    parse_environments,
)

SIMULATED_PROMETHEUS = "simulated"


class DeployContext:
    """Shared, thread-safe state of the deploy area for one workspace."""

    def __init__(
        self,
        *,
        catalog: CatalogLike,
        environments: dict[str, Any],
        deploy: dict[str, Any],
        history: DeployHistory,
        user: str,
        simulated_kubeconfig: Callable[[], tuple[str, str | None]] | None = None,
        simulated_prometheus: Callable[[], str] | None = None,
        retry: RetryPolicy | None = None,
        request_timeout: tuple[float, float] = (3.0, 15.0),
    ) -> None:
        self.catalog = catalog
        self.environments_section = environments
        self.deploy_section = deploy
        self.history = history
        self.user = user
        self._simulated_kubeconfig = simulated_kubeconfig
        self._simulated_prometheus = simulated_prometheus
        self.retry = retry
        self.request_timeout = request_timeout
        self._clusters: dict[tuple[str | None, str | None], Cluster] = {}
        self._lock = threading.Lock()
        # Where the services' images are (backends.registry); deploys check their version there.
        self.registry: Any = None

    # -- configuration ----------------------------------------------------------------------------
    def environments(self) -> dict[str, Environment]:
        try:
            return parse_environments(self.environments_section)
        except EnvironmentConfigError as error:
            raise DeployRefused(str(error)) from error

    def environment(self, name: str) -> Environment:
        try:
            return get_environment(self.environments_section, name)
        except EnvironmentConfigError as error:
            raise DeployRefused(str(error)) from error

    def settings_for(self, service: str) -> DeploySettings:
        return parse_deploy_settings(self.deploy_section, service)

    def prometheus_for(self, settings: DeploySettings) -> Prometheus | None:
        url = settings.analysis.prometheus
        if url == SIMULATED_PROMETHEUS:
            if self._simulated_prometheus is None:
                return None
            url = self._simulated_prometheus()
        return Prometheus(url, timeout=settings.analysis.timeout) if url else None

    # -- clusters ---------------------------------------------------------------------------------
    def cluster_for(self, environment: Environment) -> Cluster:
        """The cluster of an environment, checked reachable the first time it is asked for."""
        kubeconfig: str | None
        context: str | None
        if environment.simulated:
            if self._simulated_kubeconfig is None:
                raise ClusterError(
                    f"environment {environment.name} uses the simulated cluster, which is not running"
                )
            kubeconfig, context = self._simulated_kubeconfig()
        else:
            kubeconfig, context = environment.kubeconfig, environment.context
        key = (kubeconfig, context)
        with self._lock:
            cluster = self._clusters.get(key)
        if cluster is not None:
            return cluster
        kwargs: dict[str, Any] = {"request_timeout": self.request_timeout}
        if self.retry is not None:
            kwargs["retry"] = self.retry
        cluster = Cluster.from_kubeconfig(kubeconfig, context, **kwargs)
        probe = Cluster(
            cluster.api_client, name=cluster.name, retry=RetryPolicy(attempts=2), request_timeout=(3, 5)
        )
        try:
            probe.version()
        except ClusterUnreachable as error:
            raise ClusterUnreachable(
                f"{error} — environment {environment.name} is not reachable "
                "(idp-console never falls back to the simulated cluster)"
            ) from error
        except ClusterError:
            pass  # it answered (with an error): reachable; real calls retry with the full policy
        with self._lock:
            self._clusters.setdefault(key, cluster)
            return self._clusters[key]

    def check_image(self, entity: Any, environment: Environment, version: str, *, skip: bool = False) -> Any:
        """The registry check of ``version``: a ResolvedImage to pin it to, None when the service
        names no image, or (``skip``: --skip-image-check) the sentence saying it was not checked.
        ``DeployRefused`` with the reason when the tag is missing or the registry cannot say."""
        from backends.deploy import provision as pv

        if skip:
            return "image check skipped (--skip-image-check): the version is deployed by tag, unverified"
        try:
            return pv.check_image(entity, environment, version, self.registry)
        except pv.ProvisionError as error:
            raise DeployRefused(str(error)) from error

    def resolve(
        self,
        service: str,
        environment: Environment,
        *,
        check_permissions: bool = True,
        version: str | None = None,
        commit: str | None = None,
        skip_image_check: bool = False,
        image_version: str | None = None,
    ) -> tuple[DeployTarget, dict[str, Any]]:
        """Pre-checks plus the stable Deployment (see :func:`~backends.deploy.prechecks.resolve_target`).

        With the ``version`` a deploy brings: the registry must have it (for a service whose
        environment or annotation names its image; ``skip_image_check`` says not to ask), and a
        workload missing in the environment is created from the service's repository at that
        version (:mod:`backends.deploy.provision`). ``image_version`` (a rollback's ``--to``) is
        only checked in the registry, before the cluster is asked anything."""
        from backends.deploy import provision as pv

        found: list[Any] = [None]
        checked = version or image_version

        def check_image(entity: Any) -> Any:
            found[0] = self.check_image(entity, environment, str(checked), skip=skip_image_check)
            return found[0]

        def first_deploy(entity: Any, cluster: Cluster, workload: Any) -> pv.Provisioned:
            image = found[0] if not isinstance(found[0], str) else None
            try:
                return pv.provision_workload(
                    cluster, entity, environment, workload, str(version), commit=commit, image=image
                )
            except pv.ProvisionError as error:
                raise DeployRefused(
                    f"{entity.name} has no workload in {environment.name} yet, and it cannot be "
                    f"created: {error}"
                ) from error

        return resolve_target(
            self.catalog,
            service,
            environment,
            self.user,
            cluster_for=self.cluster_for,
            settings_for=self.settings_for,
            prometheus_for=self.prometheus_for,
            check_permissions=check_permissions,
            check_image=check_image if checked else None,
            provision=first_deploy if version else None,
        )


class DeployEngine:
    """Deploys, rollbacks, scaling, status and crash recovery for one workspace.

    Every method that changes the cluster returns a :class:`~backends.deploy.run.DeployRun`: iterate
    ``run.events()`` to perform it; steer it from another thread with ``run.promote()``,
    ``run.pause()``, ``run.resume()``, ``run.abort()``, ``run.rollback()``.
    """

    def __init__(self, context: DeployContext) -> None:
        self.context = context

    def deploy(
        self,
        service: str,
        environment: str,
        version: str,
        *,
        commit_sha: str | None = None,
        commit_time: float | None = None,
        skip_image_check: bool = False,
    ) -> DeployRun:
        """A canary deploy of ``version`` (``skip_image_check``: for emergencies, recorded)."""
        return run_for(
            RunKind.DEPLOY,
            self.context,
            service=service,
            environment=environment,
            version=version,
            commit_sha=commit_sha,
            commit_time=commit_time,
            skip_image_check=skip_image_check,
        )

    def rollback(
        self,
        service: str,
        environment: str,
        to: str | None = None,
        *,
        force: bool = False,
        skip_image_check: bool = False,
    ) -> DeployRun:
        """Put the stable Deployment back on ``to``, or on the last version that finished healthy
        within 72 h. A ``to`` that failed in this environment is refused unless ``force``. The
        version is checked in the registry and pinned to its digest, as a deploy's is."""
        return run_for(
            RunKind.ROLLBACK,
            self.context,
            service=service,
            environment=environment,
            version=to or "",
            force=force,
            skip_image_check=skip_image_check,
        )

    def scale(self, service: str, environment: str, replicas: int) -> DeployRun:
        return run_for(
            RunKind.SCALE, self.context, service=service, environment=environment, replicas=replicas
        )

    def status(self, service: str, environment: str) -> ServiceStatus:
        """One look at what the service runs in the environment (raises DeployRefused/ClusterError)."""
        env = self.context.environment(environment)
        target, stable = self.context.resolve(service, env, check_permissions=False)
        records = self.context.history.records(target.service, environment, limit=1)
        back = healthy_rollback_version(self.context.history, target.service, environment, stable)
        return read_status(
            target.cluster,
            target.namespace,
            target.stable_name,
            service=target.service,
            environment=environment,
            lease_holder=current_holder(target.cluster, target.namespace, target.service),
            last_deploy=records[0] if records else None,
            rollback_to=back,
        )

    # -- crash recovery ---------------------------------------------------------------------------
    def find_interrupted(
        self, service: str | None = None, environment: str | None = None
    ) -> list[InterruptedDeploy]:
        """Deploys that started, never finished, and are not running anywhere now.

        A run is alive if it is in this process, or its process on this host still exists, or (for
        another host) it still renews its lease. Everything else is interrupted: shown with where it
        stopped (the facts its history recorded: the last step whose check passed, a promote or a
        rollback that had begun; the canary from the cluster), to resume or abort.
        """
        found = []
        name = self.service_name(service) if service else None
        for record in self.context.history.unfinished(name, environment):
            if record.id in ACTIVE_RUNS:
                continue
            same_host = record.host == socket.gethostname()
            if same_host and record.pid != os.getpid() and process_alive(record.pid):
                continue
            try:
                env = self.context.environment(record.environment)
                cluster = self.context.cluster_for(env)
            except (DeployRefused, ClusterError):
                continue
            if not same_host:
                holder = current_holder(cluster, record.namespace, record.service)
                if holder and holder.get("deploy") == record.id:
                    continue
            canary = cluster.find("deployments", record.namespace, cn.canary_name(record.deployment))
            stable = cluster.find("deployments", record.namespace, record.deployment)
            if record.kind in ("rollback", "scale"):
                found.append(self._interrupted_change(record, stable))
                continue
            facts = self.context.history.facts(record.id)
            last_step = facts.last_passed
            stable_replicas = None
            notes = cn.annotations(canary) if canary is not None else {}
            if notes.get(cn.A_DEPLOY_ID) == record.id:  # another deploy's canary says nothing of this one
                # Written only after a step's check passed (a power cut may lose the history's last
                # events, never this); the "step" annotation only says where traffic was shifted.
                last_step = max(last_step, _as_int(notes.get(cn.A_PASSED_STEP), -1))
                stable_replicas = (
                    int(notes[cn.A_STABLE_REPLICAS]) if notes.get(cn.A_STABLE_REPLICAS) else None
                )
            found.append(
                InterruptedDeploy(
                    route_weight=_route_weight(cluster, env, record),
                    record=record,
                    last_step=last_step,
                    stable_replicas=stable_replicas,
                    canary_present=canary is not None,
                    stable_version=cn.deployed_version(stable) if stable else "",
                    canary_replicas=cn.desired_replicas(canary) if canary else 0,
                    promoting=facts.promoting,
                    rollback_outcome=facts.rollback_outcome,
                    rollback_reason=facts.rollback_reason,
                    image=facts.image,
                    from_image=facts.from_image,
                )
            )
        return found

    def _interrupted_change(self, record: DeployRecord, stable: dict[str, Any] | None) -> InterruptedDeploy:
        """Where a killed ``rollback`` or ``scale`` stopped: what it was changing, from what.

        Its own rollback stage is the change itself, not a retreat, so only an ``--abort`` that had
        begun counts as one: resuming then finishes that abort (the version/size before it).
        """
        events = self.context.history.events(record.id)
        aborting = any(isinstance(e, DeployStarted) and e.kind == "abort" for e in events)
        facts = read_facts(events)
        before = after = -1  # the scale stage's detail says "BEFORE → AFTER"
        for event in events:
            if isinstance(event, StageStarted) and event.stage is Stage.SCALE:
                old, _, new = event.detail.partition(" → ")
                before, after = _as_int(old, -1), _as_int(new, -1)
        return InterruptedDeploy(
            record=record,
            last_step=-1,
            stable_replicas=before if before >= 0 else None,
            stable_version=cn.deployed_version(stable) if stable else "",
            rollback_outcome=str(Outcome.ABORTED) if aborting else "",
            rollback_reason=f"interrupted {record.kind} {record.id} aborted" if aborting else "",
            replicas=after if after >= 0 else None,
            image=facts.image,
            from_image=facts.from_image,
        )

    def hold_traffic(self, deploy_id: str) -> int | None:
        """Send an interrupted deploy's route traffic back to the stable (canary weight 0), leaving
        everything else for a person: no traffic stays on a canary nobody checks. Returns the weight
        the canary had, None when nothing was routed to it."""
        point = self._interrupted(deploy_id)
        if not point.route_weight:
            return None
        record = point.record
        env = self.context.environment(record.environment)
        cluster = self.context.cluster_for(env)
        stable = cluster.get("deployments", record.namespace, record.deployment)
        RouteTraffic(cluster, record.namespace, env.route_for(record.service), stable).set_weight(0)
        return point.route_weight

    def service_name(self, service: str) -> str:
        """The name the history records for ``service``, typed as a name or an entity ref, any case."""
        try:
            return find_service(self.context.catalog, service).name
        except DeployRefused:
            return canonical_service(service)

    def _interrupted(self, deploy_id: str) -> InterruptedDeploy:
        for item in self.find_interrupted():
            if item.record.id == deploy_id:
                return item
        raise DeployRefused(f"no interrupted deploy {deploy_id} (it finished, or is still running)")

    def resume(self, deploy_id: str, *, skip_image_check: bool = False) -> DeployRun:
        """Continue an interrupted deploy from the step after the last one it completed.

        An interrupted ``rollback`` re-applies its target version and waits for it to roll out; an
        interrupted ``scale`` sets its size again and waits for the pods. The version runs pinned to
        the digest its registry check recorded when it started (else checked again now).
        """
        point = self._interrupted(deploy_id)
        record = point.record
        return run_for(
            # an interrupted rollback or scale resumes as what it was; anything else as a deploy
            RunKind(record.kind) if record.kind in (RunKind.ROLLBACK, RunKind.SCALE) else RunKind.DEPLOY,
            self.context,
            service=record.service,
            environment=record.environment,
            version=record.to_version,
            replicas=point.replicas,
            resume=point,
            skip_image_check=skip_image_check,
        )

    def abort(self, deploy_id: str) -> DeployRun:
        """Roll an interrupted deploy back: stable restored to its old version and size, canary removed.

        For an interrupted ``rollback`` that is the version it was leaving; for a ``scale``, the size.
        """
        point = self._interrupted(deploy_id)
        record = point.record
        return run_for(
            RunKind.ABORT,
            self.context,
            service=record.service,
            environment=record.environment,
            version=record.to_version,
            resume=point,
        )


def _route_weight(cluster: Cluster, environment: Environment, record: DeployRecord) -> int | None:
    """The canary's share on the environment's HTTPRoute now (a fact of the cluster, not the history)."""
    route = environment.route_for(record.service)
    return canary_weight(cluster, record.namespace, route) if route else None


def _as_int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


__all__ = ["DeployContext", "DeployEngine", "describe_holder", "lease_name"]
