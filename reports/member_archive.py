"""成长档案: one teacher's record over a date range, for evaluation (绩效考评).

What goes in: the activities the teacher was expected at (the same audience rule as the
roll) with their sign-in status, reflections in full, 评课 and 听课 they wrote and those
written on lessons they taught, resources they shared, and 学时. Totals per term are counted
exactly like the archive's 教师统计 (`reports.stats.teacher_stats` on one-person rolls), so
the two never disagree. The xlsx and HTML writers (`reports.archive_xlsx`,
`reports.archive_html`) only lay this out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import TypeVar

from bot.text.dates import school_term
from reports.alliance_sheets import resource_where
from reports.export import COUNTING_RULES
from reports.stats import HELD_SLACK, TeacherStats, rate, teacher_stats
from storage import Storage
from storage.attendance import ActivityRoll, expected_among
from storage.models import (
    SIGNIN_LABELS,
    Activity,
    ActivityStatus,
    Leave,
    LessonReview,
    Member,
    Reflection,
    Resource,
    ReviewKind,
    Signin,
    SigninStatus,
)

RecordT = TypeVar("RecordT", Signin, Leave, Reflection)

# The export's rules, and what only a personal archive needs said.
ARCHIVE_RULES = [
    *COUNTING_RULES,
    ("活动范围", "按当前名册，列出本人应参加（活动对象包含本人）的活动，按开始时间筛选。"),
    ("签到状态", "已签到、迟到、补签、请假、缺席；活动还在进行时为未签到，未开始为未开始。"),
    ("听课、评课", "按上课日期筛选；「我写的」是本人写的，「我的课」是别人对本人执教的课写的。"),
    ("资源", "本人分享的资源，按分享时间筛选。"),
    ("学期", "9月至次年1月为第一学期，2月至8月为第二学期。"),
]


@dataclass(frozen=True)
class ActivityLine:
    """One activity of the archive and how the teacher took part."""

    activity: Activity
    status: str  # 已签到 / 迟到 / 补签 / 请假 / 缺席 / 未签到 / 未开始
    signed_at: datetime | None
    reflected: bool
    credited: float  # 学时 earned here (signed in and reflected)
    leave_reason: str | None


@dataclass
class TermTotals:
    """The counts of one term (or of the whole range: label 合计)."""

    label: str
    stats: TeacherStats
    observations: int = 0  # 听课 written
    reviews: int = 0  # 评课 written
    reviews_received: int = 0
    observations_received: int = 0
    resources: int = 0

    @property
    def signin_rate(self) -> float | None:
        return rate(self.stats.signed, self.stats.counted)

    @property
    def reflection_rate(self) -> float | None:
        return rate(self.stats.reflected, self.stats.counted)


@dataclass
class MemberArchive:
    member: Member
    alliance: str
    range_label: str
    start: datetime
    end: datetime
    zone: tzinfo
    made_at: datetime
    activities: list[ActivityLine] = field(default_factory=list)
    reflections: list[tuple[Activity, Reflection]] = field(default_factory=list)
    written: list[LessonReview] = field(default_factory=list)  # 评课 and 听课 by the teacher
    received: list[LessonReview] = field(default_factory=list)  # on the teacher's lessons
    resources: list[Resource] = field(default_factory=list)
    terms: list[TermTotals] = field(default_factory=list)
    total: TermTotals | None = None
    people: dict[int, Member] = field(default_factory=dict)  # writers and teachers named
    lessons: dict[int, Activity] = field(default_factory=dict)  # reviewed or linked to
    resource_links: dict[int, str] = field(default_factory=dict)  # resource id → link or file

    @property
    def who(self) -> str:
        """王芳（东部一小，东部联盟，账号 t1）"""
        member = self.member
        parts = [member.school_name or "无学校", self.alliance or "无联盟"]
        if member.userid:
            parts.append(f"账号 {member.userid}")
        return f"{member.name}（{'，'.join(parts)}）"

    def local(self, moment: datetime | None) -> datetime | None:
        """A naive local time, as the workbook writes times."""
        return moment.astimezone(self.zone).replace(tzinfo=None) if moment else None

    def name(self, member_id: int | None) -> str:
        person = self.people.get(member_id or 0)
        return person.name if person else ""

    def school(self, member_id: int | None) -> str:
        person = self.people.get(member_id or 0)
        return (person.school_name or "") if person else ""

    @staticmethod
    def scores(review: LessonReview) -> str:
        """评分 as written: 目标 4、过程 5."""
        pairs = zip(review.score_items, review.scores, strict=False)
        return "、".join(f"{item} {score}" for item, score in pairs)

    def lesson(self, review: LessonReview) -> str:
        """What lesson a record is about: the activity, or the 听课's topic."""
        if review.activity_id is not None:
            activity = self.lessons.get(review.activity_id)
            return f"{activity.code} {activity.title}" if activity else f"A{review.activity_id}"
        return f"《{review.topic}》" if review.topic else ""


def collect_archive(
    storage: Storage,
    member: Member,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    now: datetime,
    label: str,
) -> MemberArchive:
    """Everything of `member` in [start, end) (aware bounds), counted as of `now`."""
    roster = storage.roster
    alliance = roster.alliance(member.alliance_id) if member.alliance_id else None
    archive = MemberArchive(
        member=member,
        alliance=alliance.name if alliance else "",
        range_label=label,
        start=start,
        end=end,
        zone=zone,
        made_at=now,
    )
    rolls = _rolls(storage, member, start, end)
    for roll in rolls:
        archive.activities.append(_line(roll, member, now))
        reflection = roll.reflections.get(member.id)
        if reflection is not None:
            archive.reflections.append((roll.activity, reflection))
    first, after = start.astimezone(zone).date(), end.astimezone(zone).date()
    archive.written = [
        r for r in storage.reviews.by_observer(member.id) if first <= r.lesson_date < after
    ]
    archive.received = [
        r for r in storage.reviews.about_teacher(member.id) if first <= r.lesson_date < after
    ]
    archive.resources = storage.resources.shared_by_member(member.id, start, end)
    records = [*archive.written, *archive.received]
    archive.people = storage.reporting().members_by_id(
        {r.observer_id for r in records} | {r.teacher_id for r in records if r.teacher_id}
    )
    archive.people[member.id] = member
    archive.resource_links = {r.id: resource_where(storage, r) for r in archive.resources}
    linked = {r.activity_id for r in records if r.activity_id}
    linked |= {r.activity_id for r in archive.resources if r.activity_id}
    for activity_id in linked:
        activity = storage.activities.get(activity_id)
        if activity is not None:
            archive.lessons[activity_id] = activity
    held = [r for r in rolls if r.activity.starts_at <= now + HELD_SLACK]
    archive.terms, archive.total = _totals(archive, held)
    return archive


def _rolls(storage: Storage, member: Member, start: datetime, end: datetime) -> list[ActivityRoll]:
    """One-person rolls of the scheduled activities in range whose audience holds `member`:
    activities of their alliance and those above it (an activity's audience is its tree)."""
    if member.alliance_id is None:
        return []
    submissions = storage.submissions
    signins = submissions.signins_of(member.id)
    leaves = submissions.leaves_of(member.id)
    reflections = submissions.reflections_of(member.id)
    activities = storage.activities.in_alliances(
        storage.roster.ancestors(member.alliance_id), starts_from=start, starts_before=end
    )
    scheduled = [a for a in activities if a.status is ActivityStatus.SCHEDULED]
    rolls = []
    for activity in expected_among(storage, scheduled, member):
        rolls.append(
            ActivityRoll(
                activity=activity,
                participants=[member],
                signins=_only(signins, activity.id, member.id),
                leaves=_only(leaves, activity.id, member.id),
                reflections=_only(reflections, activity.id, member.id),
            )
        )
    return sorted(rolls, key=lambda r: (r.activity.starts_at, r.activity.id))


def _only(records: dict[int, RecordT], activity_id: int, member_id: int) -> dict[int, RecordT]:
    """A by-member mapping holding this member's record of one activity, if any."""
    record = records.get(activity_id)
    return {} if record is None else {member_id: record}


def _line(roll: ActivityRoll, member: Member, now: datetime) -> ActivityLine:
    activity = roll.activity
    signin = roll.signins.get(member.id)
    leave = roll.leaves.get(member.id)
    reflected = member.id in roll.reflections
    if signin is not None:
        status = "已签到" if signin.status is SigninStatus.ON_TIME else SIGNIN_LABELS[signin.status]
    elif leave is not None:
        status = "请假"
    elif activity.starts_at > now + HELD_SLACK:
        status = "未开始"
    else:
        status = "缺席" if activity.ends_at < now else "未签到"
    return ActivityLine(
        activity=activity,
        status=status,
        signed_at=signin.at if signin else None,
        reflected=reflected,
        credited=activity.hours if signin is not None and reflected else 0.0,
        leave_reason=(leave.reason or "") if leave is not None and signin is None else None,
    )


def _totals(
    archive: MemberArchive, held: list[ActivityRoll]
) -> tuple[list[TermTotals], TermTotals]:
    """Per-term counts (terms in order) and the whole range's."""
    zone = archive.zone
    terms: dict[date, TermTotals] = {}

    def term(day: date) -> TermTotals:
        first, label = school_term(day)
        if first not in terms:
            terms[first] = TermTotals(label=label, stats=TeacherStats(member=archive.member))
        return terms[first]

    for roll in held:
        day = roll.activity.starts_at.astimezone(zone).date()
        found = teacher_stats([roll])
        if found:
            _add_stats(term(day).stats, found[0])
    for review in archive.written:
        totals = term(review.lesson_date)
        if review.kind is ReviewKind.OBSERVATION:
            totals.observations += 1
        else:
            totals.reviews += 1
    for review in archive.received:
        totals = term(review.lesson_date)
        if review.kind is ReviewKind.OBSERVATION:
            totals.observations_received += 1
        else:
            totals.reviews_received += 1
    for resource in archive.resources:
        term(resource.shared_at.astimezone(zone).date()).resources += 1
    ordered = [terms[key] for key in sorted(terms)]
    total = TermTotals(label="合计", stats=TeacherStats(member=archive.member))
    for one in ordered:
        _add_stats(total.stats, one.stats)
        total.observations += one.observations
        total.reviews += one.reviews
        total.reviews_received += one.reviews_received
        total.observations_received += one.observations_received
        total.resources += one.resources
    return ordered, total


def _add_stats(into: TeacherStats, more: TeacherStats) -> None:
    into.expected += more.expected
    into.signed += more.signed
    into.late += more.late
    into.on_leave += more.on_leave
    into.reflected += more.reflected
    into.hours += more.hours
