"""A fresh database and an upgraded old one end at the same schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from storage.db import open_database
from storage.migrations import MIGRATIONS, current_version, migrate


def schema(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index') "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [(name, " ".join((sql or "").split())) for name, sql in rows]


def test_fresh_and_upgraded_databases_match(tmp_path: Path) -> None:
    fresh = open_database(tmp_path / "fresh.db")
    old = sqlite_utils.Database(sqlite3.connect(tmp_path / "old.db", isolation_level=None))
    assert migrate(old, upto=1) == 1
    old["alliances"].insert({"name": "东部联盟", "created_at": "2026-01-01T00:00:00.000000Z"})
    upgraded = open_database(tmp_path / "old.db")
    latest = MIGRATIONS[-1][0]
    assert current_version(fresh) == current_version(upgraded) == latest
    assert schema(fresh) == schema(upgraded)
    assert "intake_marks" not in dict(schema(upgraded))  # the two-process hand-off is gone
    assert upgraded.execute("SELECT name FROM alliances").fetchall() == [("东部联盟",)]


def test_reopening_is_idempotent_and_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    open_database(path).conn.close()
    db = open_database(path)
    assert current_version(db) == MIGRATIONS[-1][0]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    versions = [row[0] for row in db.execute("SELECT version FROM schema_version")]
    assert versions == [number for number, _, _ in MIGRATIONS]


def test_two_processes_migrating_a_new_database_at_once_both_succeed(tmp_path: Path) -> None:
    """`serve` and a command (e.g. a roster import) open a new database at the same moment:
    whichever migrates second finds the work done instead of failing on "table already
    exists"."""
    path = tmp_path / "bot.db"
    first = sqlite3.connect(path, isolation_level=None, timeout=10)
    second = sqlite3.connect(path, isolation_level=None, timeout=10)
    overtaken: list[int] = []

    def other_process_migrates_first(statement: str) -> None:
        # `first` looked at the schema version, and now asks for the write lock: in this
        # moment `second` migrates everything.
        if statement == "BEGIN IMMEDIATE" and not overtaken:
            overtaken.append(migrate(second))

    first.set_trace_callback(other_process_migrates_first)
    assert migrate(first) == MIGRATIONS[-1][0]
    assert overtaken == [MIGRATIONS[-1][0]]
    versions = [row[0] for row in first.execute("SELECT version FROM schema_version")]
    assert versions == [number for number, _, _ in MIGRATIONS]
