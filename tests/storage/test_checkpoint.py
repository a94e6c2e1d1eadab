"""The WAL checkpointer: the loop's connection never syncs the disk inside a commit, and the
WAL does not keep what a burst made it grow to."""

from __future__ import annotations

import asyncio
from pathlib import Path

from storage.checkpoint import SQLITE_DEFAULT_AUTOCHECKPOINT, WalCheckpointer
from storage.db import open_database


def wal_pages(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size // 4096 if wal.exists() else 0


def autocheckpoint(conn: object) -> int:
    return int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])  # type: ignore[attr-defined]


async def test_while_running_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = open_database(path)
    checkpointer = WalCheckpointer(db.conn, path, interval=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(checkpointer.run(stop))
    await asyncio.sleep(0)  # the service has started and taken over
    assert autocheckpoint(db.conn) == 0

    db.conn.execute("CREATE TABLE t (body TEXT)")
    for i in range(1_500):  # well past SQLite's own 1,000-page threshold
        db.conn.execute("INSERT INTO t VALUES (?)", ("教研" * 800 + str(i),))
    assert wal_pages(path) > SQLITE_DEFAULT_AUTOCHECKPOINT  # nobody checkpointed in a commit

    in_wal, copied = await asyncio.to_thread(checkpointer.checkpoint)
    assert in_wal > SQLITE_DEFAULT_AUTOCHECKPOINT and copied == in_wal

    stop.set()
    await task
    assert autocheckpoint(db.conn) == SQLITE_DEFAULT_AUTOCHECKPOINT  # handed back
    other = open_database(path)
    assert other.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1_500


def fill(conn: object, rows: int) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (body TEXT)")  # type: ignore[attr-defined]
    for i in range(rows):
        conn.execute("INSERT INTO t VALUES (?)", ("教研" * 800 + str(i),))  # type: ignore[attr-defined]


def test_a_wal_past_its_limit_is_emptied(tmp_path: Path) -> None:
    """Under sustained load a commit lands during every PASSIVE checkpoint and the WAL only
    grows; past `truncate_above` pages the checkpointer empties it."""
    path = tmp_path / "bot.db"
    db = open_database(path)
    db.conn.execute("PRAGMA wal_autocheckpoint = 0")  # as while `run` runs: we checkpoint
    fill(db.conn, 600)
    assert WalCheckpointer(db.conn, path, truncate_above=5_000).checkpoint()[0] > 600
    assert wal_pages(path) > 600  # under its limit: copied back, the file kept for reuse
    fill(db.conn, 600)
    assert WalCheckpointer(db.conn, path, truncate_above=500).checkpoint()[0] > 500
    assert wal_pages(path) == 0  # emptied: nothing left to grow from
    assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1_200
