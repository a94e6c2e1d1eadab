"""成长档案: one teacher's workbook (and its command line), read back as a person would.

王芳 of the seeded district (conftest): A5, A1 and A2 held, all signed in on time with a
reflection (5.5 学时); A4 and A6 still to come. Added here: 李强's 评课 of her lesson A1, her
听课 of 张敏, and 孙丽's 评课 in the west that must stay out of the east's records.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from bot.cli.main import main
from bot.core.settings import Settings
from reports.archive_cli import archive_command
from reports.export import COUNTING_RULES
from storage.reviews import ReviewParts

from .conftest import NOW, R1, R3, District, at

REVIEW = ReviewParts(
    strengths="朗读指导层层递进，学生读出了秋雨的温柔",
    weaknesses="小组合作的任务不够具体",
    suggestions="给每个小组一张任务单",
)
OBSERVED = ReviewParts(
    strengths="板书清楚", weaknesses="提问面窄", suggestions="多请后排的学生回答"
)


@pytest.fixture
def reviewed(district: District) -> District:
    """李强 reviews 王芳's lesson A1; 王芳 observes 张敏; both on known days."""
    p, reviews = district.people, district.storage.reviews
    a1 = district.storage.activities.get(1)
    assert a1 is not None and a1.title == "秋天的雨"
    reviews.review_activity(
        activity_id=a1.id,
        alliance_id=district.east.id,
        observer_id=p["李强"].id,
        teacher_id=p["王芳"].id,
        lesson_date=date(2026, 11, 24),
        parts=REVIEW,
        at=at(11, 24, 17),
    )
    reviews.observe(
        alliance_id=district.east.id,
        observer_id=p["王芳"].id,
        teacher_id=p["张敏"].id,
        lesson_date=date(2026, 11, 19),
        topic="搭船的鸟",
        subject="语文",
        parts=OBSERVED,
        at=at(11, 19, 16),
    )
    return district


def settings_for(d: District) -> Settings:
    return Settings(_env_file=None, JIAOYAN_DB=d.db)  # type: ignore[call-arg]


def run(d: District, output: Path, member: str = "t1", **kw: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = archive_command(
        settings_for(d),
        member=member,
        date_from=kw.get("date_from"),
        date_to=kw.get("date_to"),
        output=output,
        now=lambda: NOW,
        out=out,
        err=err,
    )
    return code, out.getvalue(), err.getvalue()


def rows(path: Path, sheet: str) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(path)
    return [tuple(r) for r in book[sheet].iter_rows(values_only=True)]


def test_a_teachers_workbook_holds_her_record(reviewed: District, tmp_path: Path) -> None:
    target = tmp_path / "王芳.xlsx"
    code, out, err = run(reviewed, target, date_from="2026-09-01", date_to="2027-01-31")
    assert code == 0 and err == ""
    assert f"已导出王芳（2026-09-01 至 2027-01-31）的成长档案到 {target.resolve()}" in out
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["概览", "活动", "反思", "评课", "听课", "资源"]

    overview = rows(target, "概览")
    assert overview[0][:2] == ("学期", "应参加")
    # 3 held, all signed in and reflected; 1 听课 written, 1 评课 received, 1 resource; 5.5 学时
    term = (
        "2026学年第一学期", 3, 0, 3, 3, 0, 0, 3, 1, 1, 1, 0, 1, 0, 1, 5.5
    )  # fmt: skip
    assert overview[1] == term
    assert overview[2] == ("合计", *term[1:])
    notes = {r[0]: r[1] for r in overview[3:] if r[0]}
    assert notes["姓名"] == "王芳（东部一小，东部联盟，账号 t1）"
    for name, text in COUNTING_RULES:  # the export's counting rule, word for word
        assert notes[name] == text

    activities = rows(target, "活动")
    by_code = {r[0]: r for r in activities[1:]}
    assert list(by_code) == ["A5", "A1", "A2", "A4", "A6"]  # by start time
    assert by_code["A1"][5:] == ("已签到", by_code["A1"][6], None, "已交", 2, 2)
    assert by_code["A4"][5] == "未开始" and by_code["A4"][10] == 0

    reflections = rows(target, "反思")
    assert [r[0] for r in reflections[1:]] == ["A5", "A1", "A2"]
    assert reflections[2][-1] == R1 and reflections[3][-1] == R3  # in full

    reviews = rows(target, "评课")
    assert reviews[1][:6] == ("我的课", reviews[1][1], "A1 秋天的雨", "王芳", "东部一小", "李强")
    assert reviews[1][7:10] == (REVIEW.strengths, REVIEW.weaknesses, REVIEW.suggestions)
    observations = rows(target, "听课")
    assert observations[1][:6] == (
        "我写的",
        observations[1][1],
        "《搭船的鸟》",
        "张敏",
        "东部二小",
        "王芳",
    )
    resources = rows(target, "资源")
    assert [r[1] for r in resources[1:]] == ["《秋天的雨》教学设计"]


def test_another_teacher_sees_only_her_own(reviewed: District, tmp_path: Path) -> None:
    target = tmp_path / "孙丽.xlsx"
    assert run(reviewed, target, member="孙丽")[0] == 0  # by name when it is unique
    assert [r[2] for r in rows(target, "活动")[1:]] == ["西部专属研讨"]
    assert rows(target, "评课")[1:] == [] and rows(target, "资源")[1:] != []
    assert all("王芳" not in str(cell) for r in rows(target, "反思") for cell in r)


def test_a_range_keeps_terms_apart(reviewed: District, tmp_path: Path) -> None:
    target = tmp_path / "week.xlsx"
    assert run(reviewed, target, date_from="2026-11-23", date_to="2026-11-29")[0] == 0
    overview = rows(target, "概览")
    assert overview[1][:2] == ("2026学年第一学期", 2) and overview[1][-1] == 3.5
    assert rows(target, "听课")[1:] == []  # 11-19 is before the range


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("nobody", "名册里没有账号或姓名为「nobody」的成员"),
        ("t1", "开始日期要早于结束日期"),
    ],
)
def test_bad_input_is_told_in_chinese(
    district: District, tmp_path: Path, member: str, message: str
) -> None:
    code, out, err = run(
        district, tmp_path / "x.xlsx", member=member, date_from="2026-11-20", date_to="2026-11-10"
    )
    assert code == 2 and message in err and out == ""
    assert not (tmp_path / "x.xlsx").exists()


def test_the_real_command_line(district: District, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "t1.xlsx"
    db = str(district.db)
    assert main(["export", "--db", db, "--member", "t1", "-o", str(target)]) == 0
    assert "已导出王芳（全部时间）的成长档案" in capsys.readouterr().out
    assert rows(target, "反思")[2][-1] == R1
    code = main(["export", "--db", db, "--member", "t1", "--alliance", "东部", "-o", str(target)])
    assert code == 2 and "只能选一个" in capsys.readouterr().err
    code = main(["export", "--db", db, "--member", "t1", "-o", str(tmp_path / "t1.csv")])
    assert code == 2 and ".xlsx 或 .html" in capsys.readouterr().err


def test_the_printable_page_from_the_command_line(reviewed: District, tmp_path: Path) -> None:
    target = tmp_path / "王芳.html"
    assert run(reviewed, target)[0] == 0
    page = target.read_text(encoding="utf-8")
    assert '<h1 id="title">王芳 成长档案</h1>' in page
    assert R1 in page and REVIEW.weaknesses in page and "统计口径" in page
    assert "@page { size: A4" in page and "data:font/otf;base64," in page


def test_the_page_escapes_what_people_wrote(reviewed: District, tmp_path: Path) -> None:
    p = reviewed.people
    reviewed.storage.submissions.submit_reflection(
        6, p["王芳"].id, "<script>alert(1)</script>" + R1, at=at(12, 10, 20)
    )
    target = tmp_path / "x.html"
    assert run(reviewed, target)[0] == 0
    page = target.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
