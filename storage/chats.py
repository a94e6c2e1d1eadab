"""Which WeCom group serves which alliance, and how to reach it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from storage.db import to_db_time
from storage.models import ChatBinding

if TYPE_CHECKING:
    from storage.db import Database


class ChatsRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def bind(
        self,
        chat_id: str,
        channel: str,
        alliance_id: int,
        *,
        bound_by: str | None,
        at: datetime,
        webhook_url: str | None = None,
    ) -> ChatBinding:
        """Bind (or re-bind) a group; a group serves exactly one alliance."""
        existing = self.get(chat_id)
        if webhook_url is None and existing is not None:
            webhook_url = existing.webhook_url
        self._db.execute(
            "INSERT INTO chats (chat_id, channel, alliance_id, webhook_url, bound_by, bound_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET "
            "channel = excluded.channel, alliance_id = excluded.alliance_id, "
            "webhook_url = excluded.webhook_url, bound_by = excluded.bound_by, "
            "bound_at = excluded.bound_at",
            (chat_id, channel, alliance_id, webhook_url, bound_by, to_db_time(at)),
        )
        bound = self.get(chat_id)
        assert bound is not None
        return bound

    def get(self, chat_id: str) -> ChatBinding | None:
        row = self._db.execute(
            "SELECT chat_id, channel, alliance_id, webhook_url FROM chats WHERE chat_id = ?",
            (chat_id,),
        ).fetchone()
        return _binding(row) if row else None

    def for_alliances(self, alliance_ids: list[int] | None) -> list[ChatBinding]:
        """Groups bound to any of these alliances; None means every bound group."""
        sql = "SELECT chat_id, channel, alliance_id, webhook_url FROM chats"
        params: list[int] = []
        if alliance_ids is not None:
            if not alliance_ids:
                return []
            sql += f" WHERE alliance_id IN ({','.join('?' * len(alliance_ids))})"
            params = list(alliance_ids)
        return [_binding(row) for row in self._db.execute(sql + " ORDER BY id", params)]


def _binding(row: tuple[str, str, int, str | None]) -> ChatBinding:
    return ChatBinding(chat_id=row[0], channel=row[1], alliance_id=row[2], webhook_url=row[3])
