"""The Excel archive: activities, sign-ins, reflections, leaves, notices, resources, school
feedback, per-school and per-teacher statistics with 学时, for one alliance tree (or all) and
a date range, and a 说明 sheet saying what was exported, when, and how it was counted.

Dates are written as real Excel datetimes in local time (naive, with a number format), so
they sort and filter as dates. Statistics count only activities already held, the same way
as 汇总 and the digest; 学时 are credited when a teacher signed in AND handed in a reflection.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from bot.text.dates import parse_period, parse_when
from reports.alliance_sheets import (
    FEEDBACK_COLUMNS,
    RESOURCE_COLUMNS,
    feedback_sheet,
    resource_rows,
)
from reports.child_process import run_in_child_blocking
from reports.evidence_sheet import write_evidence_sheet
from reports.lesson_study import write_study_sheet
from reports.review_sheets import OBSERVATION_COLUMNS, REVIEW_COLUMNS, review_sheets
from reports.stats import (
    HELD_SLACK,
    TeacherStats,
    TeacherTally,
    rate,
    roll_total,
    school_order,
    school_totals,
    total_of,
)
from reports.xlsx import Cell, Column, Kind, Sheet, XlsxWriter
from storage import Storage
from storage.attendance import NO_SCHOOL, PARTICIPANT_ROLES, ActivityRoll, SchoolCounts
from storage.models import (
    SIGNIN_LABELS,
    Activity,
    ActivityStatus,
    Alliance,
    Member,
    Notice,
)
from storage.reviews import ReviewCounts

# (rows written so far, rows expected in total, what is being written)
Progress = Callable[[int, int, str], None]
_PROGRESS_EVERY = 2000
# Activities whose records are read and written together (a few tens of thousands of rows).
_ACTIVITY_BATCH = 200


class ExportError(Exception):
    """A problem the user can fix (bad date, unknown alliance); the message is Chinese."""


@dataclass(frozen=True)
class ExportScope:
    alliance: Alliance | None  # None: every alliance
    start: datetime | None  # activities starting at or after (aware)
    end: datetime | None  # activities starting before (aware)
    zone: tzinfo
    links: str | None = None  # a signed dashboard link's base: 附件 rows get download links

    def describe(self) -> str:
        who = self.alliance.name if self.alliance else "全部联盟"
        if self.start is None and self.end is None:
            return f"{who}，全部时间"
        first = f"{self.start.astimezone(self.zone):%Y-%m-%d}" if self.start else "最早"
        last = (
            f"{(self.end - timedelta(seconds=1)).astimezone(self.zone):%Y-%m-%d}"
            if self.end
            else "至今"
        )
        return f"{who}，{first} 至 {last}"


@dataclass
class ExportResult:
    path: Path
    scope: ExportScope
    counts: dict[str, int] = field(default_factory=dict)
    hours: float = 0.0

    def summary(self) -> str:
        c = self.counts
        return (
            f"活动 {c.get('活动', 0)} 个，签到 {c.get('签到', 0)} 条，反思 {c.get('反思', 0)} 篇，"
            f"请假 {c.get('请假', 0)} 条，通知 {c.get('通知', 0)} 条（回执 {c.get('回执', 0)} 条），"
            f"资源 {c.get('资源', 0)} 条，征集 {c.get('征集', 0)} 个（反馈 {c.get('反馈', 0)} 条），"
            f"评课 {c.get('评课', 0)} 条，听课 {c.get('听课', 0)} 节，"
            f"学校 {c.get('学校', 0)} 所，教师 {c.get('教师', 0)} 人，学时合计 {self.hours:g}"
        )


def parse_day_bound(text: str, now: datetime, *, end: bool) -> datetime:
    """A --from/--to bound as typed: 2026-09-01, 9月1日, 上周, 11月 (whole local days; a
    year-less date is the most recent one, as an archive looks back), or a moment with a
    time (parsed by `parse_when`). `end` makes a day inclusive: the bound is the next midnight.
    """
    period = parse_period(text, now)
    if period is not None:
        return period.end if end else period.start
    found = parse_when(text, now)
    if found is None or not found.has_time:
        raise ExportError(f"看不懂日期「{text}」，请写成 2026-09-01 或 9月1日 这样的格式。")
    return found.start


def exports_dir(storage: Storage) -> Path | None:
    """Where chat exports are kept: `exports/` beside the database file (None in memory)."""
    data_dir = storage.data_dir
    return data_dir / "exports" if data_dir is not None else None


# Files the chat command 导出 leaves in exports_dir(): a<alliance id>_<local time>[-n].xlsx
EXPORT_FILE = re.compile(r"^a(\d+)_\d{8}-\d{6}(?:-\d+)?\.xlsx$")
_FILE_SAFE = re.compile(r"[^\w\u4e00-\u9fff-]+")


def download_name(scope: ExportScope, now: datetime) -> str:
    """A readable Chinese file name for the user's download, e.g. 东部联盟-教研档案-20261128.xlsx"""
    who = scope.alliance.name if scope.alliance else "全部联盟"
    return f"{_FILE_SAFE.sub('_', who)}-教研档案-{now.astimezone(scope.zone):%Y%m%d}.xlsx"


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    return moment.astimezone(zone).replace(tzinfo=None) if moment is not None else None


def _status(activity: Activity, now: datetime) -> str:
    if activity.status is ActivityStatus.CANCELLED:
        return "已取消"
    return "已开展" if activity.starts_at <= now + HELD_SLACK else "未开始"


ACTIVITY_COLUMNS = [
    Column("编号", width=8),
    Column("类型", width=10),
    Column("标题", width=30),
    Column("联盟", width=14),
    Column("承办学校", width=16),
    Column("地点", width=16),
    Column("开始时间", Kind.DATETIME, 17),
    Column("结束时间", Kind.DATETIME, 17),
    Column("学时", Kind.NUMBER, 7),
    Column("反思截止", Kind.DATETIME, 17),
    Column("状态", width=8),
    Column("应到人数", Kind.INTEGER, 9),
    Column("请假", Kind.INTEGER, 7),
    Column("签到", Kind.INTEGER, 7),
    Column("迟到/补签", Kind.INTEGER, 10),
    Column("反思", Kind.INTEGER, 7),
    Column("签到率", Kind.PERCENT, 9),
    Column("反思提交率", Kind.PERCENT, 11),
]
SIGNIN_COLUMNS = [
    Column("活动编号", width=9),
    Column("活动标题", width=28),
    Column("活动开始", Kind.DATETIME, 17),
    Column("姓名", width=10),
    Column("账号", width=12),
    Column("学校", width=18),
    Column("签到时间", Kind.DATETIME, 17),
    Column("状态", width=8),
    Column("代签人", width=10),
]
REFLECTION_COLUMNS = [
    Column("活动编号", width=9),
    Column("活动标题", width=28),
    Column("活动开始", Kind.DATETIME, 17),
    Column("姓名", width=10),
    Column("账号", width=12),
    Column("学校", width=18),
    Column("首次提交", Kind.DATETIME, 17),
    Column("最后修改", Kind.DATETIME, 17),
    Column("版本", Kind.INTEGER, 6),
    Column("字数", Kind.INTEGER, 7),
    Column("反思正文", width=100),
]
LEAVE_COLUMNS = [
    Column("活动编号", width=9),
    Column("活动标题", width=28),
    Column("活动开始", Kind.DATETIME, 17),
    Column("姓名", width=10),
    Column("账号", width=12),
    Column("学校", width=18),
    Column("请假时间", Kind.DATETIME, 17),
    Column("原因", width=40),
]
NOTICE_COLUMNS = [
    Column("编号", width=8),
    Column("发布范围", width=14),
    Column("发布时间", Kind.DATETIME, 17),
    Column("需回执", width=8),
    Column("应确认", Kind.INTEGER, 8),
    Column("已确认", Kind.INTEGER, 8),
    Column("未确认", Kind.INTEGER, 8),
    Column("确认率", Kind.PERCENT, 9),
    Column("正文", width=80),
]
ACK_COLUMNS = [
    Column("通知编号", width=9),
    Column("姓名", width=10),
    Column("账号", width=12),
    Column("学校", width=18),
    Column("确认时间", Kind.DATETIME, 17),
]
SCHOOL_COLUMNS = [
    Column("学校", width=20),
    Column("应到人次", Kind.INTEGER, 9),
    Column("请假人次", Kind.INTEGER, 9),
    Column("应计人次", Kind.INTEGER, 9),
    Column("签到人次", Kind.INTEGER, 9),
    Column("迟到/补签", Kind.INTEGER, 10),
    Column("缺席人次", Kind.INTEGER, 9),
    Column("签到率", Kind.PERCENT, 9),
    Column("反思篇数", Kind.INTEGER, 9),
    Column("反思提交率", Kind.PERCENT, 11),
    Column("学时合计", Kind.NUMBER, 10),
]
# One person's figures for a range: 教师统计 here, each term of a 成长档案.
PERSON_STAT_COLUMNS = [
    Column("应参加", Kind.INTEGER, 8),
    Column("请假", Kind.INTEGER, 7),
    Column("应计", Kind.INTEGER, 7),
    Column("签到", Kind.INTEGER, 7),
    Column("迟到/补签", Kind.INTEGER, 10),
    Column("缺席", Kind.INTEGER, 7),
    Column("反思", Kind.INTEGER, 7),
    Column("签到率", Kind.PERCENT, 9),
    Column("反思提交率", Kind.PERCENT, 11),
    Column("听课", Kind.INTEGER, 7),
    Column("评课", Kind.INTEGER, 7),
]
TEACHER_COLUMNS = [
    Column("姓名", width=10),
    Column("账号", width=12),
    Column("学校", width=18),
    Column("所属联盟", width=14),
    Column("角色", width=10),
    *PERSON_STAT_COLUMNS,
    Column("学时", Kind.NUMBER, 7),
]
NOTE_COLUMNS = [Column("项目", width=14), Column("说明", width=90)]
# How every figure of the workbook is counted (the same rules as 汇总 and the digest).
COUNTING_RULES = [
    (
        "统计对象",
        "只统计已开展（开始时间已到）的活动；未开始和已取消的活动列在「活动」表中，但不计入任何统计。",
    ),
    ("应到", "活动所属联盟及其下级联盟的教师和联盟负责人。"),
    ("应计", "应到人数减去请假人数，请假不算缺席。"),
    ("签到", "按时签到、迟到和补签都算签到；缺席 = 应计 − 签到。"),
    ("签到率", "签到人次 ÷ 应计人次。"),
    ("反思提交率", "提交反思的人次 ÷ 应计人次；一篇反思修改多次只算一篇。"),
    ("学时", "教师签到并提交反思后，获得该活动的学时；学校和合计行是教师学时之和。"),
    ("账号", "成员的企业微信账号（userid），用于与其他系统核对同名教师。"),
]


class _Counter:
    """Feeds the progress callback every few thousand rows."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self._progress = progress
        self._reported = 0

    def tick(self, stage: str, force: bool = False) -> None:
        self.done += 1
        if self._progress and (force or self.done - self._reported >= _PROGRESS_EVERY):
            self._reported = self.done
            self._progress(min(self.done, self.total), self.total, stage)

    def report(self, stage: str) -> None:
        if self._progress:
            self._reported = self.done
            self._progress(min(self.done, self.total), self.total, stage)


def export_workbook(
    storage: Storage,
    scope: ExportScope,
    path: Path,
    now: datetime,
    *,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the archive for `scope` to `path` and say what went into it."""
    roster = storage.roster
    queries = storage.reporting()
    tree = roster.descendants(scope.alliance.id) if scope.alliance else None
    activities = storage.activities.in_alliances(
        tree, starts_from=scope.start, starts_before=scope.end, include_cancelled=True
    )
    live_ids = [a.id for a in activities if a.status is ActivityStatus.SCHEDULED]
    alliances = {a.id: a.name for a in roster.alliances()}
    schools = {s.id: s.name for s in roster.schools()}
    notices, recipients, acks, ack_people = _notice_data(storage, scope, tree)
    visible, school_ids = _visible(storage, scope, tree)
    first, last = _bounds(scope)
    resources = resource_rows(storage, visible, first, last, scope.zone)
    feedback = feedback_sheet(storage, visible, school_ids, first, last, scope.zone)
    reviews = review_sheets(storage, tree, first, last, scope.zone)
    total = (
        len(activities)
        + queries.record_count(live_ids)
        + len(notices)
        + sum(len(a) for a in acks.values())
        + len(resources)
        + len(feedback.rows)
        + len(reviews.reviews)
        + len(reviews.observations)
    )
    counter = _Counter(total, progress)
    result = ExportResult(path=path, scope=scope)
    zone = scope.zone
    teacher_tally = TeacherTally()
    people = _People()

    with XlsxWriter(path) as book:
        sheets = _RecordSheets(
            activities=book.sheet("活动", ACTIVITY_COLUMNS),
            signins=book.sheet("签到", SIGNIN_COLUMNS),
            reflections=book.sheet("反思", REFLECTION_COLUMNS),
            leaves=book.sheet("请假", LEAVE_COLUMNS),
        )
        # A batch of activities at a time, each of its records written to its sheet at
        # once: a province's 1.3M sign-ins and reflections are never all in memory.
        for start in range(0, len(activities), _ACTIVITY_BATCH):
            batch = activities[start : start + _ACTIVITY_BATCH]
            rolls = queries.rolls([a for a in batch if a.status is ActivityStatus.SCHEDULED])
            held = [r for r in rolls if r.activity.starts_at <= now + HELD_SLACK]
            helpers = queries.members_by_id(
                {s.by_member_id for r in rolls for s in r.signins.values() if s.by_member_id}
            )
            teacher_tally.add(held)
            per_roll = {r.activity.id: roll_total(r, people.index(r)[1]) for r in held}
            for activity in batch:
                counts = per_roll.get(activity.id)
                sheets.activities.append(
                    _activity_row(activity, counts, alliances, schools, zone, now)
                )
                counter.tick("活动")
            result.counts["签到"] = result.counts.get("签到", 0) + _write_people_rows(
                sheets.signins,
                rolls,
                people,
                counter,
                "签到",
                lambda roll: roll.signins,
                functools.partial(_signin_row, zone=zone, helpers=helpers),
            )
            result.counts["反思"] = result.counts.get("反思", 0) + _write_people_rows(
                sheets.reflections,
                rolls,
                people,
                counter,
                "反思",
                lambda roll: roll.reflections,
                lambda roll, m: _reflection_row(roll, m, zone),
            )
            result.counts["请假"] = result.counts.get("请假", 0) + _write_people_rows(
                sheets.leaves,
                rolls,
                people,
                counter,
                "请假",
                lambda roll: roll.leaves,
                lambda roll, m: _leave_row(roll, m, zone),
            )
        result.counts["活动"] = len(activities)
        for stage in ("签到", "反思", "请假"):
            result.counts.setdefault(stage, 0)
        teachers = teacher_tally.result()
        merged = school_totals(teachers)
        # People who only wrote 听课/评课 records are listed too, with their counts.
        listed = {t.member.id for t in teachers}
        teachers.extend(
            TeacherStats(member=m) for i, m in reviews.writers.items() if i not in listed
        )
        teachers.sort(key=lambda t: (t.member.school_name or "", t.member.name, t.member.id))
        hours_by_school: dict[str, float] = {}
        for stats in teachers:
            key = stats.member.school_name or NO_SCHOOL
            hours_by_school[key] = hours_by_school.get(key, 0.0) + stats.hours
        counter.total += len(merged) + 1 + len(teachers)

        book.sheet("通知与回执", NOTICE_COLUMNS)
        for notice in notices:
            expected = recipients[notice.id]
            confirmed = sum(1 for member_id in acks.get(notice.id, {}) if member_id in expected)
            book.append(
                [
                    notice.code,
                    alliances.get(notice.alliance_id, "") if notice.alliance_id else "全部",
                    _local(notice.publish_at, zone),
                    "是" if notice.needs_ack else "否",
                    len(expected) if notice.needs_ack else None,
                    confirmed if notice.needs_ack else None,
                    len(expected) - confirmed if notice.needs_ack else None,
                    rate(confirmed, len(expected)) if notice.needs_ack else None,
                    notice.body,
                ]
            )
            counter.tick("通知")
        result.counts["通知"] = len(notices)

        book.sheet("回执明细", ACK_COLUMNS)
        written = 0
        for notice in notices:
            confirmed_by = acks.get(notice.id, {})
            # Only people inside the export's scope: another alliance's names stay out.
            inside = [(i, at) for i, at in confirmed_by.items() if i in recipients[notice.id]]
            for member_id, at in sorted(inside, key=lambda kv: (kv[1], kv[0])):
                member = ack_people.get(member_id)
                book.append(
                    [
                        notice.code,
                        member.name if member else f"#{member_id}",
                        (member.userid or "") if member else "",
                        (member.school_name or "") if member else "",
                        _local(at, zone),
                    ]
                )
                written += 1
                counter.tick("回执")
        result.counts["回执"] = written

        book.sheet("资源", RESOURCE_COLUMNS)
        for row in resources:
            book.append(row)
            counter.tick("资源")
        result.counts["资源"] = len(resources)

        book.sheet("征集与反馈", FEEDBACK_COLUMNS)
        for row in feedback.rows:
            book.append(row)
            counter.tick("征集与反馈")
        result.counts["征集"] = feedback.requests
        result.counts["反馈"] = feedback.answers

        book.sheet("评课", REVIEW_COLUMNS)
        for row in reviews.reviews:
            book.append(row)
            counter.tick("评课")
        result.counts["评课"] = len(reviews.reviews)

        book.sheet("听课", OBSERVATION_COLUMNS)
        for row in reviews.observations:
            book.append(row)
            counter.tick("听课")
        result.counts["听课"] = len(reviews.observations)

        write_evidence_sheet(
            book,
            storage,
            activities,
            zone,
            scope.links,
            notices={n.id: n.code for n in notices},
            answers=feedback.answer_codes,
        )
        write_study_sheet(book, storage, activities, zone)
        book.sheet("学校统计", SCHOOL_COLUMNS)
        ordered = sorted(merged.values(), key=school_order)
        for counts in [*ordered, total_of(merged)]:
            is_total = counts.school == "合计"
            hours = (
                sum(hours_by_school.values())
                if is_total
                else hours_by_school.get(counts.school, 0.0)
            )
            book.append(
                [
                    counts.school,
                    counts.expected,
                    counts.on_leave,
                    counts.counted,
                    counts.signed,
                    counts.late,
                    counts.counted - counts.signed,
                    rate(counts.signed, counts.counted),
                    counts.reflected,
                    rate(counts.reflected, counts.counted),
                    hours,
                ]
            )
            counter.tick("学校统计")
        result.counts["学校"] = len(merged)

        book.sheet("教师统计", TEACHER_COLUMNS)
        for stats in teachers:
            book.append(_teacher_row(stats, alliances, reviews.by_writer.get(stats.member.id)))
            counter.tick("教师统计")
        book.append(_teacher_total(teachers, reviews.by_writer))
        result.counts["教师"] = len(teachers)
        result.hours = sum(t.hours for t in teachers)

        book.sheet("说明", NOTE_COLUMNS)
        book.extend(_notes(scope, now))
        counter.report("保存文件")
    counter.report("完成")
    return result


class _People:
    """Finds who a record belongs to and orders records like the roster (school, name).

    Only the activity's audience: records of people outside it (legacy rows from before the
    alliance boundary) are not exported, as they are not counted (`roll_of`).
    """

    def __init__(self) -> None:
        self._cache: dict[int, tuple[dict[int, int], dict[int, Member]]] = {}

    def index(self, roll: ActivityRoll) -> tuple[dict[int, int], dict[int, Member]]:
        key = id(roll.participants)
        if key not in self._cache:
            people = roll.participants
            self._cache[key] = (
                {m.id: i for i, m in enumerate(people)},
                {m.id: m for m in people},
            )
        return self._cache[key]

    def ordered(self, roll: ActivityRoll, member_ids: Iterable[int]) -> list[Member]:
        positions, members = self.index(roll)
        present = [members[i] for i in member_ids if i in members]
        return sorted(present, key=lambda m: (positions[m.id], m.id))


def _write_people_rows(
    book: Sheet,
    rolls: list[ActivityRoll],
    people: _People,
    counter: _Counter,
    stage: str,
    records: Callable[[ActivityRoll], Mapping[int, object]],
    row_of: Callable[[ActivityRoll, Member], list[Cell] | None],
) -> int:
    written = 0
    for roll in rolls:
        for member in people.ordered(roll, records(roll)):
            row = row_of(roll, member)
            if row is not None:
                book.append(row)
                written += 1
                counter.tick(stage)
    return written


@dataclass(frozen=True)
class _RecordSheets:
    """The sheets filled a batch of activities at a time."""

    activities: Sheet
    signins: Sheet
    reflections: Sheet
    leaves: Sheet


def _activity_row(
    activity: Activity,
    counts: SchoolCounts | None,
    alliances: dict[int, str],
    schools: dict[int, str],
    zone: tzinfo,
    now: datetime,
) -> list[Cell]:
    return [
        activity.code,
        activity.kind,
        activity.title,
        alliances.get(activity.alliance_id, ""),
        schools.get(activity.school_id or 0, ""),
        activity.place,
        _local(activity.starts_at, zone),
        _local(activity.ends_at, zone),
        activity.hours,
        _local(activity.reflection_due, zone),
        _status(activity, now),
        *(
            [
                counts.counted,
                counts.on_leave,
                counts.signed,
                counts.late,
                counts.reflected,
                rate(counts.signed, counts.counted),
                rate(counts.reflected, counts.counted),
            ]
            if counts is not None
            else [None] * 7
        ),
    ]


def _head(roll: ActivityRoll, zone: tzinfo, member: Member) -> list[Cell]:
    activity = roll.activity
    return [
        activity.code,
        activity.title,
        _local(activity.starts_at, zone),
        member.name,
        member.userid or "",
        member.school_name or "",
    ]


def _signin_row(
    roll: ActivityRoll, member: Member, zone: tzinfo, helpers: dict[int, Member]
) -> list[Cell] | None:
    signin = roll.signins.get(member.id)
    if signin is None:
        return None
    helper = helpers.get(signin.by_member_id or 0)
    return [
        *_head(roll, zone, member),
        _local(signin.at, zone),
        SIGNIN_LABELS[signin.status],
        helper.name if helper else "",
    ]


def _reflection_row(roll: ActivityRoll, member: Member, zone: tzinfo) -> list[Cell] | None:
    reflection = roll.reflections.get(member.id)
    if reflection is None:
        return None
    return [
        *_head(roll, zone, member),
        _local(reflection.first_submitted_at, zone),
        _local(reflection.updated_at, zone),
        reflection.version,
        len(reflection.body),
        reflection.body,
    ]


def _leave_row(roll: ActivityRoll, member: Member, zone: tzinfo) -> list[Cell] | None:
    leave = roll.leaves.get(member.id)
    if leave is None:
        return None
    return [*_head(roll, zone, member), _local(leave.at, zone), leave.reason or ""]


def _teacher_row(
    stats: TeacherStats, alliances: dict[int, str], written: ReviewCounts | None
) -> list[Cell]:
    member = stats.member
    written = written or ReviewCounts()
    return [
        member.name,
        member.userid or "",
        member.school_name or "",
        alliances.get(member.alliance_id or 0, ""),
        member.role.label,
        stats.expected,
        stats.on_leave,
        stats.counted,
        stats.signed,
        stats.late,
        stats.absent,
        stats.reflected,
        rate(stats.signed, stats.counted),
        rate(stats.reflected, stats.counted),
        written.observations,
        written.reviews,
        stats.hours,
    ]


def _teacher_total(teachers: list[TeacherStats], written: Mapping[int, ReviewCounts]) -> list[Cell]:
    """The 合计 row under the teachers: every count summed, rates over the summed counts."""
    listed = [written[t.member.id] for t in teachers if t.member.id in written]
    counted = sum(t.counted for t in teachers)
    signed = sum(t.signed for t in teachers)
    reflected = sum(t.reflected for t in teachers)
    return [
        "合计",
        None,
        f"{len(teachers)} 人",
        None,
        None,
        sum(t.expected for t in teachers),
        sum(t.on_leave for t in teachers),
        counted,
        signed,
        sum(t.late for t in teachers),
        counted - signed,
        reflected,
        rate(signed, counted),
        rate(reflected, counted),
        sum(counts.observations for counts in listed),
        sum(counts.reviews for counts in listed),
        sum(t.hours for t in teachers),
    ]


def _notes(scope: ExportScope, now: datetime) -> list[list[Cell]]:
    """The 说明 sheet: what the workbook covers, when it was made, how it counts."""
    zone_name = str(getattr(scope.zone, "key", scope.zone))
    rules: list[list[Cell]] = [[name, text] for name, text in COUNTING_RULES]
    return [
        ["范围", scope.describe() + ("（含下级联盟）" if scope.alliance else "")],
        ["筛选", "活动按开始时间，通知按发布时间，资源按分享时间，征集按发起时间。"],
        ["导出时间", f"{now.astimezone(scope.zone):%Y-%m-%d %H:%M}"],
        ["时间", f"表中所有时间都是当地时间（{zone_name}）。"],
        *rules,
    ]


def _bounds(scope: ExportScope) -> tuple[datetime, datetime]:
    """The scope's range with open ends made concrete."""
    far_past = datetime(1970, 1, 1, tzinfo=scope.zone)
    far_future = datetime(9999, 1, 1, tzinfo=scope.zone)
    return scope.start or far_past, scope.end or far_future


def _visible(
    storage: Storage, scope: ExportScope, tree: list[int] | None
) -> tuple[list[int] | None, set[int] | None]:
    """Alliances whose resources and requests belong in the archive (the tree and those
    above it), and the schools whose answers do (the tree's); None: everything."""
    if scope.alliance is None or tree is None:
        return None, None
    roster = storage.roster
    alliances = sorted(set(tree) | set(roster.ancestors(scope.alliance.id)))
    return alliances, {s.id for s in roster.schools(tree)}


def _notice_data(
    storage: Storage, scope: ExportScope, tree: list[int] | None
) -> tuple[list[Notice], dict[int, set[int]], dict[int, dict[int, datetime]], dict[int, Member]]:
    """Notices in scope, who was asked to confirm each (within scope), acks, and the people."""
    roster = storage.roster
    queries = storage.reporting()
    if tree is None:
        addressed: list[int] | None = None
    else:
        assert scope.alliance is not None
        addressed = sorted(set(tree) | set(roster.ancestors(scope.alliance.id)))
    first, last = _bounds(scope)
    notices = queries.notices_for(addressed, published_from=first, before=last)
    if not notices:  # spare loading everyone (100,000 people in a province)
        return [], {}, {}, {}
    members = roster.members_in(
        [a.id for a in roster.alliances()] if tree is None else tree, PARTICIPANT_ROLES
    )
    below: dict[int, set[int]] = {}
    recipients: dict[int, set[int]] = {}
    for notice in notices:
        if notice.alliance_id is None:
            recipients[notice.id] = {m.id for m in members}
            continue
        if notice.alliance_id not in below:
            below[notice.alliance_id] = set(roster.descendants(notice.alliance_id))
        ids = below[notice.alliance_id]
        recipients[notice.id] = {m.id for m in members if m.alliance_id in ids}
    acks = queries.acks([n.id for n in notices])
    people = {m.id: m for m in members}
    others = {i for a in acks.values() for i in a} - people.keys()
    people.update(queries.members_by_id(others))
    return notices, recipients, acks, people


def export_workbook_apart(
    storage: Storage, scope: ExportScope, path: Path, now: datetime
) -> ExportResult:
    """`export_workbook` in a child process when the database is a file, so the caller does
    not keep the rows it read (tens of MB for a district, BENCHMARKS.md). Blocking: for code
    already off the event loop (the 导出 command)."""
    db = storage.location
    if db is None:  # an in-memory database exists only in this process
        return export_workbook(storage, scope, path, now)
    result: ExportResult = run_in_child_blocking(
        "reports.export:export_workbook", scope, path, now, database=db
    )
    return result
