"""Copy a history into another store (``idp-console history migrate --to URL``): every table, ids
and timestamps kept, in batches; running it again copies nothing twice.

A row is "already there" when the target holds its key with the same content. A surrogate id the
target has used for something else (the PostgreSQL history was written to before the copy) does not
drop the row: it is inserted with a new id. Afterwards PostgreSQL's id sequences are moved past the
copied ids, so the next insert does not collide with one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from backends.history.store import Store


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    key: str  # the primary key column
    columns: tuple[str, ...]  # key first
    surrogate: bool  # the key is a generated id (a clash is another row, not the same one)

    @property
    def select_list(self) -> str:
        return ", ".join(self.columns)


TABLES = (
    Table(
        "deploys",
        "id",
        (
            "id", "kind", "service", "environment", "namespace", "deployment", '"user"', "from_version",
            "to_version", "commit_sha", "commit_time", "started_at", "pid", "host",
        ),
        surrogate=False,
    ),
    Table(
        "outcomes", "deploy_id", ("deploy_id", "finished_at", "outcome", "version", "reason"), surrogate=False
    ),
    Table("events", "seq", ("seq", "deploy_id", "at", "type", "data"), surrogate=True),
    Table("feedback", "id", ("id", "at", '"user"', "score", "comment"), surrogate=True),
    Table("scaffolds", "id", ("id", "entity_ref", "template", '"user"', "at"), surrogate=True),
    Table("controls", "id", ("id", "deploy_id", "action", "requested_by", "at", "reason"), surrogate=True),
    Table(
        "infra_applies", "id",
        (
            "id", "at", '"user"', "environment", "ref", "commit_sha", "outcome", "writes", "cost_before",
            "cost_after", "diff", "costs", "reason",
        ),
        surrogate=True,
    ),
    Table(
        "chat_audit", "id",
        ("id", "at", "slack_user", "user_name", "channel", "command", "outcome"),
        surrogate=True,
    ),
)  # fmt: skip
BATCH = 500

Progress = Callable[[str, int, int], None]  # table, rows looked at, rows in the table


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)
    already: dict[str, int] = field(default_factory=dict)

    @property
    def total_copied(self) -> int:
        return sum(self.copied.values())

    @property
    def total_already(self) -> int:
        return sum(self.already.values())


def copy_history(source: Store, target: Store, progress: Progress | None = None) -> CopyReport:
    """Copy every row of ``source`` that ``target`` lacks; see the module's docstring."""
    target.ping()  # migrated to the latest schema before anything is written
    report = CopyReport()
    for table in TABLES:
        copied, already = _copy_table(source, target, table, progress)
        report.copied[table.name], report.already[table.name] = copied, already
    if target.dialect == "postgresql":
        for table in TABLES:
            if table.surrogate:
                target.fetch(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{table.key}'), "
                    f"GREATEST((SELECT MAX({table.key}) FROM {table.name}), 1))"
                )
    return report


def _source_columns(source: Store, table: Table) -> str:
    # SQLite's `id INTEGER PRIMARY KEY` is its rowid: read as rowid, a scaffolds table created
    # without the id column (by an early scorecard) copies all the same.
    if source.dialect == "sqlite" and table.surrogate:
        return ", ".join(("rowid", *table.columns[1:]))
    return table.select_list


def _copy_table(source: Store, target: Store, table: Table, progress: Progress | None) -> tuple[int, int]:
    total = int(source.fetch(f"SELECT COUNT(*) FROM {table.name}")[0][0])
    key_column = "rowid" if source.dialect == "sqlite" and table.surrogate else table.key
    copied = already = seen = 0
    last: Any = None
    while True:
        where, params = (f"WHERE {key_column} > ?", (last,)) if last is not None else ("", ())
        rows = source.fetch(
            f"SELECT {_source_columns(source, table)} FROM {table.name} {where} "
            f"ORDER BY {key_column} LIMIT {BATCH}",
            params,
        )
        if not rows:
            break
        last = rows[-1][0]
        new, same = _write_batch(target, table, rows)
        copied, already, seen = copied + new, already + same, seen + len(rows)
        if progress is not None:
            progress(table.name, seen, total)
    if progress is not None and total == 0:
        progress(table.name, 0, 0)
    return copied, already


def _write_batch(target: Store, table: Table, rows: Sequence[tuple[Any, ...]]) -> tuple[int, int]:
    marks = ", ".join("?" for _ in rows)
    existing = {
        row[0]: tuple(row[1:])
        for row in target.fetch(
            f"SELECT {table.select_list} FROM {table.name} WHERE {table.key} IN ({marks})",
            [row[0] for row in rows],
        )
    }
    keep, renumber, same = [], [], 0
    for row in rows:
        there = existing.get(row[0])
        if there is None:
            keep.append(row)
        elif there == tuple(row[1:]) or not table.surrogate:
            same += 1  # copied before (or, for a natural key, the target's own record of it)
        elif _holds_elsewhere(target, table, row[1:]):
            same += 1  # copied before under a new id (its own was taken)
        else:
            renumber.append(row[1:])
    placeholders = ", ".join("?" for _ in table.columns)
    if keep:
        target.executemany(f"INSERT INTO {table.name} ({table.select_list}) VALUES ({placeholders})", keep)
    if renumber:
        columns = ", ".join(table.columns[1:])
        target.executemany(
            f"INSERT INTO {table.name} ({columns}) VALUES ({', '.join('?' for _ in table.columns[1:])})",
            renumber,
        )
    return len(keep) + len(renumber), same


def _holds_elsewhere(target: Store, table: Table, content: Sequence[Any]) -> bool:
    # NULL-safe equality: chat_audit's user_name is NULL for a Slack user with no catalog User.
    same = "IS" if target.dialect == "sqlite" else "IS NOT DISTINCT FROM"
    condition = " AND ".join(f"{column} {same} ?" for column in table.columns[1:])
    return bool(target.fetch(f"SELECT 1 FROM {table.name} WHERE {condition} LIMIT 1", list(content)))
