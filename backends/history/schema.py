"""The history's schema, as numbered migrations for each dialect (SQLite, PostgreSQL).

Both dialects hold the same tables and columns; only types differ (epoch seconds are REAL in SQLite,
``double precision`` in PostgreSQL — its ``real`` is 4 bytes and would round a timestamp to minutes).
Every table refuses UPDATE and DELETE (and PostgreSQL also TRUNCATE), so no bug and no hand-typed
statement can rewrite the past. ``schema_version`` holds one row per applied migration; a database
whose highest version is above :data:`LATEST` was written by a newer idp-console and is refused.

Version 1 is the schema idp-console had before migrations existed; its SQLite statements say
``IF NOT EXISTS`` so a history file from then is adopted as version 1 without touching its rows.
"""

from __future__ import annotations

APPEND_ONLY_MESSAGE = "deploy history is append-only"

V1_TABLES = ("deploys", "events", "outcomes")
V2_TABLES = ("feedback", "scaffolds", "controls")
# Every table the history holds, in an order that satisfies the foreign keys (for copying).
TABLES = ("deploys", "outcomes", "events", "feedback", "scaffolds", "controls")


def _sqlite_append_only(tables: tuple[str, ...]) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
        for table in tables
        for verb in ("update", "delete")
    ]


def _postgres_append_only(tables: tuple[str, ...]) -> list[str]:
    statements = []
    for table in tables:
        statements.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION idp_history_append_only()"
        )
        statements.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION idp_history_append_only()"
        )
    return statements


_SQLITE_V1 = [
    """CREATE TABLE IF NOT EXISTS deploys (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,             -- deploy | rollback | scale
        service TEXT NOT NULL,
        environment TEXT NOT NULL,
        namespace TEXT NOT NULL,
        deployment TEXT NOT NULL,       -- the stable Deployment's name
        "user" TEXT NOT NULL,
        from_version TEXT NOT NULL,
        to_version TEXT NOT NULL,
        commit_sha TEXT,
        commit_time REAL,
        started_at REAL NOT NULL,
        pid INTEGER NOT NULL,           -- who runs it, to tell a live deploy from an interrupted one
        host TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        at REAL NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS outcomes (
        deploy_id TEXT PRIMARY KEY REFERENCES deploys(id),
        finished_at REAL NOT NULL,
        outcome TEXT NOT NULL,
        version TEXT NOT NULL,          -- what the stable Deployment runs afterwards
        reason TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS deploys_by_target ON deploys(service, environment, started_at)",
    "CREATE INDEX IF NOT EXISTS events_by_deploy ON events(deploy_id, seq)",
    *_sqlite_append_only(V1_TABLES),
]

_SQLITE_V2 = [
    """CREATE TABLE IF NOT EXISTS feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        "user" TEXT NOT NULL,
        score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
        comment TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS scaffolds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity_ref TEXT NOT NULL,
        template TEXT NOT NULL,
        "user" TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS controls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        deploy_id TEXT NOT NULL,
        action TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS controls_by_deploy ON controls(deploy_id, id)",
    "CREATE INDEX IF NOT EXISTS outcomes_by_time ON outcomes(finished_at)",
    *_sqlite_append_only(V2_TABLES),
]

_POSTGRES_V1 = [
    """CREATE OR REPLACE FUNCTION idp_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'deploy history is append-only';
    END
    $$""",
    """CREATE TABLE deploys (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        service TEXT NOT NULL,
        environment TEXT NOT NULL,
        namespace TEXT NOT NULL,
        deployment TEXT NOT NULL,
        "user" TEXT NOT NULL,
        from_version TEXT NOT NULL,
        to_version TEXT NOT NULL,
        commit_sha TEXT,
        commit_time DOUBLE PRECISION,
        started_at DOUBLE PRECISION NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL
    )""",
    """CREATE TABLE events (
        seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        at DOUBLE PRECISION NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
    """CREATE TABLE outcomes (
        deploy_id TEXT PRIMARY KEY REFERENCES deploys(id),
        finished_at DOUBLE PRECISION NOT NULL,
        outcome TEXT NOT NULL,
        version TEXT NOT NULL,
        reason TEXT NOT NULL
    )""",
    "CREATE INDEX deploys_by_target ON deploys(service, environment, started_at)",
    "CREATE INDEX events_by_deploy ON events(deploy_id, seq)",
    *_postgres_append_only(V1_TABLES),
]

_POSTGRES_V2 = [
    """CREATE TABLE feedback (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        "user" TEXT NOT NULL,
        score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
        comment TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE scaffolds (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        entity_ref TEXT NOT NULL,
        template TEXT NOT NULL,
        "user" TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE controls (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        deploy_id TEXT NOT NULL,
        action TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX controls_by_deploy ON controls(deploy_id, id)",
    "CREATE INDEX outcomes_by_time ON outcomes(finished_at)",
    *_postgres_append_only(V2_TABLES),
]

# version → statements, per dialect. Append a version; never edit one that has shipped.
MIGRATIONS: dict[str, dict[int, list[str]]] = {
    "sqlite": {1: _SQLITE_V1, 2: _SQLITE_V2},
    "postgresql": {1: _POSTGRES_V1, 2: _POSTGRES_V2},
}
LATEST = max(MIGRATIONS["sqlite"])
assert max(MIGRATIONS["postgresql"]) == LATEST, "both dialects must reach the same version"

SCHEMA_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at {real} NOT NULL)"
)


def newer_schema_message(where: str, found: int) -> str:
    return (
        f"the history at {where} has schema version {found}, newer than this idp-console's "
        f"{LATEST}: upgrade idp-console (nothing was changed)"
    )
