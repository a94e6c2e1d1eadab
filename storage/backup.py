"""A consistent copy of a live SQLite database, taken while `serve` keeps writing.

Copying `data/` by hand is not a backup of a WAL database: the `.db` file alone misses what
is still in `-wal`, and files copied one after another can disagree. The copy here goes
through SQLite's online backup API (`sqlite3.Connection.backup`) in a single step: it reads
inside one read transaction, so it sees one committed state, while in WAL mode writers go on
without waiting. We chose it over `VACUUM INTO` because it copies pages as they are instead
of rebuilding every table and index, so the read transaction (and the WAL growing behind
it) lasts as short as possible on a large database.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.db import configured_connection

# What the report of a backup counts, so an operator sees the copy holds their data.
COUNTED_TABLES = ("members", "activities", "signins", "reflections")


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    counts: dict[str, int]


class BackupError(Exception):
    """The backup could not be made; the message is for the operator (Chinese)."""


def backup_sqlite(source: Path, target: Path) -> BackupResult:
    """Copy the database at `source` into `target` (replaced atomically if it exists).

    The copy is written beside `target` under a temporary name, checked, then renamed, so
    `target` is never a half-written file.
    """
    if not source.is_file():
        raise BackupError(f"找不到数据库文件 {source}")
    if target.resolve() == source.resolve():
        raise BackupError("备份文件不能和数据库是同一个文件")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    live = configured_connection(source)
    try:
        copy = sqlite3.connect(str(partial), isolation_level=None)
        try:
            live.backup(copy)  # pages=-1: the whole file in one step, one read transaction
            # A self-contained file: no -wal beside it to lose when it is moved.
            copy.execute("PRAGMA journal_mode = DELETE")
            problem = copy.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise BackupError(f"备份文件校验未通过：{problem}")
            counts = {
                table: int(copy.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in COUNTED_TABLES
                if _has_table(copy, table)
            }
        finally:
            copy.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        live.close()
    os.replace(partial, target)
    return BackupResult(path=target, size=target.stat().st_size, counts=counts)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None
