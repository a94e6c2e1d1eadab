"""Faults on WeCom's side: every reply is delivered exactly once, in order per chat.

The real app (router, handlers, SQLite file, pipeline, outbox worker) and the real senders
(app `message/send`, group-robot webhook, smart-bot long connection) run against the fakes on
127.0.0.1 while the fakes misbehave: an access_token revoked early, HTTP 5xx, requests that
hang past the client's timeout, connections dropped without an answer, WeCom's frequency
limit errcodes, and the long connection cut mid-conversation. Wired here as `serve` wires
them, except that the API client gets a 0.3 s timeout so a hang costs 0.3 s, not 10.
Time is a FakeClock: retries and rate limits move it, nothing waits for real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.aibot_ws import AibotLongConnection
from bot.channels.app_callback import AppCallback
from bot.channels.app_sender import AppSender
from bot.channels.base import Sender
from bot.channels.webhook import WebhookSender
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.ratelimit import webhook_limiter
from bot.core.clock import FakeClock
from bot.core.messages import Channel
from bot.core.settings import Settings
from bot.runtime.app import App, create_app
from bot.runtime.web import create_web_app
from storage import Storage
from storage.messaging import OutboxStatus
from tests.fakes.campus import REFLECTION, seed_campus
from tests.fakes.wecom_api import (
    DEFAULT_AGENT_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_CORP_ID,
    Fault,
    webhook_url,
)
from tests.fakes.wecom_crypto import app_text_xml
from tests.fakes.wecom_ws import DEFAULT_BOT_ID, DEFAULT_SECRET
from tests.fakes.world import (
    APP_AES_KEY,
    APP_TOKEN,
    ClockSleep,
    FakeWeCom,
    api_application,
    new_fake_wecom,
)

SEND = "/cgi-bin/message/send"
HOOK = "/cgi-bin/webhook/send"
GROUP_WS = "wrkLongConnGroup"
HOOK_KEYS = ("hook-a-0001", "hook-b-0002", "hook-c-0003")
START = "2026-11-24T14:10:00+08:00"
MAX_ROUNDS = 200


class WsSleep:
    """The long connection's sleep: reconnect backoff passes at once, heartbeats never come
    (a dropped socket is noticed by the read loop, which is what this test exercises)."""

    def __init__(self) -> None:
        self.backoffs: list[float] = []
        self._never = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        if delay >= 30.0:
            await self._never.wait()
        self.backoffs.append(delay)


class Stack:
    """The bot wired like `serve`, with the worker driven round by round."""

    def __init__(self, app: App, client: TestClient[Any, Any], fake: FakeWeCom) -> None:
        self.app = app
        self.client = client
        self.fake = fake
        self.clock: FakeClock = app.clock  # type: ignore[assignment]
        self._ids = iter(range(5_000_000_000, 6_000_000_000))

    async def say_app(self, userid: str, text: str) -> None:
        stamp = int(self.clock.now().timestamp())
        xml = app_text_xml(
            corp_id=DEFAULT_CORP_ID,
            from_user=userid,
            content=text,
            msg_id=str(next(self._ids)),
            create_time=stamp,
            agent_id=str(DEFAULT_AGENT_ID),
        )
        query, body = self.fake.app.app_post(xml, stamp)
        async with self.client.post("/wecom/app", params=query, data=body) as resp:
            assert resp.status == 200

    async def deliver_everything(self) -> int:
        """Run the worker until the outbox is empty, moving the clock to each retry."""
        rounds = 0
        while True:
            await self.app.pipeline.drain()
            await self.app.worker.run_once()
            if self.app.outbox.pending_count() == 0:
                return rounds
            due = self.app.outbox.next_due_at()
            if due is not None and due > self.clock.now():
                self.clock.set(due)
            rounds += 1
            assert rounds < MAX_ROUNDS, self.app.outbox.items(OutboxStatus.PENDING)
            await asyncio.sleep(0)  # let the long connection reconnect

    def queued_texts(self, target: str) -> list[str]:
        """What was queued for one chat or member, in queue order."""
        return [
            item.message.text
            for item in self.app.outbox.items()
            if item.message.target == target or item.message.target.endswith(target)
        ]


@pytest.fixture
async def stack(
    tmp_path: Path, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> AsyncIterator[Stack]:
    clock = FakeClock(datetime.fromisoformat(START))
    fake = new_fake_wecom(clock)
    fake.api.webhook_keys = set(HOOK_KEYS)
    api_server = await aiohttp_server(api_application(fake), host="127.0.0.1")
    fake.api_base = str(api_server.make_url("")).rstrip("/")
    ws_server = await aiohttp_server(fake.ws.make_app(), host="127.0.0.1")
    fake.ws_url = str(ws_server.make_url("/")).replace("http://", "ws://", 1)

    db = tmp_path / "bot.db"
    campus = seed_campus(db, clock.now(), 12, bind_callback_group=False)
    storage = Storage.open(db)
    for key in HOOK_KEYS:
        storage.chats.bind(
            f"wrk-{key}",
            Channel.WEBHOOK.value,
            campus.alliance_id,
            bound_by="admin1",
            at=clock.now(),
            webhook_url=webhook_url(fake.api_base, key),
        )
    values: dict[str, Any] = {"JIAOYAN_DB": db, "JIAOYAN_ADMINS": "admin1"}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    api_sleep = ClockSleep(clock)
    async with contextlib.AsyncExitStack() as exits, aiohttp.ClientSession() as session:
        client = WeComClient(
            session, fake.api_base, DEFAULT_CORP_ID, clock, sleep=api_sleep, timeout=0.3
        )
        sink_holder: list[App] = []

        class Forward:
            async def submit(self, incoming: Any) -> bool:
                return await sink_holder[0].pipeline.submit(incoming)

        connection = AibotLongConnection(
            fake.ws_url,
            DEFAULT_BOT_ID,
            DEFAULT_SECRET,
            Forward(),
            session=session,
            clock=clock,
            sleep=WsSleep(),
        )
        senders: dict[Channel, Sender] = {
            Channel.APP: AppSender(client, DEFAULT_APP_SECRET, DEFAULT_AGENT_ID),
            Channel.WEBHOOK: WebhookSender(client, webhook_limiter(clock)),
            Channel.AIBOT_WS: connection,
        }
        app = create_app(
            settings, clock=clock, senders=senders, private_channel=Channel.APP, storage=storage
        )
        sink_holder.append(app)
        callback = AppCallback(
            APP_TOKEN, APP_AES_KEY, DEFAULT_CORP_ID, str(DEFAULT_AGENT_ID), app.pipeline, clock
        )
        web_app = create_web_app(lambda: {"status": "ok"}, [callback.add_routes])
        test_client: TestClient[Any, Any] = TestClient(TestServer(web_app, host="127.0.0.1"))
        await test_client.start_server()
        exits.push_async_callback(test_client.close)
        runner = asyncio.create_task(connection.run())

        async def stop_connection() -> None:
            connection.stop()
            await asyncio.wait_for(runner, 10)

        exits.push_async_callback(stop_connection)
        await asyncio.wait_for(fake.ws.wait_subscribed(1), 10)
        yield Stack(app, test_client, fake)
        await app.pipeline.drain()
    storage.close()


async def test_app_replies_survive_token_expiry_5xx_timeouts_drops_and_limits(
    stack: Stack,
) -> None:
    api = stack.fake.api
    teachers = [f"t{i}" for i in range(1, 7)]
    # Round 1 goes out with a token that WeCom then revokes early.
    for userid in teachers:
        await stack.say_app(userid, "签到 A1")
    await stack.deliver_everything()
    api.expire_tokens()
    api.fail_next(
        Fault.http(502, path=SEND),
        Fault.hang(path=SEND, seconds=30),  # longer than the client's timeout
        Fault.drop(path=SEND),
        Fault.error(45009, path=SEND),
        Fault.error(45033, path=SEND, after=3),
        *[Fault.http(503, path=SEND)]
        * 5,  # some deliveries spend all their retries: outbox retries
        Fault.error(-1, path=SEND, after=4),
    )
    for text in ("签到 A1", f"反思 A2 {REFLECTION}", f"反思 A2 {REFLECTION}改"):
        for userid in teachers:
            await stack.say_app(userid, text)
    await stack.deliver_everything()

    assert api.pending_faults == 0 and 42001 in api.errors
    assert api.token_requests >= 2
    for userid in teachers:
        queued = stack.queued_texts(userid)
        assert len(queued) == 4
        assert stack.fake.app_texts(userid) == queued  # once each, in the order asked
    assert stack.app.outbox.stats().failed == 0


async def test_long_connection_dropped_mid_conversation_still_answers_once_in_order(
    stack: Stack,
) -> None:
    ws = stack.fake.ws
    pushes = []
    for round_no in range(3):
        for i in range(1, 4):
            text = (
                "@教研助手 签到 A1"
                if round_no == 0
                else f"@教研助手 反思 A2 {REFLECTION}{round_no}"
            )
            pushes.append(await ws.push_message(userid=f"t{i}", text=text, chatid=GROUP_WS))
    await _until_inbox(stack, len(pushes))
    await stack.app.pipeline.drain()
    ws.fail_next("aibot_respond_msg", 45009, after=1)  # WeCom busy on the second reply
    delivered_first = await stack.app.worker.run_once()
    await ws.drop()  # cut while replies are still waiting to go out
    await asyncio.wait_for(ws.wait_subscribed(2), 10)  # reconnected by itself
    await ws.replay(pushes[0])  # WeCom redelivers a message after the reconnect
    await stack.deliver_everything()

    queued = stack.queued_texts(GROUP_WS)
    assert len(queued) == len(pushes) and delivered_first >= 1
    answered_ok = [
        frame.body["stream"]["content"]
        if "stream" in frame.body
        else frame.body["markdown"]["content"]
        for frame in ws.frames
        if frame.cmd in ("aibot_respond_msg", "aibot_send_msg")
    ]
    # A reply WeCom refused (45009) was not shown; every reply reached the chat once, in order.
    refused = 1
    assert len(answered_ok) == len(queued) + refused
    shown = _without_first_refusal(answered_ok, queued)
    assert shown == queued


async def test_notices_to_group_robots_survive_5xx_and_the_robot_frequency_limit(
    stack: Stack,
) -> None:
    api = stack.fake.api
    api.fail_next(
        Fault.error(130101, path=HOOK),
        Fault.http(500, path=HOOK, after=2),
        Fault.hang(path=HOOK, seconds=30),
    )
    for n in range(1, 4):
        await stack.say_app("staff1", f"通知 全部 第{n}次通知：周五下午两点集体备课，请准时参加。")
    await stack.deliver_everything()
    for key in HOOK_KEYS:
        texts = [m.content for m in api.messages_for(key)]
        assert len(texts) == 3 and all(
            t is not None and f"第{n}次通知" in t for n, t in zip((1, 2, 3), texts, strict=True)
        )
    assert stack.app.outbox.stats().failed == 0


def _without_first_refusal(sent: list[str], queued: list[str]) -> list[str]:
    """Drop the one attempt WeCom answered 45009 (it is sent again later, in its place)."""
    for index, text in enumerate(sent):
        if sent.count(text) > queued.count(text):
            return sent[:index] + sent[index + 1 :]
    return sent


async def _until_inbox(stack: Stack, count: int) -> None:
    conn = stack.app.storage.db.conn

    def stored() -> bool:
        return int(conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]) >= count

    for _ in range(100_000):
        if stored():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("messages never reached the inbox")
