"""Reminders that went out (or were deliberately skipped), and what scheduling needs to read.

`commit` writes a reminder's key into `sent_reminders` and its messages into the outbox in ONE
transaction: if the key is already there (another wake-up, a restarted process, a second
process) nothing is queued, so a reminder is never sent twice and never lost half-way.
The outbox insert mirrors `OutboxRepo.enqueue` (same columns, same dedup rule) because SQLite
cannot nest that method's own transaction inside this one.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.core.messages import Outgoing
from storage.activities import ACTIVITY_COLUMNS, activity_from_row
from storage.db import Connection, from_db_time, to_db_time, transaction
from storage.messaging import insert_outgoing
from storage.models import Activity, NoticeStatus

if TYPE_CHECKING:
    from storage.db import Database

_DIGEST_REQUEST = "digest_request:"
_DIGEST_CHANGED = "digest_changed:"
_MAX_KEY_CHAR = "\U0010ffff"
_KEEP_CHANGES = 1000  # schedule_changes rows kept behind the scheduler (a few KB)


class ReminderStatus(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ReminderRecord:
    key: str
    status: ReminderStatus
    at: datetime


@dataclass(frozen=True)
class NoticeUpdate:
    """A notice's new status (and, when published late, its real publication time)."""

    notice_id: int
    status: NoticeStatus
    publish_at: datetime | None = None


@dataclass(frozen=True)
class DigestRequest:
    """Someone asked for the digest now (`周报 现在`); the scheduler sends it at once."""

    alliance_id: int
    at: datetime
    userid: str
    chat_id: str | None

    @property
    def kv_key(self) -> str:
        return f"{_DIGEST_REQUEST}{self.alliance_id}"


@dataclass(frozen=True)
class ScheduleChanges:
    """Rows written since the scheduler last worked out its next wake-up (schedule_changes,
    filled by triggers, migration 11): those it can work out again one by one, or `settings`
    when an alliance, quota or digest request changed and everything must be worked out."""

    activities: frozenset[int] = frozenset()
    notices: frozenset[int] = frozenset()
    feedback_requests: frozenset[int] = frozenset()
    settings: bool = False

    @property
    def rows(self) -> int:
        return len(self.activities) + len(self.notices) + len(self.feedback_requests)

    def __bool__(self) -> bool:
        return self.settings or self.rows > 0


class RemindersRepo:
    def __init__(self, db: Database) -> None:
        self._conn: Connection = db.conn

    # what was done -----------------------------------------------------------
    def status(self, key: str) -> ReminderStatus | None:
        row = self._conn.execute("SELECT status FROM sent_reminders WHERE key = ?", (key,))
        found = row.fetchone()
        return ReminderStatus(found[0]) if found else None

    def recorded(self, keys: Iterable[str]) -> dict[str, ReminderStatus]:
        """Status of those of `keys` that were already sent or skipped."""
        wanted = list(dict.fromkeys(keys))
        result: dict[str, ReminderStatus] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._conn.execute(
                f"SELECT key, status FROM sent_reminders WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            result.update({row[0]: ReminderStatus(row[1]) for row in rows})
        return result

    def sent_between(self, prefix: str, start: datetime, end: datetime) -> bool:
        """Whether any reminder whose key starts with `prefix` was sent in [start, end)."""
        row = self._conn.execute(
            "SELECT 1 FROM sent_reminders WHERE key >= ? AND key < ? AND status = 'sent' "
            "AND at >= ? AND at < ? LIMIT 1",
            (prefix, prefix + _MAX_KEY_CHAR, to_db_time(start), to_db_time(end)),
        ).fetchone()
        return row is not None

    def records(self) -> list[ReminderRecord]:
        """Everything recorded, oldest first (for administrators and tests)."""
        rows = self._conn.execute("SELECT key, status, at FROM sent_reminders ORDER BY at, key")
        return [ReminderRecord(r[0], ReminderStatus(r[1]), from_db_time(r[2])) for r in rows]

    def commit(
        self,
        key: str,
        status: ReminderStatus,
        messages: Sequence[Outgoing],
        *,
        at: datetime,
        notice_update: NoticeUpdate | None = None,
        clear_request: DigestRequest | None = None,
    ) -> bool:
        """Record `key` and queue `messages` (due at `at`) atomically; False if already recorded.

        `notice_update` (a scheduled notice being published or given up) and `clear_request`
        (a handled `周报 现在`) commit in the same transaction, so they happen exactly once too.
        """
        moment = to_db_time(at)
        conn = self._conn
        with transaction(conn) as tx:
            cursor = conn.execute(
                "INSERT INTO sent_reminders (key, status, at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (key, status.value, moment),
            )
            if cursor.rowcount != 1:
                tx.rollback()
                return False
            for message in messages:
                insert_outgoing(conn, message, due=moment, created=moment)
            if notice_update is not None:
                self._update_notice(notice_update)
            if clear_request is not None:
                conn.execute(
                    "DELETE FROM kv WHERE key = ? AND value = ?",
                    (clear_request.kv_key, _request_value(clear_request)),
                )
        return True

    def _update_notice(self, update: NoticeUpdate) -> None:
        if update.publish_at is not None:
            self._conn.execute(
                "UPDATE notices SET status = ?, publish_at = ? WHERE id = ? AND status = 'scheduled'",
                (update.status.value, to_db_time(update.publish_at), update.notice_id),
            )
        else:
            self._conn.execute(
                "UPDATE notices SET status = ? WHERE id = ? AND status = 'scheduled'",
                (update.status.value, update.notice_id),
            )

    # what is due: read models over the other aggregates ------------------------
    def activities_around(
        self, start: datetime, end: datetime, only: Collection[int] | None = None
    ) -> list[tuple[Activity, datetime]]:
        """Scheduled activities starting, or with a reflection deadline, in [start, end),
        each with when it took its present form (created or last changed); `only` those
        ids when given.

        One indexed query (activities_start, activities_reflection_due) for whole rows."""
        if only is not None and not only:
            return []
        lo, hi = to_db_time(start), to_db_time(end)
        among, ids = _among(only)
        rows = self._conn.execute(
            f"SELECT {ACTIVITY_COLUMNS}, updated_at FROM activities WHERE status = 'scheduled' "
            "AND ((starts_at >= ? AND starts_at < ?) OR (reflection_due >= ? AND reflection_due < ?))"
            f"{among} ORDER BY starts_at, id",
            (lo, hi, lo, hi, *ids),
        )
        return [(activity_from_row(row[:-1]), from_db_time(row[-1])) for row in rows]

    def alliance_created_at(self, alliance_id: int) -> datetime | None:
        row = self._conn.execute(
            "SELECT created_at FROM alliances WHERE id = ?", (alliance_id,)
        ).fetchone()
        return from_db_time(row[0]) if row else None

    def ack_notice_ids_published(
        self, start: datetime, end: datetime, only: Collection[int] | None = None
    ) -> list[int]:
        """Published notices asking for a receipt, published in [start, end)."""
        if only is not None and not only:
            return []
        among, ids = _among(only)
        rows = self._conn.execute(
            "SELECT id FROM notices WHERE status = 'published' AND needs_ack = 1 "
            f"AND publish_at >= ? AND publish_at < ?{among} ORDER BY publish_at, id",
            (to_db_time(start), to_db_time(end), *ids),
        )
        return [int(row[0]) for row in rows]

    def feedback_request_ids_due(
        self, start: datetime, end: datetime, only: Collection[int] | None = None
    ) -> list[int]:
        """Open feedback requests (征集) whose deadline falls in [start, end)."""
        if only is not None and not only:
            return []
        among, ids = _among(only)
        rows = self._conn.execute(
            "SELECT id FROM feedback_requests WHERE status = 'open' "
            f"AND due_at >= ? AND due_at < ?{among} ORDER BY due_at, id",
            (to_db_time(start), to_db_time(end), *ids),
        )
        return [int(row[0]) for row in rows]

    # what changed since the scheduler last looked ----------------------------------------
    def last_schedule_change(self) -> int:
        row = self._conn.execute("SELECT MAX(id) FROM schedule_changes").fetchone()
        return int(row[0] or 0)

    def schedule_changes_after(self, seen: int) -> tuple[int, ScheduleChanges]:
        """The changes logged after id `seen`, and the last id among them (one indexed
        query, usually answering nothing: the scheduler asks after every message)."""
        rows = self._conn.execute(
            "SELECT id, source, row_id FROM schedule_changes WHERE id > ? ORDER BY id", (seen,)
        ).fetchall()
        if not rows:
            return seen, ScheduleChanges()
        ids: dict[str, set[int]] = {
            "activities": set(),
            "notices": set(),
            "feedback_requests": set(),
        }
        settings = False
        for _, source, row_id in rows:
            if source in ids and row_id is not None:
                ids[source].add(int(row_id))
            else:
                settings = True
        changes = ScheduleChanges(
            activities=frozenset(ids["activities"]),
            notices=frozenset(ids["notices"]),
            feedback_requests=frozenset(ids["feedback_requests"]),
            settings=settings,
        )
        return int(rows[-1][0]), changes

    def forget_schedule_changes(self, through: int) -> None:
        """Drop log rows the scheduler has taken into account, keeping the last `_KEEP_CHANGES`:
        a console run beside `serve` on the same file reads the log too and may be behind, and
        SQLite numbers a new row after the largest id still there, so ids never go back."""
        with transaction(self._conn):
            self._conn.execute(
                "DELETE FROM schedule_changes WHERE id <= ?", (through - _KEEP_CHANGES,)
            )

    # the weekly digest -----------------------------------------------------------
    def request_digest(self, request: DigestRequest) -> None:
        self._conn.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (request.kv_key, _request_value(request)),
        )

    def digest_requests(self) -> list[DigestRequest]:
        rows = self._conn.execute(
            "SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key",
            (_DIGEST_REQUEST, _DIGEST_REQUEST + _MAX_KEY_CHAR),
        )
        requests = []
        for key, value in rows:
            data = json.loads(value)
            requests.append(
                DigestRequest(
                    alliance_id=int(key[len(_DIGEST_REQUEST) :]),
                    at=from_db_time(data["at"]),
                    userid=data["userid"],
                    chat_id=data.get("chat_id"),
                )
            )
        return requests

    def mark_digest_schedule_changed(self, alliance_id: int, at: datetime) -> None:
        """Digests that fell due before a schedule change are not caught up afterwards."""
        self._conn.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"{_DIGEST_CHANGED}{alliance_id}", to_db_time(at)),
        )

    def digest_schedule_changed_at(self, alliance_id: int) -> datetime | None:
        row = self._conn.execute(
            "SELECT value FROM kv WHERE key = ?", (f"{_DIGEST_CHANGED}{alliance_id}",)
        ).fetchone()
        return from_db_time(row[0]) if row else None


def _among(only: Collection[int] | None) -> tuple[str, list[int]]:
    """A clause keeping rows whose id is in `only` (none when `only` is None), and its values;
    callers answer an empty `only` without asking the database."""
    if only is None:
        return "", []
    ids = sorted(only)
    return f" AND id IN ({','.join('?' * len(ids))})", ids


def _request_value(request: DigestRequest) -> str:
    return json.dumps(
        {"at": to_db_time(request.at), "userid": request.userid, "chat_id": request.chat_id},
        sort_keys=True,
    )
