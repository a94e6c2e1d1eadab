"""How times, activities and counts are written in replies, the same way everywhere."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from storage.models import Activity

WEEKDAYS = "一二三四五六日"


def when(moment: datetime, zone: ZoneInfo) -> str:
    """e.g. 11月28日(周五) 14:30"""
    local = moment.astimezone(zone)
    return f"{local.month}月{local.day}日(周{WEEKDAYS[local.weekday()]}) {local:%H:%M}"


def clock_time(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%H:%M}"


def span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """e.g. 11月28日(周五) 14:30–16:30 (date repeated only when the end is another day)."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() == local_end.date():
        return f"{when(start, zone)}–{local_end:%H:%M}"
    return f"{when(start, zone)} 至 {when(end, zone)}"


def activity_name(activity: Activity) -> str:
    """`同课异构「秋天的雨」`, without repeating a kind the title already names."""
    if activity.kind in activity.title:
        return f"「{activity.title}」"
    return f"{activity.kind}「{activity.title}」"


def activity_label(activity: Activity) -> str:
    """`A7 同课异构「秋天的雨」` or `A8「集体备课」`."""
    code = activity.code if activity.kind in activity.title else f"{activity.code} "
    return f"{code}{activity_name(activity)}"


def activity_line(activity: Activity, zone: ZoneInfo) -> str:
    place = f"，{activity.place}" if activity.place else ""
    return f"{activity_label(activity)}{span(activity.starts_at, activity.ends_at, zone)}{place}"


def percent(part: int, whole: int) -> str:
    if whole <= 0:
        return "—"
    return f"{round(100 * part / whole)}%"


def hours(value: float) -> str:
    return f"{value:g}"
