"""Notices (通知) and who confirmed them (回执)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import from_db_time, inserted_id, to_db_time
from storage.models import Notice, NoticeStatus

if TYPE_CHECKING:
    from storage.db import Database

NOTICE_COLUMNS = "id, alliance_id, body, needs_ack, author_id, created_at, publish_at, status"


class NoticesRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        alliance_id: int | None,
        body: str,
        needs_ack: bool,
        author_id: int | None,
        created_at: datetime,
        publish_at: datetime,
        status: NoticeStatus,
    ) -> Notice:
        cursor = self._db.execute(
            "INSERT INTO notices (alliance_id, body, needs_ack, author_id, created_at, "
            "publish_at, status) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                alliance_id,
                body,
                int(needs_ack),
                author_id,
                to_db_time(created_at),
                to_db_time(publish_at),
                status.value,
            ),
        )
        notice = self.get(inserted_id(cursor) or 0)
        assert notice is not None
        return notice

    def get(self, notice_id: int) -> Notice | None:
        row = self._db.execute(
            f"SELECT {NOTICE_COLUMNS} FROM notices WHERE id = ?", (notice_id,)
        ).fetchone()
        return notice_from_row(row) if row else None

    def set_status(self, notice_id: int, status: NoticeStatus) -> None:
        self._db.execute("UPDATE notices SET status = ? WHERE id = ?", (status.value, notice_id))

    def due_scheduled(self, now: datetime) -> list[Notice]:
        rows = self._db.execute(
            f"SELECT {NOTICE_COLUMNS} FROM notices WHERE status = 'scheduled' AND publish_at <= ? "
            "ORDER BY publish_at, id",
            (to_db_time(now),),
        )
        return [notice_from_row(row) for row in rows]

    def scheduled(self) -> list[Notice]:
        rows = self._db.execute(
            f"SELECT {NOTICE_COLUMNS} FROM notices WHERE status = 'scheduled' ORDER BY publish_at, id"
        )
        return [notice_from_row(row) for row in rows]

    def open_for(self, alliance_ids: list[int], member_id: int) -> list[Notice]:
        """Published notices needing a receipt that this member has not confirmed, newest first."""
        placeholders = ",".join("?" * len(alliance_ids)) or "NULL"
        rows = self._db.execute(
            f"SELECT {NOTICE_COLUMNS} FROM notices n WHERE status = 'published' AND needs_ack = 1 "
            f"AND (alliance_id IS NULL OR alliance_id IN ({placeholders})) "
            "AND NOT EXISTS (SELECT 1 FROM notice_acks k WHERE k.notice_id = n.id "
            "AND k.member_id = ?) ORDER BY publish_at DESC, id DESC",
            [*alliance_ids, member_id],
        )
        return [notice_from_row(row) for row in rows]

    def in_period(
        self, alliance_ids: list[int] | None, start: datetime, end: datetime
    ) -> list[Notice]:
        sql = (
            f"SELECT {NOTICE_COLUMNS} FROM notices WHERE status = 'published' "
            "AND publish_at >= ? AND publish_at < ?"
        )
        params: list[object] = [to_db_time(start), to_db_time(end)]
        if alliance_ids is not None:
            marks = ",".join("?" * len(alliance_ids)) or "NULL"
            sql += f" AND (alliance_id IS NULL OR alliance_id IN ({marks}))"
            params.extend(alliance_ids)
        return [
            notice_from_row(row)
            for row in self._db.execute(sql + " ORDER BY publish_at, id", params)
        ]

    def ack(self, notice_id: int, member_id: int, at: datetime) -> bool:
        """Record a confirmation; False when this member had already confirmed."""
        cursor = self._db.execute(
            "INSERT INTO notice_acks (notice_id, member_id, at) VALUES (?, ?, ?) "
            "ON CONFLICT (notice_id, member_id) DO NOTHING",
            (notice_id, member_id, to_db_time(at)),
        )
        return cursor.rowcount == 1

    def acked_member_ids(self, notice_id: int) -> set[int]:
        rows = self._db.execute(
            "SELECT member_id FROM notice_acks WHERE notice_id = ?", (notice_id,)
        )
        return {int(row[0]) for row in rows}


def notice_from_row(row: tuple[Any, ...]) -> Notice:
    return Notice(
        id=row[0],
        alliance_id=row[1],
        body=row[2],
        needs_ack=bool(row[3]),
        author_id=row[4],
        created_at=from_db_time(row[5]),
        publish_at=from_db_time(row[6]),
        status=NoticeStatus(row[7]),
    )
