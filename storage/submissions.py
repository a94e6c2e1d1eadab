"""What participants hand in: sign-ins (签到), leaves (请假) and reflections (反思)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import from_db_time, inserted_id, to_db_time, transaction
from storage.models import Leave, Reflection, ReflectionVersion, Signin, SigninStatus

if TYPE_CHECKING:
    from storage.db import Database

_REFLECTION_COLUMNS = "id, activity_id, member_id, body, version, first_submitted_at, updated_at"


class SubmissionsRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    # sign-ins --------------------------------------------------------------
    def sign_in(
        self,
        activity_id: int,
        member_id: int,
        *,
        at: datetime,
        status: SigninStatus,
        by_member_id: int | None = None,
    ) -> tuple[Signin, bool]:
        """Record a sign-in once; returns the stored sign-in and whether it is new."""
        cursor = self._db.execute(
            "INSERT INTO signins (activity_id, member_id, at, status, by_member_id) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (activity_id, member_id) DO NOTHING",
            (activity_id, member_id, to_db_time(at), status.value, by_member_id),
        )
        stored = self.signin(activity_id, member_id)
        assert stored is not None
        return stored, cursor.rowcount == 1

    def signin(self, activity_id: int, member_id: int) -> Signin | None:
        row = self._db.execute(
            "SELECT activity_id, member_id, at, status, by_member_id FROM signins "
            "WHERE activity_id = ? AND member_id = ?",
            (activity_id, member_id),
        ).fetchone()
        return signin_from_row(row) if row else None

    def signins(self, activity_id: int) -> dict[int, Signin]:
        rows = self._db.execute(
            "SELECT activity_id, member_id, at, status, by_member_id FROM signins "
            "WHERE activity_id = ?",
            (activity_id,),
        )
        return {int(row[1]): signin_from_row(row) for row in rows}

    def signins_of(self, member_id: int) -> dict[int, Signin]:
        rows = self._db.execute(
            "SELECT activity_id, member_id, at, status, by_member_id FROM signins "
            "WHERE member_id = ?",
            (member_id,),
        )
        return {int(row[0]): signin_from_row(row) for row in rows}

    # leaves ----------------------------------------------------------------
    def request_leave(
        self, activity_id: int, member_id: int, reason: str | None, *, at: datetime
    ) -> bool:
        """Record a leave; False if one was already recorded (the reason is then updated)."""
        existed = self._db.execute(
            "SELECT 1 FROM leaves WHERE activity_id = ? AND member_id = ?",
            (activity_id, member_id),
        ).fetchone()
        self._db.execute(
            "INSERT INTO leaves (activity_id, member_id, reason, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(activity_id, member_id) DO UPDATE SET reason = excluded.reason",
            (activity_id, member_id, reason, to_db_time(at)),
        )
        return existed is None

    def leaves(self, activity_id: int) -> dict[int, Leave]:
        rows = self._db.execute(
            "SELECT activity_id, member_id, reason, at FROM leaves WHERE activity_id = ?",
            (activity_id,),
        )
        return {int(row[1]): leave_from_row(row) for row in rows}

    def leaves_of(self, member_id: int) -> dict[int, Leave]:
        rows = self._db.execute(
            "SELECT activity_id, member_id, reason, at FROM leaves WHERE member_id = ?",
            (member_id,),
        )
        return {int(row[0]): leave_from_row(row) for row in rows}

    # reflections -----------------------------------------------------------
    def submit_reflection(
        self, activity_id: int, member_id: int, body: str, *, at: datetime
    ) -> Reflection:
        """Store a reflection; a resubmission replaces the text and keeps the old version."""
        conn = self._db.conn
        with transaction(conn):
            row = conn.execute(
                "SELECT id, version FROM reflections WHERE activity_id = ? AND member_id = ?",
                (activity_id, member_id),
            ).fetchone()
            when = to_db_time(at)
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO reflections (activity_id, member_id, body, version, "
                    "first_submitted_at, updated_at) VALUES (?, ?, ?, 1, ?, ?) RETURNING id",
                    (activity_id, member_id, body, when, when),
                )
                reflection_id, version = inserted_id(cursor) or 0, 1
            else:
                reflection_id, version = int(row[0]), int(row[1]) + 1
                conn.execute(
                    "UPDATE reflections SET body = ?, version = ?, updated_at = ? WHERE id = ?",
                    (body, version, when, reflection_id),
                )
            conn.execute(
                "INSERT INTO reflection_versions (reflection_id, version, body, submitted_at) "
                "VALUES (?, ?, ?, ?)",
                (reflection_id, version, body, when),
            )
        stored = self.reflection(activity_id, member_id)
        assert stored is not None
        return stored

    def reflection(self, activity_id: int, member_id: int) -> Reflection | None:
        row = self._db.execute(
            f"SELECT {_REFLECTION_COLUMNS} FROM reflections "
            "WHERE activity_id = ? AND member_id = ?",
            (activity_id, member_id),
        ).fetchone()
        return reflection_from_row(row) if row else None

    def reflections(self, activity_id: int) -> dict[int, Reflection]:
        rows = self._db.execute(
            f"SELECT {_REFLECTION_COLUMNS} FROM reflections WHERE activity_id = ?", (activity_id,)
        )
        return {int(row[2]): reflection_from_row(row) for row in rows}

    def reflections_of(self, member_id: int) -> dict[int, Reflection]:
        rows = self._db.execute(
            f"SELECT {_REFLECTION_COLUMNS} FROM reflections WHERE member_id = ?", (member_id,)
        )
        return {int(row[1]): reflection_from_row(row) for row in rows}

    def versions(self, reflection_id: int) -> list[ReflectionVersion]:
        rows = self._db.execute(
            "SELECT version, body, submitted_at FROM reflection_versions "
            "WHERE reflection_id = ? ORDER BY version",
            (reflection_id,),
        )
        return [
            ReflectionVersion(version=row[0], body=row[1], submitted_at=from_db_time(row[2]))
            for row in rows
        ]


def signin_from_row(row: tuple[Any, ...]) -> Signin:
    return Signin(
        activity_id=row[0],
        member_id=row[1],
        at=from_db_time(row[2]),
        status=SigninStatus(row[3]),
        by_member_id=row[4],
    )


def leave_from_row(row: tuple[Any, ...]) -> Leave:
    return Leave(activity_id=row[0], member_id=row[1], reason=row[2], at=from_db_time(row[3]))


def reflection_from_row(row: tuple[Any, ...]) -> Reflection:
    return Reflection(
        id=row[0],
        activity_id=row[1],
        member_id=row[2],
        body=row[3],
        version=row[4],
        first_submitted_at=from_db_time(row[5]),
        updated_at=from_db_time(row[6]),
    )
