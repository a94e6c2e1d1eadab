"""The numbers every report shows, computed once from batch-loaded rolls.

Attendance is counted the one way `storage.attendance` defines (expected = teachers and
leaders of the activity's alliance tree; people on leave are not counted; rates are over
the counted). Per-teacher figures follow exactly the same rules, and 学时 are credited for
an activity when the teacher signed in AND submitted a reflection.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Generic, TypeVar

from storage import Storage
from storage.attendance import (
    NO_SCHOOL,
    ActivityRoll,
    Roll,
    RollTally,
    SchoolCounts,
    count_by_school,
)
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


@dataclass
class PeriodCounts:
    """A period's held activities and its per-school sums, without rolls (no names).

    Why: the digest of a province term counts 20,000 activities and 1.3M submissions; the
    database sums them (`ReportingQueries.school_counts`) instead of Python walking rolls.
    """

    alliance: Alliance
    activities: list[Activity]
    schools: list[SchoolCounts]
    total: SchoolCounts


def period_counts(
    storage: Storage,
    alliance: Alliance,
    start: datetime,
    end: datetime,
    now: datetime,
    queries: ReportingQueries | None = None,
) -> PeriodCounts:
    """The numbers of `period_tallies` (same activities, same rules), summed in SQL."""
    activities = held_activities(storage, alliance, start, end, now)
    merged: dict[str, SchoolCounts] = {}
    if activities:
        tree = storage.roster.descendants(alliance.id)
        before = min(end, now + HELD_SLACK)
        merged = (queries or storage.reporting()).school_counts(tree, start, before)
    return PeriodCounts(
        alliance=alliance,
        activities=activities,
        schools=sorted(merged.values(), key=school_order),
        total=total_of(merged),
    )


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
    tally = TeacherTally()
    tally.add(rolls)
    return tally.result()


class TeacherTally:
    """Per-person totals built a batch of rolls at a time (the export of a province).

    Only each roll's records are looked at, not each (participant, activity) pair: a
    province's term is 10M pairs but 1.3M records. Rolls of one alliance share their
    participant list, so each list is indexed once, and how many rolls used it becomes
    everyone's `expected` in `result()`.
    """

    def __init__(self) -> None:
        self._found: dict[int, TeacherStats] = {}
        # Keyed by id() of a participant list: the list, its members by id, rolls using it.
        self._lists: dict[int, tuple[list[Member], dict[int, Member], int]] = {}

    def add(self, rolls: Iterable[ActivityRoll]) -> None:
        on_time = SigninStatus.ON_TIME
        for roll in rolls:
            people, index, uses = self._lists.get(id(roll.participants)) or (
                roll.participants,
                {m.id: m for m in roll.participants},
                0,
            )
            self._lists[id(people)] = (people, index, uses + 1)
            signins, leaves, reflections = roll.signins, roll.leaves, roll.reflections
            for member_id, signin in signins.items():
                member = index.get(member_id)
                if member is None:
                    continue
                stats = self._stats(member)
                stats.signed += 1
                if signin.status is not on_time:
                    stats.late += 1
                if member_id in reflections:
                    stats.hours += roll.activity.hours
            for member_id in leaves:
                member = index.get(member_id)
                if member is not None and member_id not in signins:
                    self._stats(member).on_leave += 1
            for member_id in reflections:
                member = index.get(member_id)
                if member is not None and (member_id in signins or member_id not in leaves):
                    self._stats(member).reflected += 1

    def _stats(self, member: Member) -> TeacherStats:
        stats = self._found.get(member.id)
        if stats is None:
            stats = self._found[member.id] = TeacherStats(member=member)
        return stats

    def result(self) -> list[TeacherStats]:
        """Everyone expected at any roll added, ordered by school then name."""
        for people, _, uses in self._lists.values():
            for member in people:
                self._stats(member).expected += uses
        self._lists.clear()
        return sorted(
            self._found.values(),
            key=lambda t: (t.member.school_name or "", t.member.name, t.member.id),
        )


def school_totals(teachers: Iterable[TeacherStats]) -> dict[str, SchoolCounts]:
    """Per-school counts as `merge_by_school` gives them (numbers only): each (participant,
    activity) pair counts once for the teacher and once for their school, so the schools'
    numbers are their teachers' added up."""
    schools: dict[str, SchoolCounts] = {}
    for stats in teachers:
        name = stats.member.school_name or NO_SCHOOL
        counts = schools.get(name)
        if counts is None:
            counts = schools[name] = SchoolCounts(school=name)
        counts.expected += stats.expected
        counts.on_leave += stats.on_leave
        counts.signed += stats.signed
        counts.late += stats.late
        counts.reflected += stats.reflected
    return schools


def roll_total(roll: ActivityRoll, present: Container[int]) -> SchoolCounts:
    """`total_of(roll.by_school())` (numbers only), looking at the records, not everyone;
    `present` holds the ids of `roll.participants` (shared by the rolls of one alliance)."""
    total = SchoolCounts(school="合计", expected=len(roll.participants))
    signins, leaves = roll.signins, roll.leaves
    for member_id, signin in signins.items():
        if member_id in present:
            total.signed += 1
            if signin.status is not SigninStatus.ON_TIME:
                total.late += 1
    total.on_leave = sum(1 for i in leaves if i in present and i not in signins)
    total.reflected = sum(
        1 for i in roll.reflections if i in present and (i in signins or i not in leaves)
    )
    return total


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
