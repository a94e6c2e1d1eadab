"""Recurring activities as teachers write them, and the days they fall on.

`take_repeat` reads 每周三 / 每两周周三 / 每周二、四 (也可 每周二和周四、每周二/四) at the start of a
message and an end written anywhere: 至1月14日 (到, 截至…) or 共8次. `occurrences` lists the
days, skipping the closed ones a calendar names. Pure functions of the text and an injected
`now`, like bot.text.dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from bot.text.dates import chinese_number, extract_when

__all__ = ["MAX_INSTANCES", "Repeat", "RepeatProblem", "Schedule", "occurrences", "take_repeat"]

MAX_INSTANCES: Final = 30  # a term has about 20 weeks; two a week for a term stays under this
_WEEK: Final = r"(?:周|星期|礼拜)"
_DAY: Final = r"(?:[一二三四五六日天]|[1-7](?![0-9:：]))"
_SEP: Final = r"\s*(?:、|和|与|及|,|，|/|／)\s*"
_REPEAT: Final = re.compile(
    rf"每\s*(?:(?P<every>两|二|2|隔一)个?)?{_WEEK}(?:的)?\s*"
    rf"(?P<days>{_WEEK}?{_DAY}(?:{_SEP}{_WEEK}?{_DAY})*)?"
)
_DAY_CHAR: Final = re.compile(r"[一二三四五六日天1-7]")
_WEEKDAY: Final = (
    {c: i for i, c in enumerate("一二三四五六日")}
    | {"天": 6}
    | {str(k): k - 1 for k in range(1, 8)}
)
_UNTIL: Final = re.compile(r"(?:截至|截止到|截止|直到|至|到)\s*")
_UNTIL_TAIL: Final = re.compile(r"\s*(?:为止|止|结束)?")
_COUNT: Final = re.compile(r"(?:一)?共\s*([0-9]+|[一二两三四五六七八九十]+)\s*次")


class RepeatProblem(ValueError):
    """A recurring phrase that cannot be used as written; the message says why, in Chinese."""


@dataclass(frozen=True)
class Repeat:
    weekdays: tuple[int, ...]  # Monday == 0, ascending
    interval: int = 1  # every N weeks
    until: date | None = None
    count: int | None = None

    @property
    def label(self) -> str:
        """每周三 / 每两周的周二、周四: how the rule is shown back."""
        days = "、".join(f"周{'一二三四五六日'[d]}" for d in self.weekdays)
        return f"每{days}" if self.interval == 1 else f"每两周的{days}"


@dataclass(frozen=True)
class Schedule:
    days: list[date]  # the days it is held
    skipped: list[tuple[date, str]] = field(default_factory=list)  # (day, why)
    too_many: bool = False  # more than the cap would be held: nothing was cut silently


def take_repeat(text: str, now: datetime) -> tuple[Repeat, str] | None:
    """If `text` starts with a recurring phrase (每周…), the rule and the text without its
    words (time, title and fields remain). None if it does not; RepeatProblem if it is
    unusable (每周 without a day, an end in the past, 共0次)."""
    stripped = text.lstrip()
    matched = _REPEAT.match(stripped)
    if matched is None:
        return None
    if matched.group("days") is None:
        raise RepeatProblem("每周几？例如：发起活动 每周三 15:00 集体备课 至1月14日")
    weekdays = tuple(sorted({_WEEKDAY[c] for c in _DAY_CHAR.findall(matched.group("days"))}))
    interval = 2 if matched.group("every") else 1
    rest = stripped[matched.end() :]
    until, rest = _take_until(rest, now)
    count, rest = _take_count(rest)
    if until is not None and count is not None:
        raise RepeatProblem("结束日期和次数只写一个即可，例如「至1月14日」或「共8次」。")
    if until is not None and until < now.date():
        raise RepeatProblem(f"结束日期 {until.month}月{until.day}日 已经过去了，请检查。")
    return Repeat(weekdays, interval, until, count), rest.strip()


def _take_until(text: str, now: datetime) -> tuple[date | None, str]:
    """至1月14日 anywhere: a 至 followed by a date only (15:00至17:00 is a time range)."""
    for found in _UNTIL.finditer(text):
        parsed = extract_when(text[found.end() :], now)
        if parsed is None or parsed[0].has_time or not parsed[0].has_date:
            continue
        when = parsed[0]
        end = found.end() + text[found.end() :].index(when.text) + len(when.text)
        tail = _UNTIL_TAIL.match(text, end)
        end = tail.end() if tail else end
        return when.start.date(), f"{text[: found.start()].rstrip()} {text[end:].lstrip()}"
    return None, text


def _take_count(text: str) -> tuple[int | None, str]:
    found = _COUNT.search(text)
    if found is None:
        return None, text
    count = chinese_number(found.group(1))
    if count is None or count < 1:
        raise RepeatProblem(f"没看懂次数「{found.group(0)}」，例如：共8次")
    return count, f"{text[: found.start()].rstrip()} {text[found.end() :].lstrip()}"


def occurrences(
    repeat: Repeat,
    first: date,
    closed: Callable[[date], str | None],
    *,
    until: date | None = None,
    limit: int = MAX_INSTANCES,
) -> Schedule:
    """The days from `first` on that `repeat` falls on, up to its end (or `until` when it
    has none), at most `limit`; days `closed` names a reason for are skipped and listed.
    Weeks count from the week of the first matching day (每两周: that week, then every
    second one)."""
    last = repeat.until or until
    if last is None and repeat.count is None:
        raise ValueError("a repeat needs an end: until or count")
    if repeat.count is not None and repeat.count > limit:
        return Schedule([], [], too_many=True)
    days: list[date] = []
    skipped: list[tuple[date, str]] = []
    anchor: date | None = None  # Monday of the first matching week
    day = first
    horizon = first + timedelta(days=366 * 2)  # a count with every day closed still ends
    while day <= horizon and (last is None or day <= last):
        if repeat.count is not None and len(days) >= repeat.count:
            break
        if day.weekday() in repeat.weekdays:
            monday = day - timedelta(days=day.weekday())
            anchor = anchor or monday
            if (monday - anchor).days // 7 % repeat.interval == 0:
                reason = closed(day)
                if reason is not None:
                    skipped.append((day, reason))
                elif len(days) >= limit:
                    return Schedule(days, skipped, too_many=True)
                else:
                    days.append(day)
        day += timedelta(days=1)
    return Schedule(days, skipped)
