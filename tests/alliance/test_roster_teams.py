"""Roster import with the optional 团队 and 梯队 columns, as an administrator sees it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from storage import Storage
from storage.models import Tier
from storage.roster_import import RosterReport, import_roster_file

AT = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
HEADER = "姓名,学校,联盟,企业微信账号,角色,所属团队,教师梯队（青年/成长/名优）"


def write(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def run(storage: Storage, path: Path, *, dry_run: bool = False) -> RosterReport:
    return import_roster_file(storage, path, at=AT, dry_run=dry_run)


def team_members(storage: Storage, name: str) -> list[tuple[str, str | None]]:
    team = storage.teams.named(name)
    assert team is not None
    return [(m.name, m.school_name) for m in storage.teams.members(team.id)]


def tier_of(storage: Storage, userid: str) -> Tier | None:
    member = storage.roster.member_by_userid(userid)
    assert member is not None
    return storage.teams.tiers([member.id]).get(member.id)


def test_teams_spanning_schools_and_tiers_are_imported(storage: Storage, tmp_path: Path) -> None:
    path = write(
        tmp_path / "名册.csv",
        "王芳,东部一小,东部联盟,wangf,教师,青年语文组,青年",
        "李强,东部一小,东部联盟,liq,教师,青年语文组、读书会,青年教师",
        "孙悦,朝阳小学,东部联盟,suny,教师,青年语文组,成长",
        "刘洋,东部一小,东部联盟,liuy,组长,,名优教师团队",
    )
    preview = run(storage, path, dry_run=True)
    assert not preview.applied and not preview.problems
    text = preview.render()
    assert "新建团队 2 个：青年语文组、读书会" in text
    assert (
        "第 3 行 新增 李强：教师，学校 东部一小，联盟 东部联盟，账号 liq，梯队 青年教师，团队 青年语文组、读书会"
        in text
    )
    assert storage.teams.all() == []  # a dry run writes nothing
    report = run(storage, path)
    assert report.applied
    assert team_members(storage, "青年语文组") == [
        ("李强", "东部一小"),
        ("王芳", "东部一小"),
        ("孙悦", "朝阳小学"),
    ]
    assert team_members(storage, "读书会") == [("李强", "东部一小")]
    home = storage.teams.named("青年语文组")
    school = storage.roster.find_school("东部一小")
    assert home is not None and school is not None and home.school_id == school.id
    assert tier_of(storage, "wangf") is Tier.YOUNG
    assert tier_of(storage, "suny") is Tier.GROWING
    assert tier_of(storage, "liuy") is Tier.FAMOUS


def test_reimport_changes_tiers_and_blank_cells_keep_teams(
    storage: Storage, tmp_path: Path
) -> None:
    run(storage, write(tmp_path / "a.csv", "王芳,东部一小,东部联盟,wangf,教师,青年语文组,青年"))
    report = run(storage, write(tmp_path / "b.csv", "王芳,东部一小,东部联盟,wangf,教师,,成长"))
    assert "第 2 行 更新 王芳：梯队 青年教师 → 成长教师" in report.render()
    assert tier_of(storage, "wangf") is Tier.GROWING
    assert team_members(storage, "青年语文组") == [("王芳", "东部一小")]
    same = run(storage, write(tmp_path / "c.csv", "王芳,东部一小,东部联盟,wangf,教师,青年语文组,"))
    assert same.unchanged == 1 and tier_of(storage, "wangf") is Tier.GROWING


def test_unknown_tier_is_reported_by_row_and_nothing_is_written(
    storage: Storage, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "bad.csv",
        "王芳,东部一小,东部联盟,wangf,教师,青年语文组,青年",
        "李强,东部一小,东部联盟,liq,教师,青年语文组,骨干",
    )
    report = run(storage, path)
    assert not report.applied
    assert "第 3 行：无法识别的梯队「骨干」，请填青年、成长或名优。" in report.render()
    assert storage.roster.count_members() == 0 and storage.teams.all() == []
