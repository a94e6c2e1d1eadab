"""The numbers every report shows, computed once from batch-loaded rolls.

Attendance is counted the one way `storage.attendance` defines (expected = teachers and
leaders of the activity's alliance tree; people on leave are not counted; rates are over
the counted). Per-teacher figures follow exactly the same rules, and 学时 are credited for
an activity when the teacher signed in AND submitted a reflection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Generic, TypeVar

from storage import Storage
from storage.attendance import ActivityRoll, Roll, RollTally, SchoolCounts, count_by_school
from storage.models import Activity, Alliance, Member, SigninStatus
from storage.reporting import ReportingQueries

# An activity counts as held once it has started (the same cut as the 汇总 command).
HELD_SLACK = timedelta(seconds=1)


def rate(part: int, whole: int) -> float | None:
    """A share in [0, 1], or None when nobody was counted."""
    return part / whole if whole > 0 else None


def signin_rate(counts: SchoolCounts) -> float | None:
    return rate(counts.signed, counts.counted)


def reflection_rate(counts: SchoolCounts) -> float | None:
    return rate(counts.reflected, counts.counted)


def school_order(counts: SchoolCounts) -> tuple[float, int, str]:
    """Schools by sign-in rate (highest first), then reflections, then name — as in 汇总."""
    return (-(signin_rate(counts) or 0.0), -counts.reflected, counts.school)


def total_of(schools: list[SchoolCounts] | dict[str, SchoolCounts]) -> SchoolCounts:
    total = SchoolCounts(school="合计")
    for counts in schools.values() if isinstance(schools, dict) else schools:
        total.add(counts)
    return total


def merge_counts(
    per_roll: Iterable[dict[str, SchoolCounts]], into: dict[str, SchoolCounts] | None = None
) -> dict[str, SchoolCounts]:
    """The numbers of `merge_by_school` for rolls already counted with `by_school` (saves
    a second pass), added to `into` when given (a report that goes through its rolls in
    batches). The missing-name lists stay empty: over a province's term they would hold
    millions of entries that no report reads."""
    merged: dict[str, SchoolCounts] = {} if into is None else into
    for schools in per_roll:
        for name, counts in schools.items():
            if name not in merged:
                merged[name] = SchoolCounts(school=name)
            merged[name].add(counts, names=False)
    return merged


RollT = TypeVar("RollT", bound=Roll)


@dataclass
class PeriodStats(Generic[RollT]):
    """What happened in one alliance tree between `start` and `end` (activities held).

    `schools` and `total` hold numbers only (their missing-name lists are empty): names
    come from each roll's `missing_signin()`/`missing_reflection()`. The rolls are full
    `ActivityRoll`s (`period_stats`) or `RollTally`s (`period_tallies`).
    """

    alliance: Alliance
    start: datetime
    end: datetime
    rolls: list[RollT]
    schools: list[SchoolCounts]
    total: SchoolCounts

    @property
    def activities(self) -> list[Activity]:
        return [roll.activity for roll in self.rolls]


def held_activities(
    storage: Storage, alliance: Alliance, start: datetime, end: datetime, now: datetime
) -> list[Activity]:
    """Scheduled activities of the alliance tree that started in [start, min(end, now)]."""
    tree = storage.roster.descendants(alliance.id)
    return storage.activities.in_alliances(
        tree, starts_from=start, starts_before=min(end, now + HELD_SLACK)
    )


def period_stats(
    storage: Storage,
    alliance: Alliance,
    start: datetime,
    end: datetime,
    now: datetime,
    queries: ReportingQueries | None = None,
) -> PeriodStats[ActivityRoll]:
    activities = held_activities(storage, alliance, start, end, now)
    rolls = (queries or storage.reporting()).rolls(activities)
    return _period(alliance, start, end, rolls)


def period_tallies(
    storage: Storage,
    alliance: Alliance,
    start: datetime,
    end: datetime,
    now: datetime,
    queries: ReportingQueries | None = None,
) -> PeriodStats[RollTally]:
    """`period_stats` with `RollTally`s: the same numbers and names, without full records."""
    activities = held_activities(storage, alliance, start, end, now)
    rolls = (queries or storage.reporting()).tallies(activities)
    return _period(alliance, start, end, rolls)


def _period(
    alliance: Alliance, start: datetime, end: datetime, rolls: list[RollT]
) -> PeriodStats[RollT]:
    merged = count_by_school(rolls)
    return PeriodStats(
        alliance=alliance,
        start=start,
        end=end,
        rolls=rolls,
        schools=sorted(merged.values(), key=school_order),
        total=total_of(merged),
    )


@dataclass
class TeacherStats:
    """One person's record over some activities, counted like `ActivityRoll.by_school`."""

    member: Member
    expected: int = 0
    signed: int = 0
    late: int = 0
    on_leave: int = 0
    reflected: int = 0
    hours: float = 0.0

    @property
    def counted(self) -> int:
        return self.expected - self.on_leave

    @property
    def absent(self) -> int:
        return self.counted - self.signed


def teacher_stats(rolls: list[ActivityRoll]) -> list[TeacherStats]:
    """Per-person totals, ordered by school then name (the roster's order)."""
    return ordered_teachers(add_teacher_stats({}, rolls))


def ordered_teachers(found: dict[int, TeacherStats]) -> list[TeacherStats]:
    """Totals from `add_teacher_stats`, ordered by school then name (the roster's order)."""
    return sorted(
        found.values(), key=lambda t: (t.member.school_name or "", t.member.name, t.member.id)
    )


def add_teacher_stats(
    found: dict[int, TeacherStats], rolls: Iterable[ActivityRoll]
) -> dict[int, TeacherStats]:
    """Add these rolls to the per-person totals in `found` (by member id) and return it."""
    for roll in rolls:
        for member in roll.participants:
            stats = found.get(member.id)
            if stats is None:
                stats = found[member.id] = TeacherStats(member=member)
            stats.expected += 1
            signin = roll.signins.get(member.id)
            if member.id in roll.leaves and signin is None:
                stats.on_leave += 1
                continue
            reflected = member.id in roll.reflections
            if signin is not None:
                stats.signed += 1
                if signin.status is not SigninStatus.ON_TIME:
                    stats.late += 1
                if reflected:
                    stats.hours += roll.activity.hours
            if reflected:
                stats.reflected += 1
    return found


@dataclass
class WeekPoint:
    """One week of an alliance's trend."""

    monday: datetime
    activities: int = 0
    totals: SchoolCounts = field(default_factory=lambda: SchoolCounts(school="合计"))

    @property
    def label(self) -> str:
        return f"{self.monday.month}/{self.monday.day}"

    @property
    def signin_rate(self) -> float | None:
        return signin_rate(self.totals)

    @property
    def reflection_rate(self) -> float | None:
        return reflection_rate(self.totals)


def week_start(moment: datetime, zone: tzinfo) -> datetime:
    local = moment.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone)


def weekly_trend(
    storage: Storage, alliance: Alliance, now: datetime, zone: tzinfo, weeks: int = 8
) -> list[WeekPoint]:
    """The last `weeks` weeks (Monday to Sunday, the current week last), held activities only."""
    this_monday = week_start(now, zone)
    points = []
    for back in range(weeks - 1, -1, -1):
        day = this_monday.date() - timedelta(weeks=back)
        points.append(WeekPoint(monday=datetime(day.year, day.month, day.day, tzinfo=zone)))
    first = points[0].monday
    activities = held_activities(storage, alliance, first, this_monday + timedelta(weeks=1), now)
    by_monday = {p.monday.date(): p for p in points}
    weekly: dict[date, list[ActivityRoll]] = {}
    for roll in storage.reporting().rolls(activities):
        weekly.setdefault(week_start(roll.activity.starts_at, zone).date(), []).append(roll)
    for monday, rolls in weekly.items():
        point = by_monday[monday]
        point.activities += len(rolls)
        point.totals.add(total_of(count_by_school(rolls)))
    return points
