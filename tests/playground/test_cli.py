"""`jiaoyan-bot playground`: the demo week already played on the page, or a database as it is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bot.cli.main import _parser
from bot.cli.playground import run_playground
from bot.core.settings import Settings
from storage import Storage
from tests.fakes.small_alliance import GROUP, seed_small_alliance

DEMO_MONDAY = date(2030, 3, 4)


@asynccontextmanager
async def running(
    settings: Settings, demo_week: date | None, lines: list[str]
) -> AsyncIterator[str]:
    """The playground on a free loopback port until the block ends; yields its base URL."""
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_playground(
            settings,
            "127.0.0.1",
            0,
            demo_week=demo_week,
            stop=stop,
            announce=lines.append,
            on_ready=ready.set_result,
        )
    )
    done, _ = await asyncio.wait({task, ready}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    assert ready in done, lines
    try:
        yield ready.result()
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=30) == 0


async def state_of(session: aiohttp.ClientSession, base: str) -> Any:
    async with session.get(f"{base}/playground/api/state") as response:
        return await response.json()


async def test_the_page_opens_on_the_demo_week_already_played(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, JIAOYAN_DB=tmp_path / "playground.db")  # type: ignore[call-arg]
    lines: list[str] = []
    async with running(settings, DEMO_MONDAY, lines) as base, aiohttp.ClientSession() as session:
        state = await state_of(session, base)
        assert state["clock"]["label"] == "3月9日 周六 09:00"  # where the demo's week ends
        group = [m for m in state["messages"] if m["chat"] == "东部联盟群"]
        assert any("同课异构《秋天的雨》" in m["html"] and m["from_bot"] for m in group)
        assert any("教研周报" in m["html"] for m in group)
        teacher = next(m for m in state["members"] if m["value"] == "c1s02t1")
        async with session.post(
            f"{base}/playground/api/send",
            json={"userid": teacher["value"], "chat": None, "text": "我的"},
        ) as sent:
            assert sent.status == 200
        after = await state_of(session, base)
        [reply] = [m for m in after["messages"][len(state["messages"]) :] if m["from_bot"]]
        assert reply["person"] == "c1s02t1" and "A1" in reply["html"]
    assert lines[0] == "正在生成演示区并演示一周的教研活动……"
    assert f"体验页：{base}/playground/  （用浏览器打开；Ctrl+C 退出）" in lines
    assert "只在本机可以打开；要让局域网里的电脑访问，加 --host 0.0.0.0。" in lines


async def test_a_database_given_is_tried_on_a_copy_and_left_untouched(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, JIAOYAN_DB=tmp_path / "mine.db")  # type: ignore[call-arg]
    storage = Storage.open(settings.db)
    seed_small_alliance(storage, datetime(2030, 3, 4, tzinfo=UTC))
    storage.close()
    original = settings.db.read_bytes()
    lines: list[str] = []
    async with running(settings, None, lines) as base, aiohttp.ClientSession() as session:
        state = await state_of(session, base)
        async with session.post(
            f"{base}/playground/api/send",
            json={"userid": "lead1", "chat": GROUP, "text": "发起活动 明天 15:00 集体备课"},
        ) as sent:
            assert sent.status == 200
        async with session.post(f"{base}/playground/api/clock", json={"days": 2}) as moved:
            assert moved.status == 200
    assert state["messages"] == [] and state["clock"]["movable"] is True
    assert [g["value"] for g in state["groups"]] == [GROUP, "group-west"]
    copy = tmp_path / "mine.playground.db"
    assert f"在数据库的副本上试用：{copy}（原数据库 {settings.db} 不会被改动）" in lines
    assert settings.db.read_bytes() == original
    reopened = Storage.open(copy)
    try:
        assert reopened.activities.get(1) is not None  # what was done on the page went here
    finally:
        reopened.close()


async def test_a_missing_database_is_named(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, JIAOYAN_DB=tmp_path / "typo.db")  # type: ignore[call-arg]
    lines: list[str] = []
    code = await run_playground(
        settings, "127.0.0.1", 0, demo_week=None, stop=asyncio.Event(), announce=lines.append
    )
    assert (code, lines) == (2, [f"找不到数据库 {settings.db}。"])
    assert not settings.db.exists()


def test_the_command_listens_on_this_machine_only_unless_told() -> None:
    args = _parser().parse_args(["playground"])
    assert (args.host, args.port, args.db) == ("127.0.0.1", 8080, None)
    args = _parser().parse_args(["playground", "--host", "0.0.0.0", "--port", "9000"])
    assert (args.host, args.port) == ("0.0.0.0", 9000)
