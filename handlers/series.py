"""Recurring activities (系列活动 S3): planning their days and the texts about them.

The commands stay in handlers/activities.py (发起活动 每周三 …, 修改活动 S3, 取消活动 S3, 活动);
this module plans a series against the term calendar and words its announcements, each sent
once for the whole series.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.routing.context import Context, Hint
from bot.text.dates import When
from bot.text.recurrence import MAX_INSTANCES, Repeat, Schedule, occurrences
from handlers import format as fmt
from reports.text import day
from storage.models import Activity, ActivitySeries, TermCalendar

SERIES_CODE = re.compile(r"^[Ss](\d+)(.*)$", re.DOTALL)
SHOWN_DAYS = 4  # the first few days a reply lists before "…" and the last one
NO_CALENDAR = "未导入校历，节假日不会自动跳过（管理员可用 jiaoyan-bot calendar import 导入）。"
_EXAMPLE = "例如：发起活动 每周三 15:00-17:00 集体备课 至1月14日（或 共8次）"


@dataclass(frozen=True)
class Plan:
    schedule: Schedule
    calendar: TermCalendar
    term_end: date | None  # the last day, taken from the term when no end was written


def plan(ctx: Context, repeat: Repeat, when: When) -> Plan:
    """The days of a new series from now on, skipping the calendar's closed days.

    Without 至… or 共N次 the series runs to the end of the current term when a calendar
    was imported; otherwise the sender is asked for an end."""
    today = ctx.now().date()
    now = ctx.clock.now()
    first = today if when.on_day(today).start > now else today + timedelta(days=1)
    calendar = ctx.storage.calendar.load()
    term_end = None
    if repeat.until is None and repeat.count is None:
        term = calendar.term_of(today)
        if term is None:
            raise Hint(f"请写系列活动到哪天结束或共几次，{_EXAMPLE}")
        term_end = term.ends_on - timedelta(days=1)
    schedule = occurrences(repeat, first, calendar.closed, until=term_end)
    if schedule.too_many:
        raise Hint(
            f"一个系列最多 {MAX_INSTANCES} 次，请缩短结束日期或减少次数（可分成两个系列发起）。"
        )
    if not schedule.days:
        raise Hint(f"{repeat.label}在结束日期前没有可安排的日子，请检查日期。")
    return Plan(schedule, calendar, term_end)


def day_text(day: date, today: date) -> str:
    """12月9日, or 2027年1月13日 in another year than today's."""
    text = f"{day.month}月{day.day}日"
    return text if day.year == today.year else f"{day.year}年{text}"


def clock_span(activity: Activity, ctx: Context) -> str:
    """下午 15:00–17:00: an instance's hours without its date (the same every time)."""
    end = ctx.local(activity.ends_at)
    return f"{fmt.clock_time(activity.starts_at, ctx.zone)}–{end.hour}:{end:%M}"


def dates_line(activities: Sequence[Activity], ctx: Context) -> str:
    """A1 12月2日、A2 12月9日、… A8 1月13日: the first few instances and the last one."""
    today = ctx.now().date()

    def one(activity: Activity) -> str:
        return f"{activity.code} {day_text(ctx.local(activity.starts_at).date(), today)}"

    if len(activities) <= SHOWN_DAYS + 1:
        return "、".join(one(a) for a in activities)
    first = "、".join(one(a) for a in activities[:SHOWN_DAYS])
    return f"{first} … {one(activities[-1])}"


def skipped_line(plan: Plan, ctx: Context) -> str:
    """Which days were skipped and why, or that there is no calendar to skip by."""
    if plan.schedule.skipped:
        today = ctx.now().date()
        days = "、".join(f"{day_text(d, today)}（{why}）" for d, why in plan.schedule.skipped[:8])
        more = f" 等 {len(plan.schedule.skipped)} 天" if len(plan.schedule.skipped) > 8 else ""
        return f"按校历跳过：{days}{more}"
    return NO_CALENDAR if plan.calendar.empty else "校历中这段时间没有要跳过的日子。"


def created_texts(
    series: ActivitySeries, activities: Sequence[Activity], plan: Plan, ctx: Context
) -> tuple[list[str], str]:
    """(announcement lines, the sender's reply) for a new series."""
    first = activities[0]
    place = f"，{first.place}" if first.place else ""
    head = f"【新系列活动】{label(series, first)} {series.rule} {clock_span(first, ctx)}{place}"
    count = f"共 {len(activities)} 次：{dates_line(activities, ctx)}"
    announcement = [head, count]
    if plan.schedule.skipped:
        announcement.append(skipped_line(plan, ctx))
    announcement.append(
        f"签到：每次开始前 {ctx.config.signin_open_minutes} 分钟起发送「签到 A编号」"
        + ("（需签到码）" if first.signin_code else "")
    )
    if first.reflection_due:
        days = (ctx.local(first.reflection_due).date() - ctx.local(first.ends_at).date()).days
        announcement.append(f"反思：每次活动后 {days} 天内发送「反思 A编号 正文」")
    announcement.append(f"学时：每次 {fmt.hours(first.hours)}。不能参加请发送「请假 A编号 原因」。")
    reply = [f"已发起系列活动 {series.code}（{series.rule}），{count}", skipped_line(plan, ctx)]
    if plan.term_end is not None:
        last = day_text(plan.term_end, ctx.now().date())
        reply.append(f"没写结束日期，按校历排到本学期放假前（{last}）。")
    reply.append(
        f"修改以后各次：修改活动 {series.code} 地点:…；只改一次：修改活动 {first.code} …；"
        f"取消以后各次：取消活动 {series.code} 原因"
    )
    return announcement, "\n".join(reply)


def remaining(ctx: Context, series: ActivitySeries) -> list[Activity]:
    """The instances not yet started: what 修改活动 S3 and 取消活动 S3 act on."""
    now = ctx.clock.now()
    left = [a for a in ctx.storage.activities.in_series(series.id) if a.starts_at > now]
    if not left:
        raise Hint(f"系列活动 {series.code} 没有尚未开始的活动了。")
    return left


def label(series: ActivitySeries, instance: Activity) -> str:
    """S3「集体备课」 or S3 同课异构「秋天的雨」, as activity labels are written."""
    name = fmt.activity_name(instance)
    return f"{series.code}{name}" if name.startswith("「") else f"{series.code} {name}"


def series_by_code(ctx: Context, number: int) -> ActivitySeries:
    series = ctx.storage.series.get(number)
    if series is None:
        raise Hint(f"没有找到系列活动 S{number}。发送「活动」查看近期活动及编号。")
    return series


def scope_text(series: ActivitySeries, left: Sequence[Activity], ctx: Context) -> str:
    """S3 集体备课「…」以后的 5 次（A4–A8，12月23日起）."""
    first_day = day_text(ctx.local(left[0].starts_at).date(), ctx.now().date())
    codes = left[0].code if len(left) == 1 else f"{left[0].code}–{left[-1].code}"
    return (
        f"{label(series, left[0])}（{series.rule}）以后的 {len(left)} 次（{codes}，{first_day}起）"
    )


def list_line(series: ActivitySeries, upcoming: Activity, ctx: Context) -> str:
    """One line of 活动 for a whole series: its rule, next instance and how many are left."""
    left = [a for a in ctx.storage.activities.in_series(series.id) if a.ends_at >= ctx.clock.now()]
    place = f"，{upcoming.place}" if upcoming.place else ""
    return (
        f"{label(series, upcoming)} {series.rule} {clock_span(upcoming, ctx)}"
        f"{place}；下次 {upcoming.code} {day(upcoming.starts_at, ctx.zone)}，"
        f"还有 {len(left)} 次"
    )


def series_span_change(old: Activity, new: Activity, rule: str, ctx: Context) -> str | None:
    """时间：每周三 下午 15:00–17:00 → 每周三 下午 16:00–18:00, or None if unchanged."""
    if (old.starts_at, old.ends_at) == (new.starts_at, new.ends_at):
        return None
    return f"时间：{rule} {clock_span(old, ctx)} → {rule} {clock_span(new, ctx)}"


def at_clock(when: When, day: date) -> tuple[datetime, datetime | None]:
    """A series' clock time on one of its days."""
    moved = when.on_day(day)
    return moved.start, moved.end
