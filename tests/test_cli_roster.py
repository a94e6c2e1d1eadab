"""`jiaoyan-bot import-roster` from the command line: dry run, problems, re-import."""

from __future__ import annotations

from pathlib import Path

from bot.cli.main import main
from storage import Storage

GOOD = "姓名,学校,联盟,企业微信账号,角色\n王芳,东部一小,东部联盟,wangfang,教师\n刘洋,东部一小,东部联盟,liuyang,联盟负责人\n"
BAD = "姓名,学校,联盟,企业微信账号,角色\n王芳,东部一小,东部联盟,wangfang,校长\n,东部二小,东部联盟,x1,教师\n"


def test_dry_run_then_import_then_reimport(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    roster, db = tmp_path / "roster.csv", tmp_path / "bot.db"
    roster.write_text(GOOD, encoding="utf-8")
    assert main(["import-roster", str(roster), "--dry-run", "--db", str(db)]) == 0
    assert "王芳" in capsys.readouterr().out
    storage = Storage.open(db)
    assert storage.roster.count_members() == 0
    storage.close()
    assert main(["import-roster", str(roster), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["import-roster", str(roster), "--db", str(db)]) == 0
    storage = Storage.open(db)
    leader = storage.roster.member_by_userid("liuyang")
    assert (
        storage.roster.count_members() == 2 and leader is not None and leader.role.value == "leader"
    )
    storage.close()


def test_problems_are_listed_by_row_and_nothing_is_imported(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    roster, db = tmp_path / "roster.csv", tmp_path / "bot.db"
    roster.write_text(BAD, encoding="utf-8")
    assert main(["import-roster", str(roster), "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "第 2 行" in out and "第 3 行" in out
    storage = Storage.open(db)
    assert storage.roster.count_members() == 0
    storage.close()


def test_unreadable_file_is_explained(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert (
        main(["import-roster", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "b.db")]) == 2
    )
    assert "无法读取名册" in capsys.readouterr().err
