"""Real phrasings teachers type, as data: tests/parsing/corpus.yaml, one case per line.

Each case is read by the real router and parsers at a pinned moment, and only the fields
the case names are compared, so a new phrasing costs one line of YAML.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.core.clock import FakeClock
from bot.routing.context import Hint
from bot.routing.router import Args
from bot.text.dates import DEFAULT_LESSONS, extract_when, find_day, parse_period, when_problem
from handlers import build_router
from handlers.activities import parse_fields
from handlers.lookup import ACTIVITY_CODE, NOTICE_CODE, take_code
from handlers.review_parts import split_parts
from handlers.series import SERIES_CODE

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-11-24 10:00 in Shanghai; a case may pin its own moment with `at`.
CLOCK = FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))
CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).with_name("corpus.yaml")).read_text(encoding="utf-8")
)
ROUTER = build_router()


def _moment(value: datetime | None) -> str | None:
    return None if value is None else f"{value:%Y-%m-%d %H:%M}"


def _activity_fields(text: str, now: datetime) -> dict[str, Any]:
    try:
        fields = parse_fields(text, now, DEFAULT_LESSONS)
    except Hint as hint:
        return {"problem": str(hint)}
    when = fields.when
    repeat = fields.repeat
    return {
        "repeat": repeat.label if repeat else None,
        "until": f"{repeat.until:%Y-%m-%d}" if repeat and repeat.until else None,
        "count": repeat.count if repeat else None,
        "when": _moment(when.start) if when else None,
        "end": _moment(when.end) if when else None,
        "title": fields.title,
        "place": fields.place,
        "hours": fields.hours,
        "signin_code": fields.signin_code,
        "study": fields.study,
        "teacher": fields.teacher,
        "due": _moment(fields.reflection_due),
        "problem": None if when else when_problem(text, now, DEFAULT_LESSONS),
    }


def _time_fields(text: str, now: datetime) -> dict[str, Any]:
    found = extract_when(text, now, DEFAULT_LESSONS)
    if found is None or not found[0].has_time:
        return {"problem": when_problem(text, now, DEFAULT_LESSONS)}
    when, rest = found
    return {"when": _moment(when.start), "end": _moment(when.end), "rest": rest}


def interpret(command: str, args: Args, now: datetime) -> dict[str, Any]:
    """What the command's handler reads from the message, with the handler's own parsers."""
    pattern = NOTICE_CODE if command in ("收到", "回执") else ACTIVITY_CODE
    number, rest = take_code(args.raw, pattern)
    found: dict[str, Any] = {"code": number, "rest": rest}
    series, series_rest = take_code(args.text, SERIES_CODE)
    if series is not None and command in ("修改活动", "取消活动"):
        found |= {"series": series, "rest": series_rest}
        if command == "修改活动":
            found |= _activity_fields(series_rest, now)
    elif command in ("发起活动", "修改活动"):
        found |= _activity_fields(take_code(args.text, pattern)[1], now)
    elif command == "定时通知":
        found |= _time_fields(args.text, now)
    elif command in ("评课", "听课"):
        parsed = split_parts(rest if command == "评课" else args.raw)
        found["head"] = parsed.head
        found["parts"] = parsed.parts
    elif command in ("汇总", "我的档案"):
        period = parse_period(args.text, now)
        found["period"] = period.label if period else None
    day = find_day(rest, now)
    found["day"] = f"{day[0]:%Y-%m-%d}" if day else None
    return found


@pytest.mark.parametrize("case", CASES, ids=[case["say"] for case in CASES])
def test_phrasing(case: dict[str, Any]) -> None:
    now = CLOCK.now().astimezone(SHANGHAI)  # as ctx.now(): local to the alliance
    if "at" in case:
        now = datetime.strptime(case["at"], "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    matched = ROUTER.match(case["say"])
    assert (matched[0].name if matched else None) == case["command"]
    if matched is None:
        assert ROUTER.closest(case["say"]) is (
            ROUTER.find(case["suggest"]) if case.get("suggest") else None
        )
        return
    found = interpret(matched[0].name, matched[1], now)
    expected = {k: v for k, v in case.items() if k not in ("say", "command", "at", "suggest")}
    assert {k: found.get(k) for k in expected} == expected


def test_corpus_is_large_and_covers_every_family() -> None:
    assert len(CASES) >= 150
    commands = {case["command"] for case in CASES}
    assert {"签到", "请假", "反思", "收到", "发起活动", "修改活动", "定时通知", "汇总"} <= commands
