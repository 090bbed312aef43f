"""Append-only deploy history in SQLite under the XDG state dir.

Three tables, rows only ever inserted (triggers refuse UPDATE and DELETE, so a bug cannot rewrite
the past): ``deploys`` (one row when a deploy, rollback or scale starts: who, service, env, from → to
version, commit), ``events`` (every engine event as JSON, with its timestamp) and ``outcomes`` (one
row when it ends). A deploy with no outcome row is in progress, or was interrupted — which the
engine tells apart by the cluster's state (see ``DeployEngine.find_interrupted``).

The status area computes DORA metrics from it, hence commit SHA and commit time when known.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from backends import paths
from backends.deploy.events import (
    DeployEvent,
    DeployStarted,
    Outcome,
    Stage,
    StageFinished,
    StageStarted,
    event_from_dict,
    event_to_dict,
)

HISTORY_FILE = "deploy-history.sqlite3"
ROLLBACK_WINDOW_HOURS = 72

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deploys (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,             -- deploy | rollback | scale
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    namespace TEXT NOT NULL,
    deployment TEXT NOT NULL,       -- the stable Deployment's name
    user TEXT NOT NULL,
    from_version TEXT NOT NULL,
    to_version TEXT NOT NULL,
    commit_sha TEXT,
    commit_time REAL,
    started_at REAL NOT NULL,
    pid INTEGER NOT NULL,           -- who runs it, to tell a live deploy from an interrupted one
    host TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deploy_id TEXT NOT NULL REFERENCES deploys(id),
    at REAL NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    deploy_id TEXT PRIMARY KEY REFERENCES deploys(id),
    finished_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    version TEXT NOT NULL,          -- what the stable Deployment runs afterwards
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deploys_by_target ON deploys(service, environment, started_at);
CREATE INDEX IF NOT EXISTS events_by_deploy ON events(deploy_id, seq);
"""
_APPEND_ONLY = "".join(
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'deploy history is append-only'); END;\n"
    for table in ("deploys", "events", "outcomes")
    for verb in ("update", "delete")
)


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


def read_facts(events: Iterable[DeployEvent]) -> DeployFacts:
    """The facts of one deploy from its recorded events (all its runs: first, resumes, aborts)."""
    last_passed, promoting, outcome, reason = -1, False, "", ""
    for event in events:
        if isinstance(event, StageFinished) and event.stage is Stage.ANALYSIS and event.ok:
            last_passed = max(last_passed, event.step if event.step is not None else -1)
        elif isinstance(event, StageStarted) and event.stage is Stage.PROMOTE:
            promoting = True
        elif outcome:
            continue  # the first rollback's outcome and reason are the ones that stand
        elif isinstance(event, StageStarted) and event.stage is Stage.ROLLBACK:
            outcome, reason = event.outcome or str(Outcome.ROLLED_BACK), event.detail
        elif isinstance(event, DeployStarted) and event.kind == "abort":
            outcome, reason = str(Outcome.ABORTED), f"interrupted deploy {event.deploy_id} aborted"
    return DeployFacts(last_passed, promoting, outcome, reason)


@dataclass(frozen=True, slots=True)
class VersionVerdict:
    """What one record proves about one version in its environment: it ran healthy, or it failed."""

    version: str
    healthy: bool
    record: DeployRecord


class DeployHistory:
    """The history file; every method opens its own connection, so any thread may call it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.state_dir() / HISTORY_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Who deployed what, when and why is nobody else's business: 0600 before SQLite opens it,
        # so the -wal and -shm files it creates beside it inherit the mode.
        paths.private_file(self.path)
        # One connection per thread (sqlite3 connections must not cross threads), kept open:
        # opening one per event cost more than the engine's own work per canary step.
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(_SCHEMA + _APPEND_ONLY)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")  # the CLI and the TUI may write at once
            for suffix in ("-wal", "-shm"):  # left wider by an older version: tighten them too
                paths.tighten_file(self.path.with_name(self.path.name + suffix))
            # WAL + NORMAL survives a killed process (what recovery is about); only a power cut
            # may lose the last events, never corrupt the file.
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        with db:
            yield db

    # -- writing ----------------------------------------------------------------------------------
    def start(self, record: DeployRecord) -> None:
        """Record that a deploy/rollback/scale has started."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO deploys (id, kind, service, environment, namespace, deployment, user, "
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
        with self._connect() as db:
            db.execute(
                "INSERT INTO events (deploy_id, at, type, data) VALUES (?, ?, ?, ?)",
                (event.deploy_id, event.at, data["event"], json.dumps(data, default=str)),
            )

    def finish(self, deploy_id: str, outcome: Outcome, version: str, reason: str = "") -> None:
        """Record how it ended (once; a second outcome for the same deploy is refused)."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO outcomes (deploy_id, finished_at, outcome, version, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (deploy_id, time.time(), str(outcome), version, reason),
            )

    # -- reading ----------------------------------------------------------------------------------
    def get(self, deploy_id: str) -> DeployRecord | None:
        rows = self._records("WHERE d.id = ?", (deploy_id,))
        return rows[0] if rows else None

    def records(
        self, service: str | None = None, environment: str | None = None, *, limit: int = 100
    ) -> list[DeployRecord]:
        """Newest first, optionally for one service and/or environment."""
        clauses, params = [], []
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
        with self._connect() as db:
            rows = db.execute("SELECT data FROM events WHERE deploy_id = ? ORDER BY seq", (deploy_id,))
            return [event_from_dict(json.loads(row["data"])) for row in rows]

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

    def _records(self, tail: str, params: tuple) -> list[DeployRecord]:
        query = (
            "SELECT d.*, o.finished_at, o.outcome, o.version, o.reason FROM deploys d "
            "LEFT JOIN outcomes o ON o.deploy_id = d.id " + tail
        )
        with self._connect() as db:
            rows = db.execute(query, params).fetchall()
        return [
            DeployRecord(
                id=row["id"], kind=row["kind"], service=row["service"], environment=row["environment"],
                namespace=row["namespace"], deployment=row["deployment"], user=row["user"],
                from_version=row["from_version"], to_version=row["to_version"], started_at=row["started_at"],
                pid=row["pid"], host=row["host"],
                commit_sha=row["commit_sha"], commit_time=row["commit_time"],
                finished_at=row["finished_at"], outcome=Outcome(row["outcome"]) if row["outcome"] else None,
                version=row["version"], reason=row["reason"] or "",
            )
            for row in rows
        ]  # fmt: skip
