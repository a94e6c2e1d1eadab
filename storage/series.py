"""Recurring activities (S3): a series row and its instances, which are ordinary activities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.activities import ActivitiesRepo
from storage.db import to_db_time, transaction
from storage.models import Activity, ActivitySeries, ActivityTarget, SeriesStatus
from storage.teams import TeamsRepo

if TYPE_CHECKING:
    from storage.db import Database

_COLUMNS = "id, alliance_id, title, rule, status, created_by"


@dataclass(frozen=True)
class Instance:
    """One planned activity of a new series: its times (the rest is shared)."""

    starts_at: datetime
    ends_at: datetime
    signin_opens_at: datetime
    reflection_due: datetime | None


class SeriesRepo:
    def __init__(self, db: Database, activities: ActivitiesRepo, teams: TeamsRepo):
        self._db = db
        self._activities = activities
        self._teams = teams

    def create(
        self,
        *,
        alliance_id: int,
        title: str,
        rule: str,
        created_at: datetime,
        created_by: int | None,
        instances: Sequence[Instance],
        target: ActivityTarget | None = None,
        **shared: Any,
    ) -> tuple[ActivitySeries, list[Activity]]:
        """The series and all its instances (with their audience) in one commit: never a
        series half-created. `shared` holds the activity fields every instance has."""
        with transaction(self._db.conn):
            row = self._db.execute(
                "INSERT INTO activity_series (alliance_id, title, rule, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (alliance_id, title, rule, created_by, to_db_time(created_at)),
            ).fetchone()
            series_id = int(row[0])
            made = []
            for instance in instances:
                activity = self._activities.create(
                    alliance_id=alliance_id,
                    title=title,
                    starts_at=instance.starts_at,
                    ends_at=instance.ends_at,
                    signin_opens_at=instance.signin_opens_at,
                    reflection_due=instance.reflection_due,
                    created_at=created_at,
                    created_by=created_by,
                    series_id=series_id,
                    **shared,
                )
                if target is not None:
                    self._teams.set_activity_target(activity.id, target)
                made.append(activity)
        series = self.get(series_id)
        assert series is not None
        return series, made

    def get(self, series_id: int) -> ActivitySeries | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM activity_series WHERE id = ?", (series_id,)
        ).fetchone()
        return _series(row) if row else None

    def update_instances(
        self, activity_ids: Sequence[int], changes: Sequence[dict[str, Any]], *, at: datetime
    ) -> list[Activity]:
        """Change several instances at once (修改活动 S3): all or none."""
        with transaction(self._db.conn):
            return [
                self._activities.update(activity_id, at=at, **fields)
                for activity_id, fields in zip(activity_ids, changes, strict=True)
            ]

    def set_target(self, activity_ids: Sequence[int], target: ActivityTarget) -> None:
        with transaction(self._db.conn):
            for activity_id in activity_ids:
                self._teams.set_activity_target(activity_id, target)

    def cancel(
        self, series_id: int, activity_ids: Sequence[int], reason: str | None, *, at: datetime
    ) -> list[Activity]:
        """Cancel the given (remaining) instances and close the series, in one commit."""
        with transaction(self._db.conn):
            cancelled = [
                self._activities.cancel(activity_id, reason, at=at) for activity_id in activity_ids
            ]
            self._db.execute(
                "UPDATE activity_series SET status = ? WHERE id = ?",
                (SeriesStatus.CANCELLED.value, series_id),
            )
        return cancelled


def _series(row: tuple[Any, ...]) -> ActivitySeries:
    return ActivitySeries(
        id=row[0],
        alliance_id=row[1],
        title=row[2],
        rule=row[3],
        status=SeriesStatus(row[4]),
        created_by=row[5],
    )
