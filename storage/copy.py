"""Copy a SQLite database into an empty PostgreSQL database (`jiaoyan-bot db copy`).

The target is migrated first, so both hold the same schema; then every table is copied in
foreign-key order, in batches, inside one transaction (a failed copy leaves the target
empty); identity sequences continue after the copied ids; row counts are compared per table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.db import connect, transaction
from storage.migrations import migrate
from storage.postgres import PgConnection

BATCH = 1000
# Each side records its own migrations, and its triggers log the copied rows as changes.
_BOOKKEEPING = ("schema_version", "schedule_changes")


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int


class CopyError(Exception):
    """The copy cannot start or did not arrive whole; the message is for the operator."""


def copy_to_postgres(source: Path, url: str) -> list[TableCount]:
    """Copy the SQLite file `source` into the empty PostgreSQL database at `url`."""
    if not source.is_file():
        raise CopyError(f"找不到 SQLite 数据库文件 {source}。")
    reader = connect(source)
    writer = PgConnection(url)
    try:
        migrate(writer)
        tables = _tables_in_fk_order(reader)
        _require_empty(writer, tables)
        with transaction(writer):
            for table in tables:
                _copy_table(reader, writer, table)
            writer.reset_identities()
        return [TableCount(table, _count(reader, table), _count(writer, table)) for table in tables]
    finally:
        reader.close()
        writer.close()


def _tables_in_fk_order(conn: sqlite3.Connection) -> list[str]:
    """Every table, each after the tables it references."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if row[0] not in _BOOKKEEPING
    ]
    needs = {
        name: {str(fk[2]) for fk in conn.execute(f"PRAGMA foreign_key_list({name})")} - {name}
        for name in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and needs[n] <= set(ordered)]
        if not ready:  # a cycle between tables: no order can satisfy it row by row
            raise CopyError("表之间的外键成环，无法按顺序复制。")
        ordered.extend(ready)
    return ordered


def _require_empty(conn: PgConnection, tables: list[str]) -> None:
    for table in tables:
        rows = _count(conn, table)
        if rows:
            raise CopyError(
                f"目标数据库不是空的（表 {table} 已有 {rows} 行）。"
                "db copy 只复制到新建的空库，以免覆盖数据：请新建一个数据库再试。"
            )


def _copy_table(reader: sqlite3.Connection, writer: PgConnection, table: str) -> None:
    columns = [str(row[1]) for row in reader.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    # Rows in insertion order, so a row referencing an earlier row of its table (an
    # alliance's parent) arrives after it.
    cursor = reader.execute(f"SELECT {names} FROM {table} ORDER BY rowid")
    while batch := cursor.fetchmany(BATCH):
        writer.executemany(insert, batch)


def _count(conn: sqlite3.Connection | PgConnection, table: str) -> int:
    row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])
