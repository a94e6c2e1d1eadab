"""How times, activities and counts are written in replies, the same way everywhere."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reports import text
from reports.text import WEEKDAYS, activity_label, activity_name, calendar_day, day, hours
from storage.models import Activity

__all__ = [
    "WEEKDAYS",
    "activity_label",
    "activity_line",
    "activity_name",
    "calendar_day",
    "clock_time",
    "hours",
    "part_of_day",
    "percent",
    "span",
    "when",
]


def part_of_day(moment: datetime, zone: ZoneInfo) -> str:
    """凌晨 / 上午 / 中午 / 下午 / 晚上: written with every time, so 6点 read as 18:00 shows."""
    hour = moment.astimezone(zone).hour
    if hour < 5:
        return "凌晨"
    if hour < 12:
        return "上午"
    if hour < 13:
        return "中午"
    return "下午" if hour < 18 else "晚上"


def clock_time(moment: datetime, zone: ZoneInfo) -> str:
    """e.g. 上午 7:30 / 下午 15:00."""
    local = moment.astimezone(zone)
    return f"{part_of_day(local, zone)} {local.hour}:{local:%M}"


def when(moment: datetime, zone: ZoneInfo) -> str:
    """e.g. 11月28日(周五) 下午 14:30"""
    return f"{day(moment, zone)} {clock_time(moment, zone)}"


def span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """e.g. 11月28日(周五) 下午 14:30–16:30 (the end's part of day only when it differs,
    the date only when it is another day)."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() != local_end.date():
        return f"{when(start, zone)} 至 {when(end, zone)}"
    if part_of_day(local_start, zone) != part_of_day(local_end, zone):
        return f"{when(start, zone)}–{clock_time(end, zone)}"
    return f"{when(start, zone)}–{local_end.hour}:{local_end:%M}"


def activity_line(activity: Activity, zone: ZoneInfo) -> str:
    place = f"，{activity.place}" if activity.place else ""
    return f"{activity_label(activity)}{span(activity.starts_at, activity.ends_at, zone)}{place}"


def percent(part: int, whole: int) -> str:
    """A share as chat replies and reports both write it (halves rounded up)."""
    return text.percent(part / whole if whole > 0 else None)
