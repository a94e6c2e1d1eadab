"""Tolerant parsing of the Chinese date/time phrases teachers type in chat.

Everything here is a pure function of the text and an injected, timezone-aware `now`, so
the same message always parses the same way in tests, demos and production. Phrases are
interpreted in `now`'s timezone and results carry that same tzinfo.

Two entry points cover the bot's needs:

* `extract_when` / `parse_when` for scheduling ("周五 14:30 同课异构研讨" -> a moment plus the
  rest of the message);
* `parse_period` for summaries ("本周", "上月", "11月1日~11月20日" -> a half-open day range).

Implementation: a tiny hand-written scanner over a normalised copy of the input. The
normalisation maps characters one-to-one, so positions found in the copy index the
original text too and `When.text` is an exact substring of what the user typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final

__all__ = [
    "DEFAULT_BELL_SCHEDULE",
    "DEFAULT_LESSONS",
    "NO_TIME",
    "Lessons",
    "Period",
    "When",
    "chinese_number",
    "extract_when",
    "find_day",
    "parse_bell_schedule",
    "parse_period",
    "parse_when",
    "when_problem",
]


@dataclass(frozen=True)
class When:
    """A moment (or time range) mentioned in a message."""

    start: datetime  # aware, in now's tz
    end: datetime | None  # set when a range like 14:30-16:30 was given
    has_time: bool  # False when only a date was given (start is 00:00 that day)
    text: str  # the exact substring of the input that was consumed
    has_date: bool = True  # False for a bare time (15:00, 第三节): the date was inferred

    def on_day(self, day: date) -> When:
        """The same clock time(s) on another day: 修改活动 A7 15:00 keeps A7's date."""
        if self.has_date:
            return self
        shift = datetime.combine(day, self.start.timetz()) - self.start
        end = self.end + shift if self.end is not None else None
        return When(self.start + shift, end, self.has_time, self.text, True)


@dataclass(frozen=True)
class Period:
    """A half-open span of whole days for summaries and reports."""

    start: datetime  # inclusive, aware, local midnight
    end: datetime  # exclusive
    label: str  # Chinese label for replies, e.g. "本周（11月23日–11月29日）"


class _Reject(Exception):
    """Raised when the text clearly *is* a date/time but an impossible one (25点, 2月30日).

    Distinguishing this from "no date here" lets `明天25点` fail as a whole instead of
    silently degrading to `明天` followed by junk.
    """


# --------------------------------------------------------------------------- normalisation

# One-to-one character mapping only: indices in the normalised string stay valid in the
# original, which is how `When.text` can be an exact substring.
_NORMALISE: Final = str.maketrans(
    {
        **{chr(0xFF10 + k): str(k) for k in range(10)},
        "：": ":",
        "～": "~",
        "〜": "~",
        "\u3000": " ",
        "－": "-",
        "／": "/",
        "．": ".",
        "（": "(",
        "）": ")",
    }
)


def _normalise(text: str) -> str:
    """Map full-width variants to ASCII so the scanner only has to know one spelling."""
    return text.translate(_NORMALISE)


# --------------------------------------------------------------------------- numbers

_CN_DIGIT: Final = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_CHARS: Final = frozenset(_CN_DIGIT) | {"十"}


def _cn_to_int(word: str) -> int | None:
    """Convert a small Chinese numeral (一, 十二, 二十八, 五十九, 零五) to an int.

    Only the forms needed for months, days, hours and minutes are supported; anything
    else (百, 十十, 一二三) returns None so the caller treats it as "not a number".
    """
    if not word or any(c not in _CN_CHARS for c in word):
        return None
    if "十" in word:
        tens, _, units = word.partition("十")
        if len(tens) > 1 or len(units) > 1 or "十" in units:
            return None
        t = 1 if not tens else _CN_DIGIT[tens]
        u = 0 if not units else _CN_DIGIT[units]
        if t == 0 or (units and u == 0):
            return None
        return t * 10 + u
    if len(word) == 1:
        return _CN_DIGIT[word]
    if len(word) == 2 and word[0] in "零〇":
        return _CN_DIGIT[word[1]]
    return None


def chinese_number(word: str) -> int | None:
    """A count written in digits or small Chinese numerals (8, 八, 十二); None otherwise."""
    word = _normalise(word).strip()
    return int(word) if word.isascii() and word.isdigit() else _cn_to_int(word)


def _is_ascii_digit(c: str) -> bool:
    return "0" <= c <= "9"


@dataclass(frozen=True)
class _Num:
    value: int
    end: int
    raw: str

    @property
    def is_digits(self) -> bool:
        return _is_ascii_digit(self.raw[0])


def _read_number(s: str, i: int) -> _Num | None:
    """Read a greedy run of up to two ASCII digits, or Chinese numerals, starting at `i`.

    Greedy reading is what stops "11月285" from being read as the 28th: the whole run
    is taken and then judged.
    """
    if i >= len(s):
        return None
    j = i
    if _is_ascii_digit(s[i]):
        while j < len(s) and _is_ascii_digit(s[j]):
            j += 1
        if j - i > 2:
            return None
        return _Num(int(s[i:j]), j, s[i:j])
    if s[i] in _CN_CHARS:
        while j < len(s) and s[j] in _CN_CHARS:
            j += 1
        value = _cn_to_int(s[i:j])
        return None if value is None else _Num(value, j, s[i:j])
    return None


def _skip_spaces(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():
        i += 1
    return i


# --------------------------------------------------------------------------- date specs
#
# Dates are parsed into a "spec" first and resolved to a calendar day afterwards, because
# the right year/month for "1月5日" or "28号" depends on context: scheduling looks forward
# (next occurrence), summaries look back (most recent), and the end of a range looks
# forward from its start.


@dataclass(frozen=True)
class _Fixed:
    day: date


@dataclass(frozen=True)
class _MonthDay:
    year: int | None
    month: int
    day: int


@dataclass(frozen=True)
class _DayOnly:
    day: int


@dataclass(frozen=True)
class _Weekday:
    weekday: int  # Monday == 0


_DateSpec = _Fixed | _MonthDay | _DayOnly | _Weekday


def _checked_month_day(month: int, day: int) -> tuple[int, int]:
    """Reject months/days that exist in no year (13月, 2月30日, 4月31日)."""
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise _Reject
    try:
        date(2000, month, day)  # a leap year, so 2月29日 is allowed here
    except ValueError:
        raise _Reject from None
    return month, day


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise _Reject from None


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _resolve(spec: _DateSpec, anchor: date, *, forward: bool) -> date:
    """Pin a spec to a calendar day: the first match on/after `anchor` (forward) or the
    last match on/before it (backward)."""
    if isinstance(spec, _Fixed):
        return spec.day
    if isinstance(spec, _Weekday):
        if forward:
            return anchor + timedelta(days=(spec.weekday - anchor.weekday()) % 7)
        return anchor - timedelta(days=(anchor.weekday() - spec.weekday) % 7)
    if isinstance(spec, _MonthDay):
        if spec.year is not None:
            return _make_date(spec.year, spec.month, spec.day)
        year = anchor.year
        key, anchor_key = (spec.month, spec.day), (anchor.month, anchor.day)
        if forward and key < anchor_key:
            year += 1
        elif not forward and key > anchor_key:
            year -= 1
        return _make_date(year, spec.month, spec.day)
    # _DayOnly: this month, else the neighbouring month in the search direction; months
    # lacking that day (31号 in November) are skipped rather than rejected.
    for delta in (0, 1) if forward else (0, -1):
        y, m = _add_months(anchor.year, anchor.month, delta)
        try:
            candidate = date(y, m, spec.day)
        except ValueError:
            continue
        if (candidate >= anchor) if forward else (candidate <= anchor):
            return candidate
    raise _Reject


# --------------------------------------------------------------------------- date parsing

# (word, day offset, implied part of day)
_RELATIVE_DAYS: Final[tuple[tuple[str, int, str | None], ...]] = (
    ("大后天", 3, None),
    ("大前天", -3, None),
    ("后天", 2, None),
    ("前天", -2, None),
    ("明天", 1, None),
    ("明日", 1, None),
    ("明早", 1, "morning"),
    ("明晚", 1, "evening"),
    ("今天", 0, None),
    ("今日", 0, None),
    ("今早", 0, "morning"),
    ("今晚", 0, "evening"),
    ("昨天", -1, None),
    ("昨日", -1, None),
    ("昨晚", -1, "evening"),
)

_WEEKDAY_CHAR: Final = (
    {c: i for i, c in enumerate("一二三四五六日")}
    | {"天": 6}
    | {str(k): k - 1 for k in range(1, 8)}
)
# (prefix, weeks from the current Monday-based week); longest first.
_WEEK_PREFIXES: Final = (("下下", 2), ("上上", -2), ("下", 1), ("上", -1), ("本", 0), ("这", 0))
_WEEK_WORDS: Final = ("星期", "礼拜", "周")

_ISO_DATE: Final = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})(?![0-9])")
_YEAR_PREFIX: Final = re.compile(r"(?:([0-9]{4})年|(今年|明年|去年))")
_SLASH_DATE: Final = re.compile(r"([0-9]{1,2})[./]([0-9]{1,2})(?![0-9]|[./][0-9])")
_WEEKDAY_NOTE: Final = re.compile(
    r"\s*(?:\(\s*(?:星期|礼拜|周)[一二三四五六日天]\s*\)|(?:星期|礼拜|周)[一二三四五六日天])"
)
# After "3.5" / "1/2" these mean a quantity, not a date.
_QUANTITY_UNITS: Final = ("小时", *"个倍元块万千亿米斤克%人岁节篇页秒次班级分")
# "3号楼" is a building, not the 3rd.
_NOT_DAY_AFTER_HAO: Final = frozenset("楼房室馆厅院线门位座桌机车床")


@dataclass(frozen=True)
class _DateHit:
    spec: _DateSpec
    end: int
    part_hint: str | None = None  # 今晚 implies evening for a following bare hour


def _parse_relative(s: str, i: int, today: date) -> _DateHit | None:
    for word, offset, part in _RELATIVE_DAYS:
        if s.startswith(word, i):
            return _DateHit(_Fixed(today + timedelta(days=offset)), i + len(word), part)
    return None


def _parse_weekday(s: str, i: int, today: date) -> _DateHit | None:
    """周五 / 星期五 / 礼拜天 / 本周五 / 下个星期三 / 下下周一."""
    j = i
    weeks: int | None = None
    for prefix, offset in _WEEK_PREFIXES:
        if s.startswith(prefix, j):
            weeks, j = offset, j + len(prefix)
            break
    if weeks is not None and s.startswith("个", j):
        j += 1
    for word in _WEEK_WORDS:
        if s.startswith(word, j):
            j += len(word)
            break
    else:
        return None
    if j >= len(s) or s[j] not in _WEEKDAY_CHAR:
        return None
    if _is_ascii_digit(s[j]) and j + 1 < len(s) and _is_ascii_digit(s[j + 1]):
        return None  # "周15" is not a weekday
    weekday = _WEEKDAY_CHAR[s[j]]
    if weeks is None:
        return _DateHit(_Weekday(weekday), j + 1)
    monday = today - timedelta(days=today.weekday())
    return _DateHit(_Fixed(monday + timedelta(weeks=weeks, days=weekday)), j + 1)


def _parse_month_day(s: str, i: int, year: int | None) -> _DateHit | None:
    """M月D日 / M月D号 / M月D, numerals in digits or Chinese."""
    month = _read_number(s, i)
    if month is None or not s.startswith("月", month.end):
        return None
    day = _read_number(s, month.end + 1)
    if day is None:
        return None
    j = day.end
    if j < len(s) and s[j] in "日号":
        j += 1
    m, d = _checked_month_day(month.value, day.value)
    return _DateHit(_MonthDay(year, m, d), j)


def _followed_by_unit(s: str, j: int) -> bool:
    k = _skip_spaces(s, j)
    return any(s.startswith(unit, k) for unit in _QUANTITY_UNITS) and not s.startswith("分享", k)


def _parse_absolute(s: str, i: int, today: date) -> _DateHit | None:
    """Calendar dates: 2026-11-28, 2026年11月28日, 11月28日, 11.28, 11/28, 28号."""
    if m := _ISO_DATE.match(s, i):
        month, day = _checked_month_day(int(m.group(3)), int(m.group(4)))
        return _DateHit(_MonthDay(int(m.group(1)), month, day), m.end())
    if m := _YEAR_PREFIX.match(s, i):
        if m.group(1):
            year = int(m.group(1))
        else:
            year = today.year + {"今年": 0, "明年": 1, "去年": -1}[m.group(2)]
        return _parse_month_day(s, m.end(), year)
    if hit := _parse_month_day(s, i, None):
        return hit
    if (m := _SLASH_DATE.match(s, i)) and not _followed_by_unit(s, m.end()):
        month, day = _checked_month_day(int(m.group(1)), int(m.group(2)))
        return _DateHit(_MonthDay(None, month, day), m.end())
    num = _read_number(s, i)
    if num is not None and num.end < len(s) and s[num.end] in "日号":
        after = s[num.end + 1] if num.end + 1 < len(s) else ""
        if s[num.end] == "号" and after in _NOT_DAY_AFTER_HAO:
            return None
        if not 1 <= num.value <= 31:
            raise _Reject
        return _DateHit(_DayOnly(num.value), num.end + 1)
    return None


def _parse_date(s: str, i: int, today: date) -> _DateHit | None:
    """Any date expression starting exactly at `i`."""
    hit = _parse_relative(s, i, today) or _parse_weekday(s, i, today)
    if hit is not None:
        return hit
    hit = _parse_absolute(s, i, today)
    if hit is not None and (note := _WEEKDAY_NOTE.match(s, hit.end)):
        # "11月28日（周六）": the explicit date wins; the weekday is only decoration.
        hit = _DateHit(hit.spec, note.end(), hit.part_hint)
    return hit


# --------------------------------------------------------------------------- time parsing

# Longest first so 早上 wins over 早.
_DAY_PARTS: Final = (
    ("凌晨", "early"),
    ("早上", "morning"),
    ("早晨", "morning"),
    ("清晨", "morning"),
    ("上午", "morning"),
    ("中午", "noon"),
    ("下午", "afternoon"),
    ("傍晚", "evening"),
    ("晚上", "evening"),
    ("晚间", "evening"),
    ("夜里", "evening"),
    ("夜间", "evening"),
    ("早", "morning"),
    ("晚", "evening"),
)
_QUARTER: Final = re.compile(r"([一1两二2三3])?刻")
_RANGE_SEP: Final = re.compile(r"\s*(?:~+|-+|—+|–|―|至|到)\s*")
_DIGITS: Final = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    padded: bool  # "03:00" is explicit 24-hour time, exempt from the afternoon rule
    part: str | None  # own part of day (下午 ...) if written
    end: int


def _parse_day_part(s: str, i: int) -> tuple[str, int] | None:
    for word, part in _DAY_PARTS:
        if s.startswith(word, i):
            return part, i + len(word)
    return None


def _parse_minutes(s: str, k: int) -> tuple[int, int]:
    """What follows 点/时: 半, 一刻, 30, 30分, 三十, 零五分 ... or nothing (whole hour)."""
    if s.startswith("半", k):
        return 30, k + 1
    if q := _QUARTER.match(s, k):
        quarters = {"一": 1, "1": 1, "两": 2, "二": 2, "2": 2, "三": 3, "3": 3}
        return 15 * quarters.get(q.group(1) or "一", 1), q.end()
    num = _read_number(s, k)
    if num is not None:
        if s.startswith("分", num.end):
            end = num.end + 1
            return num.value, end + 1 if s.startswith("钟", end) else end
        # Without 分, only unambiguous minute forms: "14点30", "三点二十", "三点零五".
        # "三点一中..." must stay 3 o'clock followed by text.
        if (num.is_digits and len(num.raw) == 2) or (
            not num.is_digits and (num.value >= 10 or num.raw[0] in "零〇")
        ):
            return num.value, num.end
    if s.startswith("整", k):
        return 0, k + 1
    return 0, k


def _parse_clock_digits(s: str, i: int) -> _Clock | None:
    """The clock itself, without a part of day: 14:30, 14点, 3点半, 两点一刻, 14时30分."""
    hour = _read_number(s, i)
    if hour is None or hour.end >= len(s):
        return None
    padded = hour.is_digits and len(hour.raw) == 2 and hour.raw[0] == "0"
    j = hour.end
    if s[j] == ":" and hour.is_digits:
        mm = _DIGITS.match(s, j + 1)
        if mm is None or len(mm.group()) != 2:
            return None
        return _Clock(hour.value, int(mm.group()), padded, None, mm.end())
    if s[j] in "点时":
        k = j + 1
        if s.startswith("钟", k):
            k += 1
        minute, end = _parse_minutes(s, k)
        return _Clock(hour.value, minute, padded, None, end)
    return None


def _parse_clock(s: str, i: int) -> _Clock | None:
    """[part of day] clock, e.g. 下午3点半, 上午 9:00, 14:30."""
    part: str | None = None
    j = i
    if found := _parse_day_part(s, i):
        part, j = found[0], _skip_spaces(s, found[1])
    clock = _parse_clock_digits(s, j)
    if clock is None:
        return None
    return _Clock(clock.hour, clock.minute, clock.padded, part, clock.end)


def _to_minutes(hour: int, minute: int, part: str | None, padded: bool) -> int:
    """Minutes after local midnight (may be 24:00+ for 晚上12点), or _Reject.

    Without a part of day, 1–5 点 means the afternoon (teachers write "3点" for 15:00, and
    nothing happens at school at 3 a.m.); 6–12 点 is as written, so 6:30 is early morning
    (a class starts at 7:30, an evening time is written 晚上6点半 or 18:30). See
    docs/time.md.
    """
    if minute > 59 or hour > 23:
        raise _Reject
    if part is None:
        if 1 <= hour <= 5 and not padded:
            hour += 12
    elif part == "early":  # 凌晨
        if hour > 12:
            raise _Reject
        hour %= 12
    elif part == "morning":
        if hour > 12:
            raise _Reject
    elif part == "noon":  # 中午12点, 中午1点 = 13:00
        if 1 <= hour <= 5:
            hour += 12
        elif not 10 <= hour <= 14:
            raise _Reject
    elif part == "afternoon":
        if hour == 0:
            raise _Reject
        if hour < 12:
            hour += 12
    else:  # evening: 晚上7点 = 19:00, 晚上12点 = midnight at the end of the day
        if hour in (0, 12):
            hour = 24
        elif hour < 12:
            hour += 12
    return hour * 60 + minute


@dataclass(frozen=True)
class _TimeHit:
    start: int  # minutes after midnight
    end: int | None
    stop: int  # index just past the consumed text


def _parse_range_end(s: str, j: int, start: int, part: str | None) -> tuple[int, int] | None:
    """`~16:30`, `到4点`, `-下午2点` after a start time; None if no end time follows."""
    sep = _RANGE_SEP.match(s, j)
    if sep is None:
        return None
    clock = _parse_clock(s, sep.end())
    if clock is None:
        return None
    end = _to_minutes(clock.hour, clock.minute, clock.part or part, clock.padded)
    if clock.part is None and end <= start and end < 12 * 60:
        end += 12 * 60  # 上午11点到1点 means until 13:00
    if end <= start:
        raise _Reject
    return end, clock.end


_LESSON: Final = re.compile(
    r"第\s*([0-9]{1,2}|[一二三四五六七八九十]+)\s*(?:(?:-|~|至|到)\s*(?:第\s*)?"
    r"([0-9]{1,2}|[一二三四五六七八九十]+)\s*)?节(?:课)?"
)

Lessons = tuple[tuple[int, int], ...]
"""The bell schedule (节次表): (start, end) of each lesson in minutes after midnight."""


# A common primary-school day: four lessons in the morning (a long break after the second),
# three in the afternoon. Deployments set their own with JIAOYAN_BELL_SCHEDULE.
DEFAULT_BELL_SCHEDULE: Final = (
    "8:00-8:40,8:50-9:30,10:00-10:40,10:50-11:30,14:00-14:40,14:50-15:30,15:40-16:20"
)


def parse_bell_schedule(text: str) -> Lessons:
    """`8:00-8:40,8:50-9:30,…` → lessons in minutes; ValueError (in Chinese) if malformed."""
    lessons: list[tuple[int, int]] = []
    for index, item in enumerate(re.split(r"[,，、;；\s]+", _normalise(text).strip()), 1):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})\s*[-~至到]\s*(\d{1,2}):(\d{2})", item)
        if m is None:
            raise ValueError(f"第{index}节「{item}」应写成 8:00-8:40 这样的时段")
        start = int(m.group(1)) * 60 + int(m.group(2))
        end = int(m.group(3)) * 60 + int(m.group(4))
        previous = lessons[-1][1] if lessons else -1
        if not previous <= start < end <= 24 * 60 or int(m.group(2)) > 59 or int(m.group(4)) > 59:
            raise ValueError(f"第{index}节「{item}」的时间不对（要在上一节之后、开始早于结束）")
        lessons.append((start, end))
    return tuple(lessons)


DEFAULT_LESSONS: Final = parse_bell_schedule(DEFAULT_BELL_SCHEDULE)


def _lesson_number(word: str) -> int:
    number = int(word) if word.isascii() else _cn_to_int(word)
    if number is None:
        raise _Reject
    return number


def _parse_lesson(s: str, i: int, lessons: Lessons) -> _TimeHit | None:
    """第三节 / 第3节课 / 第3-4节: the lessons' times from the bell schedule."""
    m = _LESSON.match(s, i)
    if m is None or not lessons:
        return None
    first = _lesson_number(m.group(1))
    last = _lesson_number(m.group(2)) if m.group(2) else first
    if not 1 <= first <= last <= len(lessons):
        raise _Reject
    return _TimeHit(lessons[first - 1][0], lessons[last - 1][1], m.end())


def _parse_time(s: str, i: int, hint: str | None, lessons: Lessons = ()) -> _TimeHit | None:
    """A time or time range at `i`; `hint` is the part of day implied by 今晚/明早."""
    if lesson := _parse_lesson(s, i, lessons):
        return lesson
    clock = _parse_clock(s, i)
    if clock is not None:
        part = clock.part or hint
        start = _to_minutes(clock.hour, clock.minute, part, clock.padded)
        if rng := _parse_range_end(s, clock.end, start, part):
            return _TimeHit(start, rng[0], rng[1])
        return _TimeHit(start, None, clock.end)
    # "下午2-4点", "10到12点": a bare start hour borrowing the end's 点.
    part = hint
    j = i
    if found := _parse_day_part(s, i):
        part, j = found[0], _skip_spaces(s, found[1])
    hour = _read_number(s, j)
    if hour is None:
        return None
    sep = _RANGE_SEP.match(s, hour.end)
    if sep is None or _parse_clock_digits(s, sep.end()) is None:
        return None
    padded = hour.is_digits and len(hour.raw) == 2 and hour.raw[0] == "0"
    start = _to_minutes(hour.value, 0, part, padded)
    rng = _parse_range_end(s, hour.end, start, part)
    if rng is None:
        return None
    return _TimeHit(start, rng[0], rng[1])


# --------------------------------------------------------------------------- public API


def _check_now(now: datetime) -> tzinfo:
    tz = now.tzinfo
    if tz is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return tz


def _at(day: date, minutes: int, tz: tzinfo) -> datetime:
    # Aware + timedelta is wall-clock arithmetic, so DST days still give the written time.
    return datetime.combine(day, time(), tzinfo=tz) + timedelta(minutes=minutes)


def _skip_joiner(s: str, i: int) -> int:
    """Between a date and its time: spaces and an optional 的 (明天的下午3点)."""
    j = _skip_spaces(s, i)
    if s.startswith("的", j):
        j = _skip_spaces(s, j + 1)
    return j


def extract_when(text: str, now: datetime, lessons: Lessons = ()) -> tuple[When, str] | None:
    """Parse a date/time expression at the START of `text` (leading spaces skipped); return
    it and the remaining text (stripped). None if the text does not start with one.

    `lessons` is the bell schedule that 第三节 refers to (none: 第三节 is not a time)."""
    tz = _check_now(now)
    s = _normalise(text)
    begin = _skip_spaces(s, 0)
    today = now.date()
    try:
        date_hit = _parse_date(s, begin, today)
        if date_hit is not None:
            day = _resolve(date_hit.spec, today, forward=True)
            time_hit = _parse_time(s, _skip_joiner(s, date_hit.end), date_hit.part_hint, lessons)
            if time_hit is None:
                when = When(_at(day, 0, tz), None, False, text[begin : date_hit.end])
                return when, text[date_hit.end :].strip()
        else:
            time_hit = _parse_time(s, begin, None, lessons)
            if time_hit is None:
                return None
            # A bare time means its next occurrence: today if still ahead, else tomorrow.
            day = today
            if _at(today, time_hit.start, tz) < now.replace(second=0, microsecond=0):
                day = today + timedelta(days=1)
        end = None if time_hit.end is None else _at(day, time_hit.end, tz)
        when = When(
            _at(day, time_hit.start, tz),
            end,
            True,
            text[begin : time_hit.stop],
            has_date=date_hit is not None,
        )
    except (_Reject, OverflowError, ValueError):  # the latter two: beyond year 1..9999
        return None
    return when, text[time_hit.stop :].strip()


def parse_when(text: str, now: datetime, lessons: Lessons = ()) -> When | None:
    """The whole `text` must be a date/time expression (surrounding spaces ok)."""
    found = extract_when(text, now, lessons)
    if found is None or found[1]:
        return None
    return found[0]


# --------------------------------------------------------------------------- explaining

# An hour to show in the example of "下午几点？" for each part of day.
_EXAMPLE_CLOCK: Final = {
    "early": "6:30",
    "morning": "9:00",
    "noon": "12:30",
    "afternoon": "14:30",
    "evening": "19:00",
}


def _word_at(text: str, i: int) -> str:
    """The run of non-space characters at `i` (what to quote back to the user)."""
    end = i
    while end < len(text) and not text[end].isspace() and end - i < 16:
        end += 1
    return text[i:end]


def when_problem(text: str, now: datetime, lessons: Lessons = ()) -> str | None:
    """Why the start of `text` is not a complete date and time, in Chinese; None if it is.

    Says which part was not understood: an impossible date (2月30日), a part of day without
    an hour (12月15日下午 → "12月15日下午几点？"), a date without a time, a bad clock (25点)."""
    _check_now(now)
    s = _normalise(text)
    begin = _skip_spaces(s, 0)
    today = now.date()
    try:
        date_hit = _parse_date(s, begin, today)
        if date_hit is not None:
            _resolve(date_hit.spec, today, forward=True)
    except _Reject:
        return f"没有「{_word_at(text, begin)}」这一天，请检查日期。"
    if date_hit is None:
        problem = _time_problem(text, s, begin, None, lessons, "")
        return problem or (None if problem is None else NO_TIME)
    date_text = text[begin : date_hit.end].strip()
    problem = _time_problem(
        text, s, _skip_joiner(s, date_hit.end), date_hit.part_hint, lessons, date_text
    )
    return problem or (None if problem is None else f"{date_text}几点？例如：{date_text} 14:30")


NO_TIME: Final = "没找到时间，请把时间写在最前面，例如：周五 14:30"


def _time_problem(
    text: str, s: str, i: int, hint: str | None, lessons: Lessons, date_text: str
) -> str | None:
    """What is wrong with the time at `i` ("" when there is none; None when it is fine)."""
    try:
        if _parse_time(s, i, hint, lessons) is not None:
            return None
    except _Reject:
        return f"没看懂时间「{_word_at(text, i)}」，例如：{_example(date_text, '14:30')}"
    part = _parse_day_part(s, i)
    if part is None:
        return ""
    said = f"{date_text}{text[i : part[1]]}"
    return f"{said}几点？例如：{_example(date_text, _EXAMPLE_CLOCK[part[0]])}"


def _example(date_text: str, clock: str) -> str:
    return f"{date_text} {clock}" if date_text else clock


def find_day(text: str, now: datetime) -> tuple[date, str] | None:
    """The first date mentioned anywhere in `text` (我要请假，周三家里有事 → Wednesday), as
    its next occurrence, with the words that named it; None if there is none."""
    _check_now(now)
    s = _normalise(text)
    today = now.date()
    for i in range(len(s)):
        if i > 0 and _is_ascii_digit(s[i - 1]) and _is_ascii_digit(s[i]):
            continue  # not the middle of a number
        try:
            hit = _parse_date(s, i, today)
            if hit is not None:
                return _resolve(hit.spec, today, forward=True), text[i : hit.end]
        except _Reject:
            continue
    return None


# --------------------------------------------------------------------------- periods

_MONTH_ONLY: Final = re.compile(
    r"(?:([0-9]{4})年|(今年|去年))?([0-9]{1,2}|[零〇一二两三四五六七八九十]+)月份?"
)
_MAX_ROLLED_RANGE_DAYS: Final = 184
_PERIOD_WORDS: Final = {
    "本周": "this_week",
    "这周": "this_week",
    "本星期": "this_week",
    "这星期": "this_week",
    "这个星期": "this_week",
    "上周": "last_week",
    "上星期": "last_week",
    "上个星期": "last_week",
    "本月": "this_month",
    "这个月": "this_month",
    "上月": "last_month",
    "上个月": "last_month",
    "今天": "today",
    "今日": "today",
    "昨天": "yesterday",
    "昨日": "yesterday",
    "本学期": "term",
    "这学期": "term",
}
_PERIOD_NAMES: Final = {
    "this_week": "本周",
    "last_week": "上周",
    "this_month": "本月",
    "last_month": "上月",
    "today": "今天",
    "yesterday": "昨天",
    "term": "本学期",
}


def _md(d: date, this_year: int) -> str:
    """Format as 11月23日, adding the year only when it differs from the current one."""
    text = f"{d.month}月{d.day}日"
    return text if d.year == this_year else f"{d.year}年{text}"


def _span(first: date, last: date, this_year: int) -> str:
    if first == last:
        return _md(first, this_year)
    return f"{_md(first, this_year)}–{_md(last, this_year)}"


def _month_bounds(year: int, month: int) -> tuple[date, date]:
    ny, nm = _add_months(year, month, 1)
    return date(year, month, 1), date(ny, nm, 1)


def _named_period(key: str, today: date) -> tuple[date, date, str]:
    """(first day, day after the last, detail for the label) of a named period."""
    year = today.year
    if key in ("this_week", "last_week"):
        monday = today - timedelta(days=today.weekday())
        if key == "last_week":
            monday -= timedelta(weeks=1)
        sunday = monday + timedelta(days=6)
        return monday, monday + timedelta(weeks=1), _span(monday, sunday, year)
    if key in ("this_month", "last_month"):
        y, m = _add_months(year, today.month, 0 if key == "this_month" else -1)
        first, after = _month_bounds(y, m)
        return first, after, f"{y}年{m}月"
    if key in ("today", "yesterday"):
        day = today if key == "today" else today - timedelta(days=1)
        return day, day + timedelta(days=1), _md(day, year)
    # Term: autumn Sep 1–Jan 31, spring Feb 1–Jul 31. In August (holiday) the spring
    # term that just ended is the one worth summarising.
    if today.month >= 9:
        first, after = date(year, 9, 1), date(year + 1, 2, 1)
    elif today.month == 1:
        first, after = date(year - 1, 9, 1), date(year, 2, 1)
    else:
        first, after = date(year, 2, 1), date(year, 8, 1)
    last = after - timedelta(days=1)
    detail = f"{first.year}年{first.month}月{first.day}日–{last.year}年{last.month}月{last.day}日"
    return first, after, detail


_SCHOOL_YEAR: Final = re.compile(r"(?:([0-9]{4})(?:[-~至到]([0-9]{4}))?|(本|上))学年")


def _school_year_start(today: date) -> int:
    """The calendar year the current school year (学年, September to August) began in."""
    return today.year if today.month >= 9 else today.year - 1


def _parse_school_year(s: str, today: date) -> tuple[date, date, str] | None:
    """'2026学年' / '2026-2027学年' (Sep 1 2026 – Aug 31 2027), '本学年', '上学年'."""
    m = _SCHOOL_YEAR.fullmatch(s)
    if m is None:
        return None
    if m.group(3):
        year = _school_year_start(today) - (1 if m.group(3) == "上" else 0)
    else:
        year = int(m.group(1))
        if m.group(2) and int(m.group(2)) != year + 1:
            raise _Reject
    first, after = date(year, 9, 1), date(year + 1, 9, 1)
    return first, after, f"{year}学年（{year}年9月1日–{year + 1}年8月31日）"


def school_term(day: date) -> tuple[date, str]:
    """The term a day belongs to, for per-term totals: (its first day, e.g. 2026学年第一学期).
    The first term runs September to January, the second February to August (the summer
    holiday stays with the school year it ends)."""
    if day.month >= 9:
        return date(day.year, 9, 1), f"{day.year}学年第一学期"
    if day.month == 1:
        return date(day.year - 1, 9, 1), f"{day.year - 1}学年第一学期"
    return date(day.year, 2, 1), f"{day.year - 1}学年第二学期"


def _parse_month_period(s: str, today: date) -> tuple[date, date, str] | None:
    """'11月' / '11月份' / '2025年11月' / '去年11月'."""
    m = _MONTH_ONLY.fullmatch(s)
    if m is None:
        return None
    month = int(m.group(3)) if m.group(3).isascii() else _cn_to_int(m.group(3))
    if month is None or not 1 <= month <= 12:
        raise _Reject
    if m.group(1):
        year = int(m.group(1))
    elif m.group(2):
        year = today.year - 1 if m.group(2) == "去年" else today.year
    else:
        year = today.year - 1 if month > today.month else today.year
    first, after = _month_bounds(year, month)
    return first, after, f"{year}年{month}月"


def _parse_date_period(s: str, today: date) -> tuple[date, date, str] | None:
    """A single date or 'date~date'. Year-less dates mean the most recent occurrence
    (summaries are about the past); a range's end is the first match on/after its start,
    so '12月20日~1月5日' crosses New Year and '11月1日至20日' stays in November."""
    first_hit = _parse_date(s, 0, today)
    if first_hit is None:
        return None
    first = _resolve(first_hit.spec, today, forward=False)
    if first_hit.end == len(s):
        return first, first + timedelta(days=1), _md(first, today.year)
    sep = _RANGE_SEP.match(s, first_hit.end)
    if sep is None:
        return None
    last_hit = _parse_date(s, sep.end(), today)
    if last_hit is None or last_hit.end != len(s):
        return None
    last = _resolve(last_hit.spec, first, forward=True)
    if last < first:
        return None
    # Rolling a year-less end into next year is right for "12月20日~1月5日" but would
    # turn a reversed "11月20日~11月1日" into almost a year; cap it at half a year.
    spec = last_hit.spec
    rolled = isinstance(spec, _MonthDay) and spec.year is None and last.year != first.year
    if rolled and (last - first).days > _MAX_ROLLED_RANGE_DAYS:
        return None
    return first, last + timedelta(days=1), _span(first, last, today.year)


def parse_period(text: str, now: datetime) -> Period | None:
    """Summary periods: 本周, 上周, 本月, 上月, 今天, 昨天, 本学期 (Sep 1–Jan 31 or Feb 1–Jul 31
    containing now), 学年 ('2026学年': Sep 1 2026–Aug 31 2027; 本学年, 上学年), 'N月' (month N
    of the current year, or the previous year if N is after the current month), single date,
    and ranges 'date~date' / 'date至date' / 'date到date' (inclusive end date => end is
    midnight after it). Weeks start on Monday."""
    tz = _check_now(now)
    s = _normalise(text).strip()
    today = now.date()
    try:
        if (key := _PERIOD_WORDS.get(s)) is not None:
            first, after, detail = _named_period(key, today)
            label = f"{_PERIOD_NAMES[key]}（{detail}）"
        else:
            found = (
                _parse_school_year(s, today)
                or _parse_month_period(s, today)
                or _parse_date_period(s, today)
            )
            if found is None:
                return None
            first, after, label = found
        return Period(_at(first, 0, tz), _at(after, 0, tz), label)
    except (_Reject, OverflowError, ValueError):  # the latter two: beyond year 1..9999
        return None
