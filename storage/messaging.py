"""The durable inbox (dedup of redelivered messages) and outbox (replies waiting to be sent).

Both tables live in the same SQLite file so that "this message is handled" and "these are its
replies" commit together: a crash never leaves a handled message without its replies, and never
queues its replies twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from bot.core.messages import Channel, Incoming, Outgoing
from storage.db import (
    Connection,
    Database,
    Transaction,
    from_db_time,
    inserted_id,
    to_db_time,
    transaction,
)
from storage.dialect import dialect_of, row_claim_suffix, shared_by_instances


def insert_outgoing(conn: Connection, message: Outgoing, *, due: str, created: str) -> int | None:
    """Add one message to the outbox inside the caller's transaction; None if its dedup_key
    is already queued (so whoever queues it, a reply or a reminder, it goes out once)."""
    cursor = conn.execute(
        "INSERT INTO outbox (channel, target_kind, target, payload, due_at, "
        "attempts, status, created_at, dedup_key) "
        "VALUES (?, ?, ?, ?, ?, 0, 'pending', ?, ?) "
        "ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        (
            message.channel.value,
            message.target_kind.value,
            message.target,
            message.model_dump_json(),
            due,
            created,
            message.dedup_key,
        ),
    )
    return inserted_id(cursor)


class InboxStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxItem(BaseModel):
    """One queued message with its delivery bookkeeping."""

    id: int
    message: Outgoing
    due_at: datetime
    attempts: int
    last_error: str | None = None
    status: OutboxStatus
    sent_at: datetime | None = None
    created_at: datetime

    @property
    def channel(self) -> Channel:
        return self.message.channel

    @property
    def target(self) -> str:
        return self.message.target


class OutboxStats(BaseModel):
    """Counts an administrator wants to see: is anything stuck or lost?"""

    pending: int = 0
    sent: int = 0
    failed: int = 0
    oldest_pending_due: datetime | None = None


_INSERT_INBOX = (
    "INSERT INTO inbox (channel, msgid, userid, chat_id, payload, received_at, "
    "claimed_by, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (channel, msgid) DO NOTHING RETURNING id"
)


def _inbox_row(
    incoming: Incoming, claimed_by: str | None
) -> tuple[str, str, str, str | None, str, str, str | None, str | None]:
    received = to_db_time(incoming.received_at)
    return (
        incoming.channel.value,
        incoming.msgid,
        incoming.userid,
        incoming.chat_id,
        incoming.model_dump_json(),
        received,
        claimed_by,
        received if claimed_by is not None else None,
    )


class InboxRepo:
    """Every incoming message is written here first; (channel, msgid) is unique, so a
    message redelivered to any instance sharing the database is stored (and answered) once.

    With several instances (PostgreSQL) each row says which instance is processing it
    (`claimed_by`, since `claimed_at`): an instance processes what it took in, and takes over
    another's row only once that claim is older than a lease (`claim`)."""

    def __init__(self, db: Database) -> None:
        self._conn: Connection = db.conn
        self.shared = shared_by_instances(dialect_of(self._conn))

    def record(self, incoming: Incoming) -> int | None:
        """Store the message durably; return its id, or None when it was delivered before."""
        return self.record_many([incoming])[0]

    def record_many(
        self, messages: Sequence[Incoming], *, claimed_by: str | None = None
    ) -> list[int | None]:
        """Store messages in one commit (one commit costs more than the inserts); per message
        its id, or None when it was delivered before (also earlier in the same batch).
        `claimed_by`: the instance that will process them."""
        ids: list[int | None] = []
        with transaction(self._conn):
            for incoming in messages:
                cursor = self._conn.execute(_INSERT_INBOX, _inbox_row(incoming, claimed_by))
                ids.append(inserted_id(cursor))
        return ids

    def claim(self, inbox_id: int, instance: str, now: datetime, stale_before: datetime) -> bool:
        """Whether `instance` may process this row now: it is still unprocessed, and claimed
        by nobody, by this instance, or by one whose claim is older than `stale_before` (it
        died). The claim is renewed, so two instances never both take a row over."""
        cursor = self._conn.execute(
            "UPDATE inbox SET claimed_by = ?, claimed_at = ? WHERE id = ? AND status = ? "
            "AND (claimed_by IS NULL OR claimed_by = ? OR claimed_at < ?)",
            (
                instance,
                to_db_time(now),
                inbox_id,
                InboxStatus.RECEIVED.value,
                instance,
                to_db_time(stale_before),
            ),
        )
        return cursor.rowcount == 1

    def get(self, inbox_id: int) -> Incoming | None:
        """The message as recorded (the pipeline reloads what it did not keep in memory)."""
        row = self._conn.execute("SELECT payload FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
        return Incoming.model_validate_json(row[0]) if row else None

    def mark_processed(self, inbox_id: int, at: datetime) -> bool:
        return self._finish(inbox_id, InboxStatus.PROCESSED, at)

    def mark_failed(self, inbox_id: int, at: datetime) -> bool:
        return self._finish(inbox_id, InboxStatus.FAILED, at)

    def _finish(self, inbox_id: int, status: InboxStatus, at: datetime) -> bool:
        cursor = self._conn.execute(
            "UPDATE inbox SET status = ?, processed_at = ? WHERE id = ? AND status = ?",
            (status.value, to_db_time(at), inbox_id, InboxStatus.RECEIVED.value),
        )
        return cursor.rowcount == 1

    def status(self, inbox_id: int) -> InboxStatus | None:
        row = self._conn.execute("SELECT status FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
        return InboxStatus(row[0]) if row else None

    def backlog_count(self) -> int:
        """Messages received and not yet processed (the `/metrics` inbox backlog)."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM inbox WHERE status = ?", (InboxStatus.RECEIVED.value,)
        ).fetchone()
        return int(row[0])

    def unprocessed(
        self, stale_before: datetime | None = None, instance: str | None = None
    ) -> list[tuple[int, Incoming]]:
        """Messages a crash left unhandled, oldest first, to be processed again. With
        `stale_before`, only those nobody has claimed since then (their instance died), or
        that `instance` itself claimed (before it restarted)."""
        sql = "SELECT id, payload FROM inbox WHERE status = ?"
        params: tuple[str, ...] = (InboxStatus.RECEIVED.value,)
        if stale_before is not None:
            sql += " AND (claimed_at IS NULL OR claimed_at < ? OR claimed_by = ?)"
            params += (to_db_time(stale_before), instance or "")
        rows = self._conn.execute(sql + " ORDER BY id", params).fetchall()
        return [(int(row[0]), Incoming.model_validate_json(row[1])) for row in rows]


_ITEM_COLUMNS = "id, payload, due_at, attempts, last_error, status, sent_at, created_at"

# An item may go out only when no earlier item for the same (channel, target) is still pending
# and not yet due: messages to one chat arrive in the order they were queued, even while the
# first one is waiting for a retry. `blocked` holds, per target, the first item not yet due.
_NEXT_BATCH_SQL = """
WITH blocked AS (
    SELECT channel, target, MIN(id) AS first_id FROM outbox
    WHERE status = 'pending' AND due_at > :now GROUP BY channel, target
)
SELECT o.id, o.payload, o.due_at, o.attempts, o.last_error, o.status, o.sent_at, o.created_at
FROM outbox AS o LEFT JOIN blocked AS b ON b.channel = o.channel AND b.target = o.target
WHERE o.status = 'pending' AND o.due_at <= :now AND (b.first_id IS NULL OR o.id < b.first_id)
{only} ORDER BY o.id LIMIT :limit
"""


# PostgreSQL with several instances: the head (first pending item) of each target that is due
# and not claimed by another instance with a live lease. Locking the heads (SKIP LOCKED)
# serialises each target: an instance sends a target's items only while it holds its head.
_CLAIM_HEADS_SQL = """
SELECT o.id FROM outbox AS o
WHERE o.id IN (SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY channel, target)
AND o.status = 'pending' AND o.due_at <= :now
AND (o.claimed_until IS NULL OR o.claimed_until <= :now OR o.claimed_by = :me)
{only} ORDER BY o.id LIMIT :limit{lock}
"""


def _only_channels(channels: Collection[Channel] | None, column: str) -> tuple[str, dict[str, str]]:
    """An `AND column IN (...)` fragment and its parameters; empty for every channel."""
    if channels is None:
        return "", {}
    params = {f"ch{i}": channel.value for i, channel in enumerate(sorted(channels))}
    names = ", ".join(f":{name}" for name in params) or "NULL"
    return f"AND {column} IN ({names})", params


class OutboxRepo:
    """Messages waiting to be delivered, retried and delivered once.

    With several instances (PostgreSQL) each round of sending first claims its items
    (`claim_batch`), so every item goes out from one instance only; a claim lapses after a
    lease, so the items of an instance that died go out from another."""

    def __init__(self, db: Database) -> None:
        self._conn: Connection = db.conn
        self._dialect = dialect_of(self._conn)
        self.shared = shared_by_instances(self._dialect)

    def enqueue(
        self,
        messages: Iterable[Outgoing],
        due_at: datetime,
        *,
        inbox_id: int | None = None,
        inbox_status: InboxStatus = InboxStatus.PROCESSED,
        created_at: datetime | None = None,
    ) -> list[int]:
        """Queue messages in one transaction; return the ids of the rows actually added.

        A message whose dedup_key is already queued is skipped. With `inbox_id`, that inbox row
        is marked `inbox_status` in the same transaction; if it was already finished (another
        processing won the race) nothing is queued at all, so replies are never doubled.
        """
        created = to_db_time(created_at or due_at)
        due = to_db_time(due_at)
        added: list[int] = []
        conn = self._conn
        with transaction(conn) as tx:
            if inbox_id is not None:
                cursor = conn.execute(
                    "UPDATE inbox SET status = ?, processed_at = ? WHERE id = ? AND status = ?",
                    (inbox_status.value, created, inbox_id, InboxStatus.RECEIVED.value),
                )
                if cursor.rowcount != 1:
                    tx.rollback()
                    return []
            for message in messages:
                row_id = insert_outgoing(conn, message, due=due, created=created)
                if row_id is not None:
                    added.append(row_id)
        return added

    def batch(self) -> AbstractContextManager[Transaction]:
        """One commit for several `enqueue` calls (each still all-or-nothing on its own)."""
        return transaction(self._conn)

    def next_batch(
        self, now: datetime, limit: int, channels: Collection[Channel] | None = None
    ) -> list[OutboxItem]:
        """Due pending items in queue order, never overtaking an earlier item to the same target.

        Several items for one target may be returned (in order) when all of them are due; the
        caller must send them one after the other and stop at the first that does not go out.
        `channels` limits the batch to those channels (None: all).
        """
        only, params = _only_channels(channels, "o.channel")
        rows = self._conn.execute(
            _NEXT_BATCH_SQL.format(only=only), {"now": to_db_time(now), "limit": limit, **params}
        ).fetchall()
        return [_item(row) for row in rows]

    def claim_batch(
        self,
        now: datetime,
        limit: int,
        channels: Collection[Channel] | None,
        *,
        instance: str,
        lease: timedelta,
    ) -> list[OutboxItem]:
        """`next_batch`, claimed by `instance` until `now + lease` when instances share the
        database; on SQLite (one process) just `next_batch`, with no write.

        One short transaction locks the heads of the due targets (rows another instance is
        locking are skipped), then marks every item taken as claimed: another instance skips
        a target while its head is claimed, so a target's items keep their order."""
        if not self.shared:
            return self.next_batch(now, limit, channels)
        only, params = _only_channels(channels, "o.channel")
        values = {"now": to_db_time(now), "limit": limit, "me": instance, **params}
        lock = row_claim_suffix(self._dialect)
        with transaction(self._conn):
            heads = {
                int(row[0])
                for row in self._conn.execute(
                    _CLAIM_HEADS_SQL.format(only=only, lock=lock), values
                ).fetchall()
            }
            if not heads:
                return []
            # The due items of the targets whose heads are held here, in queue order.
            held = {f"h{i}": head for i, head in enumerate(sorted(heads))}
            names = ", ".join(f":{name}" for name in held)
            only += (
                f" AND EXISTS (SELECT 1 FROM outbox AS h WHERE h.id IN ({names}) "
                "AND h.channel = o.channel AND h.target = o.target)"
            )
            rows = self._conn.execute(
                _NEXT_BATCH_SQL.format(only=only),
                {"now": values["now"], "limit": limit, **params, **held},
            ).fetchall()
            batch = [_item(row) for row in rows]
            until = to_db_time(now + lease)
            for item in batch:
                self._conn.execute(
                    "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                    (instance, until, item.id),
                )
        return batch

    def next_due_at(self, channels: Collection[Channel] | None = None) -> datetime | None:
        """When the earliest sendable item falls due (items queued behind another don't count;
        a head another instance has claimed counts from the end of its claim)."""
        only, params = _only_channels(channels, "channel")
        row = self._conn.execute(
            "SELECT MIN(CASE WHEN o.claimed_until > o.due_at THEN o.claimed_until "
            "ELSE o.due_at END) FROM outbox AS o JOIN ("
            f"SELECT MIN(id) AS head FROM outbox WHERE status = 'pending' {only} "
            "GROUP BY channel, target) AS heads ON o.id = heads.head",
            params,
        ).fetchone()
        return from_db_time(row[0]) if row and row[0] else None

    def get(self, item_id: int) -> OutboxItem | None:
        row = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM outbox WHERE id = ?", (item_id,)
        ).fetchone()
        return _item(row) if row else None

    def items(self, status: OutboxStatus | None = None) -> list[OutboxItem]:
        """All items (or those with one status) in queue order, for admins and tests."""
        sql = f"SELECT {_ITEM_COLUMNS} FROM outbox"
        params: Sequence[Any] = ()
        if status is not None:
            sql += " WHERE status = ?"
            params = (status.value,)
        return [_item(row) for row in self._conn.execute(sql + " ORDER BY id", params)]

    def mark_sent(self, item_id: int, at: datetime) -> bool:
        """Record a delivery; False when the item was no longer pending (so it counts once)."""
        return not self.mark_sent_many([item_id], at)

    def mark_sent_many(self, item_ids: Iterable[int], at: datetime) -> list[int]:
        """Record deliveries in one commit; return the ids that were no longer pending."""
        when = to_db_time(at)
        stale: list[int] = []
        with transaction(self._conn):
            for item_id in item_ids:
                cursor = self._conn.execute(
                    "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 "
                    "WHERE id = ? AND status = 'pending'",
                    (when, item_id),
                )
                if cursor.rowcount != 1:
                    stale.append(item_id)
        return stale

    def mark_retry(self, item_id: int, error: str, next_due: datetime) -> bool:
        """Count a failed attempt and try again at `next_due`."""
        cursor = self._conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, due_at = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ? AND status = 'pending'",
            (error, to_db_time(next_due), item_id),
        )
        return cursor.rowcount == 1

    def release(self, item_ids: Sequence[int], instance: str) -> None:
        """Give up `instance`'s claim on items it will not send this round, so the next
        round (of any instance) takes them at once instead of after the lease."""
        if not self.shared:
            return
        with transaction(self._conn):
            for item_id in item_ids:
                self._conn.execute(
                    "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
                    "WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                    (item_id, instance),
                )

    def defer(self, item_id: int, until: datetime) -> bool:
        """Hold an item (and so its target's queue) until `until`; not a failed attempt."""
        cursor = self._conn.execute(
            "UPDATE outbox SET due_at = ?, claimed_by = NULL, claimed_until = NULL "
            "WHERE id = ? AND status = 'pending'",
            (to_db_time(until), item_id),
        )
        return cursor.rowcount == 1

    def mark_failed(self, item_id: int, error: str, at: datetime) -> bool:
        """Give up on an item. The schema has no failed_at column: `due_at` keeps `at` instead."""
        cursor = self._conn.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, "
            "due_at = ? WHERE id = ? AND status = 'pending'",
            (error, to_db_time(at), item_id),
        )
        return cursor.rowcount == 1

    def pending_count(self) -> int:
        row = self._conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()
        return int(row[0])

    def retrying_count(self) -> int:
        """Pending items that already failed at least once (waiting for their retry)."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts > 0"
        ).fetchone()
        return int(row[0])

    def stats(self) -> OutboxStats:
        counts = dict(
            self._conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        )
        oldest = self._conn.execute(
            "SELECT MIN(due_at) FROM outbox WHERE status = 'pending'"
        ).fetchone()[0]
        return OutboxStats(
            pending=int(counts.get("pending", 0)),
            sent=int(counts.get("sent", 0)),
            failed=int(counts.get("failed", 0)),
            oldest_pending_due=from_db_time(oldest) if oldest else None,
        )


def _item(row: Sequence[Any]) -> OutboxItem:
    return OutboxItem(
        id=int(row[0]),
        message=Outgoing.model_validate_json(row[1]),
        due_at=from_db_time(row[2]),
        attempts=int(row[3]),
        last_error=row[4],
        status=OutboxStatus(row[5]),
        sent_at=from_db_time(row[6]) if row[6] else None,
        created_at=from_db_time(row[7]),
    )
