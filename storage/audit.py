"""An append-only record of who did what, for administrators."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from storage.db import to_db_time

if TYPE_CHECKING:
    from storage.db import Database


class AuditRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, at: datetime, actor: str | None, action: str, detail: str = "") -> None:
        self._db.execute(
            "INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
            (to_db_time(at), actor, action, detail),
        )

    def recent(self, limit: int = 50) -> list[tuple[str, str | None, str, str]]:
        return [
            (row[0], row[1], row[2], row[3] or "")
            for row in self._db.execute(
                "SELECT at, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
            )
        ]
