"""How times, activities and counts are written in replies, the same way everywhere."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reports import text
from reports.text import WEEKDAYS, activity_label, activity_name, hours, when
from storage.models import Activity

__all__ = [
    "WEEKDAYS",
    "activity_label",
    "activity_line",
    "activity_name",
    "clock_time",
    "hours",
    "percent",
    "span",
    "when",
]


def clock_time(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%H:%M}"


def span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """e.g. 11月28日(周五) 14:30–16:30 (date repeated only when the end is another day)."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() == local_end.date():
        return f"{when(start, zone)}–{local_end:%H:%M}"
    return f"{when(start, zone)} 至 {when(end, zone)}"


def activity_line(activity: Activity, zone: ZoneInfo) -> str:
    place = f"，{activity.place}" if activity.place else ""
    return f"{activity_label(activity)}{span(activity.starts_at, activity.ends_at, zone)}{place}"


def percent(part: int, whole: int) -> str:
    """A share as chat replies and reports both write it (halves rounded up)."""
    return text.percent(part / whole if whole > 0 else None)
