"""What teachers actually type: very long texts, emoji, mixed scripts, SQL-looking text and
markdown that tries to take over the digest. Sent through the smart-bot HTTP callback of the
runtime `serve` builds (real crypto, router, handlers, SQLite), answered via response_url.

Stored text must round-trip exactly (the handler only trims the ends), every reply must be
delivered, and the digest must show user text inert (no links, mentions, fonts, headings).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.cli.harness import deliver
from bot.core.clock import FakeClock
from bot.core.settings import Settings
from bot.runtime.serve import Runtime, RuntimeOptions, open_runtime
from bot.text.dates import parse_period
from reports.digest import build_digest
from tests.fakes.campus import GROUP_HTTP, Campus, seed_campus
from tests.fakes.world import (
    AIBOT_ID,
    ClockSleep,
    FakeWeCom,
    api_application,
    new_fake_wecom,
    wecom_values,
)

START = datetime.fromisoformat("2026-11-24T14:10:00+08:00")
PAD = "今天的教研活动让我收获很多，课堂提问的设计值得反复琢磨。"

LONG = ("长" * 4000) + "😀" * 1000 + "\n" + ("句子。" * 1300)  # 9,901 characters counted
EMOJI = "👩‍🏫📚🇨🇳👍🏽❤️‍🔥 " * 20 + PAD
MIXED = "Доклад مرحبا שלום こんにちは e\u0301 Ａ１ \u200b\u202eRTL\u202c 한국어 " + PAD
SQL = "'); DROP TABLE reflections; -- \" OR 1=1 -- ; SELECT * FROM members; " + PAD
MARKDOWN = (
    '**全部加粗** [点我领奖](http://evil.example/x) <font color="warning">红字</font> '
    "<@all> `code` \n# 大标题\n> 引用 ~~删除~~ | 表格 | " + PAD * 2
)
CASES = {"long": LONG, "emoji": EMOJI, "mixed": MIXED, "sql": SQL, "markdown": MARKDOWN}


class Bot:
    def __init__(self, runtime: Runtime, client: TestClient[Any, Any], fake: FakeWeCom) -> None:
        self.runtime = runtime
        self.client = client
        self.fake = fake
        self.clock: FakeClock = runtime.app.clock  # type: ignore[assignment]
        self.sent = 0

    async def say(self, userid: str, text: str) -> str:
        """Send as a group @-mention over the HTTP callback; return the reply shown."""
        self.sent += 1
        msgid = f"bad{self.sent}"
        payload = {
            "msgid": msgid,
            "aibotid": AIBOT_ID,
            "chattype": "group",
            "chatid": GROUP_HTTP,
            "from": {"userid": userid},
            "response_url": self.fake.response_url(msgid),
            "msgtype": "text",
            "text": {"content": f"@教研助手 {text}"},
        }
        query, body = self.fake.aibot.aibot_post(payload, int(self.clock.now().timestamp()))
        async with self.client.post("/wecom/aibot", params=query, data=body) as resp:
            assert resp.status == 200
        await self.runtime.app.pipeline.drain()
        await deliver(self.runtime.app.worker)
        replies = [
            r
            for r, code in zip(self.fake.responses, self.fake.response_codes, strict=True)
            if code == msgid
        ]
        assert len(replies) == 1, replies
        return str(replies[0]["markdown"]["content"])


@pytest.fixture
async def bot(
    tmp_path: Path, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> AsyncIterator[tuple[Bot, Campus]]:
    clock = FakeClock(START)
    fake = new_fake_wecom(clock)
    server = await aiohttp_server(api_application(fake), host="127.0.0.1")
    fake.api_base = str(server.make_url("")).rstrip("/")
    db = tmp_path / "bot.db"
    campus = seed_campus(db, clock.now(), 10)
    config = Settings(_env_file=None, **wecom_values(db, fake, long_connection=False))  # type: ignore[call-arg]
    options = RuntimeOptions(api_sleep=ClockSleep(clock), run_worker=False)
    async with contextlib.AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(
            open_runtime(config, clock=clock, options=options)
        )
        await runtime.start()
        await runtime.app.scheduler.stop()  # reminders are not under test; the clock is frozen
        client: TestClient[Any, Any] = TestClient(TestServer(runtime.web_app, host="127.0.0.1"))
        await client.start_server()
        stack.push_async_callback(client.close)
        yield Bot(runtime, client, fake), campus


@pytest.mark.parametrize("case", list(CASES))
async def test_unusual_reflections_round_trip_exactly_and_are_answered(
    bot: tuple[Bot, Campus], case: str
) -> None:
    runner, campus = bot
    body = CASES[case]
    reply = await runner.say("t1", f"反思 {campus.reflect.code} {body}")
    length = sum(1 for ch in body.strip() if not ch.isspace())
    assert reply.startswith(f"已收到 老师1 对 {campus.reflect.code} 的反思（{length} 字）")
    storage = runner.runtime.app.storage
    member = storage.roster.member_by_userid("t1")
    assert member is not None
    stored = storage.submissions.reflection(campus.reflect.id, member.id)
    assert stored is not None and stored.body == body.strip()  # byte for byte
    # The SQL-looking text did nothing to the database.
    conn = sqlite3.connect(str(storage.db.conn.execute("PRAGMA database_list").fetchone()[2]))
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"reflections", "members", "inbox", "outbox"} <= tables
        assert conn.execute("SELECT COUNT(*) FROM members").fetchone()[0] == 12
    finally:
        conn.close()


async def test_too_long_and_empty_reflections_get_a_kind_hint_and_store_nothing(
    bot: tuple[Bot, Campus],
) -> None:
    runner, campus = bot
    too_long = "很" * 10_001
    reply = await runner.say("t2", f"反思 {campus.reflect.code} {too_long}")
    assert "反思太长了（10001 字）" in reply
    reply = await runner.say("t2", f"反思 {campus.reflect.code}   ")
    assert reply.startswith("请在命令后写反思正文")
    reply = await runner.say("t2", "'; DROP TABLE members; --")
    assert reply.startswith("没看懂")
    member = runner.runtime.app.storage.roster.member_by_userid("t2")
    assert member is not None
    assert runner.runtime.app.storage.submissions.reflection(campus.reflect.id, member.id) is None


async def test_markdown_in_reflections_cannot_take_over_the_digest(
    bot: tuple[Bot, Campus],
) -> None:
    runner, campus = bot
    await runner.say("t3", f"反思 {campus.reflect.code} {MARKDOWN}")
    await runner.say("t4", f"反思 {campus.reflect.code} {SQL}")
    storage = runner.runtime.app.storage
    alliance = storage.roster.alliance(campus.alliance_id)
    period = parse_period("本周", runner.clock.now())
    assert alliance is not None and period is not None
    digest = build_digest(storage, alliance, period, runner.clock.now(), with_chart=False)
    text = "\n".join(digest.group_parts)
    assert "领奖" in text  # the excerpt is there ...
    for markup in (
        "[点我领奖](",
        "](http",
        '<font color="warning">红字',
        "<@all>",
        "**全部加粗**",
        "\n# 大标题",
        "`code`",
    ):
        assert markup not in text, markup  # ... but inert
    assert "［点我领奖］（http://evil.example/x）" in text
