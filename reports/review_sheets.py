"""听评课 in reports: the archive's 评课 and 听课 sheets (in full, with who wrote how many),
and the per-school counts 汇总 and the dashboard show.

Scope follows the activities sheet: records on lessons of the alliance's tree (all alliances
for a district export) whose lesson day falls in the export's range. Records are counted for
whoever wrote them, as the 听课 quota is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from reports.xlsx import Cell, Column, Kind
from storage import Storage
from storage.attendance import NO_SCHOOL, PARTICIPANT_ROLES
from storage.models import LessonReview, Member, ReviewKind
from storage.reviews import ReviewCounts

REVIEW_COLUMNS = [
    Column("活动编号", width=9),
    Column("活动标题", width=28),
    Column("日期", Kind.DATE, 11),
    Column("评课人", width=10),
    Column("评课人学校", width=18),
    Column("执教老师", width=10),
    Column("优点", width=40),
    Column("不足", width=40),
    Column("建议", width=40),
    Column("评分", width=30),
    Column("平均分", Kind.NUMBER, 8),
    Column("提交时间", Kind.DATETIME, 17),
]
OBSERVATION_COLUMNS = [
    Column("日期", Kind.DATE, 11),
    Column("听课人", width=10),
    Column("听课人学校", width=18),
    Column("执教老师", width=10),
    Column("执教学校", width=18),
    Column("课题", width=24),
    Column("学科", width=8),
    Column("优点", width=40),
    Column("不足", width=40),
    Column("建议", width=40),
    Column("记录时间", Kind.DATETIME, 17),
]


@dataclass
class ReviewSheets:
    reviews: list[list[Cell]] = field(default_factory=list)
    observations: list[list[Cell]] = field(default_factory=list)
    # Who wrote how many, for 教师统计 (writers outside every activity's roll included).
    by_writer: dict[int, ReviewCounts] = field(default_factory=dict)
    writers: dict[int, Member] = field(default_factory=dict)


def review_sheets(
    storage: Storage, tree: list[int] | None, start: datetime, end: datetime, zone: tzinfo
) -> ReviewSheets:
    """Rows of both sheets for lessons of `tree` (None: every alliance) in [start, end)."""
    alliance_ids = tree if tree is not None else [a.id for a in storage.roster.alliances()]
    records = storage.reviews.in_alliances(
        alliance_ids,
        first_day=start.astimezone(zone).date(),
        after_day=end.astimezone(zone).date(),
    )
    people = storage.reporting().members_by_id(
        {r.observer_id for r in records} | {r.teacher_id for r in records if r.teacher_id}
    )
    sheets = ReviewSheets(writers={r.observer_id: people[r.observer_id] for r in records})
    activities = {
        a.id: a
        for a in (
            storage.activities.get(i) for i in {r.activity_id for r in records if r.activity_id}
        )
        if a is not None
    }
    for record in records:
        counts = sheets.by_writer.setdefault(record.observer_id, ReviewCounts())
        observer = people.get(record.observer_id)
        teacher = people.get(record.teacher_id or 0)
        if record.kind is ReviewKind.REVIEW:
            counts.reviews += 1
            activity = activities.get(record.activity_id or 0)
            sheets.reviews.append(
                [
                    f"A{record.activity_id}",
                    activity.title if activity else "",
                    record.lesson_date,
                    _name(observer),
                    _school(observer),
                    _name(teacher),
                    record.strengths,
                    record.weaknesses,
                    record.suggestions,
                    _scores(record),
                    sum(record.scores) / len(record.scores) if record.scores else None,
                    record.updated_at.astimezone(zone).replace(tzinfo=None),
                ]
            )
        else:
            counts.observations += 1
            sheets.observations.append(
                [
                    record.lesson_date,
                    _name(observer),
                    _school(observer),
                    _name(teacher),
                    _school(teacher),
                    record.topic or "",
                    record.subject or "",
                    record.strengths,
                    record.weaknesses,
                    record.suggestions,
                    record.created_at.astimezone(zone).replace(tzinfo=None),
                ]
            )
    return sheets


def _name(member: Member | None) -> str:
    return member.name if member else ""


def _school(member: Member | None) -> str:
    return (member.school_name or "") if member else ""


def _scores(record: LessonReview) -> str:
    return "、".join(
        f"{item} {score}" for item, score in zip(record.score_items, record.scores, strict=False)
    )


@dataclass
class SchoolReviews:
    """One school's 听课 and 评课, counted at the school of whoever wrote them."""

    school: str
    teachers: int = 0
    writers: int = 0
    counts: ReviewCounts = field(default_factory=ReviewCounts)


def reviews_by_school(
    storage: Storage,
    tree: list[int],
    first_day: date,
    after_day: date,
    school_id: int | None = None,
) -> list[SchoolReviews]:
    """Per school of the tree (one school when given), by name; empty when nobody wrote any."""
    counts = storage.reviews.counts_by_observer(tree, first_day=first_day, after_day=after_day)
    if not counts:
        return []
    found: dict[str, SchoolReviews] = {}
    for member in storage.roster.members_in(tree, PARTICIPANT_ROLES):
        if school_id is not None and member.school_id != school_id:
            continue
        name = member.school_name or NO_SCHOOL
        school = found.setdefault(name, SchoolReviews(school=name))
        school.teachers += 1
        if member.id in counts:
            school.writers += 1
            school.counts.add(counts[member.id])
    return sorted(found.values(), key=lambda s: s.school)
