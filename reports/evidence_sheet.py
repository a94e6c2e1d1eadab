"""The archive's 附件 sheet: photos and files attached to the exported activities' 反思 and
评课, notices and 反馈 answers, one row each, with a signed download link when the export
was asked for with one.

The link opens the file through the dashboard (`/reports/<token>/evidence/<id>`), so it
lasts as long as the export's own link and only for the alliance it was signed for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from reports.xlsx import Column, Kind, XlsxWriter
from storage import Storage
from storage.models import Activity, EvidenceKind

EVIDENCE_COLUMNS = [
    Column("编号", width=9),
    Column("记录", width=6),
    Column("提交人", width=10),
    Column("学校", width=18),
    Column("文件名", width=28),
    Column("大小(KB)", Kind.NUMBER, 9),
    Column("附上时间", Kind.DATETIME, 17),
    Column("链接", width=60),
]
KIND_NAMES = {
    EvidenceKind.REFLECTION: "反思",
    EvidenceKind.REVIEW: "评课",
    EvidenceKind.FEEDBACK: "反馈",
    EvidenceKind.NOTICE: "通知",
}


def evidence_link(base: str | None, evidence_id: int) -> str:
    """The download address under a dashboard link's base (…/reports/<token>/), or ''."""
    return f"{base.rstrip('/')}/evidence/{evidence_id}" if base else ""


def write_evidence_sheet(
    book: XlsxWriter,
    storage: Storage,
    activities: Sequence[Activity],
    zone: tzinfo,
    links: str | None,
    *,
    notices: Mapping[int, str],
    answers: Mapping[int, str],
) -> int:
    """Write the 附件 sheet; how many rows. `notices` and `answers` map the exported
    notices and 反馈 answers to the code shown (N3, F2)."""
    codes = {a.id: a.code for a in activities}
    rows = [(codes.get(e.activity_id or 0, ""), e) for e in storage.evidence.for_activities(codes)]
    rows += [
        (notices[e.record_id or 0], e)
        for e in storage.evidence.for_records(EvidenceKind.NOTICE, notices)
    ]
    rows += [
        (answers[e.record_id or 0], e)
        for e in storage.evidence.for_records(EvidenceKind.FEEDBACK, answers)
    ]
    people = storage.reporting().members_by_id({e.member_id for _, e in rows})
    book.sheet("附件", EVIDENCE_COLUMNS)
    for code, item in rows:
        member = people.get(item.member_id)
        book.append(
            [
                code,
                KIND_NAMES[item.kind],
                member.name if member else "",
                (member.school_name or "") if member else "",
                item.file.name,
                round(item.file.size / 1024, 1),
                item.attached_at.astimezone(zone).replace(tzinfo=None),
                evidence_link(links, item.id),
            ]
        )
    return len(rows)
