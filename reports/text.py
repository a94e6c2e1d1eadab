"""How reports write dates, rates and changes (the same way the chat replies do)."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from storage.models import Activity

WEEKDAYS = "一二三四五六日"


def day(moment: datetime, zone: tzinfo) -> str:
    """e.g. 11月28日(周五)"""
    local = moment.astimezone(zone)
    return f"{local.month}月{local.day}日(周{WEEKDAYS[local.weekday()]})"


def calendar_day(value: date) -> str:
    """A date without a time (a lesson's day), e.g. 12月3日(周四)."""
    return f"{value.month}月{value.day}日(周{WEEKDAYS[value.weekday()]})"


def when(moment: datetime, zone: tzinfo) -> str:
    """e.g. 11月28日(周五) 14:30"""
    return f"{day(moment, zone)} {moment.astimezone(zone):%H:%M}"


def whole_percent(value: float) -> int:
    """A share as a whole percentage, halves rounded up (5/8 -> 63, as people expect)."""
    return int(Decimal(repr(value * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{whole_percent(value)}%"


def ratio(part: int, whole: int) -> str:
    """e.g. 2/4 50%"""
    return f"{part}/{whole} {percent(part / whole if whole > 0 else None)}"


def change(current: float | None, previous: float | None) -> str:
    """Change of a rate in percentage points, e.g. ↑4个百分点 / ↓3个百分点 / 持平."""
    if current is None:
        return ""
    if previous is None:
        return "上期无可比数据"
    points = whole_percent(current) - whole_percent(previous)
    if points == 0:
        return "与上期持平"
    arrow = "↑" if points > 0 else "↓"
    return f"较上期{arrow}{abs(points)}个百分点"


def hours(value: float) -> str:
    return f"{value:g}"


def activity_name(activity: Activity) -> str:
    """`同课异构「秋天的雨」`, without repeating a kind the title already names."""
    if activity.kind in activity.title:
        return f"「{activity.title}」"
    return f"{activity.kind}「{activity.title}」"


def activity_label(activity: Activity) -> str:
    """`A7 同课异构「秋天的雨」` or `A8「集体备课」`."""
    code = activity.code if activity.kind in activity.title else f"{activity.code} "
    return f"{code}{activity_name(activity)}"
