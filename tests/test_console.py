"""The console, scripted from stdin, goes through the same pipeline as WeCom."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.channels.console_sender import ConsoleSender
from bot.cli.console import ConsoleSession, Terminal, run_console
from bot.cli.main import _namer, main
from bot.core.clock import FakeClock
from bot.core.messages import Channel
from bot.core.settings import Settings
from bot.runtime.app import App, create_app
from storage import Storage
from tests.fakes.small_alliance import GROUP
from tests.scheduling.conftest import SHANGHAI, local, seed

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
    from bot.core.messages import Channel
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
        [sys.executable, "-m", "bot.cli.main", "console", "--db", str(db), "--as", "t1"],
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


# --- what the scheduler and the outbox worker send while the console runs -------------------


@dataclass
class Session:
    """The console as `jiaoyan-bot console` runs it, on a FakeClock in the scheduling tests'
    future week (so the real alarm never rings during a test; what is due runs on its own)."""

    app: App
    clock: FakeClock
    printed: list[str]

    async def run(
        self, *steps: str | datetime, userid: str = "lead1", chat: str | None = GROUP
    ) -> str:
        """Type the lines in order; a datetime moves the clock there before the next line.
        Returns everything printed, as the terminal shows it."""

        async def lines() -> AsyncIterator[str]:
            for step in steps:
                if isinstance(step, datetime):
                    self.clock.set(step)
                else:
                    yield step + "\n"

        before = len(self.printed)
        await run_console(self.app, ConsoleSession(userid, chat), lines(), self.printed.append)
        return "\n".join(self.printed[before:])


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    clock = FakeClock(local("周一", "08:00"))
    path = tmp_path / "console.db"
    storage = Storage.open(path)
    seed(storage, clock.now())
    printed: list[str] = []
    app = create_app(
        Settings(JIAOYAN_DB=path, JIAOYAN_TZ=SHANGHAI.key),
        clock=clock,
        storage=storage,
        senders={Channel.CONSOLE: ConsoleSender(printed.append, _namer(storage))},
        private_channel=Channel.CONSOLE,
    )
    yield Session(app, clock, printed)
    app.close()


async def test_a_digest_asked_for_is_printed_before_the_console_exits(session: Session) -> None:
    out = await session.run("周报 现在")
    assert "好的，马上生成「东部联盟」的本周周报" in out
    assert "[群 group-east] 教研助手: ## 东部联盟 · 教研周报" in out


async def test_a_scheduled_notice_is_printed_when_due_and_a_later_one_is_not_waited_for(
    session: Session,
) -> None:
    out = await session.run(
        "定时通知 今天10:00 下午的集体备课改到三楼会议室",
        "定时通知 明天8:00 周三停课",
        local("周一", "10:00"),
    )
    assert "已预约通知 N1" in out and "已预约通知 N2" in out
    assert "[群 group-east] 教研助手: 【通知 N1】下午的集体备课改到三楼会议室" in out
    assert "【通知 N2】" not in out  # due tomorrow: the console did not wait for it

    session.clock.set(local("周二", "09:00"))
    later = await session.run(userid="t1")  # a new session catches up on what fell due
    assert "[群 group-east] 教研助手: 【通知 N2】周三停课" in later
    assert "【通知 N1】" not in later  # sent once


async def test_quit_does_not_wait_for_what_falls_due(session: Session) -> None:
    out = await session.run("定时通知 今天10:00 周三停课", local("周一", "10:00"), ":quit")
    assert "已预约通知 N1" in out
    assert "【通知 N1】" not in out
    session.clock.set(local("周一", "10:05"))
    assert "【通知 N1】周三停课" in await session.run()  # still scheduled, sent next time


async def test_an_export_prints_where_the_file_is(session: Session, tmp_path: Path) -> None:
    out = await session.run("导出", chat=None)
    [path] = re.findall(r"\[附件\] .+\.xlsx（(.+)）", out)
    assert Path(path).parent == (tmp_path / "exports").resolve()
    assert Path(path).is_file()


async def test_replies_come_before_the_next_line_is_handled(session: Session) -> None:
    await session.run("活动", ":as t1", "我的")
    switched = session.printed.index("你现在是 t1，在群 group-east 中。")
    assert "「东部联盟」" in "\n".join(session.printed[:switched])


def test_a_message_arriving_while_typing_is_printed_above_the_prompt() -> None:
    out = io.StringIO()
    terminal = Terminal(out, typed=lambda: "签到 A")
    terminal.write("[私信 → 王芳] 教研助手: 已签到")
    with terminal.prompting():
        terminal.write("[群 group-east] 教研助手: 【提醒】A1 1 小时后开始")
    assert out.getvalue() == (
        "[私信 → 王芳] 教研助手: 已签到\n"
        "\r\x1b[K[群 group-east] 教研助手: 【提醒】A1 1 小时后开始\n> 签到 A"
    )


def test_the_command_line_console_prints_a_digest_asked_for_in_a_script(tmp_path: Path) -> None:
    db = tmp_path / "console.db"
    seed_db(db)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "console", "--db", str(db), "--as", "lead1"],
        input="周报 现在\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "[私信 → 刘洋] 教研助手: ## 东部联盟 · 教研周报" in result.stdout
    assert "Traceback" not in result.stderr


async def test_a_lesson_study_round_its_design_and_view_in_the_console(session: Session) -> None:
    out = await session.run(
        "发起活动 周三 14:30 说课《分数的初步认识》 课例:分数的初步认识 执教:王芳",
        ":as t1",
        "说课 A1 教学目标：认识几分之一。",
        "课例 分数的初步认识",
    )
    assert "课例「分数的初步认识」第1轮，执教 王芳" in out
    assert "已收到王芳对 A1 的说课稿（" in out  # before the lesson: only a design is taken
    assert "课例「分数的初步认识」共 1 轮：" in out and "A1 执教 王芳：签到 0" in out
