"""The change log the scheduler reads after every message (migration 11): every writer's new
or changed schedule rows are in it, on both engines, and nothing else is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage import Storage
from storage.reminders import DigestRequest, ScheduleChanges
from tests.fakes.small_alliance import seed_small_alliance

T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)


def create_activity(storage: Storage, alliance_id: int) -> int:
    start = T0 + timedelta(days=2)
    activity = storage.activities.create(
        alliance_id=alliance_id,
        kind="集体备课",
        title="《圆的认识》",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        signin_opens_at=start - timedelta(minutes=30),
        created_at=T0,
    )
    return activity.id


def test_writes_to_schedule_sources_are_logged_whoever_makes_them(db_target: Path | str) -> None:
    storage = Storage.open(db_target)
    seed_small_alliance(storage, T0)
    east = storage.roster.alliance_by_name("东部联盟")
    assert east is not None
    repo = storage.reminders
    seen = repo.last_schedule_change()
    assert repo.schedule_changes_after(seen) == (seen, ScheduleChanges())

    other = Storage.open(db_target)  # another instance, or `calendar import`
    activity_id = create_activity(other, east.id)
    other.activities.cancel(activity_id, "改期", at=T0)
    last, changes = repo.schedule_changes_after(seen)
    assert changes == ScheduleChanges(activities=frozenset({activity_id}))
    assert last > seen

    other.reminders.request_digest(DigestRequest(east.id, T0, "lead1", None))
    assert repo.schedule_changes_after(last)[1] == ScheduleChanges(settings=True)
    other.close()
    storage.close()


def test_the_log_is_trimmed_behind_the_scheduler_and_ids_never_go_back(
    db_target: Path | str,
) -> None:
    """The scheduler trims what it has read but keeps the last 1,000 rows (a console beside
    `serve` may be behind it); a new change always gets an id after everything seen: SQLite
    numbers a row after the largest id present, so an emptied log would reuse seen ids."""
    storage = Storage.open(db_target)
    seed_small_alliance(storage, T0)
    east = storage.roster.alliance_by_name("东部联盟")
    assert east is not None
    repo = storage.reminders
    for minute in range(1200):
        at = T0 + timedelta(minutes=minute)
        repo.request_digest(DigestRequest(east.id, at, "lead1", None))
    seen = repo.last_schedule_change()
    repo.forget_schedule_changes(through=seen)

    assert repo.schedule_changes_after(0)[0] == seen
    assert repo.schedule_changes_after(seen - 1000)[1] == ScheduleChanges(settings=True)
    activity_id = create_activity(storage, east.id)
    last, changes = repo.schedule_changes_after(seen)
    assert last > seen and changes.activities == {activity_id}
    storage.close()
