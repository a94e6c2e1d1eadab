"""课例 (一课多研) across rounds, for the chat view, the archive's 课例 sheet and the dashboard:
each round's date, 执教 and counts, and what changed between consecutive 说课 designs."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from reports.xlsx import Column, Kind, XlsxWriter
from storage import Storage
from storage.models import Activity, LessonReview, LessonStudy, Member

DIFF_LINES = 8  # changed lines shown per pair of designs
_SENTENCE = re.compile(r"(?<=[。；！？])|\n")


@dataclass
class RoundRow:
    round: int
    activity: Activity
    teacher: Member | None
    signed: int
    reflected: int
    reviews: list[LessonReview] = field(default_factory=list)
    design: str | None = None  # the newest design's text, if any was written
    designs: int = 0  # how many versions were submitted

    @property
    def starts_at(self) -> datetime:
        return self.activity.starts_at


def study_rounds(storage: Storage, study: LessonStudy) -> list[RoundRow]:
    """The study's rounds in order, with what each gathered."""
    rows = []
    repo = storage.lesson_studies
    for each in repo.rounds(study.id):
        activity = storage.activities.get(each.activity_id)
        if activity is None:
            continue
        design = repo.latest_design(activity.id)
        rows.append(
            RoundRow(
                round=each.round,
                activity=activity,
                teacher=storage.roster.member(each.teacher_id) if each.teacher_id else None,
                signed=len(storage.submissions.signins(activity.id)),
                reflected=len(storage.submissions.reflections(activity.id)),
                reviews=storage.reviews.of_activity(activity.id),
                design=design.body if design is not None and design.body.strip() else None,
                designs=repo.design_count(activity.id),
            )
        )
    return rows


def design_changes(rows: Sequence[RoundRow]) -> list[tuple[str, list[str]]]:
    """(heading, changed lines) between consecutive rounds with written designs (difflib)."""
    written = [r for r in rows if r.design is not None]
    changes = []
    for before, after in itertools.pairwise(written):
        assert before.design is not None and after.design is not None
        changed = [
            f"{line[0]} {line[1:]}"
            for line in difflib.unified_diff(
                _sentences(before.design), _sentences(after.design), lineterm="", n=0
            )
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        if len(changed) > DIFF_LINES:
            changed = [*changed[:DIFF_LINES], f"……另有 {len(changed) - DIFF_LINES} 处改动"]
        changes.append((f"说课稿 第{before.round}轮→第{after.round}轮", changed or ["没有改动"]))
    return changes


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


STUDY_COLUMNS = [
    Column("课例", width=24),
    Column("轮次", Kind.INTEGER, 6),
    Column("活动编号", width=9),
    Column("日期", Kind.DATETIME, 17),
    Column("执教", width=10),
    Column("执教学校", width=18),
    Column("签到", Kind.INTEGER, 7),
    Column("反思", Kind.INTEGER, 7),
    Column("评课", Kind.INTEGER, 7),
    Column("说课稿版本", Kind.INTEGER, 10),
]


def write_study_sheet(
    book: XlsxWriter, storage: Storage, activities: Sequence[Activity], zone: tzinfo
) -> int:
    """The archive's 课例 sheet: every round among the exported activities, by 课例 then
    round; how many rows."""
    exported = {a.id for a in activities}
    alliances = {a.alliance_id for a in activities}
    book.sheet("课例", STUDY_COLUMNS)
    written = 0
    for study in storage.lesson_studies.in_alliances(alliances):
        for row in study_rounds(storage, study):
            if row.activity.id not in exported:
                continue
            book.append(
                [
                    study.name,
                    row.round,
                    row.activity.code,
                    row.starts_at.astimezone(zone).replace(tzinfo=None),
                    row.teacher.name if row.teacher else "",
                    (row.teacher.school_name or "") if row.teacher else "",
                    row.signed,
                    row.reflected,
                    len(row.reviews),
                    row.designs,
                ]
            )
            written += 1
    return written
