"""成长档案 as one printable HTML page (A4), readable offline and in any browser.

The page carries its own font: the chart font shipped in reports/fonts, cut with fontTools
(installed with matplotlib) to the characters the page uses and embedded as a data: URL, so
Chinese renders the same in headless Chromium without system fonts, on a phone, or printed,
and the file stays small (tens of KB instead of the 1.6 MB font).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from reports import text as fmt
from reports.archive_xlsx import OVERVIEW_COLUMNS, RECEIVED, WRITTEN, totals_row
from reports.charts import cjk_font_path
from reports.dashboard import template_environment
from reports.member_archive import ARCHIVE_RULES, MemberArchive
from storage.models import LessonReview, ReviewKind


def render_archive_html(archive: MemberArchive) -> str:
    """The page, with a font holding exactly the characters it shows."""
    template = template_environment().get_template("archive.html")
    context = _context(archive)
    draft = template.render(font_url="", **context)
    return template.render(font_url=font_data_url(draft), **context)


def write_archive_html(archive: MemberArchive, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(render_archive_html(archive), encoding="utf-8")
    partial.replace(path)


def font_data_url(text: str) -> str:
    """The packaged CJK font cut to the characters of `text` (and ASCII), as a data: URL."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.hinting = False
    options.drop_tables += ["DSIG", "vhea", "vmtx", "VORG"]
    font = TTFont(cjk_font_path(), recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted({ord(c) for c in text} | set(range(0x20, 0x7F))))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return "data:font/otf;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _context(archive: MemberArchive) -> dict[str, Any]:
    zone = archive.zone
    totals = [t for t in [*archive.terms, archive.total] if t is not None]
    rate_columns = {i for i, c in enumerate(OVERVIEW_COLUMNS) if c.header.endswith("率")}
    table = []
    for totals_one in totals:
        row = totals_row(totals_one)
        table.append(
            [
                fmt.percent(v) if i in rate_columns and isinstance(v, float) else _plain(v)
                for i, v in enumerate(row)
            ]
        )
    records = []
    for kind in (ReviewKind.REVIEW, ReviewKind.OBSERVATION):
        for label, source in ((WRITTEN, archive.written), (RECEIVED, archive.received)):
            title = f"{kind.label}：{'我写的' if label == WRITTEN else '我的课收到的'}"
            entries = [_record(archive, r) for r in source if r.kind is kind]
            records.append({"title": title, "entries": entries})
    return {
        "archive": archive,
        "made": f"{archive.made_at.astimezone(zone):%Y-%m-%d %H:%M}",
        "headers": [c.header for c in OVERVIEW_COLUMNS],
        "totals": table,
        "rules": ARCHIVE_RULES,
        "activities": [
            {
                "code": line.activity.code,
                "name": fmt.activity_name(line.activity),
                "when": fmt.when(line.activity.starts_at, zone),
                "status": line.status,
                "reflected": "已交" if line.reflected else "未交",
                "credited": f"{line.credited:g}",
            }
            for line in archive.activities
        ],
        "reflections": [
            {
                "head": f"{a.code} {fmt.activity_name(a)} · {fmt.day(a.starts_at, zone)}"
                f" · {len(r.body)} 字",
                "body": r.body,
            }
            for a, r in archive.reflections
        ],
        "records": records,
        "resources": [
            {
                "code": r.code,
                "title": r.title,
                "kind": r.kind,
                "when": fmt.day(r.shared_at, zone),
            }
            for r in archive.resources
        ],
    }


def _plain(value: object) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _record(archive: MemberArchive, review: LessonReview) -> dict[str, str]:
    teacher = archive.name(review.teacher_id)
    head = f"{fmt.calendar_day(review.lesson_date)} {archive.lesson(review)}"
    head += f" · 执教 {teacher}" if teacher else ""
    head += f" · {review.kind.label}人 {archive.name(review.observer_id)}"
    scores = archive.scores(review)
    return {
        "head": head,
        "strengths": review.strengths,
        "weaknesses": review.weaknesses,
        "suggestions": review.suggestions,
        "scores": scores,
    }
