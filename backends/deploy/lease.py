"""One deploy per service and environment at a time: a coordination.k8s.io Lease in the namespace.

The lease lives next to the workload, so every idp-console (any laptop, the TUI, CI) sees the same
lock. A process that dies stops renewing and the lease expires after ``lease_seconds``, unless the
same deploy is resumed, which may take it over at once.

A lease must never be lost silently:

- a renewer thread renews it every ``seconds / 3`` with its own short request timeout, so a deploy
  stuck in a slow API call still renews (or learns that it cannot);
- the holder trusts its lease only for ``RENEW_DEADLINE`` of the lease duration after the last
  renewal the server accepted; past that, or when the server names another holder, the lease is
  *lost*: every further write through :meth:`DeployLease.fenced` raises :class:`LeaseLost`, and the
  run stops and says so. The gap between the holder's deadline and the expiry a taker waits for
  covers clock skew and a write still in flight;
- a taker takes an unexpired-looking lease only once ``renewTime + leaseDurationSeconds`` is past by
  its own clock *and* by the API server's (the ``Date`` of its answers);
- release is a compare-and-delete: only while ``holderIdentity`` is still ours, with the
  resourceVersion read as a precondition, so nobody ever deletes a lease somebody else took.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.kube.cluster import Cluster, ClusterError, Conflict, NotFound, RetryPolicy

log = logging.getLogger(__name__)

LEASE_PREFIX = "idp-console-deploy-"
_MAX_NAME = 63  # a DNS-1123 label, the strictest name rule an object may be held to
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The holder stops trusting its lease after this share of the duration without a renewal; a taker
# waits for the whole duration, so the last third is the safety margin between the two.
RENEW_DEADLINE = 2 / 3
# Tokens of the leases this process holds and renews now: a lease of ours whose token is not here
# belongs to a run that ended (an interrupted deploy of this same process), so it may be taken over.
_LIVE_TOKENS: set[str] = set()


class LeaseHeld(Exception):
    """Another deploy holds the lease; the message says who, which deploy and since when."""

    def __init__(self, message: str, holder: dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


class LeaseLost(ClusterError):
    """This deploy no longer holds its lease (not renewed in time, or taken over): stop writing.

    A ClusterError, so a write refused by the fence unwinds like a failed API call; the run
    catches it first and ends without touching the cluster again.
    """


def canonical_service(service: str) -> str:
    """The catalog identity of ``service``: ``payment-service`` and
    ``component:default/payment-service`` are the same Component, hence the same lease."""
    try:
        ref = parse_entity_ref(service, default_kind="Component")
    except EntityRefError:
        return service.lower()
    if ref.kind.lower() == "component" and ref.namespace.lower() == "default":
        return ref.name.lower()
    return ref.canonical


def lease_name(service: str) -> str:
    """A valid Lease name (DNS-1123 label, ≤ 63 chars) for ``service`` (a name or an entity ref).

    A plain short name maps to ``idp-console-deploy-<name>`` as it always did; anything that had
    to be changed (case, ``_``, ``.``, a namespace, length) gets a hash of the canonical form, so
    two services never share a lease.
    """
    canonical = canonical_service(service)
    plain = LEASE_PREFIX + canonical
    if len(plain) <= _MAX_NAME and _DNS_LABEL.match(plain):
        return plain
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    readable = re.sub(r"[^a-z0-9]+", "-", canonical.replace("component:", "")).strip("-")
    room = _MAX_NAME - len(LEASE_PREFIX) - len(digest) - 1
    readable = readable[:room].rstrip("-")
    return f"{LEASE_PREFIX}{readable}-{digest}" if readable else f"{LEASE_PREFIX}{digest}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _micro(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class DeployLease:
    """One deploy's hold on its service's lease in one namespace: `acquire`, then `start_renewing`
    and write only through `fenced`; `stop_renewing` / `release` at the end (see the module doc)."""

    cluster: Cluster
    namespace: str
    service: str
    environment: str
    deploy_id: str
    user: str
    seconds: int = 60
    # renewer state (guarded by _lock)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _valid_until: float = field(default=0.0, init=False, repr=False)  # time.monotonic()
    _last_renewed: dt.datetime | None = field(default=None, init=False, repr=False)
    _lost: str | None = field(default=None, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _renewer: threading.Thread | None = field(default=None, init=False, repr=False)
    # Which holder this is: two processes working on the same deploy (two adopters resuming it)
    # are two holders, and only one of them may hold the lease.
    token: str = field(default_factory=lambda: secrets.token_hex(6), init=False)

    @property
    def name(self) -> str:
        return lease_name(self.service)

    @property
    def deadline(self) -> float:
        """Seconds after a renewal was sent that this holder still trusts its lease."""
        return self.seconds * RENEW_DEADLINE

    def _holder(self) -> str:
        # holderIdentity is a free string; JSON lets the refusal message name who and what.
        return json.dumps(
            {
                "user": self.user,
                "deploy": self.deploy_id,
                "env": self.environment,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "token": self.token,
            },
            sort_keys=True,
        )

    def _mine(self, spec: dict[str, Any]) -> bool:
        holder = describe_holder(spec)
        return holder.get("deploy") == self.deploy_id and holder.get("token") == self.token

    def acquire(self, *, take_over_from: str | None = None) -> None:
        """Take the lease or raise :class:`LeaseHeld`. ``take_over_from``: a deploy id whose lease
        may be taken even if unexpired (resuming or aborting that same interrupted deploy) — when
        its holder's process is gone; a live one (another adopter got there first) keeps it."""
        sent = time.monotonic()
        now = _now()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "idp-console"},
            },
            "spec": {
                "holderIdentity": self._holder(),
                "leaseDurationSeconds": self.seconds,
                "acquireTime": _micro(now),
                "renewTime": _micro(now),
            },
        }
        try:
            self.cluster.create("leases", self.namespace, body)
            self._confirmed(sent, now)
            return
        except Conflict:
            pass
        server_now = self.cluster.server_time()

        def take(lease: dict[str, Any]) -> None:
            spec = lease.setdefault("spec", {})
            holder = describe_holder(spec)
            ours = self._mine(spec) or (
                take_over_from is not None and holder.get("deploy") == take_over_from and _abandoned(holder)
            )
            if spec.get("holderIdentity") and not ours and not expired(spec, _now(), server_now):
                raise LeaseHeld(holder_message(self.service, self.environment, holder, spec), holder)
            spec.update(body["spec"])
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1

        # A conditional write (resourceVersion): a holder renewing meanwhile makes us re-read.
        self.cluster.update("leases", self.namespace, self.name, take)
        self._confirmed(sent, now)

    def _confirmed(self, sent: float, when: dt.datetime) -> None:
        with self._lock:
            self._valid_until = sent + self.deadline
            self._last_renewed = when
            self._lost = None

    def renew(self, cluster: Cluster | None = None) -> None:
        """Push renewTime forward; :class:`LeaseLost` when it is not ours any more."""
        cluster = cluster or self.cluster
        sent = time.monotonic()
        now = _now()

        def bump(lease: dict[str, Any]) -> None:
            spec = lease.setdefault("spec", {})
            if not self._mine(spec):
                holder = describe_holder(spec)
                raise LeaseLost(
                    f"the deploy lease of {self.service} in {self.environment} was taken over by "
                    f"{holder.get('user', '?')} (deploy {holder.get('deploy', '?')})"
                )
            spec["renewTime"] = _micro(now)

        try:
            cluster.update("leases", self.namespace, self.name, bump)
        except NotFound as error:
            # Somebody deleted it: re-creating it could overlap with whoever did, so it is lost.
            raise LeaseLost(
                f"the deploy lease of {self.service} in {self.environment} was deleted"
            ) from error
        self._confirmed(sent, now)

    # -- the renewer --------------------------------------------------------------------------
    def start_renewing(self) -> None:
        """Renew in a thread of our own every ``seconds / 3``, whatever the deploy is waiting on."""
        if self._renewer is not None:
            return
        # Its own client settings: a renewal must answer well within the deadline, not after the
        # deploy's patient retries (3 s connect, 15 s read, 6 attempts).
        short = max(1.0, min(5.0, self.seconds / 6))
        renew_cluster = Cluster(
            self.cluster.api_client,
            name=self.cluster.name,
            retry=RetryPolicy(attempts=1),
            request_timeout=(short, short),
        )
        self._stop.clear()
        _LIVE_TOKENS.add(self.token)
        self._renewer = threading.Thread(
            target=self._renew_loop, args=(renew_cluster,), name=f"lease-renewer-{self.name}", daemon=True
        )
        self._renewer.start()

    def stop_renewing(self) -> None:
        """Stop the renewer thread (it is idle between renewals: this is quick)."""
        self._stop.set()
        _LIVE_TOKENS.discard(self.token)
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=10)

    def _renew_loop(self, cluster: Cluster) -> None:
        interval = self.seconds / 3
        wait = interval
        while not self._stop.wait(wait):
            if self.lost_reason() is not None:
                return
            try:
                self.renew(cluster)
                wait = interval
            except LeaseLost as error:
                self._mark_lost(str(error))
                return
            except ClusterError as error:
                log.warning("could not renew the deploy lease %s: %s", self.name, error)
                wait = min(interval, 1.0)  # try again soon: the deadline is running

    def _mark_lost(self, reason: str) -> None:
        with self._lock:
            if self._lost is None:
                self._lost = reason
        log.warning("%s", reason)

    def lost_reason(self) -> str | None:
        """Why this holder may not write any more, or None while the lease is ours."""
        with self._lock:
            if self._lost is None and self._valid_until and time.monotonic() > self._valid_until:
                renewed = f"{self._last_renewed:%H:%M:%S} UTC" if self._last_renewed else "?"
                self._lost = (
                    f"lost the deploy lease of {self.service} in {self.environment}: not renewed since "
                    f"{renewed} (the API server did not answer in time)"
                )
            return self._lost

    def check(self) -> float:
        """Raise :class:`LeaseLost` unless the lease is still ours; else the seconds it stays ours."""
        reason = self.lost_reason()
        if reason is not None:
            raise LeaseLost(reason)
        with self._lock:
            return self._valid_until - time.monotonic()

    def fenced(self, cluster: Cluster) -> Cluster:
        """``cluster`` whose every write first checks that this lease is still held."""
        return _FencedCluster(cluster, self)

    def release(self) -> None:
        """Give the lease up if it is still ours: a delete conditional on the resourceVersion read,
        so a lease taken over meanwhile is left alone."""
        self.stop_renewing()
        lease = self.cluster.find("leases", self.namespace, self.name)
        if not lease or not self._mine(lease.get("spec") or {}):
            return
        meta = lease.get("metadata") or {}
        try:
            self.cluster.delete(
                "leases",
                self.namespace,
                self.name,
                preconditions={"resourceVersion": meta.get("resourceVersion"), "uid": meta.get("uid")},
            )
        except Conflict:
            log.info("lease %s changed hands while being released; left alone", self.name)


class _FencedCluster(Cluster):
    """A Cluster sharing the original's client whose writes are refused once the lease is lost.

    The check sits at the HTTP layer, so every retry of a write is checked again, and a write's
    read timeout never outlasts the lease.
    """

    def __init__(self, inner: Cluster, lease: DeployLease) -> None:
        super().__init__(
            inner.api_client, name=inner.name, retry=inner.retry, request_timeout=inner.request_timeout
        )
        self.stats = inner.stats
        self._lease = lease

    def _http(self, method: str, path: str, **kwargs: Any) -> Any:
        if method.upper() != "GET":
            remaining = self._lease.check()
            connect, read = kwargs.get("timeout") or self.request_timeout
            kwargs["timeout"] = (connect, max(0.5, min(read, remaining)))
        return super()._http(method, path, **kwargs)


def _abandoned(holder: dict[str, Any]) -> bool:
    """The holder's process is gone. Only knowable on its own host; another host's holder is
    judged by the lease's expiry alone."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        pid = int(holder.get("pid") or 0)
    except (TypeError, ValueError):
        return False
    if pid == os.getpid():
        return holder.get("token") not in _LIVE_TOKENS
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def describe_holder(spec: dict[str, Any]) -> dict[str, Any]:
    raw = spec.get("holderIdentity") or ""
    try:
        data = json.loads(raw)
        return data if isinstance(data, dict) else {"user": raw}
    except ValueError:
        return {"user": raw} if raw else {}


def expired(spec: dict[str, Any], now: dt.datetime, server_now: dt.datetime | None = None) -> bool:
    """Whether the last renewal is older than the lease's duration — by our clock and, when
    known, by the API server's (its ``Date`` is cut to the second, so it errs on the safe side)."""
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    if renewed is None:
        return True
    duration = int(spec.get("leaseDurationSeconds") or 60)
    if (now - renewed).total_seconds() <= duration:
        return False
    return server_now is None or (server_now - renewed).total_seconds() > duration


def holder_message(service: str, environment: str, holder: dict[str, Any], spec: dict[str, Any]) -> str:
    since = _parse(spec.get("acquireTime"))
    when = f" since {since:%H:%M:%S} UTC" if since else ""
    where = f" on {holder['host']}" if holder.get("host") else ""
    return (
        f"another deploy of {service} to {environment} is in progress: held by {holder.get('user', '?')}"
        f" (deploy {holder.get('deploy', '?')}{where}){when}"
    )


def current_holder(cluster: Cluster, namespace: str, service: str) -> dict[str, Any] | None:
    """Who holds the lease now (None when free or expired)."""
    lease = cluster.find("leases", namespace, lease_name(service))
    if not lease:
        return None
    spec = lease.get("spec") or {}
    if not spec.get("holderIdentity") or expired(spec, _now()):
        return None
    return describe_holder(spec)
