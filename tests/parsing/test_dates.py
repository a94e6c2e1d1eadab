"""Chinese date/time phrases as teachers type them, against a fixed `now`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text.dates import (
    Period,
    When,
    extract_when,
    find_day,
    parse_period,
    parse_when,
    school_term,
    when_problem,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
# Tuesday 2026-11-24 10:00 in Shanghai.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SH)


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def test_now_is_a_tuesday() -> None:
    assert NOW.weekday() == 1


# --------------------------------------------------------------------------- dates only

DATE_CASES: list[tuple[str, datetime]] = [
    ("今天", sh(2026, 11, 24)),
    ("明天", sh(2026, 11, 25)),
    ("后天", sh(2026, 11, 26)),
    ("大后天", sh(2026, 11, 27)),
    ("周五", sh(2026, 11, 27)),
    ("星期五", sh(2026, 11, 27)),
    ("礼拜五", sh(2026, 11, 27)),
    ("周二", sh(2026, 11, 24)),  # today is Tuesday: today
    ("周一", sh(2026, 11, 30)),  # already past this week: next Monday
    ("周日", sh(2026, 11, 29)),
    ("周天", sh(2026, 11, 29)),
    ("星期日", sh(2026, 11, 29)),
    ("星期天", sh(2026, 11, 29)),
    ("礼拜天", sh(2026, 11, 29)),
    ("周5", sh(2026, 11, 27)),
    ("本周五", sh(2026, 11, 27)),
    ("这周五", sh(2026, 11, 27)),
    ("本周一", sh(2026, 11, 23)),  # this week's Monday even though it is past
    ("这个星期一", sh(2026, 11, 23)),
    ("下周三", sh(2026, 12, 2)),
    ("下周二", sh(2026, 12, 1)),
    ("下下周一", sh(2026, 12, 7)),
    ("下个星期三", sh(2026, 12, 2)),
    ("下个礼拜三", sh(2026, 12, 2)),
    ("上周五", sh(2026, 11, 20)),
    ("11月28日", sh(2026, 11, 28)),
    ("11月28号", sh(2026, 11, 28)),
    ("11月28", sh(2026, 11, 28)),
    ("11.28", sh(2026, 11, 28)),
    ("11/28", sh(2026, 11, 28)),
    ("2026-11-28", sh(2026, 11, 28)),
    ("2026/11/28", sh(2026, 11, 28)),
    ("2026.11.28", sh(2026, 11, 28)),
    ("2026年11月28日", sh(2026, 11, 28)),
    ("2027年3月1号", sh(2027, 3, 1)),
    ("明年3月1日", sh(2027, 3, 1)),
    ("12月1日", sh(2026, 12, 1)),
    ("1月5日", sh(2027, 1, 5)),  # already past this year: next year
    ("11月24日", sh(2026, 11, 24)),  # today is not "past"
    ("11月23日", sh(2027, 11, 23)),
    ("十一月二十八日", sh(2026, 11, 28)),
    ("十二月一号", sh(2026, 12, 1)),
    ("28号", sh(2026, 11, 28)),
    ("28日", sh(2026, 11, 28)),
    ("二十八号", sh(2026, 11, 28)),
    ("24号", sh(2026, 11, 24)),
    ("1号", sh(2026, 12, 1)),  # past this month: next month
    ("31号", sh(2026, 12, 31)),  # November has no 31st: next month that has one
    ("11月28日(周六)", sh(2026, 11, 28)),
    ("11月28日（星期六）", sh(2026, 11, 28)),
    ("２０２６年１１月２８日", sh(2026, 11, 28)),  # full-width digits
]


@pytest.mark.parametrize(("text", "start"), DATE_CASES)
def test_dates(text: str, start: datetime) -> None:
    when = parse_when(text, NOW)
    assert when == When(start=start, end=None, has_time=False, text=text)
    assert when.start.tzinfo is SH


# --------------------------------------------------------------------------- times and combos

TIME_CASES: list[tuple[str, datetime]] = [
    ("14:30", sh(2026, 11, 24, 14, 30)),
    ("14：30", sh(2026, 11, 24, 14, 30)),
    ("１４：３０", sh(2026, 11, 24, 14, 30)),
    ("14点", sh(2026, 11, 24, 14)),
    ("14点30", sh(2026, 11, 24, 14, 30)),
    ("14点30分", sh(2026, 11, 24, 14, 30)),
    ("14时30分", sh(2026, 11, 24, 14, 30)),
    ("14点05分", sh(2026, 11, 24, 14, 5)),
    ("下午3点", sh(2026, 11, 24, 15)),
    ("下午3点半", sh(2026, 11, 24, 15, 30)),
    ("下午三点", sh(2026, 11, 24, 15)),
    ("下午三点二十", sh(2026, 11, 24, 15, 20)),
    ("下午三点零五分", sh(2026, 11, 24, 15, 5)),
    ("下午两点一刻", sh(2026, 11, 24, 14, 15)),
    ("下午两点三刻", sh(2026, 11, 24, 14, 45)),
    ("下午2点刻", sh(2026, 11, 24, 14, 15)),
    ("下午14:30", sh(2026, 11, 24, 14, 30)),
    ("下午 3点", sh(2026, 11, 24, 15)),
    ("上午11点", sh(2026, 11, 24, 11)),
    ("上午9点", sh(2026, 11, 25, 9)),  # already past today: tomorrow
    ("早上8点", sh(2026, 11, 25, 8)),
    ("晚上7点", sh(2026, 11, 24, 19)),
    ("晚7点", sh(2026, 11, 24, 19)),
    ("晚上12点", sh(2026, 11, 25, 0)),
    ("中午12点", sh(2026, 11, 24, 12)),
    ("中午1点", sh(2026, 11, 24, 13)),
    ("傍晚6点", sh(2026, 11, 24, 18)),
    ("凌晨5点", sh(2026, 11, 25, 5)),
    ("9点", sh(2026, 11, 25, 9)),  # no am/pm: as written, and past => tomorrow
    ("10点", sh(2026, 11, 24, 10)),  # exactly now counts as still ahead
    ("12点", sh(2026, 11, 24, 12)),
    ("3点", sh(2026, 11, 24, 15)),  # bare 1–5 点 means the afternoon
    ("5点半", sh(2026, 11, 24, 17, 30)),
    ("3点半", sh(2026, 11, 24, 15, 30)),
    ("三点钟", sh(2026, 11, 24, 15)),
    ("6点整", sh(2026, 11, 25, 6)),  # bare 6–12 点 as written; 6:00 is past at 10:00
    ("晚上6点", sh(2026, 11, 24, 18)),
    ("7点", sh(2026, 11, 25, 7)),
    ("3:30", sh(2026, 11, 24, 15, 30)),
    ("03:00", sh(2026, 11, 25, 3)),  # zero-padded is explicit 24-hour time
    ("明天下午3点", sh(2026, 11, 25, 15)),
    ("明天 下午3点", sh(2026, 11, 25, 15)),
    ("明天的下午3点", sh(2026, 11, 25, 15)),
    ("明天9点", sh(2026, 11, 25, 9)),
    ("今天9点", sh(2026, 11, 24, 9)),  # explicit date: no rolling to tomorrow
    ("今晚7点", sh(2026, 11, 24, 19)),
    ("明早8点", sh(2026, 11, 25, 8)),
    ("周五 14:30", sh(2026, 11, 27, 14, 30)),
    ("周五14:30", sh(2026, 11, 27, 14, 30)),
    ("周五下午两点", sh(2026, 11, 27, 14)),
    ("2026-11-28 14:30", sh(2026, 11, 28, 14, 30)),
    ("下周三 上午9点", sh(2026, 12, 2, 9)),
    ("本周五3点", sh(2026, 11, 27, 15)),
    ("28号下午3点", sh(2026, 11, 28, 15)),
    ("11月28日（周六）14:30", sh(2026, 11, 28, 14, 30)),
    ("1月5日 8:30", sh(2027, 1, 5, 8, 30)),
]


@pytest.mark.parametrize(("text", "start"), TIME_CASES)
def test_times(text: str, start: datetime) -> None:
    when = parse_when(text, NOW)
    assert when is not None  # has_date is covered by test_bare_times_keep_no_date
    assert replace(when, has_date=True) == When(start=start, end=None, has_time=True, text=text)


RANGE_CASES: list[tuple[str, datetime, datetime]] = [
    ("11月28日 14:30-16:30", sh(2026, 11, 28, 14, 30), sh(2026, 11, 28, 16, 30)),
    ("11月28日下午2点到4点", sh(2026, 11, 28, 14), sh(2026, 11, 28, 16)),
    ("明天14:00~16:00", sh(2026, 11, 25, 14), sh(2026, 11, 25, 16)),
    ("明天14:00～16:00", sh(2026, 11, 25, 14), sh(2026, 11, 25, 16)),
    ("明天 14:00 - 16:00", sh(2026, 11, 25, 14), sh(2026, 11, 25, 16)),
    ("周五14:30—16:30", sh(2026, 11, 27, 14, 30), sh(2026, 11, 27, 16, 30)),
    ("周五 14:30至16:30", sh(2026, 11, 27, 14, 30), sh(2026, 11, 27, 16, 30)),
    ("14:30-16:30", sh(2026, 11, 24, 14, 30), sh(2026, 11, 24, 16, 30)),
    ("下午2点半到4点", sh(2026, 11, 24, 14, 30), sh(2026, 11, 24, 16)),
    ("下午2-4点", sh(2026, 11, 24, 14), sh(2026, 11, 24, 16)),
    ("明天上午9点到11点半", sh(2026, 11, 25, 9), sh(2026, 11, 25, 11, 30)),
    ("明天上午11点到1点", sh(2026, 11, 25, 11), sh(2026, 11, 25, 13)),
    ("明天上午10点到下午2点", sh(2026, 11, 25, 10), sh(2026, 11, 25, 14)),
    ("明天9点到3点", sh(2026, 11, 25, 9), sh(2026, 11, 25, 15)),
    ("周五晚上7点到12点", sh(2026, 11, 27, 19), sh(2026, 11, 28, 0)),
]


@pytest.mark.parametrize(("text", "start", "end"), RANGE_CASES)
def test_ranges(text: str, start: datetime, end: datetime) -> None:
    when = parse_when(text, NOW)
    assert when is not None
    assert replace(when, has_date=True) == When(start=start, end=end, has_time=True, text=text)


@pytest.mark.parametrize(
    ("text", "dated"),
    [("14:30-16:30", False), ("下午2点半", False), ("周五 14:30", True), ("明天9点", True)],
)
def test_bare_times_keep_no_date(text: str, dated: bool) -> None:
    """修改活动 A7 15:00 must keep A7's day: a bare time says its date was only inferred."""
    when = parse_when(text, NOW)
    assert when is not None and when.has_date is dated
    moved = when.on_day(date(2026, 12, 9))
    assert moved.start.date() == (when.start.date() if dated else date(2026, 12, 9))
    assert moved.start.time() == when.start.time()


def test_time_only_range_rolls_to_tomorrow_by_its_start() -> None:
    when = parse_when("8:00-9:00", NOW)
    assert when is not None
    assert (when.start, when.end) == (sh(2026, 11, 25, 8), sh(2026, 11, 25, 9))


# --------------------------------------------------------------------------- rejection

BAD_INPUTS = [
    "",
    "   ",
    "同课异构",
    "3 人",
    "3人",
    "2.5小时",
    "1.5 倍",
    "3号楼",
    "本周",  # a period, not a date
    "11月",
    "周八",
    "25点",
    "明天25点",
    "24:00",
    "14:75",
    "14:5",
    "13月5日",
    "0月5日",
    "2月30日",
    "4月31日",
    "2026-13-01",
    "2026-02-29",
    "32号",
    "0号",
    "上午14点",
    "下午0点",
    "中午8点",
    "16:30-14:30",
    "14:30-14:30",
    "下午3点到2点",
    "明天14:00-16:75",
    "周五 14:30 开会",  # parse_when needs the whole text
]


@pytest.mark.parametrize("text", BAD_INPUTS)
def test_parse_when_rejects(text: str) -> None:
    assert parse_when(text, NOW) is None


@pytest.mark.parametrize(
    "text", ["25点开会", "2月30日 教研", "明天 14:75 听课", "周五16:30-14:30 研讨", "3 人参加"]
)
def test_extract_when_rejects_impossible_values(text: str) -> None:
    assert extract_when(text, NOW) is None


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_when("明天", datetime(2026, 11, 24, 10, 0))


# --------------------------------------------------------------------------- rest of the text

REST_CASES: list[tuple[str, str, str]] = [
    ("周五 14:30 同课异构研讨 地点:一中", "周五 14:30", "同课异构研讨 地点:一中"),
    ("明天下午3点半集体备课", "明天下午3点半", "集体备课"),
    ("  明天 下午3点 听课  ", "明天 下午3点", "听课"),
    ("明天集体备课", "明天", "集体备课"),
    ("明天下午集体备课", "明天", "下午集体备课"),  # no hour: date only
    ("明天 3 人参加", "明天", "3 人参加"),
    ("周五 14:30到一中开会", "周五 14:30", "到一中开会"),
    ("14:30到3楼会议室", "14:30", "到3楼会议室"),
    ("下午三点一中开会", "下午三点", "一中开会"),
    ("11月28日 14:30-16:30 区级公开课", "11月28日 14:30-16:30", "区级公开课"),
    ("11月28日(周六)上午9点 期中质量分析", "11月28日(周六)上午9点", "期中质量分析"),
    ("11.28 教研活动", "11.28", "教研活动"),
    ("28号 周五 说课", "28号 周五", "说课"),
    ("周五 - 说课", "周五", "- 说课"),
    ("明天的会议", "明天", "的会议"),
    ("今晚7点 读书会", "今晚7点", "读书会"),
]


@pytest.mark.parametrize(("text", "consumed", "rest"), REST_CASES)
def test_extract_when_rest(text: str, consumed: str, rest: str) -> None:
    found = extract_when(text, NOW)
    assert found is not None
    when, remaining = found
    assert (when.text, remaining) == (consumed, rest)
    assert when.text in text


@pytest.mark.parametrize("text", ["同课异构 周五", "地点:一中 14:30", "请3点前提交"])
def test_extract_when_only_looks_at_the_start(text: str) -> None:
    assert extract_when(text, NOW) is None


def test_full_width_input_keeps_original_text() -> None:
    found = extract_when("明天１４：３０～１６：００　听课", NOW)
    assert found is not None
    when, rest = found
    assert when.text == "明天１４：３０～１６：００"
    assert (when.start, when.end) == (sh(2026, 11, 25, 14, 30), sh(2026, 11, 25, 16))
    assert rest == "听课"


# Characters the scanner cares about, so generated text actually reaches deep branches.
_DATEISH = st.text(
    alphabet=st.sampled_from(
        list("0123456789０１:：.-~/至到年月日号周星期礼拜天点时分半刻钟整")
        + list("零一二两三四五六七八九十上下午晚早中凌晨本这个今明后大的 ()（）人楼")
    ),
    max_size=24,
)


@given(st.text(max_size=40) | _DATEISH)
def test_extract_when_never_raises(text: str) -> None:
    found = extract_when(text, NOW)
    if found is not None:
        when, rest = found
        assert text.lstrip().startswith(when.text)
        assert when.text
        assert when.start.tzinfo is SH
        assert when.end is None or when.end > when.start
        assert when.has_time or when.end is None
        assert rest == text.lstrip()[len(when.text) :].strip()
    p = parse_period(text, NOW)
    assert p is None or p.start < p.end


# --------------------------------------------------------------------------- other timezones


def test_interprets_phrases_in_nows_timezone() -> None:
    # Saturday 23:30 in New York, the night before DST starts (2026-03-08).
    now = datetime(2026, 3, 7, 23, 30, tzinfo=NY)
    when = parse_when("明天下午3点", now)
    assert when is not None
    assert when.start == datetime(2026, 3, 8, 15, 0, tzinfo=NY)
    assert when.start.utcoffset() == timedelta(hours=-4)
    assert when.start.tzinfo is NY
    bare = parse_when("1点", now)  # 13:00 today is gone: tomorrow
    assert bare is not None
    assert bare.start == datetime(2026, 3, 8, 13, 0, tzinfo=NY)
    assert parse_when("周日", now) == When(datetime(2026, 3, 8, tzinfo=NY), None, False, "周日")


def test_utc_now_uses_the_utc_calendar_day() -> None:
    now = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # already the 25th in Shanghai
    when = parse_when("明天", now)
    assert when is not None
    assert when.start == datetime(2026, 11, 25, tzinfo=UTC)


# --------------------------------------------------------------------------- periods


def period(text: str, now: datetime = NOW) -> Period:
    found = parse_period(text, now)
    assert found is not None, text
    return found


PERIOD_CASES: list[tuple[str, datetime, datetime, str]] = [
    ("本周", sh(2026, 11, 23), sh(2026, 11, 30), "本周（11月23日–11月29日）"),
    ("这周", sh(2026, 11, 23), sh(2026, 11, 30), "本周（11月23日–11月29日）"),
    ("上周", sh(2026, 11, 16), sh(2026, 11, 23), "上周（11月16日–11月22日）"),
    ("本月", sh(2026, 11, 1), sh(2026, 12, 1), "本月（2026年11月）"),
    ("上月", sh(2026, 10, 1), sh(2026, 11, 1), "上月（2026年10月）"),
    ("上个月", sh(2026, 10, 1), sh(2026, 11, 1), "上月（2026年10月）"),
    ("今天", sh(2026, 11, 24), sh(2026, 11, 25), "今天（11月24日）"),
    ("昨天", sh(2026, 11, 23), sh(2026, 11, 24), "昨天（11月23日）"),
    (
        "本学期",
        sh(2026, 9, 1),
        sh(2027, 2, 1),
        "本学期（2026年9月1日–2027年1月31日）",
    ),
    ("11月", sh(2026, 11, 1), sh(2026, 12, 1), "2026年11月"),
    ("11月份", sh(2026, 11, 1), sh(2026, 12, 1), "2026年11月"),
    ("十月", sh(2026, 10, 1), sh(2026, 11, 1), "2026年10月"),
    ("12月", sh(2025, 12, 1), sh(2026, 1, 1), "2025年12月"),  # after this month: last year
    ("2025年11月", sh(2025, 11, 1), sh(2025, 12, 1), "2025年11月"),
    ("11月20日", sh(2026, 11, 20), sh(2026, 11, 21), "11月20日"),
    ("12月1日", sh(2025, 12, 1), sh(2025, 12, 2), "2025年12月1日"),  # summaries look back
    ("周五", sh(2026, 11, 20), sh(2026, 11, 21), "11月20日"),
    ("2026-11-20", sh(2026, 11, 20), sh(2026, 11, 21), "11月20日"),
    ("11月1日~11月20日", sh(2026, 11, 1), sh(2026, 11, 21), "11月1日–11月20日"),
    ("11月1日 ~ 11月20日", sh(2026, 11, 1), sh(2026, 11, 21), "11月1日–11月20日"),
    ("11月1日至11月20日", sh(2026, 11, 1), sh(2026, 11, 21), "11月1日–11月20日"),
    ("11月1日到11月20日", sh(2026, 11, 1), sh(2026, 11, 21), "11月1日–11月20日"),
    ("11月1日至20日", sh(2026, 11, 1), sh(2026, 11, 21), "11月1日–11月20日"),
    ("11.1-11.20", sh(2026, 11, 1), sh(2026, 11, 21), "11月1日–11月20日"),
    ("2026/11/01～2026/11/20", sh(2026, 11, 1), sh(2026, 11, 21), "11月1日–11月20日"),
    ("11月20日~11月20日", sh(2026, 11, 20), sh(2026, 11, 21), "11月20日"),
]


@pytest.mark.parametrize(("text", "start", "end", "label"), PERIOD_CASES)
def test_periods(text: str, start: datetime, end: datetime, label: str) -> None:
    assert period(text) == Period(start=start, end=end, label=label)


def test_this_week_on_a_sunday_starts_on_monday() -> None:
    p = period("本周", sh(2026, 11, 29, 21))
    assert (p.start, p.end) == (sh(2026, 11, 23), sh(2026, 11, 30))


def test_this_week_on_a_monday() -> None:
    p = period("本周", sh(2026, 11, 30, 0, 1))
    assert (p.start, p.end) == (sh(2026, 11, 30), sh(2026, 12, 7))


def test_week_across_new_year_shows_years() -> None:
    p = period("本周", sh(2026, 12, 31, 9))
    assert (p.start, p.end) == (sh(2026, 12, 28), sh(2027, 1, 4))
    assert p.label == "本周（12月28日–2027年1月3日）"


def test_this_month_in_december() -> None:
    p = period("本月", sh(2026, 12, 15))
    assert (p.start, p.end) == (sh(2026, 12, 1), sh(2027, 1, 1))


def test_last_month_in_january() -> None:
    p = period("上月", sh(2027, 1, 10))
    assert p == Period(sh(2026, 12, 1), sh(2027, 1, 1), "上月（2026年12月）")


def test_named_month_after_current_month_is_last_year() -> None:
    feb = sh(2027, 2, 10)
    assert period("11月", feb) == Period(sh(2026, 11, 1), sh(2026, 12, 1), "2026年11月")
    assert period("2月", feb) == Period(sh(2027, 2, 1), sh(2027, 3, 1), "2027年2月")
    assert period("1月", feb).start == sh(2027, 1, 1)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (sh(2026, 9, 1), sh(2026, 9, 1), sh(2027, 2, 1)),
        (sh(2027, 1, 31, 23, 59), sh(2026, 9, 1), sh(2027, 2, 1)),
        (sh(2027, 2, 1), sh(2027, 2, 1), sh(2027, 8, 1)),
        (sh(2027, 7, 31), sh(2027, 2, 1), sh(2027, 8, 1)),
        (sh(2027, 8, 15), sh(2027, 2, 1), sh(2027, 8, 1)),  # summer: the term just ended
    ],
)
def test_term_boundaries(now: datetime, start: datetime, end: datetime) -> None:
    p = period("本学期", now)
    assert (p.start, p.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "now", "start", "end"),
    [
        ("2026学年", sh(2027, 3, 1), sh(2026, 9, 1), sh(2027, 9, 1)),
        ("2026-2027学年", sh(2026, 10, 1), sh(2026, 9, 1), sh(2027, 9, 1)),
        ("本学年", sh(2027, 8, 20), sh(2026, 9, 1), sh(2027, 9, 1)),
        ("本学年", sh(2027, 9, 1), sh(2027, 9, 1), sh(2028, 9, 1)),
        ("上学年", sh(2026, 11, 24), sh(2025, 9, 1), sh(2026, 9, 1)),
    ],
)
def test_school_years(text: str, now: datetime, start: datetime, end: datetime) -> None:
    p = period(text, now)
    assert (p.start, p.end) == (start, end)
    assert p.label.endswith("8月31日）")


def test_school_year_with_a_wrong_second_year_is_not_a_period() -> None:
    assert parse_period("2026-2028学年", NOW) is None


@pytest.mark.parametrize(
    ("day", "first", "label"),
    [
        (date(2026, 9, 1), date(2026, 9, 1), "2026学年第一学期"),
        (date(2027, 1, 31), date(2026, 9, 1), "2026学年第一学期"),
        (date(2027, 2, 1), date(2027, 2, 1), "2026学年第二学期"),
        (date(2027, 8, 31), date(2027, 2, 1), "2026学年第二学期"),
    ],
)
def test_school_term_of_a_day(day: date, first: date, label: str) -> None:
    assert school_term(day) == (first, label)


def test_range_across_new_year() -> None:
    p = period("12月20日~1月5日", sh(2027, 1, 10))
    assert (p.start, p.end) == (sh(2026, 12, 20), sh(2027, 1, 6))
    assert p.label == "2026年12月20日–1月5日"


def test_period_in_another_timezone() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=NY)
    p = period("本月", now)
    assert (p.start, p.end) == (datetime(2026, 3, 1, tzinfo=NY), datetime(2026, 4, 1, tzinfo=NY))
    assert p.start.utcoffset() == timedelta(hours=-5)
    assert p.end.utcoffset() == timedelta(hours=-4)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "下个月",
        "本周五下午",
        "13月",
        "0月",
        "2月30日",
        "11月20日~11月1日",
        "11月20日~10月1日",
        "11月20日~",
        "11月1日~11月20日 总结",
        "总结",
        "3 人",
    ],
)
def test_bad_periods(text: str) -> None:
    assert parse_period(text, NOW) is None


EARLY = datetime(2026, 11, 24, 6, 2, tzinfo=SH)  # a Tuesday, before the first class
LESSONS = ((8 * 60, 8 * 60 + 40), (8 * 60 + 50, 9 * 60 + 30), (9 * 60 + 50, 10 * 60 + 30))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # A morning range typed before school starts stays in the morning.
        ("今天 6:30-8:00", sh(2026, 11, 24, 6, 30), sh(2026, 11, 24, 8)),
        ("7:30-8:10", sh(2026, 11, 24, 7, 30), sh(2026, 11, 24, 8, 10)),
        ("今天 3:00-5:00", sh(2026, 11, 24, 15), sh(2026, 11, 24, 17)),
        # The end follows the start: from 4 p.m. to 6 means 18:00.
        ("今天 4点-6点", sh(2026, 11, 24, 16), sh(2026, 11, 24, 18)),
        ("今天 11:00-1:00", sh(2026, 11, 24, 11), sh(2026, 11, 24, 13)),
        ("今天 晚上6点-8点", sh(2026, 11, 24, 18), sh(2026, 11, 24, 20)),
        ("今天 5:30-6:30", sh(2026, 11, 24, 17, 30), sh(2026, 11, 24, 18, 30)),
    ],
)
def test_bare_hours_early_in_the_morning(text: str, start: datetime, end: datetime) -> None:
    when = parse_when(text, EARLY)
    assert when is not None and (when.start, when.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("明天 第三节", sh(2026, 11, 25, 9, 50), sh(2026, 11, 25, 10, 30)),
        ("周五第1节课", sh(2026, 11, 27, 8), sh(2026, 11, 27, 8, 40)),
        ("周三 第二至三节", sh(2026, 11, 25, 8, 50), sh(2026, 11, 25, 10, 30)),
        ("周三 第2-3节课", sh(2026, 11, 25, 8, 50), sh(2026, 11, 25, 10, 30)),
    ],
)
def test_lessons_follow_the_bell_schedule(text: str, start: datetime, end: datetime) -> None:
    when = parse_when(text, NOW, LESSONS)
    assert when is not None and (when.start, when.end) == (start, end)


def test_lessons_beyond_the_schedule_or_without_one_are_not_times() -> None:
    assert parse_when("明天 第四节", NOW, LESSONS) is None
    assert parse_when("明天 第三节", NOW) is None
    assert when_problem("明天 第四节", NOW, LESSONS) == "没看懂时间「第四节」，例如：明天 14:30"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("12月15日下午 课例研讨", "12月15日下午几点？例如：12月15日 14:30"),
        ("12.15 下午", "12.15下午几点？例如：12.15 14:30"),
        ("明天上午 听课", "明天上午几点？例如：明天 9:00"),
        ("周五 集体备课", "周五几点？例如：周五 14:30"),
        ("2月30日 14:00", "没有「2月30日」这一天，请检查日期。"),
        ("明天 25点 听课", "没看懂时间「25点」，例如：明天 14:30"),
        ("集体备课", "没找到时间，请把时间写在最前面，例如：周五 14:30"),
        ("周五 14:30 听课", None),
    ],
)
def test_when_problem_names_the_part_not_understood(text: str, problem: str | None) -> None:
    assert when_problem(text, NOW) == problem


def test_find_day_anywhere_in_a_sentence() -> None:
    assert find_day("周三家里有事", NOW) == (date(2026, 11, 25), "周三")
    assert find_day("孩子生病，12月3日来不了", NOW) == (date(2026, 12, 3), "12月3日")
    assert find_day("家里有事", NOW) is None
    assert find_day("在3号楼开会", NOW) is None
