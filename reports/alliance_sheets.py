"""The archive's sheets for the alliance's other work: resources (资源) and school feedback
(征集与反馈), as rows ready for the workbook.

Scope follows the notices sheet: for one alliance, what belongs to it, to the alliances below
it and to those above it (what its members see), but feedback rows only for the schools of
its own tree, so another alliance's schools and answers stay out. Resources are picked by
when they were shared, feedback requests by when they were made. Dates are naive local
datetimes, as everywhere in the workbook.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from reports.xlsx import Cell, Column, Kind
from storage import Storage
from storage.feedback import feedback_progress
from storage.models import Activity, FeedbackAnswer, FeedbackRequest, Resource

RESOURCE_COLUMNS = [
    Column("编号", width=8),
    Column("标题", width=36),
    Column("类型", width=10),
    Column("链接", width=40),
    Column("标签", width=18),
    Column("分享人", width=10),
    Column("学校", width=18),
    Column("时间", Kind.DATETIME, 17),
    Column("是否推荐", width=9),
    Column("关联活动", width=28),
]
FEEDBACK_COLUMNS = [
    Column("征集编号", width=9),
    Column("问题", width=36),
    Column("截止时间", Kind.DATETIME, 17),
    Column("学校", width=18),
    Column("状态", width=10),
    Column("反馈人", width=10),
    Column("反馈内容", width=80),
    Column("反馈时间", Kind.DATETIME, 17),
    Column("版本", Kind.INTEGER, 6),
]
ANSWERED, LATE, MISSING = "已反馈", "逾期反馈", "未反馈"


def _local(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def resource_rows(
    storage: Storage,
    alliance_ids: Sequence[int] | None,
    start: datetime,
    end: datetime,
    zone: tzinfo,
) -> list[list[Cell]]:
    """One row per resource shared in [start, end) by these alliances (None: all)."""
    resources = storage.resources.shared_between(alliance_ids, start, end)
    people = storage.reporting().members_by_id(r.shared_by for r in resources if r.shared_by)
    activities: dict[int, Activity | None] = {}
    for activity_id in {r.activity_id for r in resources if r.activity_id}:
        activities[activity_id] = storage.activities.get(activity_id)
    rows: list[list[Cell]] = []
    for resource in resources:
        sharer = people.get(resource.shared_by or 0)
        activity = activities.get(resource.activity_id or 0)
        rows.append(
            [
                resource.code,
                resource.title,
                resource.kind,
                resource_where(storage, resource),
                "、".join(resource.tags),
                sharer.name if sharer else "",
                (sharer.school_name or "") if sharer else "",
                _local(resource.shared_at, zone),
                "是" if resource.recommended_at else "否",
                f"{activity.code} {activity.title}" if activity else "",
            ]
        )
    return rows


def resource_where(storage: Storage, resource: Resource) -> str:
    """A resource's link, or the name of its stored file."""
    if resource.url:
        return resource.url
    stored = storage.resources.file(resource.file_id) if resource.file_id else None
    return f"文件：{stored.name}" if stored else ""


@dataclass
class FeedbackSheet:
    rows: list[list[Cell]] = field(default_factory=list)
    requests: int = 0
    answers: int = 0
    # Each exported answer's id -> its 征集's code (F2): the 附件 sheet lists their files.
    answer_codes: dict[int, str] = field(default_factory=dict)


def feedback_sheet(
    storage: Storage,
    alliance_ids: Sequence[int] | None,
    school_ids: Collection[int] | None,
    start: datetime,
    end: datetime,
    zone: tzinfo,
) -> FeedbackSheet:
    """One row per request and school asked (within `school_ids`, None: all): the current
    answer, or 未反馈."""
    sheet = FeedbackSheet()
    requests = storage.feedback.created_between(alliance_ids, start, end)
    progresses = [
        feedback_progress(storage.roster, storage.feedback, request, within=school_ids)
        for request in requests
    ]
    people = storage.reporting().members_by_id(
        a.member_id for p in progresses for a in p.answers.values() if a.member_id
    )
    for progress in progresses:
        if not progress.schools:
            continue
        sheet.requests += 1
        request = progress.request
        for school in progress.schools:
            answer = progress.answers.get(school.id)
            if answer is None:
                sheet.rows.append(
                    [*_head(request, zone), school.name, MISSING, None, None, None, None]
                )
                continue
            sheet.answers += 1
            sheet.answer_codes[answer.id] = request.code
            who = people.get(answer.member_id or 0)
            sheet.rows.append(
                [
                    *_head(request, zone),
                    school.name,
                    _state(answer, request),
                    who.name if who else "",
                    answer.body,
                    _local(answer.updated_at, zone),
                    answer.version,
                ]
            )
    return sheet


def _head(request: FeedbackRequest, zone: tzinfo) -> list[Cell]:
    return [request.code, request.question, _local(request.due_at, zone)]


def _state(answer: FeedbackAnswer, request: FeedbackRequest) -> str:
    return LATE if answer.first_at > request.due_at else ANSWERED
