"""成长档案 as a workbook: 概览 first (per-term totals, who and what range, the counting rule),
then 活动, 反思, 评课, 听课 and 资源, written with the archive's streaming writer."""

from __future__ import annotations

from pathlib import Path

from reports.alliance_sheets import RESOURCE_COLUMNS
from reports.export import PERSON_STAT_COLUMNS
from reports.member_archive import ARCHIVE_RULES, MemberArchive, TermTotals
from reports.xlsx import Cell, Column, Kind, XlsxWriter
from storage.models import LessonReview, ReviewKind

OVERVIEW_COLUMNS = [
    Column("学期", width=20),
    *PERSON_STAT_COLUMNS,
    Column("我的课收到评课", Kind.INTEGER, 14),
    Column("我的课被听课", Kind.INTEGER, 12),
    Column("分享资源", Kind.INTEGER, 9),
    Column("学时", Kind.NUMBER, 7),
]
ACTIVITY_COLUMNS = [
    Column("活动编号", width=9),
    Column("类型", width=10),
    Column("标题", width=30),
    Column("开始时间", Kind.DATETIME, 17),
    Column("地点", width=16),
    Column("签到状态", width=9),
    Column("签到时间", Kind.DATETIME, 17),
    Column("请假原因", width=20),
    Column("反思", width=7),
    Column("活动学时", Kind.NUMBER, 9),
    Column("获得学时", Kind.NUMBER, 9),
]
REFLECTION_COLUMNS = [
    Column("活动编号", width=9),
    Column("活动标题", width=28),
    Column("活动开始", Kind.DATETIME, 17),
    Column("首次提交", Kind.DATETIME, 17),
    Column("最后修改", Kind.DATETIME, 17),
    Column("版本", Kind.INTEGER, 6),
    Column("字数", Kind.INTEGER, 7),
    Column("反思正文", width=100),
]
RECORD_COLUMNS = [
    Column("类别", width=10),
    Column("日期", Kind.DATE, 11),
    Column("课", width=28),
    Column("执教老师", width=10),
    Column("执教学校", width=16),
    Column("记录人", width=10),
    Column("记录人学校", width=16),
    Column("优点", width=40),
    Column("不足", width=40),
    Column("建议", width=40),
    Column("评分", width=24),
    Column("提交时间", Kind.DATETIME, 17),
]
WRITTEN, RECEIVED = "我写的", "我的课"
RESOURCE_SHEET_COLUMNS = [c for c in RESOURCE_COLUMNS if c.header not in ("分享人", "学校")]


def write_archive_xlsx(archive: MemberArchive, path: Path) -> None:
    """Write the workbook to `path` (atomically: the writer saves a .part file first)."""
    with XlsxWriter(path) as book:
        book.sheet("概览", OVERVIEW_COLUMNS)
        book.extend(_overview(archive))
        book.sheet("活动", ACTIVITY_COLUMNS)
        for line in archive.activities:
            activity = line.activity
            book.append(
                [
                    activity.code,
                    activity.kind,
                    activity.title,
                    archive.local(activity.starts_at),
                    activity.place,
                    line.status,
                    archive.local(line.signed_at),
                    line.leave_reason,
                    "已交" if line.reflected else "未交",
                    activity.hours,
                    line.credited,
                ]
            )
        book.sheet("反思", REFLECTION_COLUMNS)
        for activity, reflection in archive.reflections:
            book.append(
                [
                    activity.code,
                    activity.title,
                    archive.local(activity.starts_at),
                    archive.local(reflection.first_submitted_at),
                    archive.local(reflection.updated_at),
                    reflection.version,
                    len(reflection.body),
                    reflection.body,
                ]
            )
        for kind in (ReviewKind.REVIEW, ReviewKind.OBSERVATION):
            book.sheet(kind.label, RECORD_COLUMNS)
            for label, records in ((WRITTEN, archive.written), (RECEIVED, archive.received)):
                book.extend(_record(archive, label, r) for r in records if r.kind is kind)
        book.sheet("资源", RESOURCE_SHEET_COLUMNS)
        for resource in archive.resources:
            linked = archive.lessons.get(resource.activity_id or 0)
            book.append(
                [
                    resource.code,
                    resource.title,
                    resource.kind,
                    archive.resource_links.get(resource.id, ""),
                    "、".join(resource.tags),
                    archive.local(resource.shared_at),
                    "是" if resource.recommended_at else "否",
                    f"{linked.code} {linked.title}" if linked else "",
                ]
            )


def totals_row(totals: TermTotals) -> list[Cell]:
    stats = totals.stats
    return [
        totals.label,
        stats.expected,
        stats.on_leave,
        stats.counted,
        stats.signed,
        stats.late,
        stats.absent,
        stats.reflected,
        totals.signin_rate,
        totals.reflection_rate,
        totals.observations,
        totals.reviews,
        totals.reviews_received,
        totals.observations_received,
        totals.resources,
        stats.hours,
    ]


def _overview(archive: MemberArchive) -> list[list[Cell]]:
    """The terms and their total, then who, what range, and how everything is counted."""
    width = len(OVERVIEW_COLUMNS)
    rows = [totals_row(t) for t in archive.terms]
    if archive.total is not None:
        rows.append(totals_row(archive.total))
    notes: list[tuple[str, str]] = [
        ("姓名", archive.who),
        ("范围", archive.range_label),
        ("导出时间", f"{archive.made_at.astimezone(archive.zone):%Y-%m-%d %H:%M}"),
        *ARCHIVE_RULES,
    ]
    rows.append([None] * width)
    rows.extend([name, text, *[None] * (width - 2)] for name, text in notes)
    return rows


def _record(archive: MemberArchive, label: str, review: LessonReview) -> list[Cell]:
    scores = archive.scores(review)
    return [
        label,
        review.lesson_date,
        archive.lesson(review),
        archive.name(review.teacher_id),
        archive.school(review.teacher_id),
        archive.name(review.observer_id),
        archive.school(review.observer_id),
        review.strengths,
        review.weaknesses,
        review.suggestions,
        scores,
        archive.local(review.updated_at),
    ]
