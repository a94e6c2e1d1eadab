"""`jiaoyan-bot db copy --to postgresql://…`: a SQLite database moves to PostgreSQL whole,
verified by row counts, and the bot keeps working on the copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from storage import Storage
from storage.models import Role, SigninStatus
from tests.fakes.small_alliance import seed_small_alliance

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def sqlite_with_a_week(path: Path) -> None:
    storage = Storage.open(path)
    seed_small_alliance(storage, T0)
    east = storage.roster.alliance_by_name("东部联盟")
    teacher = storage.roster.member_by_userid("t1")
    assert east is not None and teacher is not None
    activity = storage.activities.create(
        alliance_id=east.id,
        kind="同课异构",
        title="《秋天的雨》",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        signin_opens_at=T0 - timedelta(minutes=30),
        created_at=T0,
    )
    storage.submissions.sign_in(activity.id, teacher.id, at=T0, status=SigninStatus.ON_TIME)
    storage.close()


def test_a_sqlite_database_is_copied_whole_and_the_copy_keeps_working(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.db"
    sqlite_with_a_week(db)

    assert main(["db", "copy", "--db", str(db), "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "行数全部一致" in out
    assert any(line.split() == ["members", "9", "9"] for line in out.splitlines())
    assert any(line.split() == ["signins", "1", "1"] for line in out.splitlines())

    copy = Storage.open(pg_url)
    try:
        teacher = copy.roster.member_by_userid("t1")
        assert teacher is not None and teacher.name == "王芳"
        (activity,) = copy.activities.in_alliances(None)
        assert copy.submissions.signin(activity.id, teacher.id) is not None
        # New rows continue after the copied ids instead of colliding with them.
        newcomer = copy.roster.add_member("新老师", at=T0, role=Role.TEACHER, userid="new1")
        assert newcomer.id == 10
    finally:
        copy.close()


def test_a_target_that_already_holds_data_is_refused_and_left_alone(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.db"
    sqlite_with_a_week(db)
    assert main(["db", "copy", "--db", str(db), "--to", pg_url]) == 0
    capsys.readouterr()

    assert main(["db", "copy", "--db", str(db), "--to", pg_url]) == 1
    assert "目标数据库不是空的" in capsys.readouterr().out
    copy = Storage.open(pg_url)
    assert copy.roster.count_members() == 9
    copy.close()


def test_a_bad_target_url_or_a_missing_source_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.db"
    assert main(["db", "copy", "--db", str(db), "--to", "mysql://host/jiaoyan"]) == 2
    assert "不支持「mysql://」" in capsys.readouterr().out

    url = "postgresql://jiaoyan@127.0.0.1:5432/jiaoyan"
    assert main(["db", "copy", "--db", str(db), "--to", url]) == 1
    assert f"找不到 SQLite 数据库文件 {db}" in capsys.readouterr().out
    assert not db.exists()
