"""Append-only deploy history, in SQLite (default, under the XDG state dir) or PostgreSQL.

Tables, rows only ever inserted (triggers refuse UPDATE and DELETE, so a bug cannot rewrite the
past): ``deploys`` (one row when a deploy, rollback or scale starts: who, service, env, from → to
version, commit), ``events`` (every engine event as JSON, with its timestamp), ``outcomes`` (one row
when it ends), ``feedback`` (0–10 scores), ``scaffolds`` (entities the scaffolder created) and
``controls`` (promote / pause / abort asked of a running deploy from anywhere). A deploy with no
outcome row is in progress, or was interrupted — which the engine tells apart by the cluster's state
(see ``DeployEngine.find_interrupted``). Schema and migrations: :mod:`backends.history.schema`.

The status area computes DORA metrics from it (``query``), hence commit SHA and commit time.
Which store: ``history:`` in idp-console.yaml, read by :func:`open_history`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends import paths
from backends.deploy.events import (
    DeployEvent,
    DeployStarted,
    LogLine,
    Outcome,
    Stage,
    StageFinished,
    StageStarted,
    event_from_dict,
    event_to_dict,
)
from backends.history.errors import HistoryError, HistoryUnavailable
from backends.history.spool import WriteSpool, recover_spools
from backends.history.store import SqliteStore, Store
from backends.history.url import PASSWORD_SECRET, parse_history_url

HISTORY_FILE = "deploy-history.sqlite3"
SPOOL_DIR = "history-spool"
ROLLBACK_WINDOW_HOURS = 72

if TYPE_CHECKING:
    from backends.secrets import SecretStore
    from backends.workspace import Workspace


@dataclass(frozen=True, slots=True)
class DeployRecord:
    id: str
    kind: str
    service: str
    environment: str
    namespace: str
    deployment: str
    user: str
    from_version: str
    to_version: str
    started_at: float
    pid: int = 0
    host: str = ""
    commit_sha: str | None = None
    commit_time: float | None = None
    finished_at: float | None = None
    outcome: Outcome | None = None
    version: str | None = None  # stable version after it ended
    reason: str = ""

    @property
    def in_progress(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True, slots=True)
class DeployFacts:
    """Where a deploy stands, read from what its history records — never from counters.

    A step counts as passed only once its check (bake, health and analysis) passed; a weight that
    was routed but not yet checked is not progress. Once a rollback (or an abort) has begun, the
    deploy can only end as that rollback: the version it was rolling back from is never promoted.
    """

    last_passed: int = -1  # index of the last step whose check passed, -1 if none
    promoting: bool = False  # the promote had begun: the checks were passed or skipped by a person
    rollback_outcome: str = ""  # rolled-back | aborted once a rollback has begun, else ""
    rollback_reason: str = ""
    # What the registry check said when the deploy (or rollback) started: the reference it pinned
    # the version to, IMAGE_UNCHECKED for --skip-image-check, "" when nothing was recorded.
    image: str = ""
    # The stable's image before the deploy, as its first run recorded it (DeployStarted.from_image):
    # the way back puts that image (its digest) back even after the stable ran another version.
    from_image: str = ""


def read_facts(events: Iterable[DeployEvent]) -> DeployFacts:
    """The facts of one deploy from its recorded events (all its runs: first, resumes, aborts)."""
    last_passed, promoting, outcome, reason, image, from_image = -1, False, "", "", "", ""
    for event in events:
        if isinstance(event, DeployStarted) and event.from_image and not from_image:
            from_image = event.from_image  # a later run's stable may already run the new version
        if isinstance(event, LogLine) and event.image and not image:
            image = event.image  # the first run's check: a resume pins what that one checked
        elif isinstance(event, StageFinished) and event.stage is Stage.ANALYSIS and event.ok:
            last_passed = max(last_passed, event.step if event.step is not None else -1)
        elif isinstance(event, StageStarted) and event.stage is Stage.PROMOTE:
            promoting = True
        elif outcome:
            continue  # the first rollback's outcome and reason are the ones that stand
        elif isinstance(event, StageStarted) and event.stage is Stage.ROLLBACK:
            outcome, reason = event.outcome or str(Outcome.ROLLED_BACK), event.detail
        elif isinstance(event, DeployStarted) and event.kind == "abort":
            outcome, reason = str(Outcome.ABORTED), f"interrupted deploy {event.deploy_id} aborted"
    return DeployFacts(last_passed, promoting, outcome, reason, image, from_image)


@dataclass(frozen=True, slots=True)
class VersionVerdict:
    """What one record proves about one version in its environment: it ran healthy, or it failed."""

    version: str
    healthy: bool
    record: DeployRecord


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """Someone asked a running deploy to promote, pause, resume or abort (from any host)."""

    id: int
    deploy_id: str
    action: str
    requested_by: str
    at: float
    reason: str = ""  # the requester's words ("aborted from the command line"), if any


_RECORD_COLUMNS = (
    'd.id, d.kind, d.service, d.environment, d.namespace, d.deployment, d."user", d.from_version, '
    "d.to_version, d.started_at, d.pid, d.host, d.commit_sha, d.commit_time, "
    "o.finished_at, o.outcome, o.version, o.reason"
)


class DeployHistory:
    """The deploy history in one store; any thread may call it.

    ``DeployHistory()`` is the SQLite file in the state dir, ``DeployHistory(path)`` another file,
    ``DeployHistory(store=...)`` any :class:`~backends.history.store.Store` (PostgreSQL). The
    writes a deploy makes (``start``, ``append``, ``finish``) go through a spool: while the store
    does not answer they wait, in order, in memory and in a local file, and reach it when it is
    back. Everything else (reads, feedback, controls) raises
    :class:`~backends.history.errors.HistoryUnavailable` at once.
    """

    def __init__(self, path: Path | None = None, *, store: Store | None = None) -> None:
        if store is None:
            path = path or paths.state_dir() / HISTORY_FILE
            store = SqliteStore(path)
        self.store = store
        self.path: Path | None = getattr(store, "path", None)
        self.spool = WriteSpool(store.execute, self._spool_dir())
        self._recovered = False
        self._recover()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``: which SQL ``query`` speaks."""
        return self.store.dialect

    @property
    def where(self) -> str:
        """Where the history is, safe to print (a path, or a URL without password)."""
        return self.store.where

    def _spool_dir(self) -> Path:
        # One spool directory per store: leftovers meant for one database never reach another.
        key = hashlib.sha256(self.store.where.encode()).hexdigest()[:12]
        return paths.state_dir() / SPOOL_DIR / key

    def _recover(self) -> None:
        """Write what a crashed process spooled for this store, once, when the store answers."""
        if self._recovered or not self.spool.directory.is_dir():
            self._recovered = True
            return
        try:
            recover_spools(self.store.execute, self.spool.directory)
            self._recovered = True
        except HistoryError:
            pass  # still away: the next ping tries again

    def ping(self) -> None:
        """Raise :class:`~backends.history.errors.HistoryError` with one line unless the store can
        record a deploy now (a deploy that cannot leave its audit trail is refused)."""
        self.store.ping()
        if self.spool.pending and not self.spool.flush():
            raise HistoryUnavailable(f"the history store {self.where} does not take writes yet")
        self._recover()

    def close(self) -> None:
        """Try once more to write what waits (it stays spooled otherwise), then disconnect."""
        self.spool.close()
        self.store.close()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only statement, ``?`` placeholders in both dialects (write ``"user"``
        quoted: it is reserved in PostgreSQL). Time columns are epoch seconds."""
        return self.store.fetch(sql, tuple(params), readonly=True)

    # -- writing ----------------------------------------------------------------------------------
    def start(self, record: DeployRecord) -> None:
        """Record that a deploy/rollback/scale has started (at ``record.started_at``)."""
        self.spool.write(
            'INSERT INTO deploys (id, kind, service, environment, namespace, deployment, "user", '
            "from_version, to_version, commit_sha, commit_time, started_at, pid, host) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id, record.kind, record.service, record.environment, record.namespace,
                record.deployment, record.user, record.from_version, record.to_version,
                record.commit_sha, record.commit_time, record.started_at, record.pid, record.host,
            ),
        )  # fmt: skip

    def append(self, event: DeployEvent) -> None:
        """Record one engine event."""
        data = event_to_dict(event)
        self.spool.write(
            "INSERT INTO events (deploy_id, at, type, data) VALUES (?, ?, ?, ?)",
            (event.deploy_id, event.at, data["event"], json.dumps(data, default=str)),
        )

    def finish(
        self, deploy_id: str, outcome: Outcome, version: str, reason: str = "", at: float | None = None
    ) -> None:
        """Record how it ended (once; a second outcome for the same deploy is refused)."""
        self.spool.write(
            "INSERT INTO outcomes (deploy_id, finished_at, outcome, version, reason) VALUES (?, ?, ?, ?, ?)",
            (deploy_id, time.time() if at is None else at, str(outcome), version, reason),
        )

    def record_feedback(self, user: str, score: int, comment: str = "", at: float | None = None) -> None:
        """A 0–10 satisfaction score (NPS); ValueError outside 0..10."""
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
            raise ValueError(f"a score is a whole number from 0 to 10, got {score!r}")
        self.store.execute(
            'INSERT INTO feedback (at, "user", score, comment) VALUES (?, ?, ?, ?)',
            (time.time() if at is None else at, user, score, comment),
        )

    def record_scaffold(self, entity_ref: str, template: str, user: str, at: float | None = None) -> None:
        """An entity the scaffolder created from ``template`` (for adoption and time-to-first-deploy)."""
        self.store.execute(
            'INSERT INTO scaffolds (entity_ref, template, "user", at) VALUES (?, ?, ?, ?)',
            (entity_ref, template, user, time.time() if at is None else at),
        )

    def request_control(self, deploy_id: str, action: str, requested_by: str, reason: str = "") -> int:
        """Ask a running deploy's runner (on whichever host) to ``action`` it, saying why; returns
        the request's id. Whether the requester may do so is the runner's decision, not the store's."""
        return self.store.insert_id(
            "INSERT INTO controls (deploy_id, action, requested_by, at, reason) VALUES (?, ?, ?, ?, ?)",
            (deploy_id, action, requested_by, time.time(), reason),
            serialized=True,
        )

    # -- reading ----------------------------------------------------------------------------------
    def controls_after(self, deploy_id: str, after_id: int = 0) -> list[ControlRequest]:
        """Control requests for ``deploy_id`` with an id above ``after_id``, oldest first."""
        rows = self.store.fetch(
            "SELECT id, deploy_id, action, requested_by, at, reason FROM controls "
            "WHERE deploy_id = ? AND id > ? ORDER BY id",
            (deploy_id, after_id),
        )
        return [ControlRequest(int(r[0]), r[1], r[2], r[3], float(r[4]), r[5] or "") for r in rows]

    def events_after(self, deploy_id: str, after_seq: int = 0) -> list[tuple[int, DeployEvent]]:
        """``(seq, event)`` of ``deploy_id`` after ``after_seq``, in order: a watcher on another host
        tails a deploy by calling this with the last seq it saw."""
        rows = self.store.fetch(
            "SELECT seq, data FROM events WHERE deploy_id = ? AND seq > ? ORDER BY seq",
            (deploy_id, after_seq),
        )
        return [(int(seq), event_from_dict(json.loads(data))) for seq, data in rows]

    def get(self, deploy_id: str) -> DeployRecord | None:
        rows = self._records("WHERE d.id = ?", (deploy_id,))
        return rows[0] if rows else None

    def records(
        self, service: str | None = None, environment: str | None = None, *, limit: int = 100
    ) -> list[DeployRecord]:
        """Newest first, optionally for one service and/or environment."""
        clauses: list[str] = []
        params: list[Any] = []
        if service:
            clauses.append("d.service = ?")
            params.append(service)
        if environment:
            clauses.append("d.environment = ?")
            params.append(environment)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._records(f"{where} ORDER BY d.started_at DESC LIMIT ?", (*params, limit))

    def unfinished(self, service: str | None = None, environment: str | None = None) -> list[DeployRecord]:
        """Deploys that have started and have no outcome: running now, or interrupted."""
        return [r for r in self.records(service, environment, limit=1000) if r.in_progress]

    def events(self, deploy_id: str) -> list[DeployEvent]:
        """Every recorded event of one deploy, in order."""
        return [event for _seq, event in self.events_after(deploy_id, 0)]

    def facts(self, deploy_id: str) -> DeployFacts:
        """Where a deploy stands (see :class:`DeployFacts`)."""
        return read_facts(self.events(deploy_id))

    def verdicts(self, service: str, environment: str) -> Iterator[VersionVerdict]:
        """Newest first, every healthy / failed proof about a version of ``service`` in ``environment``.

        A successful deploy proves both its versions ran healthy: the one it replaced (until then)
        and the one it installed; a successful rollback proves the version it went back to (not the
        one it left: someone chose to leave it). A deploy rolled back or aborted — or still rolling
        back — proves its version failed, as does a rollback whose version did not roll out.
        Refusals and scaling prove nothing.
        """
        for record in self.records(service, environment, limit=500):
            outcome = record.outcome
            if record.kind == "deploy":
                if outcome is Outcome.SUCCEEDED:
                    yield VersionVerdict(record.to_version, True, record)
                    yield VersionVerdict(record.from_version, True, record)
                elif outcome in (Outcome.ROLLED_BACK, Outcome.ABORTED) or self._rolling_back(record):
                    yield VersionVerdict(record.to_version, False, record)
            elif record.kind == "rollback":
                if outcome is Outcome.SUCCEEDED:
                    yield VersionVerdict(record.to_version, True, record)
                elif outcome is Outcome.FAILED:
                    yield VersionVerdict(record.to_version, False, record)

    def _rolling_back(self, record: DeployRecord) -> bool:
        """Unfinished, and its rollback has begun: its version failed (or was aborted) already."""
        return record.outcome is None and bool(self.facts(record.id).rollback_outcome)

    def failure(self, service: str, environment: str, version: str) -> DeployRecord | None:
        """The record proving ``version`` failed here, unless a newer one proves it healthy."""
        for verdict in self.verdicts(service, environment):
            if verdict.version == version:
                return None if verdict.healthy else verdict.record
        return None

    def rollback_target(
        self,
        service: str,
        environment: str,
        current_version: str,
        *,
        window_hours: float = ROLLBACK_WINDOW_HOURS,
        now: float | None = None,
    ) -> str | None:
        """The last version that finished healthy within the window and is not the current one.

        A version whose newest verdict is a failure is never a way back, however healthy it was
        before.
        """
        since = (now or time.time()) - window_hours * 3600
        judged: set[str] = set()
        for verdict in self.verdicts(service, environment):
            if not verdict.version or verdict.version in judged:
                continue
            judged.add(verdict.version)
            finished_at = verdict.record.finished_at
            if verdict.healthy and verdict.version != current_version and (finished_at or 0) >= since:
                return verdict.version
        return None

    def _records(self, tail: str, params: tuple[Any, ...]) -> list[DeployRecord]:
        rows = self.store.fetch(
            f"SELECT {_RECORD_COLUMNS} FROM deploys d LEFT JOIN outcomes o ON o.deploy_id = d.id {tail}",
            params,
        )
        return [
            DeployRecord(
                id=row[0], kind=row[1], service=row[2], environment=row[3], namespace=row[4],
                deployment=row[5], user=row[6], from_version=row[7], to_version=row[8],
                started_at=float(row[9]), pid=int(row[10]), host=row[11], commit_sha=row[12],
                commit_time=row[13], finished_at=row[14], outcome=Outcome(row[15]) if row[15] else None,
                version=row[16], reason=row[17] or "",
            )
            for row in rows
        ]  # fmt: skip


def open_store(value: str | None, root: Path | None = None, *, secrets: SecretStore | None = None) -> Store:
    """The store a ``history:`` value names (None: the SQLite file in the state dir)."""
    if not value:
        return SqliteStore(paths.state_dir() / HISTORY_FILE)
    target = parse_history_url(value, root)
    if isinstance(target, Path):
        return SqliteStore(target)
    from backends.history.postgres import PostgresStore
    from backends.secrets import default_secret_store

    return PostgresStore(target, (secrets or default_secret_store()).get(PASSWORD_SECRET))


def open_history(workspace: Workspace | None = None, *, secrets: SecretStore | None = None) -> DeployHistory:
    """The history ``workspace`` names with ``history:`` (a PostgreSQL URL or a SQLite path), else
    the SQLite file in the state dir. Never connects to a server here: an unreachable one is an
    error when the history is used (a deploy refuses to start), not when a console opens."""
    value = workspace.raw.get("history") if workspace is not None else None
    root = workspace.root if workspace is not None else None
    return DeployHistory(store=open_store(str(value) if value else None, root, secrets=secrets))
