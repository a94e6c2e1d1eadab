"""The console, scripted from stdin, goes through the same pipeline as WeCom."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.cli import main

SCRIPT = """帮助
我是 王芳 东部一小
:as lead1
:chat group-east
发起活动 明天下午3点 集体备课 地点:东部一小
:as t1
活动
反思 A1 太短\\
了
:quit
签到 A1
"""


def seed_db(path: Path) -> None:
    from bot.messages import Channel
    from storage import Storage
    from storage.models import Role
    from tests.handlers.conftest import START

    storage = Storage.open(path)
    roster = storage.roster
    east = roster.ensure_alliance("东部联盟", at=START)
    school = roster.ensure_school("东部一小", east.id)
    roster.add_member("王芳", at=START, school_id=school.id, alliance_id=east.id)
    roster.add_member(
        "刘洋", at=START, role=Role.LEADER, school_id=school.id, alliance_id=east.id, userid="lead1"
    )
    storage.chats.bind("group-east", Channel.CONSOLE.value, east.id, bound_by="admin", at=START)
    storage.close()


def test_console_reads_a_script_from_stdin(tmp_path: Path) -> None:
    db = tmp_path / "console.db"
    seed_db(db)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", "--db", str(db), "--as", "t1"],
        input=SCRIPT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = result.stdout
    assert "我是教研助手" in out
    assert "绑定成功：王芳（东部一小，教师）" in out
    assert "你现在是 lead1，在群 group-east 中。" in out
    assert "[群 group-east] 教研助手: 【新活动】A1「集体备课」" in out
    assert "[私信 → 刘洋] 教研助手: 已发起活动 A1" in out
    assert "只有 3 字" in out  # "太短\n了": a continued line is one message
    assert "签到成功" not in out and "还没开始签到" not in out  # lines after :quit are not sent
    assert "Traceback" not in result.stderr


def test_bad_settings_give_a_readable_message(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("JIAOYAN_TZ", "Mars/Olympus")
    assert main(["console", "--as", "x"]) == 2
    err = capsys.readouterr().err
    assert "配置有误" in err and "未知的时区" in err


def test_database_setting_is_honoured_except_by_the_demo(
    tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "configured.db"
    seed_db(db)
    monkeypatch.setenv("JIAOYAN_DB", str(db))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("活动\n"))
    assert main(["console", "--as", "lead1", "--chat", "group-east"]) == 0
    assert "「东部联盟」" in capsys.readouterr().out
