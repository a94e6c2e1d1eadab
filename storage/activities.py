"""Activities (教研活动) with their schedule and sign-in window."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.db import from_db_time, to_db_time, update_row
from storage.models import Activity, ActivityStatus

if TYPE_CHECKING:
    from storage.db import Database

_COLUMNS = (
    "id, alliance_id, kind, title, place, school_id, starts_at, ends_at, signin_opens_at, "
    "signin_code, hours, reflection_due, status, cancel_reason, created_by, series_id"
)
_TIME_FIELDS = ("starts_at", "ends_at", "signin_opens_at", "reflection_due")
_UPDATABLE = {
    "kind",
    "title",
    "place",
    "school_id",
    "starts_at",
    "ends_at",
    "signin_opens_at",
    "signin_code",
    "hours",
    "reflection_due",
}


class ActivitiesRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        alliance_id: int,
        kind: str,
        title: str,
        starts_at: datetime,
        ends_at: datetime,
        signin_opens_at: datetime,
        created_at: datetime,
        place: str | None = None,
        school_id: int | None = None,
        signin_code: str | None = None,
        hours: float = 2.0,
        reflection_due: datetime | None = None,
        created_by: int | None = None,
        series_id: int | None = None,
    ) -> Activity:
        row = self._db.execute(
            "INSERT INTO activities (alliance_id, kind, title, place, school_id, starts_at, "
            "ends_at, signin_opens_at, signin_code, hours, reflection_due, created_by, "
            "created_at, updated_at, series_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                alliance_id,
                kind,
                title,
                place,
                school_id,
                to_db_time(starts_at),
                to_db_time(ends_at),
                to_db_time(signin_opens_at),
                signin_code,
                hours,
                to_db_time(reflection_due) if reflection_due else None,
                created_by,
                to_db_time(created_at),
                to_db_time(created_at),
                series_id,
            ),
        ).fetchone()
        activity = self.get(int(row[0]))
        assert activity is not None
        return activity

    def get(self, activity_id: int) -> Activity | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM activities WHERE id = ?", (activity_id,)
        ).fetchone()
        return _activity(row) if row else None

    def update(self, activity_id: int, *, at: datetime, **fields: Any) -> Activity:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update activity fields {sorted(unknown)}")
        values = {
            key: (to_db_time(value) if key in _TIME_FIELDS and value is not None else value)
            for key, value in fields.items()
        }
        values["updated_at"] = to_db_time(at)
        update_row(self._db, "activities", activity_id, values)
        activity = self.get(activity_id)
        assert activity is not None
        return activity

    def cancel(self, activity_id: int, reason: str | None, *, at: datetime) -> Activity:
        self._db.execute(
            "UPDATE activities SET status = 'cancelled', cancel_reason = ?, updated_at = ? "
            "WHERE id = ?",
            (reason, to_db_time(at), activity_id),
        )
        activity = self.get(activity_id)
        assert activity is not None
        return activity

    def in_series(self, series_id: int, *, include_cancelled: bool = False) -> list[Activity]:
        """A series' instances, by start."""
        status = "" if include_cancelled else " AND status = 'scheduled'"
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM activities WHERE series_id = ?{status} ORDER BY starts_at, id",
            (series_id,),
        )
        return [_activity(row) for row in rows]

    def in_alliances(
        self,
        alliance_ids: list[int] | None,
        *,
        starts_from: datetime | None = None,
        starts_before: datetime | None = None,
        include_cancelled: bool = False,
        limit: int | None = None,
    ) -> list[Activity]:
        """Activities of these alliances (None = all) starting in [from, before), by start
        (the first `limit` of them if given)."""
        where, params = _window(alliance_ids, starts_from, starts_before, include_cancelled)
        sql = f"SELECT {_COLUMNS} FROM activities{where} ORDER BY starts_at, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_activity(row) for row in self._db.execute(sql, params)]

    def count_in_alliances(
        self,
        alliance_ids: list[int] | None,
        *,
        starts_from: datetime | None = None,
        starts_before: datetime | None = None,
    ) -> int:
        """How many scheduled activities `in_alliances` would list."""
        where, params = _window(alliance_ids, starts_from, starts_before, False)
        row = self._db.execute(f"SELECT COUNT(*) FROM activities{where}", params).fetchone()
        return int(row[0])


def _window(
    alliance_ids: list[int] | None,
    starts_from: datetime | None,
    starts_before: datetime | None,
    include_cancelled: bool,
) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) of `in_alliances`."""
    clauses: list[str] = []
    params: list[object] = []
    if alliance_ids is not None:
        clauses.append(f"alliance_id IN ({','.join('?' * len(alliance_ids)) or 'NULL'})")
        params.extend(alliance_ids)
    if starts_from is not None:
        clauses.append("starts_at >= ?")
        params.append(to_db_time(starts_from))
    if starts_before is not None:
        clauses.append("starts_at < ?")
        params.append(to_db_time(starts_before))
    if not include_cancelled:
        clauses.append("status = 'scheduled'")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return where, params


def _activity(row: tuple[Any, ...]) -> Activity:
    return Activity(
        id=row[0],
        alliance_id=row[1],
        kind=row[2],
        title=row[3],
        place=row[4],
        school_id=row[5],
        starts_at=from_db_time(row[6]),
        ends_at=from_db_time(row[7]),
        signin_opens_at=from_db_time(row[8]),
        signin_code=row[9],
        hours=row[10],
        reflection_due=from_db_time(row[11]) if row[11] else None,
        status=ActivityStatus(row[12]),
        cancel_reason=row[13],
        created_by=row[14],
        series_id=row[15],
    )


# For batch queries over activities elsewhere in storage (storage.reporting).
ACTIVITY_COLUMNS = _COLUMNS
activity_from_row = _activity
