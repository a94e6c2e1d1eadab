"""`jiaoyan-bot backup`: a consistent copy while another connection writes, and its restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.core.settings import load_settings
from storage import Storage
from storage.db import configured_connection, to_db_time
from storage.models import Role, SigninStatus

AT = datetime(2026, 10, 12, 6, 0, tzinfo=UTC)


def seed(db: Path) -> tuple[int, int]:
    """An alliance with one activity that two teachers signed in to; (activity id, teacher 3)."""
    storage = Storage.open(db)
    try:
        alliance = storage.roster.ensure_alliance("东部联盟", at=AT)
        school = storage.roster.ensure_school("东部一小", alliance.id)
        people = [
            storage.roster.add_member(
                f"老师{n}",
                at=AT,
                role=Role.TEACHER,
                school_id=school.id,
                alliance_id=alliance.id,
                userid=f"t{n}",
            )
            for n in (1, 2, 3)
        ]
        activity = storage.activities.create(
            alliance_id=alliance.id,
            kind="示范课",
            title="古诗教学",
            starts_at=AT,
            ends_at=AT + timedelta(hours=2),
            signin_opens_at=AT - timedelta(minutes=30),
            created_at=AT - timedelta(days=3),
        )
        for member in people[:2]:
            storage.submissions.sign_in(activity.id, member.id, at=AT, status=SigninStatus.ON_TIME)
        return activity.id, people[2].id
    finally:
        storage.close()


def test_backup_while_another_connection_writes_restores_what_users_saw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live, copy = tmp_path / "data" / "jiaoyan.db", tmp_path / "备份" / "jiaoyan-1012.db"
    activity_id, third = seed(live)
    writer = configured_connection(live)  # a serve-like writer, mid-transaction
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO signins (activity_id, member_id, at, status) VALUES (?, ?, ?, 'late')",
        (activity_id, third, to_db_time(AT + timedelta(minutes=20))),
    )
    try:
        assert main(["backup", "--db", str(live), "-o", str(copy)]) == 0
    finally:
        writer.execute("COMMIT")
        writer.close()
    out = capsys.readouterr().out
    assert "已备份到" in out and "活动 1 条" in out and "签到 2 条" in out

    monkeypatch.setenv("JIAOYAN_DB", str(copy))  # restore: point the bot at the copy
    restored = Storage.open(load_settings().db)
    try:
        activity = restored.activities.get(activity_id)
        assert activity is not None and activity.title == "古诗教学"
        signed = restored.submissions.signins(activity_id)
        names = sorted(
            m.name for m in restored.roster.members_in([activity.alliance_id]) if m.id in signed
        )
        assert names == ["老师1", "老师2"]
    finally:
        restored.close()
    assert not copy.with_name(copy.name + ".part").exists()


def test_backup_of_a_missing_database_says_so_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "备份.db"
    assert main(["backup", "--db", str(tmp_path / "没有.db"), "-o", str(out)]) == 1
    assert "找不到数据库文件" in capsys.readouterr().err
    assert not out.exists()


def test_postgresql_is_backed_up_with_pg_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JIAOYAN_DB", "postgresql://bot@db.example/jiaoyan")
    assert main(["backup", "-o", str(tmp_path / "备份.dump")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err and "pg_restore" in err
