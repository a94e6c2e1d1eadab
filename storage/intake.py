"""The intake files of a two-process `serve`: callbacks' messages on their way to the inbox.

Each intake process writes its own file and nowhere else; the worker process moves the rows
into the inbox of the main database (`InboxRepo.take_over`) and is the only writer there. One
writer per file, so no process ever waits for another's write lock. The files live beside the
main database (`jiaoyan.db` → `jiaoyan.intake.db`, `jiaoyan.intake1.db`, …); rows the worker
took over are pruned after `KEEP_TAKEN_OVER`, which keeps (channel, msgid) duplicates
recognisable for that long (the inbox refuses a repeat that another intake process took).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from bot.messages import Incoming
from storage.db import configured_connection, to_db_time, transaction
from storage.messaging import IntakeRow, insert_new, message_row

KEEP_TAKEN_OVER = timedelta(days=7)

# AUTOINCREMENT: ids are never reused after a prune, so the worker's hand-off mark stays valid.
_SCHEMA = """CREATE TABLE IF NOT EXISTS intake (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    msgid TEXT NOT NULL,
    userid TEXT NOT NULL,
    chat_id TEXT,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (channel, msgid)
)"""


def intake_path(db: Path, shard: int = 0) -> Path:
    """The intake file of intake process `shard`: `jiaoyan.intake.db`, `jiaoyan.intake1.db`…"""
    return db.with_name(f"{db.stem}.intake{shard or ''}{db.suffix or '.db'}")


def intake_shards(db: Path, running: int) -> list[int]:
    """The shards whose intake files the worker reads: those of the `running` intake
    processes, and any file an earlier start with more of them left behind."""
    pattern = re.compile(re.escape(f"{db.stem}.intake") + r"(\d+)" + re.escape(db.suffix or ".db"))
    left = {
        int(match[1])
        for path in db.parent.glob(f"{db.stem}.intake*")
        if (match := pattern.fullmatch(path.name)) and int(match[1]) > 0
    }
    return sorted(left | set(range(running)))


class IntakeFile:
    """One connection to an intake file; its intake process writes, the worker reads."""

    def __init__(self, db: Path, shard: int = 0) -> None:
        """The intake file of intake process `shard` for the main database `db`."""
        self.shard = shard
        self.path = intake_path(db, shard)
        self.conn = configured_connection(self.path)
        self.conn.execute(_SCHEMA)

    def record_many(self, messages: Sequence[Incoming]) -> list[int | None]:
        """Store messages in one commit; per message its id, or None for a repeat delivery."""
        with transaction(self.conn):
            return insert_new(self.conn, "intake", [message_row(m) for m in messages])

    def after(self, intake_id: int, limit: int) -> list[IntakeRow]:
        """Rows recorded after `intake_id`, oldest first."""
        rows = self.conn.execute(
            "SELECT id, channel, msgid, userid, chat_id, payload, received_at FROM intake "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (intake_id, limit),
        ).fetchall()
        return [IntakeRow(int(row[0]), tuple(row[1:])) for row in rows]

    def last_id_ever(self) -> int:
        """The greatest id ever given out (0 for a new file), pruned rows included."""
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'intake'").fetchone()
        return int(row[0]) if row else 0

    def prune(self, taken_over_through: int, now: datetime) -> int:
        """Delete rows the worker took over that are older than `KEEP_TAKEN_OVER`."""
        with transaction(self.conn):
            cursor = self.conn.execute(
                "DELETE FROM intake WHERE id <= ? AND received_at < ?",
                (taken_over_through, to_db_time(now - KEEP_TAKEN_OVER)),
            )
        return cursor.rowcount

    def close(self) -> None:
        self.conn.close()
