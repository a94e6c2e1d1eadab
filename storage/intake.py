"""The intake file of a two-process `serve`: callbacks' messages on their way to the inbox.

The intake process writes here and nowhere else; the worker process moves the rows into the
inbox of the main database (`InboxRepo.take_over`) and is the only writer there. Two files,
so neither process ever waits for the other's write lock. The file lives beside the main
database (`jiaoyan.db` → `jiaoyan.intake.db`); rows the worker took over are pruned after
`KEEP_TAKEN_OVER`, which keeps (channel, msgid) duplicates recognisable for that long.
"""

from __future__ import annotations

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


def intake_path(db: Path) -> Path:
    return db.with_name(f"{db.stem}.intake{db.suffix or '.db'}")


class IntakeFile:
    """One connection to the intake file; the intake process writes, the worker reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = configured_connection(path)
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
