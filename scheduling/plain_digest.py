"""The default weekly digest: a plain summary of the alliance's week, without any names.

It has the same signature as the richer `reports.digest.build_digest`, so the scheduler takes
either; this one needs nothing beyond storage and is what runs until the rich one is wired.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.parsing.dates import Period
from bot.text_split import MARKDOWN_MAX_BYTES, split_text
from handlers import format as fmt
from reports.model import Digest
from storage import Storage
from storage.attendance import SchoolCounts, merge_by_school, roll_of
from storage.models import Activity, Alliance


def build_plain_digest(
    storage: Storage, alliance: Alliance, period: Period, now: datetime
) -> Digest:
    """Activities held in `period` up to `now`, rates per school, and next week's plans."""
    zone = _zone(alliance, period)
    tree = storage.roster.descendants(alliance.id)
    held = storage.activities.in_alliances(
        tree, starts_from=period.start, starts_before=min(period.end, now)
    )
    coming = storage.activities.in_alliances(
        tree, starts_from=max(period.end, now), starts_before=period.end + timedelta(days=7)
    )
    title = f"【周报】{alliance.name} · {period.label}"
    lines = [title]
    if held:
        lines.append(f"本周开展活动 {len(held)} 次：")
        lines.extend(f"· {_brief(a, zone)}" for a in held)
        schools = merge_by_school([roll_of(storage, a) for a in held])
        if schools:
            lines.append("各校签到与反思：")
            total = SchoolCounts(school="合计")
            for name in sorted(schools):
                lines.append(f"· {_rates(schools[name])}")
                total.add(schools[name])
            lines.append(_totals(total))
    else:
        lines.append("本周没有开展活动。")
    if coming:
        lines.append("下周活动：")
        lines.extend(f"· {_brief(a, zone)}" for a in coming)
    else:
        lines.append("下周暂无活动安排。")
    lines.append("发送「汇总 本周」查看详情。")
    text = "\n".join(lines)
    return Digest(title=title, group_parts=split_text(text, MARKDOWN_MAX_BYTES))


def _zone(alliance: Alliance, period: Period) -> ZoneInfo:
    if alliance.timezone:
        return ZoneInfo(alliance.timezone)
    tz = period.start.tzinfo
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo("Asia/Shanghai")


def _brief(activity: Activity, zone: ZoneInfo) -> str:
    return f"{fmt.activity_label(activity)} {fmt.when(activity.starts_at, zone)}"


def _rates(counts: SchoolCounts) -> str:
    counted = counts.counted
    extra = []
    if counts.late:
        extra.append(f"迟到/补签 {counts.late}")
    if counts.on_leave:
        extra.append(f"请假 {counts.on_leave}")
    tail = f"（{'，'.join(extra)}）" if extra else ""
    return (
        f"{counts.school}：签到 {counts.signed}/{counted} {fmt.percent(counts.signed, counted)}，"
        f"反思 {counts.reflected}/{counted} {fmt.percent(counts.reflected, counted)}{tail}"
    )


def _totals(total: SchoolCounts) -> str:
    counted = total.counted
    return (
        f"合计：签到率 {fmt.percent(total.signed, counted)}，"
        f"反思提交率 {fmt.percent(total.reflected, counted)}，"
        f"迟到/补签 {total.late} 人次，未签到 {len(total.missing_signin)} 人次，"
        f"未交反思 {len(total.missing_reflection)} 篇。"
    )
