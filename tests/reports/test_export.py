"""The Excel archive, read back with openpyxl as a user's spreadsheet program would."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from reports import export
from reports.export import ExportError, ExportScope, export_workbook, parse_day_bound
from reports.stats import teacher_stats
from storage.models import Role, SigninStatus
from storage.reviews import ReviewParts

from .conftest import NOW, R3, SHANGHAI, WEST_SECRET, District, at

SHEETS = [
    "活动",
    "签到",
    "反思",
    "请假",
    "通知与回执",
    "回执明细",
    "资源",
    "征集与反馈",
    "评课",
    "听课",
    "附件",
    "课例",
    "学校统计",
    "教师统计",
    "说明",
]


def export_east(
    d: District, path: Path, *, reviews: int = 0, observations: int = 0
) -> openpyxl.Workbook:
    scope = ExportScope(
        alliance=d.east,
        start=parse_day_bound("2026-11-16", NOW, end=False),
        end=parse_day_bound("2026-11-29", NOW, end=True),
        zone=SHANGHAI,
    )
    result = export_workbook(d.storage, scope, path, NOW)
    assert result.counts == {
        "活动": 3,
        "签到": 11,
        "反思": 6,
        "请假": 2,
        "通知": 3,
        "回执": 2,
        "资源": 3,
        "征集": 3,
        "反馈": 3,
        "评课": reviews,
        "听课": observations,
        "学校": 2,
        "教师": 5,
    }
    assert result.hours == 10.5
    return openpyxl.load_workbook(path)


def rows(sheet: Worksheet) -> list[tuple[object, ...]]:
    return [tuple(row) for row in sheet.iter_rows(min_row=2, values_only=True)]


def by_first(sheet: Worksheet) -> dict[object, tuple[object, ...]]:
    return {row[0]: row[1:] for row in rows(sheet)}


@pytest.fixture
def book(district: District, tmp_path: Path) -> openpyxl.Workbook:
    return export_east(district, tmp_path / "east.xlsx")


def test_sheets_headers_frozen_panes_and_widths(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == SHEETS
    headers = {name: [c.value for c in book[name][1]] for name in SHEETS}
    assert headers["反思"] == [
        "活动编号",
        "活动标题",
        "活动开始",
        "姓名",
        "账号",
        "学校",
        "首次提交",
        "最后修改",
        "版本",
        "字数",
        "反思正文",
    ]
    assert headers["教师统计"][-1] == "学时" and headers["学校统计"][-1] == "学时合计"
    for name in SHEETS:
        sheet = book[name]
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:")
        assert all(cell.font.b for cell in sheet[1])
    assert book["反思"].column_dimensions["K"].width == 100
    assert book["活动"].column_dimensions["C"].width == 30


def test_dates_are_real_local_excel_datetimes(book: openpyxl.Workbook) -> None:
    activity = book["活动"]["G2"]  # A5, the earliest, started 11-18 14:00 Shanghai time
    assert activity.value == datetime(2026, 11, 18, 14, 0)
    assert activity.is_date and activity.number_format == "yyyy-mm-dd hh:mm"
    signed = {(r[0], r[3]): r[6] for r in rows(book["签到"])}
    assert signed[("A1", "李强")] == datetime(2026, 11, 24, 14, 45)


def test_activity_rows_have_exact_counts(book: openpyxl.Workbook) -> None:
    found = by_first(book["活动"])
    assert list(found) == ["A5", "A1", "A2"]
    # 类型 标题 联盟 承办学校 地点 开始 结束 学时 反思截止 状态 应到 请假 签到 迟到 反思 签到率 反思率
    assert found["A1"][:4] == ("同课异构", "秋天的雨", "东部联盟", "东部一小")
    assert found["A1"][7] == 2 and found["A2"][7] == 1.5
    assert found["A1"][9:] == ("已开展", 4, 1, 3, 1, 2, 0.75, 0.5)
    assert found["A2"][9:] == ("已开展", 4, 1, 3, 1, 3, 0.75, 0.75)
    assert book["活动"]["Q2"].number_format == "0.0%"


def test_signins_reflections_and_leaves_in_full(book: openpyxl.Workbook) -> None:
    signins = {(r[0], r[3]): r for r in rows(book["签到"])}
    assert signins[("A1", "李强")][7] == "迟到"
    assert signins[("A2", "张敏")][7] == "补签"
    assert signins[("A2", "赵磊")][8] == "刘洋"  # signed in on his behalf
    reflections = {(r[0], r[3]): r for r in rows(book["反思"])}
    assert len(reflections) == 6
    assert reflections[("A2", "王芳")][10] == R3 and reflections[("A2", "王芳")][9] == len(R3)
    leaves = {(r[0], r[3]): r[7] for r in rows(book["请假"])}
    assert leaves == {("A1", "张敏"): "外出培训", ("A2", "刘洋"): "区里开会"}


def test_school_and_teacher_statistics_with_hours(book: openpyxl.Workbook) -> None:
    schools = by_first(book["学校统计"])
    # 应到 请假 应计 签到 迟到 缺席 签到率 反思 反思率 学时
    assert schools["东部一小"] == (9, 1, 8, 7, 1, 1, 0.875, 4, 0.5, 7.5)
    assert schools["东部二小"] == (6, 1, 5, 4, 1, 1, 0.8, 2, 0.4, 3)
    assert schools["合计"][:6] == (15, 2, 13, 11, 2, 2) and schools["合计"][-1] == 10.5
    teachers = {r[0]: r for r in rows(book["教师统计"])}
    assert {name: r[-1] for name, r in teachers.items()} == {
        "王芳": 5.5,
        "李强": 2,
        "张敏": 1.5,
        "赵磊": 1.5,
        "刘洋": 0,
        "合计": 10.5,
    }
    # 李强: expected at A5, A1, A2; late at A1; absent at A2; one reflection.
    assert teachers["李强"][5:14] == (3, 0, 3, 2, 1, 1, 1, 2 / 3, 1 / 3)
    assert teachers["刘洋"][4] == "联盟负责人"


def test_account_beside_every_name(book: openpyxl.Workbook) -> None:
    """Two teachers may share a name: the WeCom account beside it tells them apart."""
    for name in ("签到", "反思", "请假", "回执明细", "教师统计"):
        headers = [c.value for c in book[name][1]]
        assert headers[headers.index("姓名") + 1] == "账号", name
    accounts = {r[0]: r[1] for r in rows(book["教师统计"])}
    assert accounts["王芳"] == "t1" and accounts["刘洋"] == "lead1"
    assert accounts["赵磊"] is None  # not yet bound to WeCom: the cell stays empty
    signins = {(r[0], r[3]): r[4] for r in rows(book["签到"])}
    assert signins[("A1", "李强")] == "t2"


def test_teacher_total_row_adds_up(book: openpyxl.Workbook) -> None:
    sheet = book["教师统计"]
    headers = [c.value for c in sheet[1]]
    *people, total = rows(sheet)
    assert total[0] == "合计" and total[2] == "5 人"
    for column in ("应参加", "请假", "应计", "签到", "迟到/补签", "缺席", "反思", "学时"):
        i = headers.index(column)
        assert total[i] == sum(r[i] for r in people), column
    # Rates of the row are over the summed counts, as in 学校统计's 合计 row.
    schools = by_first(book["学校统计"])
    assert total[headers.index("签到率")] == schools["合计"][6] == 11 / 13
    assert total[headers.index("反思提交率")] == schools["合计"][8]


def test_hours_are_numbers_without_trailing_zeros(book: openpyxl.Workbook) -> None:
    for name, column in (("活动", "学时"), ("学校统计", "学时合计"), ("教师统计", "学时")):
        sheet = book[name]
        i = [c.value for c in sheet[1]].index(column)
        cells = [row[i] for row in sheet.iter_rows(min_row=2)]
        assert cells and all(isinstance(c.value, int | float) for c in cells)
        # General shows 2 and 1.5; the old "0.00" showed 2.00 and 1.50.
        assert {c.number_format for c in cells} == {"General"}, name


def test_sheets_print_landscape_with_the_header_on_every_page(book: openpyxl.Workbook) -> None:
    for name in SHEETS:
        sheet = book[name]
        assert sheet.page_setup.orientation == "landscape", name
        assert sheet.page_setup.paperSize == 9  # A4
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
        assert sheet.print_title_rows == "$1:$1", name
        assert "&P" in (sheet.oddFooter.center.text or "")  # page numbers in the footer


def test_notes_sheet_says_range_time_and_counting_rules(book: openpyxl.Workbook) -> None:
    notes = dict(rows(book["说明"]))
    assert notes["范围"] == "东部联盟，2026-11-16 至 2026-11-29（含下级联盟）"
    assert notes["导出时间"] == "2026-11-27 18:00"
    assert "Asia/Shanghai" in str(notes["时间"])
    assert "已开展" in str(notes["统计对象"]) and "请假" in str(notes["应计"])
    assert "签到并提交反思" in str(notes["学时"])
    assert {"签到率", "反思提交率", "账号"} <= notes.keys()


def test_notices_and_confirmations_stay_within_the_alliance(book: openpyxl.Workbook) -> None:
    notices = by_first(book["通知与回执"])
    assert list(notices) == ["N1", "N3", "N4"]  # N2 is the west's
    assert notices["N1"][:7] == ("东部联盟", datetime(2026, 11, 23, 10, 0), "是", 5, 2, 3, 0.4)
    assert notices["N3"][2] == "否" and notices["N3"][3] is None
    assert notices["N4"][3:6] == (5, 0, 5)
    assert [r[:3] for r in rows(book["回执明细"])] == [("N1", "王芳", "t1"), ("N1", "李强", "t2")]


def test_nothing_from_another_alliance(book: openpyxl.Workbook) -> None:
    everything = " ".join(
        str(value)
        for name in SHEETS
        for row in book[name].iter_rows(values_only=True)
        for value in row
        if value is not None
    )
    for secret in (
        "孙丽",
        "陈静",
        "西城小学",
        "西部专属研讨",
        WEST_SECRET[:8],
        "西部联盟专用通知",
        "西部专属资源包",
        "西部专属征集",
        "西部的答复",
    ):
        assert secret not in everything


def test_resources_of_the_alliance_shared_in_the_range(book: openpyxl.Workbook) -> None:
    sheet = book["资源"]
    assert [c.value for c in sheet[1]] == [
        "编号",
        "标题",
        "类型",
        "链接",
        "标签",
        "分享人",
        "学校",
        "时间",
        "是否推荐",
        "关联活动",
    ]
    # R3 (district) was shared before the range, R4 is the west's: only R5, R1, R2, by time.
    assert rows(sheet) == [
        (
            "R5",
            "《搭船的鸟》课堂实录",
            "课例视频",
            "https://v.qq.com/x/dachuan",
            None,
            "李强",
            "东部一小",
            datetime(2026, 11, 18, 19, 0),
            "否",
            None,
        ),
        (
            "R1",
            "《秋天的雨》教学设计",
            "教学设计",
            "https://pan.example.com/s/qiutian",
            "三年级、朗读",
            "王芳",
            "东部一小",
            datetime(2026, 11, 24, 20, 0),
            "是",
            "A1 秋天的雨",
        ),
        (
            "R2",
            "习作单元整体教学 PPT",
            "课件",
            "文件：习作单元整体教学.pptx",
            None,
            "张敏",
            "东部二小",
            datetime(2026, 11, 26, 21, 0),
            "否",
            None,
        ),
    ]
    when = sheet["H2"]
    assert when.is_date and when.number_format == "yyyy-mm-dd hh:mm"


def test_feedback_per_request_and_school_with_the_missing(book: openpyxl.Workbook) -> None:
    sheet = book["征集与反馈"]
    assert [c.value for c in sheet[1]] == [
        "征集编号",
        "问题",
        "截止时间",
        "学校",
        "状态",
        "反馈人",
        "反馈内容",
        "反馈时间",
        "版本",
    ]
    # Requests made in the range, oldest first (F4 is closed but archived; F3 is the west's);
    # only this alliance's schools, so 西城小学's answer to the district's F2 stays out.
    assert rows(sheet) == [
        ("F4", "上学期教研工作总结", datetime(2026, 11, 20, 17, 0), "东部一小", "已反馈", "刘洋",
         "已完成总结", datetime(2026, 11, 19, 9, 0), 1),
        ("F4", "上学期教研工作总结", datetime(2026, 11, 20, 17, 0), "东部二小", "未反馈", None,
         None, None, None),
        ("F1", "各校本学期校本教研主题", datetime(2026, 11, 30, 17, 0), "东部一小", "已反馈",
         "刘洋", "整本书阅读的课堂推进", datetime(2026, 11, 25, 16, 0), 2),
        ("F1", "各校本学期校本教研主题", datetime(2026, 11, 30, 17, 0), "东部二小", "未反馈",
         None, None, None, None),
        ("F2", "课例研讨中遇到的问题", datetime(2026, 11, 26, 17, 0), "东部一小", "未反馈",
         None, None, None, None),
        ("F2", "课例研讨中遇到的问题", datetime(2026, 11, 26, 17, 0), "东部二小", "逾期反馈",
         "张敏", "学生不敢说", datetime(2026, 11, 27, 9, 0), 1),
    ]  # fmt: skip
    for ref in ("C2", "H2"):
        assert sheet[ref].is_date and sheet[ref].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["I2"].number_format == "0"
    assert sheet.freeze_panes == "A2" and all(cell.font.b for cell in sheet[1])
    assert sheet.column_dimensions["G"].width == 80


def test_teacher_rows_add_up_to_the_school_rows(district: District) -> None:
    """Per-teacher counting follows the same rules as the per-school roll counts."""
    activities = district.storage.activities.in_alliances(
        district.storage.roster.descendants(district.east.id), starts_before=NOW
    )
    rolls = district.storage.reporting().rolls(activities)
    teachers = teacher_stats(rolls)
    for roll in rolls:
        for school, counts in roll.by_school().items():
            single = teacher_stats([roll])
            mine = [t for t in single if (t.member.school_name or "") == school]
            assert sum(t.signed for t in mine) == counts.signed
            assert sum(t.on_leave for t in mine) == counts.on_leave
            assert sum(t.reflected for t in mine) == counts.reflected
            assert sum(t.late for t in mine) == counts.late
    assert sum(t.expected for t in teachers) == sum(len(r.participants) for r in rolls)


def test_people_without_a_school_come_first_on_either_engine(
    district: District, tmp_path: Path
) -> None:
    """Rows of an activity follow the roster: by school, then name, people without a school
    first. PostgreSQL sorted them last unless told, so the same data gave another workbook."""
    storage = district.storage
    newcomer = storage.roster.add_member(
        "艾老师", at=at(11, 1), role=Role.TEACHER, alliance_id=district.east.id, userid="t7"
    )
    storage.submissions.sign_in(1, newcomer.id, at=at(11, 24, 14, 5), status=SigninStatus.ON_TIME)
    storage.submissions.submit_reflection(1, newcomer.id, R3, at=at(11, 24, 21))
    scope = ExportScope(alliance=district.east, start=None, end=None, zone=SHANGHAI)
    export_workbook(storage, scope, tmp_path / "east.xlsx", NOW)
    book = openpyxl.load_workbook(tmp_path / "east.xlsx")
    assert [r[3] for r in rows(book["签到"]) if r[0] == "A1"] == ["艾老师", "刘洋", "李强", "王芳"]
    assert [r[3] for r in rows(book["反思"]) if r[0] == "A1"] == ["艾老师", "李强", "王芳"]


def test_user_text_stays_text_in_excel(district: District, tmp_path: Path) -> None:
    storage, people = district.storage, district.people
    nasty = '=HYPERLINK("http://evil.example","点我")\x0b带控制字符'
    storage.submissions.submit_reflection(1, people["刘洋"].id, nasty, at=at(11, 27, 9))
    scope = ExportScope(alliance=district.east, start=None, end=None, zone=SHANGHAI)
    export_workbook(storage, scope, tmp_path / "nasty.xlsx", NOW)
    book = openpyxl.load_workbook(tmp_path / "nasty.xlsx")
    cell = next(row[10] for row in book["反思"].iter_rows(min_row=2) if row[3].value == "刘洋")
    assert cell.data_type == "s"  # a string, never a formula
    assert cell.value == '=HYPERLINK("http://evil.example","点我")带控制字符'


def test_whole_district_export_includes_every_alliance(district: District, tmp_path: Path) -> None:
    scope = ExportScope(alliance=None, start=None, end=None, zone=SHANGHAI)
    result = export_workbook(district.storage, scope, tmp_path / "all.xlsx", NOW)
    assert result.counts["活动"] == 6 and result.counts["反思"] == 7
    assert (result.counts["资源"], result.counts["征集"], result.counts["反馈"]) == (5, 4, 5)
    assert "资源 5 条，征集 4 个（反馈 5 条）" in result.summary()
    book = openpyxl.load_workbook(tmp_path / "all.xlsx")
    statuses = {r[0]: r[10] for r in rows(book["活动"])}
    assert statuses["A3"] == "已开展" and statuses["A4"] == "未开始"
    assert "西城小学" in by_first(book["学校统计"])


def test_progress_is_reported_up_to_the_total(district: District, tmp_path: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    scope = ExportScope(alliance=None, start=None, end=None, zone=SHANGHAI)
    export_workbook(
        district.storage, scope, tmp_path / "p.xlsx", NOW, progress=lambda *a: seen.append(a)
    )
    assert seen[-1][2] == "完成" and seen[-1][0] == seen[-1][1] > 0


@pytest.mark.parametrize("text", ["2026-13-01", "去年夏天", "11月32日"])
def test_bad_dates_get_a_clear_chinese_error(text: str) -> None:
    with pytest.raises(ExportError, match="看不懂日期"):
        parse_day_bound(text, NOW, end=False)


def test_date_bounds_are_whole_local_days_looking_back() -> None:
    assert parse_day_bound("2026-11-16", NOW, end=False) == at(11, 16, 0)
    assert parse_day_bound("11月20日", NOW, end=True) == at(11, 21, 0)
    # Year-less dates are the most recent ones: an archive looks back.
    assert parse_day_bound("9月1日", NOW, end=False) == at(9, 1, 0)
    assert parse_day_bound("上周", NOW, end=False) == at(11, 16, 0)
    assert parse_day_bound("11月", NOW, end=True) == at(12, 1, 0)
    assert parse_day_bound("2026-11-20 14:30", NOW, end=True) == at(11, 20, 14, 30)


def test_review_and_observation_sheets_in_full_with_teacher_counts(
    district: District, tmp_path: Path
) -> None:
    storage, people = district.storage, district.people
    parts = ReviewParts(strengths="导入自然", weaknesses="讨论偏短", suggestions="多展示")
    storage.reviews.review_activity(
        activity_id=1,
        alliance_id=district.east.id,
        observer_id=people["李强"].id,
        teacher_id=people["王芳"].id,
        lesson_date=date(2026, 11, 24),
        parts=parts,
        at=at(11, 24, 17),
    )
    storage.reviews.observe(
        alliance_id=district.east.id,
        observer_id=people["张敏"].id,
        teacher_id=people["王芳"].id,
        lesson_date=date(2026, 11, 20),
        topic="圆的面积",
        subject="数学",
        parts=parts,
        at=at(11, 20, 16),
    )
    # Outside the range: not in the archive.
    storage.reviews.observe(
        alliance_id=district.east.id,
        observer_id=people["张敏"].id,
        teacher_id=people["李强"].id,
        lesson_date=date(2026, 11, 2),
        topic="早先的课",
        subject=None,
        parts=parts,
        at=at(11, 2, 16),
    )
    book = export_east(district, tmp_path / "east.xlsx", reviews=1, observations=1)
    assert [c.value for c in book["评课"][1]][:3] == ["活动编号", "活动标题", "日期"]
    (review,) = rows(book["评课"])
    assert review[:9] == (
        "A1",
        "秋天的雨",
        datetime(2026, 11, 24),
        "李强",
        "东部一小",
        "王芳",
        "导入自然",
        "讨论偏短",
        "多展示",
    )
    (observation,) = rows(book["听课"])
    assert observation[:10] == (
        datetime(2026, 11, 20),
        "张敏",
        "东部二小",
        "王芳",
        "东部一小",
        "圆的面积",
        "数学",
        "导入自然",
        "讨论偏短",
        "多展示",
    )
    teachers = {r[0]: r for r in rows(book["教师统计"])}
    header = [c.value for c in book["教师统计"][1]]
    listened, reviewed = header.index("听课"), header.index("评课")
    assert (teachers["张敏"][listened], teachers["张敏"][reviewed]) == (1, 0)
    assert (teachers["李强"][listened], teachers["李强"][reviewed]) == (0, 1)
    assert (teachers["王芳"][listened], teachers["王芳"][reviewed]) == (0, 0)


def test_writing_in_batches_of_activities_gives_the_same_workbook(
    district: District, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A province is exported a batch of activities at a time; a batch of one activity must
    give exactly the sheets a single batch gives."""
    scope = ExportScope(alliance=None, start=None, end=None, zone=SHANGHAI)
    whole = export_workbook(district.storage, scope, tmp_path / "whole.xlsx", NOW)
    monkeypatch.setattr(export, "_ACTIVITY_BATCH", 1)
    batched = export_workbook(district.storage, scope, tmp_path / "batched.xlsx", NOW)
    assert batched.counts == whole.counts and batched.hours == whole.hours
    one, other = (openpyxl.load_workbook(tmp_path / n) for n in ("whole.xlsx", "batched.xlsx"))
    assert one.sheetnames == other.sheetnames == SHEETS
    for name in SHEETS:
        assert rows(other[name]) == rows(one[name]), name
    assert len(rows(one["签到"])) == whole.counts["签到"] > 0
