"""`jiaoyan-bot calendar import`: the example file, a corrected re-import, a bad file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.cli.main import main
from storage import Storage
from storage.models import TermCalendar

EXAMPLE = Path(__file__).parents[1] / "examples" / "calendar.yaml"


def calendar_of(db: Path) -> TermCalendar:
    storage = Storage.open(db)
    try:
        return storage.calendar.load()
    finally:
        storage.close()


def test_example_file_imports_and_tells_which_days_are_closed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.db"
    assert main(["calendar", "import", str(EXAMPLE), "--db", str(db)]) == 0
    assert "已导入校历「2026—2027学年第一学期」" in capsys.readouterr().out
    calendar = calendar_of(db)
    assert calendar.closed(date(2026, 10, 2)) == "国庆节"
    assert calendar.closed(date(2026, 10, 10)) is None  # 调休上班 (a Saturday)
    assert calendar.closed(date(2026, 10, 14)) is None  # an ordinary school day
    assert calendar.closed(date(2026, 8, 31)) == "假期"  # before 开学
    assert calendar.closed(date(2027, 1, 23)) == "假期"  # 放假 is the first day off


def test_reimport_replaces_the_term_and_its_days(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    first = tmp_path / "first.yaml"
    first.write_text("开学: 2026-09-01\n放假: 2027-01-23\n节假日:\n  运动会: 2026-11-12\n", "utf-8")
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text("开学: 2026-09-01\n放假: 2027-01-30\n节假日:\n  运动会: 2026-11-19\n", "utf-8")
    assert main(["calendar", "import", str(first), "--db", str(db)]) == 0
    assert main(["calendar", "import", str(fixed), "--db", str(db)]) == 0
    calendar = calendar_of(db)
    assert [(t.starts_on, t.ends_on) for t in calendar.terms] == [
        (date(2026, 9, 1), date(2027, 1, 30))
    ]
    assert calendar.closed(date(2026, 11, 12)) is None
    assert calendar.closed(date(2026, 11, 19)) == "运动会"


def test_bad_file_lists_every_problem_and_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, bad = tmp_path / "bot.db", tmp_path / "bad.yaml"
    bad.write_text(
        "开学: 2027-01-23\n放假: 2026-09-01\n节假日:\n  国庆节: 10月1日\n寒假: 2027-01-23\n",
        "utf-8",
    )
    assert main(["calendar", "import", str(bad), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "不认识的项：寒假" in err and "放假日期应在开学日期之后" in err
    assert "节假日「国庆节」的日期「10月1日」看不懂" in err
    assert calendar_of(db).empty
