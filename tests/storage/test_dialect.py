"""The portable SQL of the repositories and migrations gives the same answers on SQLite and
PostgreSQL: the DDL forms new migrations may use, ids, text order, conflicts, placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import inserted_id, open_database, transaction
from tests.postgres import INTEGRITY_ERRORS

DDL = [
    """CREATE TABLE IF NOT EXISTS things (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        weight REAL NOT NULL DEFAULT 1.5,
        kind TEXT NOT NULL DEFAULT 'plain' CHECK (kind IN ('plain', 'fancy')),
        parent_id INTEGER REFERENCES things(id)
    )""",
    """CREATE TABLE thing_notes (
        thing_id INTEGER PRIMARY KEY REFERENCES things(id),
        note TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS things_kind ON things(kind, name)",
    "ALTER TABLE things ADD COLUMN big INTEGER NOT NULL DEFAULT 0",
]


def test_new_migration_forms_behave_alike(db_target: Path | str) -> None:
    db = open_database(db_target)
    conn = db.conn
    with transaction(conn):
        for statement in DDL:
            conn.execute(statement)
    insert = (
        "INSERT INTO things (name, big) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING id"
    )
    first = inserted_id(conn.execute(insert, ("b-50%", 2**40)))
    second = inserted_id(conn.execute(insert, ("B-?", 0)))
    assert (first, second) == (1, 2)
    assert inserted_id(conn.execute(insert, ("b-50%", 1))) is None  # already there
    conn.execute("INSERT INTO thing_notes (thing_id, note) VALUES (?, ?)", (2, "有"))

    # Byte order, as SQLite sorts: capitals first, '?' inside a literal is not a placeholder.
    rows = conn.execute(
        "SELECT id, name, weight, kind, big FROM things WHERE name <> 'x?' ORDER BY name"
    ).fetchall()
    assert [tuple(row) for row in rows] == [
        (2, "B-?", 1.5, "plain", 0),
        (1, "b-50%", 1.5, "plain", 2**40),
    ]
    found = conn.execute(
        "SELECT name FROM things WHERE name LIKE '%50%%' AND instr(name, ?) > 0", ("-",)
    ).fetchall()
    assert [row[0] for row in found] == ["b-50%"]
    named = conn.execute("SELECT COUNT(*) FROM things WHERE big >= :least", {"least": 1})
    assert named.fetchone()[0] == 1

    with pytest.raises(INTEGRITY_ERRORS), transaction(conn):
        conn.execute("INSERT INTO things (name, kind) VALUES (?, ?)", ("c", "odd"))
    with pytest.raises(INTEGRITY_ERRORS), transaction(conn):
        conn.execute("INSERT INTO things (name, parent_id) VALUES (?, ?)", ("d", 404))
    assert conn.execute("SELECT COUNT(*) FROM things").fetchone()[0] == 2
    conn.close()
