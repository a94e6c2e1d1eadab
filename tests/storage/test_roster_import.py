"""Roster import from real CSV/XLSX files into a real SQLite file, as an administrator sees it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from storage import Storage
from storage.models import Role
from storage.roster_file import RosterFileError, read_roster_file
from storage.roster_import import RosterReport, import_roster_file

AT = datetime(2024, 9, 1, 8, 0, tzinfo=UTC)
HEADER = ["姓名", "学校", "联盟", "企业微信账号", "角色", "上级联盟"]
Cell = str | int | None
Table = Sequence[Sequence[Cell]]

DISTRICT: Table = [
    HEADER,
    ["王主任", "", "城南区", "wangzr", "管理员", ""],
    ["李教研", "", "城南区", "lijy", "教研员", ""],
    ["赵组长", "一中", "东部协作体", "zhaozz", "组长", "城南区"],
    ["钱组长", "二中", "西部协作体", "qianzz", "leader", "城南区"],
    ["张三", "一中", "东部协作体", "zhangsan", "教师", ""],
    ["孙老师", "一中", "东部协作体", "sunls", "teacher", ""],
    ["李四", "二中", "西部协作体", "lisi", "", ""],
    ["周教研", "", "", "zhoujy", "staff", ""],
]


@pytest.fixture
def storage(db_target: Path | str) -> Iterator[Storage]:
    opened = Storage.open(db_target)
    yield opened
    opened.close()


def write_xlsx(path: Path, table: Table) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in table:
        sheet.append(list(row))
    workbook.save(path)
    return path


def write_csv(path: Path, table: Table, encoding: str = "utf-8") -> Path:
    lines = [",".join("" if cell is None else str(cell) for cell in row) for row in table]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def run(storage: Storage, path: Path, *, dry_run: bool = False) -> RosterReport:
    return import_roster_file(storage, path, at=AT, dry_run=dry_run)


def role_of(storage: Storage, userid: str) -> Role:
    member = storage.roster.member_by_userid(userid)
    assert member is not None
    return member.role


def members_and_structure(storage: Storage) -> tuple[object, ...]:
    roster = storage.roster
    return (roster.all_members(), roster.alliances(), roster.schools())


# happy path ---------------------------------------------------------------------------------


def test_xlsx_import_creates_all_roles_and_the_alliance_tree(
    storage: Storage, tmp_path: Path
) -> None:
    report = run(storage, write_xlsx(tmp_path / "名册.xlsx", DISTRICT))

    assert report.applied and report.problems == []
    assert [c.kind for c in report.changes] == ["add"] * 8
    assert report.alliances_created == ["城南区", "东部协作体", "西部协作体"]
    assert report.schools_created == ["一中", "二中"]
    assert {u: role_of(storage, u) for u in ("wangzr", "lijy", "zhaozz", "qianzz", "lisi")} == {
        "wangzr": Role.ADMIN,
        "lijy": Role.STAFF,
        "zhaozz": Role.LEADER,
        "qianzz": Role.LEADER,
        "lisi": Role.TEACHER,  # empty 角色 means 教师
    }
    roster = storage.roster
    district, east = roster.alliance_by_name("城南区"), roster.alliance_by_name("东部协作体")
    assert district is not None and east is not None
    assert east.parent_id == district.id
    assert len(roster.descendants(district.id)) == 3
    school = roster.school_by_name("一中")
    assert school is not None and school.alliance_id == east.id
    teachers = roster.members_in([east.id], roles=[Role.TEACHER])
    assert [m.name for m in teachers] == ["孙老师", "张三"]
    staff = roster.member_by_userid("zhoujy")
    assert staff is not None and staff.school_id is None and staff.alliance_id is None
    assert "新增成员 8 人" in report.render()


def test_dry_run_writes_nothing_but_reports_the_same_changes(
    storage: Storage, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "名册.xlsx", DISTRICT)

    dry = run(storage, path, dry_run=True)

    assert not dry.applied
    assert storage.roster.count_members() == 0
    assert storage.roster.alliances() == [] and storage.roster.schools() == []
    assert "尚未写入" in dry.render()
    real = run(storage, path)
    assert real.applied
    assert dry.model_dump(exclude={"applied"}) == real.model_dump(exclude={"applied"})


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_reimporting_the_same_file_changes_nothing(
    storage: Storage, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"名册.{kind}"
    (write_xlsx if kind == "xlsx" else write_csv)(path, DISTRICT)
    run(storage, path)
    before = members_and_structure(storage)

    again = run(storage, path)

    assert again.changes == [] and again.problems == []
    assert again.unchanged == 8
    assert again.alliances_created == [] and again.schools_created == []
    assert members_and_structure(storage) == before
    assert "新增成员 0 人，更新 0 人，无变化 8 人" in again.render()


def test_members_missing_from_the_file_are_counted_and_left_active(
    storage: Storage, tmp_path: Path
) -> None:
    run(storage, write_xlsx(tmp_path / "a.xlsx", DISTRICT))

    report = run(storage, write_xlsx(tmp_path / "b.xlsx", DISTRICT[:3]))

    assert report.not_in_file == 6
    assert "名册中未出现的现有成员 6 人" in report.render()
    lisi = storage.roster.member_by_userid("lisi")
    assert lisi is not None and lisi.active


# updates --------------------------------------------------------------------------------------


def test_a_changed_role_is_updated_and_reported(storage: Storage, tmp_path: Path) -> None:
    run(storage, write_xlsx(tmp_path / "a.xlsx", [HEADER, ["张三", "一中", "东部", "zs", "", ""]]))

    report = run(
        storage,
        write_xlsx(tmp_path / "b.xlsx", [HEADER, ["张三", "一中", "东部", "zs", "组长", ""]]),
    )

    assert [(c.kind, c.name, c.detail) for c in report.changes] == [
        ("update", "张三", "角色 教师 → 联盟负责人")
    ]
    assert role_of(storage, "zs") == Role.LEADER
    assert "第 2 行 更新 张三：角色 教师 → 联盟负责人" in report.render()


def test_a_blank_role_cell_does_not_demote_an_existing_member(
    storage: Storage, tmp_path: Path
) -> None:
    run(
        storage,
        write_xlsx(tmp_path / "a.xlsx", [HEADER, ["赵组长", "一中", "东部", "zz", "组长", ""]]),
    )

    report = run(
        storage, write_xlsx(tmp_path / "b.xlsx", [HEADER, ["赵组长", "一中", "东部", "zz", "", ""]])
    )

    assert report.changes == [] and report.unchanged == 1
    assert role_of(storage, "zz") == Role.LEADER


def test_a_member_matched_by_account_gets_the_new_name(storage: Storage, tmp_path: Path) -> None:
    run(
        storage,
        write_xlsx(tmp_path / "a.xlsx", [HEADER, ["张叁", "一中", "东部", "zhangsan", "", ""]]),
    )

    report = run(
        storage,
        write_xlsx(tmp_path / "b.xlsx", [HEADER, ["张三", "一中", "东部", "ZhangSan", "", ""]]),
    )

    assert [(c.kind, c.detail) for c in report.changes] == [("update", "姓名 张叁 → 张三")]
    assert storage.roster.count_members() == 1
    member = storage.roster.member_by_userid("zhangsan")
    assert member is not None and member.name == "张三"


def test_an_account_is_added_to_a_member_imported_without_one(
    storage: Storage, tmp_path: Path
) -> None:
    run(storage, write_xlsx(tmp_path / "a.xlsx", [HEADER, ["王芳", "一小", "东部", "", "", ""]]))

    report = run(
        storage,
        write_xlsx(tmp_path / "b.xlsx", [HEADER, ["王芳", "一小", "东部", "wangfang", "", ""]]),
    )

    assert [c.detail for c in report.changes] == ["企业微信账号 无 → wangfang"]
    assert storage.roster.count_members() == 1
    assert storage.roster.member_by_userid("wangfang") is not None


def test_a_school_moved_to_another_alliance_moves_its_teachers(
    storage: Storage, tmp_path: Path
) -> None:
    run(storage, write_xlsx(tmp_path / "a.xlsx", [HEADER, ["王芳", "一小", "东部", "wf", "", ""]]))

    report = run(
        storage, write_xlsx(tmp_path / "b.xlsx", [HEADER, ["王芳", "一小", "西部", "wf", "", ""]])
    )

    assert report.alliances_created == ["西部"]
    assert sorted((c.subject, c.detail) for c in report.changes) == [
        ("member", "联盟 东部 → 西部"),
        ("school", "学校所属联盟 东部 → 西部"),
    ]
    west = storage.roster.alliance_by_name("西部")
    school = storage.roster.school_by_name("一小")
    member = storage.roster.member_by_userid("wf")
    assert west is not None and school is not None and member is not None
    assert school.alliance_id == west.id and member.alliance_id == west.id


# problems: all-or-nothing --------------------------------------------------------------------

GOOD_ROW = ["好老师", "一中", "东部", "good", "教师", ""]


@pytest.mark.parametrize(
    ("rows", "problem_row", "words"),
    [
        pytest.param(
            [["甲", "一中", "东部", "same", "", ""], ["乙", "一中", "东部", "SAME", "", ""]],
            4,
            "与第 3 行重复",
            id="duplicate-account-in-file",
        ),
        pytest.param(
            [["甲", "一中", "东部", "jia", "校长", ""]], 3, "无法识别的角色「校长」", id="role"
        ),
        pytest.param([["", "一中", "东部", "jia", "教师", ""]], 3, "姓名为空", id="empty-name"),
        pytest.param([["甲", "", "东部", "jia", "", ""]], 3, "教师必须填写学校", id="no-school"),
        pytest.param(
            [["甲", "三中", "", "jia", "组长", ""]],
            3,
            "联盟负责人必须属于一个联盟",
            id="no-alliance",
        ),
        pytest.param(
            [["甲", "二中", "东部", "jia", "", ""], ["乙", "二中", "西部", "yi", "", ""]],
            4,
            "学校「二中」在第 3 行属于「东部」",
            id="school-in-two-alliances",
        ),
        pytest.param(
            [
                ["甲", "一中", "东部", "jia", "", "城南区"],
                ["乙", "一中", "东部", "yi", "", "城北区"],
            ],
            4,
            "联盟「东部」的上级在第 3 行是「城南区」",
            id="two-parents",
        ),
        pytest.param(
            [["甲", "", "城南区", "jia", "管理员", "城南区"]],
            3,
            "上级联盟形成了循环",
            id="cycle",
        ),
        pytest.param(
            [["甲", "一中", "东部", "张老师", "", ""]], 3, "格式不对", id="account-format"
        ),
        pytest.param(
            [["甲", "一中", "东部", "", "", ""], ["甲", "一中", "东部", "", "", ""]],
            4,
            "与第 3 行的姓名、学校相同",
            id="same-person-twice",
        ),
        pytest.param(
            [
                ["甲", "一中", "东部", "jia", "", ""],
                ["", "", "", "", "", ""],
                ["乙", "一中", "东部", "jia", "", ""],
            ],
            5,
            "与第 3 行重复",
            id="blank-rows-count-like-excel",
        ),
    ],
)
def test_any_problem_is_reported_at_its_excel_row_and_nothing_is_imported(
    storage: Storage, tmp_path: Path, rows: list[list[Cell]], problem_row: int, words: str
) -> None:
    path = write_xlsx(
        tmp_path / "名册.xlsx",
        [HEADER, GOOD_ROW, *rows, ["城南区上级", "", "城南区", "boss", "管理员", ""]],
    )

    report = run(storage, path)

    assert not report.applied
    assert [p.row for p in report.problems] == [problem_row]
    assert words in report.problems[0].message
    rendered = report.render()
    assert "未导入任何内容" in rendered
    assert f"第 {problem_row} 行：" in rendered
    assert storage.roster.count_members() == 0
    assert storage.roster.alliances() == [] and storage.roster.schools() == []


def seed_member(storage: Storage, name: str, school: str, userid: str | None) -> None:
    alliance = storage.roster.ensure_alliance("东部", at=AT)
    found = storage.roster.ensure_school(school, alliance.id)
    storage.roster.add_member(
        name, at=AT, school_id=found.id, alliance_id=alliance.id, userid=userid
    )


def test_an_account_owned_by_a_different_person_is_a_problem(
    storage: Storage, tmp_path: Path
) -> None:
    seed_member(storage, "李四", "二中", "zhangsan")
    before = members_and_structure(storage)

    report = run(
        storage,
        write_xlsx(
            tmp_path / "r.xlsx", [HEADER, GOOD_ROW, ["张三", "一中", "东部", "zhangsan", "", ""]]
        ),
    )

    assert [p.row for p in report.problems] == [3]
    assert "已属于 李四（二中）" in report.problems[0].message
    assert members_and_structure(storage) == before


def test_two_same_named_members_in_the_database_need_an_account(
    storage: Storage, tmp_path: Path
) -> None:
    seed_member(storage, "王芳", "一小", None)
    seed_member(storage, "王芳", "一小", None)

    report = run(
        storage, write_xlsx(tmp_path / "r.xlsx", [HEADER, ["王芳", "一小", "东部", "", "组长", ""]])
    )

    assert [p.row for p in report.problems] == [2]
    assert "系统中有 2 位「王芳（一小）」" in report.problems[0].message
    assert [m.role for m in storage.roster.all_members()] == [Role.TEACHER, Role.TEACHER]


def test_a_parent_that_closes_a_loop_with_the_database_is_a_problem(
    storage: Storage, tmp_path: Path
) -> None:
    district = storage.roster.ensure_alliance("城南区", at=AT)
    storage.roster.ensure_alliance("东部", at=AT, parent_id=district.id)

    report = run(
        storage,
        write_xlsx(tmp_path / "r.xlsx", [HEADER, ["甲", "", "城南区", "jia", "管理员", "东部"]]),
    )

    assert [(p.row, p.message) for p in report.problems] == [
        (2, "上级联盟形成了循环：城南区 → 东部 → 城南区。")
    ]
    top = storage.roster.alliance_by_name("城南区")
    assert top is not None and top.parent_id is None


def test_dry_run_lists_problems_too(storage: Storage, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [HEADER, ["甲", "一中", "东部", "jia", "校长", ""]])

    report = run(storage, path, dry_run=True)

    assert [p.row for p in report.problems] == [2]
    assert "名册有问题" in report.render()


# file formats and headers ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_the_encodings_excel_writes(storage: Storage, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "名册.csv", DISTRICT, encoding=encoding)

    report = run(storage, path)

    assert report.applied and len(report.changes) == 8
    member = storage.roster.member_by_userid("zhangsan")
    assert member is not None and (member.name, member.school_name) == ("张三", "一中")


def test_full_width_and_synonym_headers_are_understood(storage: Storage, tmp_path: Path) -> None:
    header = [
        "\u3000姓名\u3000",
        " 学校 ",
        "协作体",
        "ＵｓｅｒＩＤ",
        "角色（管理员/教研员/组长/教师）",
        "备注",
    ]
    path = write_csv(
        tmp_path / "名册.csv",
        [header, ["张三", "一中", "东部", "zs", "组长", "新来的"]],
        "utf-8-sig",
    )

    report = run(storage, path)

    assert report.applied
    member = storage.roster.member_by_userid("zs")
    assert member is not None and member.role == Role.LEADER
    assert storage.roster.alliance_by_name("东部") is not None


def test_names_aligned_with_spaces_and_numeric_accounts_are_cleaned(
    storage: Storage, tmp_path: Path
) -> None:
    path = write_xlsx(
        tmp_path / "r.xlsx", [HEADER, ["张  三", " 一中 ", "东部", 13800138000, "", ""]]
    )

    run(storage, path)

    member = storage.roster.member_by_userid("13800138000")
    assert member is not None and (member.name, member.school_name) == ("张三", "一中")


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_missing_required_column_is_named(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"r.{kind}"
    (write_xlsx if kind == "xlsx" else write_csv)(path, [["姓名", "企业微信账号"], ["张三", "zs"]])

    with pytest.raises(RosterFileError, match="表头缺少「学校」、「联盟」列"):
        read_roster_file(path)


def test_a_duplicated_column_is_reported_with_its_letters(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "r.xlsx", [["姓名", "学校", "联盟", "协作体"], ["张三", "一中", "东部", "东部"]]
    )

    with pytest.raises(RosterFileError, match="「联盟」列出现了两次（第 C 列和第 D 列）"):
        read_roster_file(path)


def test_the_roster_sheet_is_found_after_a_notes_sheet(storage: Storage, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    notes = workbook.active
    assert notes is not None
    notes.title = "说明"
    notes.append(["请在第二个工作表填写名册"])
    sheet = workbook.create_sheet("名册")
    for row in [HEADER, ["张三", "一中", "东部", "zs", "", ""]]:
        sheet.append(row)
    workbook.save(tmp_path / "r.xlsx")

    report = run(storage, tmp_path / "r.xlsx")

    assert report.applied and storage.roster.member_by_userid("zs") is not None


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("r.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "旧版 Excel"),
        ("r.docx", b"PK\x03\x04whatever", "无法识别的文件格式"),
        ("r.xlsx", b"not a zip at all", "不是有效的 Excel 文件"),
        ("r.csv", b"\x81\x30\xff\xff\xfe", "无法识别 CSV 文件的编码"),
        ("r.csv", b"", "文件是空的"),
    ],
)
def test_unusable_files_get_a_chinese_explanation(
    tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(RosterFileError, match=words):
        read_roster_file(path)


def test_an_excel_file_saved_with_a_csv_name_is_still_read(
    storage: Storage, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [HEADER, ["张三", "一中", "东部", "zs", "", ""]])
    misnamed = path.rename(tmp_path / "名册.csv")

    report = run(storage, misnamed)

    assert report.applied and storage.roster.member_by_userid("zs") is not None


def test_a_missing_file_is_explained(tmp_path: Path) -> None:
    with pytest.raises(RosterFileError, match="找不到文件"):
        read_roster_file(tmp_path / "nope.xlsx")


def test_only_fifty_changes_are_listed(storage: Storage, tmp_path: Path) -> None:
    rows = [[f"老师{i}", "一中", "东部", f"t{i}", "", ""] for i in range(60)]

    report = run(storage, write_xlsx(tmp_path / "r.xlsx", [HEADER, *rows]), dry_run=True)

    rendered = report.render()
    assert "新增成员 60 人" in rendered
    assert "第 51 行 新增 老师49" in rendered and "老师50：" not in rendered
    assert "……另有 10 项未列出" in rendered


def test_namesakes_at_one_school_are_imported_with_a_warning(
    storage: Storage, tmp_path: Path
) -> None:
    table = [*DISTRICT, ["张三", "一中", "东部协作体", "zhangsan2", "教师", ""]]
    report = run(storage, write_csv(tmp_path / "名册.csv", table))
    assert report.applied and report.problems == []
    assert report.warnings == ["一中 有 2 位「张三」，代签时请写企业微信账号区分。"]
    assert "提醒：一中 有 2 位「张三」" in report.render()
    assert len(storage.roster.members_named("张三")) == 2
    # A later file that adds nobody still warns: the database holds both.
    again = run(storage, write_csv(tmp_path / "名册2.csv", [HEADER, DISTRICT[5]]))
    assert again.warnings == ["一中 有 2 位「张三」，代签时请写企业微信账号区分。"]
    single = run(storage, write_csv(tmp_path / "名册3.csv", [HEADER, DISTRICT[6]]))
    assert "「孙老师」" not in "".join(single.warnings)
