"""Reading a term calendar (校历) file for `jiaoyan-bot calendar import`.

A small YAML file with Chinese keys, one term per file (examples/calendar.yaml):

    学期: 2026—2027学年第一学期
    开学: 2026-09-01
    放假: 2027-01-23          # the first day of the vacation
    节假日:
      国庆节: 2026-10-01 至 2026-10-08
      元旦: 2027-01-01
    调休:                      # make-up working days, never skipped
      - 2026-09-27

Every problem is collected and reported at once; nothing is returned half-read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from storage.models import CalendarDay, CalendarDayKind, Term

MAX_HOLIDAY_DAYS = 60  # a range longer than this is a typo, not a holiday
_KEYS = {"学期", "开学", "放假", "节假日", "调休"}
_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_RANGE = re.compile(r"\s*(?:至|到|~|～|—|–)\s*")
WORKDAY_NAME = "调休上班"


class CalendarFileError(ValueError):
    """The file cannot be used; the message lists every problem, in Chinese."""


@dataclass(frozen=True)
class CalendarFile:
    term: Term
    days: list[CalendarDay]

    @property
    def holidays(self) -> int:
        return sum(1 for d in self.days if d.kind is CalendarDayKind.HOLIDAY)

    @property
    def workdays(self) -> int:
        return sum(1 for d in self.days if d.kind is CalendarDayKind.WORKDAY)


def read_calendar_file(path: Path) -> CalendarFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CalendarFileError(f"打不开文件 {path}：{error.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise CalendarFileError(
            f"{path} 不是 UTF-8 编码的 YAML 文件，请参照 examples/calendar.yaml"
        ) from None
    return parse_calendar(data)


def parse_calendar(data: Any) -> CalendarFile:
    if not isinstance(data, dict):
        raise CalendarFileError(
            "校历文件应写成「开学: 2026-09-01」这样的键值，见 examples/calendar.yaml"
        )
    problems: list[str] = []
    unknown = [str(key) for key in data if key not in _KEYS]
    if unknown:
        problems.append(f"不认识的项：{'、'.join(unknown)}（可用：学期、开学、放假、节假日、调休）")
    starts = _required_day(data, "开学", problems)
    ends = _required_day(data, "放假", problems)
    if starts and ends and starts >= ends:
        problems.append("放假日期应在开学日期之后。")
    days: dict[date, CalendarDay] = {}
    holidays = data.get("节假日") or {}
    if not isinstance(holidays, dict):
        problems.append("节假日应写成「名称: 日期」或「名称: 开始日期 至 结束日期」。")
        holidays = {}
    for name, value in holidays.items():
        for day in _days(value, f"节假日「{name}」", problems):
            days[day] = CalendarDay(day=day, kind=CalendarDayKind.HOLIDAY, name=str(name))
    workdays = data.get("调休") or []
    for value in workdays if isinstance(workdays, list) else [workdays]:
        for day in _days(value, "调休", problems):
            days[day] = CalendarDay(day=day, kind=CalendarDayKind.WORKDAY, name=WORKDAY_NAME)
    if problems:
        raise CalendarFileError("\n".join(problems))
    assert starts is not None and ends is not None
    name = str(data.get("学期") or f"{starts.year}年{starts.month}月开学的学期")
    return CalendarFile(
        Term(name=name, starts_on=starts, ends_on=ends), sorted(days.values(), key=lambda d: d.day)
    )


def _required_day(data: dict[Any, Any], key: str, problems: list[str]) -> date | None:
    if data.get(key) in (None, ""):
        problems.append(f"缺少「{key}」日期，例如 {key}: 2026-09-01")
        return None
    return _one_day(data[key], key, problems)


def _one_day(value: Any, what: str, problems: list[str]) -> date | None:
    if isinstance(value, date):
        return value
    matched = _DATE.match(str(value))
    if matched is not None:
        try:
            return date(*(int(part) for part in matched.groups()))
        except ValueError:
            pass
    problems.append(f"{what}的日期「{value}」看不懂，请写成 2026-10-01")
    return None


def _days(value: Any, what: str, problems: list[str]) -> list[date]:
    """One day, a range 开始 至 结束, or a list of either."""
    if isinstance(value, list):
        return [day for item in value for day in _days(item, what, problems)]
    parts = _RANGE.split(str(value)) if not isinstance(value, date) else [value]
    if len(parts) == 1:
        day = _one_day(parts[0], what, problems)
        return [day] if day else []
    first, last = (_one_day(part, what, problems) for part in parts[:2])
    if first is None or last is None:
        return []
    if len(parts) > 2 or not 0 <= (last - first).days < MAX_HOLIDAY_DAYS:
        problems.append(f"{what}的日期范围「{value}」不对，请写成 2026-10-01 至 2026-10-08")
        return []
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
