"""Watch and steer a deploy from any account on any host, through the shared history store.

A runner's UNIX socket serves only its own account (``SO_PEERCRED``) on its own host. Everyone else
goes through the history store every runner writes anyway (SQLite on one host, PostgreSQL for a
fleet of bastions):

- :class:`StoreRun` is a :class:`~backends.deploy.attach.RemoteRun` that tails the deploy's events
  with ``history.events_after`` (every :data:`POLL_SECONDS`) and turns promote / pause / resume /
  abort / rollback into ``history.request_control`` rows, so the deploy board and ``--attach`` use
  it unchanged;
- :class:`ControlPoller` runs in the runner: it reads those rows and applies one only when the
  requester started the deploy or belongs to the team that owns the service in the catalog,
  appending a :class:`~backends.deploy.events.LogLine` that says who did what, or who was refused
  and why.

Trust: the store says who asked. Anyone who can write to it can write any name there; per-user
PostgreSQL roles (a role may insert only its own name) close that. See the README.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Generator
from typing import Any

from backends.catalog.refs import EntityRefError, parse_entity_ref
from backends.deploy.attach import RemoteRun, RunnerError
from backends.deploy.events import DeployEvent, DeployFinished, LogLine
from backends.deploy.history import ControlRequest, DeployHistory, DeployRecord
from backends.deploy.prechecks import (
    CatalogLike,
    DeployRefused,
    find_service,
    group_memberships,
    process_alive,
)

POLL_SECONDS = 0.5  # how often a watcher reads new events, and a runner new control requests
LIVENESS_SECONDS = 5.0  # how often a quiet watcher checks that the runner is still there
# The actions a control request may carry, with what the log says once one is done.
ACTIONS = {
    "promote": "promoted it one step",
    "promote-full": "promoted it fully",
    "pause": "paused it",
    "resume": "resumed it",
    "abort": "aborted it",
    "rollback": "asked to roll it back",
}


def refusal_line(who: str, action: str, why: str) -> str:
    """The runner's log line for a control request it refused (a watcher recognises its own by it)."""
    return f"{who} asked to {action}: refused, {why}"


def control_refusal(catalog: CatalogLike, record: DeployRecord | None, requester: str) -> str | None:
    """Why ``requester`` may not steer the deploy ``record``, or None when they may: the person who
    started it, or the service's owner in the catalog (the owning user, or a member of the group)."""
    if record is None:
        return "the deploy is not in the history"
    if requester and requester == record.user:
        return None
    try:
        entity = find_service(catalog, record.service)
    except DeployRefused:
        return f"{record.service} is not in this catalog, so only {record.user}, who started it, may steer it"
    if not entity.owner:
        return (
            f"{entity.name} has no owner in the catalog, so only {record.user}, who started it, may steer it"
        )
    owner = parse_entity_ref(entity.owner, default_kind="Group", default_namespace=entity.namespace)
    try:
        if owner.canonical == parse_entity_ref(requester, default_kind="User").canonical:
            return None
    except EntityRefError:
        return f"{requester!r} is not a user name"
    if owner.canonical in (group_memberships(catalog, requester) or set()):
        return None
    team = owner.short.removeprefix("group:")
    return f"{requester} did not start it ({record.user} did) and is not in {team}, which owns {entity.name}"


def runs_elsewhere(context: Any, record: DeployRecord) -> bool:
    """Whether ``record``'s deploy has a live runner somewhere (any account, any host): its lease
    names it and, on this host, that process exists; before it holds the lease, its own process."""
    from backends.deploy.lease import current_holder
    from backends.kube.cluster import ClusterError

    here = socket.gethostname()
    with contextlib.suppress(DeployRefused, ClusterError):
        cluster = context.cluster_for(context.environment(record.environment))
        holder = current_holder(cluster, record.namespace, record.service) or {}
        if holder.get("deploy") == record.id:
            return holder.get("host") != here or process_alive(int(holder.get("pid") or 0))
    return record.host == here and process_alive(record.pid)


class StoreRun(RemoteRun):
    """A deploy running in someone else's runner, watched and steered through the history store."""

    def __init__(
        self,
        history: DeployHistory,
        deploy_id: str,
        requested_by: str,
        *,
        kind: str = "deploy",
        alive: Callable[[], bool] | None = None,
        interval: float = POLL_SECONDS,
    ) -> None:
        super().__init__(deploy_id, None, kind)
        self.history = history
        self.requested_by = requested_by
        self.interval = interval
        self._alive = alive
        self._wake = threading.Event()
        # action → the last event seq in the store when this watcher asked for it: a refusal of it
        # recorded after that seq answers this watcher's request (not an earlier one's).
        self._asked: dict[str, int] = {}
        self.refusal: str | None = None  # the runner's refusal of a request this watcher made

    def events(self) -> Generator[DeployEvent, None, None]:
        """Every recorded event from the start, then new ones as the runner records them, until the
        deploy finishes (or :meth:`detach`). Raises :class:`RunnerError` when its runner is gone."""
        from backends.history.errors import HistoryError

        seq, quiet_since = 0, 0.0
        while not self._detached:
            try:
                batch = self.history.events_after(self.deploy_id, seq)
            except HistoryError:
                batch = []  # the store is away for a moment: keep watching
            for number, event in batch:
                seq = number  # the next poll asks for what came after it
                self._note(event)
                self._check_refusal(number, event)
                yield event
                if isinstance(event, DeployFinished):
                    return
            if batch:
                quiet_since = 0.0
            else:
                quiet_since += self.interval
                if quiet_since >= LIVENESS_SECONDS:
                    quiet_since = 0.0
                    if self._finished_meanwhile():
                        return  # it has its outcome and nothing more to read (e.g. refused at once)
                    if self._alive is not None and not self._alive():
                        raise RunnerError(f"the runner of {self.deploy_id} stopped before the run finished")
            self._wake.wait(self.interval)

    def _finished_meanwhile(self) -> bool:
        record = self.history.get(self.deploy_id)
        return record is not None and record.outcome is not None

    def _check_refusal(self, seq: int, event: DeployEvent) -> None:
        if not isinstance(event, LogLine) or event.level != "warning":
            return
        for action, asked_after in self._asked.items():
            if seq > asked_after and event.message.startswith(refusal_line(self.requested_by, action, "")):
                self.refusal = event.message

    def detach(self) -> None:
        self._detached = True
        self._wake.set()

    def _send(self, command: dict[str, Any]) -> None:
        op = str(command.get("op"))
        action = "promote-full" if op == "promote" and command.get("full") else op
        recorded = self.history.events_after(self.deploy_id, 0)
        self._asked[action] = recorded[-1][0] if recorded else 0
        reason = str(command.get("reason") or "")
        self.history.request_control(self.deploy_id, action, self.requested_by, reason)

    # Through the store, a control says why only when its caller did (not RemoteRun's filler
    # "… by user"): the runner already names who asked.
    def pause(self, reason: str = "") -> None:
        self._send({"op": "pause", "reason": reason})

    def abort(self, reason: str = "") -> None:
        self._send({"op": "abort", "reason": reason})

    def rollback(self, reason: str = "") -> None:
        self._send({"op": "rollback", "reason": reason})


class ControlPoller:
    """In a runner: applies the control requests other accounts and hosts put in the store."""

    def __init__(
        self,
        history: DeployHistory,
        catalog: CatalogLike,
        run: Any,
        *,
        interval: float = POLL_SECONDS,
    ) -> None:
        self.history = history
        self.catalog = catalog
        self.run = run
        self.interval = interval
        self._after: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._also: Callable[[DeployEvent], None] = lambda _event: None
        self._skip_earlier()

    def _skip_earlier(self) -> None:
        """Requests made before this runner started (to an earlier run of the same deploy id, e.g.
        before a resume) are not this run's to apply."""
        from backends.history.errors import HistoryError

        with contextlib.suppress(HistoryError):
            earlier = self.history.controls_after(self.run.deploy_id, 0)
            self._after = earlier[-1].id if earlier else 0

    def start(self, also: Callable[[DeployEvent], None] | None = None) -> None:
        """Poll from now on; ``also`` gets each event this poller records (the runner's socket)."""
        if also is not None:
            self._also = also
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="runner-controls", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def poll(self) -> None:
        """Apply every request that arrived since the last poll (or say why it was refused)."""
        if self._after is None:
            self._skip_earlier()
            if self._after is None:
                return
        for request in self.history.controls_after(self.run.deploy_id, self._after):
            self._after = request.id
            self._handle(request)

    def _loop(self) -> None:
        from backends.history.errors import HistoryError

        while not self._stop.wait(self.interval):
            with contextlib.suppress(HistoryError):
                self.poll()

    def _handle(self, request: ControlRequest) -> None:
        who, action = request.requested_by or "someone", request.action
        if action not in ACTIONS:
            self._say(f"{who} asked for {action!r}: refused, not a control", "warning")
            return
        refusal = control_refusal(self.catalog, self.history.get(self.run.deploy_id), who)
        if refusal:
            self._say(refusal_line(who, action, refusal), "warning")
            return
        self._say(
            f"{who} {ACTIONS[action]}: {request.reason}" if request.reason else f"{who} {ACTIONS[action]}"
        )
        why = f"by {who}"
        if action in ("promote", "promote-full"):
            self.run.promote(full=action == "promote-full")
        elif action == "pause":
            self.run.pause(f"paused {why}")
        elif action == "resume":
            self.run.resume()
        elif action == "abort":
            self.run.abort(f"aborted {why}")
        else:
            self.run.rollback(f"rollback requested {why}")

    def _say(self, message: str, level: str = "info") -> None:
        event = LogLine(self.run.deploy_id, message, level=level)
        self.history.append(event)
        self._also(event)
