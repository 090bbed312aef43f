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
V3_TABLES = ("changes",)
V4_TABLES = ("infra_applies",)
V6_TABLES = ("follows",)
V7_TABLES = ("chat_audit",)
# Every table the history holds, in an order that satisfies the foreign keys (for copying). Not
# ``changes`` nor ``follows``: the database derives them from ``outcomes`` (versions 3 and 6), a
# copy fills them by itself.
TABLES = (
    "deploys", "outcomes", "events", "feedback", "scaffolds", "controls", "infra_applies", "chat_audit",
)  # fmt: skip

# Version 3: ``changes``, the scorecard's view of the history kept as a table — one row per finished
# deploy or rollback that changed something (succeeded, rolled back, aborted), written by the
# database itself when the outcome arrives (a trigger: no writer can forget it, a late outcome
# lands in its place), backfilled by the migration. It holds what the DORA figures read, in the
# order they read it (environment, service, start), so the scorecard reads one range of one index
# instead of joining 100k deploys to their outcomes and sorting them. Which deploy a rollback or
# fix-forward blames is not stored: it depends on what follows, so the scorecard derives it when
# it reads (backends/metrics/queries.py).
_CHANGE_COLUMNS = (
    "environment, service, started_at, deploy_id, kind, to_version, commit_time, finished_at, outcome"
)
_CHANGE_SELECT = (
    "SELECT d.environment, d.service, d.started_at, d.id, d.kind, d.to_version, d.commit_time, "
    "o.finished_at, o.outcome FROM deploys d JOIN outcomes o ON o.deploy_id = d.id"
)
_CHANGE_KINDS = "('deploy', 'rollback')"
_CHANGE_OUTCOMES = "('succeeded', 'rolled-back', 'aborted')"


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

_SQLITE_V3 = [
    # WITHOUT ROWID: the table is its primary key's b-tree, so rows are stored in reading order.
    """CREATE TABLE changes (
        environment TEXT NOT NULL,
        service TEXT NOT NULL,
        started_at REAL NOT NULL,
        deploy_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        to_version TEXT NOT NULL,
        commit_time REAL,
        finished_at REAL NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (environment, service, started_at, deploy_id)
    ) WITHOUT ROWID""",
    # What shipped in the window, its lead times and its newest deploys (the drill-down), from
    # this index alone (it holds the primary key's columns too).
    "CREATE INDEX changes_by_finish ON changes(environment, finished_at, kind, outcome, commit_time)",
    f"""INSERT INTO changes ({_CHANGE_COLUMNS}) {_CHANGE_SELECT}
        WHERE d.kind IN {_CHANGE_KINDS} AND o.outcome IN {_CHANGE_OUTCOMES}""",
    f"""CREATE TRIGGER outcomes_make_change AFTER INSERT ON outcomes
        WHEN NEW.outcome IN {_CHANGE_OUTCOMES}
        BEGIN
            INSERT INTO changes ({_CHANGE_COLUMNS}) {_CHANGE_SELECT}
                WHERE o.deploy_id = NEW.deploy_id AND d.kind IN {_CHANGE_KINDS};
        END""",
    # Who deployed in the window (teams deploying) from the index alone; is this the demo's history.
    "CREATE INDEX deploys_by_kind ON deploys(kind, service, started_at)",
    "CREATE INDEX deploys_by_host ON deploys(host)",
    *_sqlite_append_only(V3_TABLES),
]

_POSTGRES_V3 = [
    """CREATE TABLE changes (
        environment TEXT NOT NULL,
        service TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        deploy_id TEXT NOT NULL PRIMARY KEY REFERENCES deploys(id),
        kind TEXT NOT NULL,
        to_version TEXT NOT NULL,
        commit_time DOUBLE PRECISION,
        finished_at DOUBLE PRECISION NOT NULL,
        outcome TEXT NOT NULL
    )""",
    # Newest first within a service: the order the scorecard's windows read (an index-only scan,
    # no sort; see backends/metrics/queries.py).
    """CREATE INDEX changes_in_order ON changes
        (environment, service, started_at DESC, deploy_id DESC)
        INCLUDE (kind, to_version, commit_time, finished_at, outcome)""",
    """CREATE INDEX changes_by_finish ON changes(environment, finished_at)
        INCLUDE (kind, outcome, commit_time, service, started_at, deploy_id)""",
    f"""INSERT INTO changes ({_CHANGE_COLUMNS}) {_CHANGE_SELECT}
        WHERE d.kind IN {_CHANGE_KINDS} AND o.outcome IN {_CHANGE_OUTCOMES}""",
    f"""CREATE OR REPLACE FUNCTION idp_history_make_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO changes ({_CHANGE_COLUMNS}) {_CHANGE_SELECT}
            WHERE o.deploy_id = NEW.deploy_id AND d.kind IN {_CHANGE_KINDS};
        RETURN NULL;
    END
    $$""",
    f"""CREATE TRIGGER outcomes_make_change AFTER INSERT ON outcomes FOR EACH ROW
        WHEN (NEW.outcome IN {_CHANGE_OUTCOMES}) EXECUTE FUNCTION idp_history_make_change()""",
    "CREATE INDEX deploys_by_kind ON deploys(kind, service, started_at)",
    "CREATE INDEX deploys_by_host ON deploys(host)",
    *_postgres_append_only(V3_TABLES),
]

# Version 4: ``infra_applies``, one row per ``idp-console infra apply`` (backends/infra/history.py):
# who applied which commit of the infra repository to which environment, the diff and the cost.
_SQLITE_V4 = [
    """CREATE TABLE infra_applies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        "user" TEXT NOT NULL,
        environment TEXT NOT NULL,
        ref TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        outcome TEXT NOT NULL,          -- applied | refused | failed
        writes INTEGER NOT NULL,
        cost_before REAL NOT NULL,
        cost_after REAL NOT NULL,
        diff TEXT NOT NULL,             -- JSON: the objects created, changed, deleted
        costs TEXT NOT NULL,            -- JSON: monthly cost per service after the apply
        reason TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX infra_applies_by_environment ON infra_applies(environment, id)",
    *_sqlite_append_only(V4_TABLES),
]

_POSTGRES_V4 = [
    """CREATE TABLE infra_applies (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        "user" TEXT NOT NULL,
        environment TEXT NOT NULL,
        ref TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        outcome TEXT NOT NULL,
        writes INTEGER NOT NULL,
        cost_before DOUBLE PRECISION NOT NULL,
        cost_after DOUBLE PRECISION NOT NULL,
        diff TEXT NOT NULL,
        costs TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX infra_applies_by_environment ON infra_applies(environment, id)",
    *_postgres_append_only(V4_TABLES),
]

# Version 5: a control request carries the requester's reason (``deploy --abort`` says "aborted
# from the command line"), for the runner's log line. Existing rows read as no reason given.
_V5 = ["ALTER TABLE controls ADD COLUMN reason TEXT NOT NULL DEFAULT ''"]

# Version 6: ``follows``, which change followed which (issue 12: the scorecard judged every
# production change of its range in one window pass, most of its time). When a change arrives
# the database appends a row for the change just before it in its service and environment ("the
# new one follows it") and, for a late outcome, one for the change just after it. A change's next
# change is then the earliest of its rows: a late outcome that lands in between adds an earlier
# row, nothing is rewritten. Each row says whether the follower blames the change before it — a
# rollback, or a fix-forward (a version differing only in its trailing number) that started
# within 24 h of its end (FIX_FORWARD_HOURS in backends/metrics/queries.py: changing it needs a
# migration) — so the scorecard reads the few blaming rows through a partial index instead of
# every change. Backfilled from ``changes`` by the migration.
_FOLLOW_COLUMNS = (
    "environment, service, started_at, deploy_id, next_started, next_id, blamed, finished_at, outcome"
)
_FOLLOW_SECONDS = 24 * 3600


def _blames(prev: str, nxt: str | tuple[str, str, str]) -> str:
    """1 when the change ``nxt`` (a row alias, NEW, or its (started, kind, version) columns)
    blames ``prev``, the change just before it: the scorecard's follow-up rule."""
    started, kind, version = (
        nxt if isinstance(nxt, tuple) else (f"{nxt}.started_at", f"{nxt}.kind", f"{nxt}.to_version")
    )
    trim = "'0123456789'"
    return (
        f"CASE WHEN {prev}.kind = 'deploy' AND {started} <= {prev}.finished_at + {_FOLLOW_SECONDS} "
        f"AND ({kind} = 'rollback' OR {version} = '' OR ({version} <> {prev}.to_version "
        f"AND rtrim({version}, {trim}) = rtrim({prev}.to_version, {trim}))) THEN 1 ELSE 0 END"
    )


def _before(row: str, other: str) -> str:
    """``row`` comes before ``other`` in their service (start, then id: the scorecard's order)."""
    return (
        f"{row}.environment = {other}.environment AND {row}.service = {other}.service "
        f"AND {row}.started_at <= {other}.started_at "
        f"AND ({row}.started_at < {other}.started_at OR {row}.deploy_id < {other}.deploy_id)"
    )


# The rows one new change (NEW) adds: the change before it is followed by it, it is followed by
# the change after it (only when its outcome arrived late).
_FOLLOW_INSERTS = [
    f"""INSERT INTO follows ({_FOLLOW_COLUMNS})
        SELECT p.environment, p.service, p.started_at, p.deploy_id, NEW.started_at, NEW.deploy_id,
            {_blames("p", "NEW")}, p.finished_at, p.outcome
        FROM changes p WHERE {_before("p", "NEW")}
        ORDER BY p.started_at DESC, p.deploy_id DESC LIMIT 1""",
    f"""INSERT INTO follows ({_FOLLOW_COLUMNS})
        SELECT NEW.environment, NEW.service, NEW.started_at, NEW.deploy_id, s.started_at, s.deploy_id,
            {_blames("NEW", "s")}, NEW.finished_at, NEW.outcome
        FROM changes s WHERE {_before("NEW", "s")}
        ORDER BY s.started_at, s.deploy_id LIMIT 1""",
]
_FOLLOW_BACKFILL = f"""INSERT INTO follows ({_FOLLOW_COLUMNS})
    SELECT environment, service, started_at, deploy_id, s_started, s_id,
        {_blames("c", ("s_started", "s_kind", "s_version"))}, finished_at, outcome
    FROM (SELECT c.*, LEAD(started_at) OVER w AS s_started, LEAD(deploy_id) OVER w AS s_id,
            LEAD(kind) OVER w AS s_kind, LEAD(to_version) OVER w AS s_version
        FROM changes c
        WINDOW w AS (PARTITION BY environment, service ORDER BY started_at, deploy_id)) c
    WHERE s_id IS NOT NULL"""
# A change's rows, earliest follower first (is a blaming row the earliest?); the blaming rows by
# the end of the change they blame (the scorecard's range).
_FOLLOW_INDEXES = [
    "CREATE INDEX follows_in_order ON follows "
    "(environment, service, started_at, deploy_id, next_started, next_id)",
]

_SQLITE_V6 = [
    """CREATE TABLE follows (
        environment TEXT NOT NULL,
        service TEXT NOT NULL,
        started_at REAL NOT NULL,       -- the change followed (changes' key)
        deploy_id TEXT NOT NULL,
        next_started REAL NOT NULL,     -- the change that followed it
        next_id TEXT NOT NULL,
        blamed INTEGER NOT NULL,        -- 1: the follower is a rollback or fix-forward within 24 h
        finished_at REAL NOT NULL,      -- the followed change's end and outcome
        outcome TEXT NOT NULL
    )""",
    *_FOLLOW_INDEXES,
    """CREATE INDEX follows_blamed ON follows
        (environment, finished_at, outcome, service, started_at, deploy_id, next_started, next_id, blamed)
        WHERE blamed = 1""",
    _FOLLOW_BACKFILL,
    f"""CREATE TRIGGER changes_make_follows AFTER INSERT ON changes
        BEGIN
            {_FOLLOW_INSERTS[0]};
            {_FOLLOW_INSERTS[1]};
        END""",
    # A succeeded change that ended before it started (clocks of two hosts apart) is found apart:
    # the scorecard's recovery bounds its search by start times (backends/metrics/queries.py).
    """CREATE INDEX changes_ended_early ON changes(environment, service, started_at, deploy_id, finished_at)
        WHERE finished_at < started_at AND outcome = 'succeeded'""",
    *_sqlite_append_only(V6_TABLES),
]

_POSTGRES_V6 = [
    """CREATE TABLE follows (
        environment TEXT NOT NULL,
        service TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        next_started DOUBLE PRECISION NOT NULL,
        next_id TEXT NOT NULL,
        blamed INTEGER NOT NULL,
        finished_at DOUBLE PRECISION NOT NULL,
        outcome TEXT NOT NULL
    )""",
    *_FOLLOW_INDEXES,
    """CREATE INDEX follows_blamed ON follows (environment, finished_at)
        INCLUDE (outcome, service, started_at, deploy_id, next_started, next_id) WHERE blamed = 1""",
    _FOLLOW_BACKFILL,
    f"""CREATE OR REPLACE FUNCTION idp_history_make_follows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {_FOLLOW_INSERTS[0]};
        {_FOLLOW_INSERTS[1]};
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER changes_make_follows AFTER INSERT ON changes FOR EACH ROW
        EXECUTE FUNCTION idp_history_make_follows()""",
    """CREATE INDEX changes_ended_early ON changes(environment, service, started_at, deploy_id, finished_at)
        WHERE finished_at < started_at AND outcome = 'succeeded'""",
    *_postgres_append_only(V6_TABLES),
]

# Version 7: ``chat_audit``, every chat action (backends/chatops/audit.py): who (the Slack id and
# the catalog User it maps to, NULL when unknown), where, what and how it ended. Servers before this
# version created the table themselves on first use, so both dialects adopt one that exists (its
# rows kept) and add what it lacked: on PostgreSQL, the append-only triggers.
_CHAT_AUDIT = """CREATE TABLE IF NOT EXISTS chat_audit (
        id {id} PRIMARY KEY,
        at {real} NOT NULL,
        slack_user TEXT NOT NULL,
        user_name TEXT,                 -- the catalog User; NULL: the Slack user maps to none
        channel TEXT NOT NULL,
        command TEXT NOT NULL,
        outcome TEXT NOT NULL
    )"""
_SQLITE_V7 = [
    _CHAT_AUDIT.format(id="INTEGER", real="REAL").replace("PRIMARY KEY", "PRIMARY KEY AUTOINCREMENT"),
    *_sqlite_append_only(V7_TABLES),
]
_POSTGRES_V7 = [
    _CHAT_AUDIT.format(id="BIGSERIAL", real="DOUBLE PRECISION"),
    *_postgres_append_only(V7_TABLES),
]

# Version 8: the production deploys that carry a commit time, in order of their lead time
# (issue 12: the scorecard's median lead time sorted every one of them in the window; SQLite
# now walks this index to the middle, PostgreSQL sorts what it reads from it alone). An index
# adds no row: the tables stay append-only. SQLite covers the query only when the filtered
# columns are in the index, hence kind and outcome.
_LEADS_WHERE = "WHERE kind = 'deploy' AND outcome = 'succeeded' AND commit_time IS NOT NULL"
_SQLITE_V8 = [
    "CREATE INDEX changes_by_lead ON changes (environment, finished_at - commit_time, "
    f"finished_at, started_at, commit_time, kind, outcome) {_LEADS_WHERE}",
]
_POSTGRES_V8 = [
    "CREATE INDEX changes_by_lead ON changes (environment, (finished_at - commit_time)) "
    f"INCLUDE (finished_at, started_at, commit_time, service) {_LEADS_WHERE}",
]

# Version 9: the production deploys that shipped, by end (issue 12: the scorecard's weekly counts
# read them without testing every change's kind and outcome; a deploy that did not ship is one of
# the failed ones, which the scorecard has at hand). SQLite holds kind and outcome to cover it.
_SHIPPED_WHERE = "WHERE kind = 'deploy' AND outcome = 'succeeded'"
_SQLITE_V9 = [
    "CREATE INDEX changes_shipped ON changes "
    f"(environment, finished_at, started_at, commit_time, kind, outcome) {_SHIPPED_WHERE}",
]
_POSTGRES_V9 = [
    "CREATE INDEX changes_shipped ON changes (environment, finished_at) "
    f"INCLUDE (started_at, commit_time, service, deploy_id) {_SHIPPED_WHERE}",
]

# version → statements, per dialect. Append a version; never edit one that has shipped.
MIGRATIONS: dict[str, dict[int, list[str]]] = {
    "sqlite": {
        1: _SQLITE_V1,
        2: _SQLITE_V2,
        3: _SQLITE_V3,
        4: _SQLITE_V4,
        5: _V5,
        6: _SQLITE_V6,
        7: _SQLITE_V7,
        8: _SQLITE_V8,
        9: _SQLITE_V9,
    },
    "postgresql": {
        1: _POSTGRES_V1,
        2: _POSTGRES_V2,
        3: _POSTGRES_V3,
        4: _POSTGRES_V4,
        5: _V5,
        6: _POSTGRES_V6,
        7: _POSTGRES_V7,
        8: _POSTGRES_V8,
        9: _POSTGRES_V9,
    },
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
