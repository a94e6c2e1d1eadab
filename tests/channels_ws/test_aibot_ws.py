"""The smart-bot long connection against a fake WeCom WebSocket server on 127.0.0.1.

Time never passes for real: backoff sleeps are recorded and return at once, heartbeat sleeps
wait until the test ticks them, and the clock is a FakeClock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.channels.aibot_ws import AibotLongConnection
from bot.channels.base import SendError
from bot.core.clock import FakeClock
from bot.core.messages import Channel, ChatType, Incoming, Outgoing, TargetKind
from tests.fakes.wecom_ws import DEFAULT_BOT_ID, DEFAULT_SECRET, FakeWeComWS

HEARTBEAT = 30.0
BACKOFF_BASE = 1.0
BACKOFF_MAX = 8.0
AUTH_BACKOFF_BASE = 300.0
AUTH_BACKOFF_MAX = 3600.0
TEST_TIMEOUT = 10.0
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class RecordingSink:
    """Stands in for the durable inbox: False for a (channel, msgid) it has already seen."""

    def __init__(self) -> None:
        self.submitted: list[Incoming] = []
        self.accepted: list[Incoming] = []
        self._seen: set[tuple[Channel, str]] = set()
        self._changed = asyncio.Condition()

    async def submit(self, incoming: Incoming) -> bool:
        key = (incoming.channel, incoming.msgid)
        fresh = key not in self._seen
        self._seen.add(key)
        self.submitted.append(incoming)
        if fresh:
            self.accepted.append(incoming)
        async with self._changed:
            self._changed.notify_all()
        return fresh

    async def wait_submitted(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.submitted) >= count)


class ManualSleep:
    """Injected sleep: backoff delays are recorded and return at once; heartbeats wait a tick."""

    def __init__(self, heartbeat: float) -> None:
        self.heartbeat = heartbeat
        self.delays: list[float] = []
        self._ticks = asyncio.Semaphore(0)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if delay == self.heartbeat:
            await self._ticks.acquire()
        else:
            await asyncio.sleep(0)

    def tick(self) -> None:
        """Let one heartbeat interval pass."""
        self._ticks.release()

    @property
    def backoffs(self) -> list[float]:
        return [delay for delay in self.delays if delay != self.heartbeat]


class UpperBound(random.Random):
    """Jitter that always picks the ceiling, to see the exponential growth itself."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def sleep() -> ManualSleep:
    return ManualSleep(HEARTBEAT)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def make_conn(fake_url, session, sink, sleep, clock):
    def build(
        *, secret: str = DEFAULT_SECRET, rng: random.Random | None = None
    ) -> AibotLongConnection:
        _, url = fake_url
        return AibotLongConnection(
            url,
            DEFAULT_BOT_ID,
            secret,
            sink,
            session=session,
            clock=clock,
            sleep=sleep,
            rng=rng or random.Random(7),
            heartbeat_interval=HEARTBEAT,
            backoff_base=BACKOFF_BASE,
            backoff_max=BACKOFF_MAX,
            auth_backoff_base=AUTH_BACKOFF_BASE,
            auth_backoff_max=AUTH_BACKOFF_MAX,
        )

    return build


@contextlib.asynccontextmanager
async def running(conn: AibotLongConnection) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(conn.run())
    try:
        yield task
    finally:
        conn.stop()
        async with asyncio.timeout(TEST_TIMEOUT):
            await task


def reply_to(frame: dict[str, Any], text: str) -> Outgoing:
    body = frame["body"]
    group = body["chattype"] == "group"
    return Outgoing(
        channel=Channel.AIBOT_WS,
        target_kind=TargetKind.CHAT if group else TargetKind.USER,
        target=body["chatid"] if group else body["from"]["userid"],
        text=text,
        reply_context={"req_id": frame["headers"]["req_id"]},
    )


def push(target: str, text: str, kind: TargetKind = TargetKind.CHAT) -> Outgoing:
    return Outgoing(channel=Channel.AIBOT_WS, target_kind=kind, target=target, text=text)


async def test_subscribes_with_bot_id_and_secret(make_conn, fake) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        subscribe = fake.frames[0]
        assert subscribe.cmd == "aibot_subscribe"
        # The official SDKs' req_id shape: cmd, milliseconds, 8 hex digits.
        assert re.fullmatch(r"aibot_subscribe_\d{13}_[0-9a-f]{8}", subscribe.req_id)
        assert subscribe.body == {"bot_id": DEFAULT_BOT_ID, "secret": DEFAULT_SECRET}
        assert fake.subscriptions == 1


async def test_wrong_secret_processes_nothing_and_backs_off_long(
    make_conn, fake, sink, sleep, caplog
) -> None:
    conn = make_conn(secret="not-the-secret", rng=UpperBound())
    caplog.set_level(logging.ERROR, logger="bot.channels.aibot_ws")
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await fake.wait_until(lambda: len(sleep.backoffs) >= 3)
    assert fake.subscriptions == 0
    assert not conn.is_connected
    assert sink.submitted == []
    assert sleep.backoffs[:3] == [300.0, 600.0, 1200.0]
    assert "WECOM_BOT_SECRET" in caplog.text
    assert "not-the-secret" not in caplog.text


async def test_group_text_message_becomes_one_incoming(make_conn, fake, sink) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        frame = await fake.push_message(
            userid="zhangsan",
            text="@教研助手 签到",
            chatid="wrGROUP01",
            msgid="msg-group-1",
            quote="本周五教研活动通知",
        )
        await sink.wait_submitted(1)
    assert len(sink.accepted) == 1
    incoming = sink.accepted[0]
    assert incoming.channel is Channel.AIBOT_WS
    assert incoming.msgid == "msg-group-1"
    assert incoming.userid == "zhangsan"
    assert incoming.text == "@教研助手 签到"
    assert incoming.chat_type is ChatType.GROUP
    assert incoming.chat_id == "wrGROUP01"
    assert incoming.quote == "本周五教研活动通知"
    assert incoming.received_at == NOW
    assert incoming.reply_context == {"req_id": frame["headers"]["req_id"]}


async def test_single_chat_message_has_no_chat_id(make_conn, fake, sink) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        await fake.push_message(userid="lisi", text="我的签到", msgid="msg-single-1")
        await sink.wait_submitted(1)
    incoming = sink.accepted[0]
    assert incoming.chat_type is ChatType.SINGLE
    assert incoming.chat_id is None
    assert incoming.userid == "lisi"
    assert incoming.quote is None


async def test_reply_carries_the_req_id_of_the_message(make_conn, fake, sink) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        frame = await fake.push_message(userid="zhangsan", text="签到", chatid="wrGROUP01")
        await sink.wait_submitted(1)
        await conn.send(reply_to(frame, "张三 签到成功 ✅"))
    [reply] = fake.sent("aibot_respond_msg")
    assert reply.req_id == frame["headers"]["req_id"]
    assert reply.body["msgtype"] == "stream"
    assert reply.body["stream"]["finish"] is True
    assert reply.body["stream"]["content"] == "张三 签到成功 ✅"
    assert reply.body["stream"]["id"]
    assert fake.sent("aibot_send_msg") == []


async def test_push_to_a_group_and_to_a_user(make_conn, fake) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        await conn.send(push("wrGROUP01", "**提醒**：今晚 8 点前提交反思"))
        await conn.send(push("wangwu", "你还没有签到", TargetKind.USER))
    group, user = fake.sent("aibot_send_msg")
    assert group.body == {
        "chatid": "wrGROUP01",
        "msgtype": "markdown",
        "markdown": {"content": "**提醒**：今晚 8 点前提交反思"},
    }
    assert user.body["chatid"] == "wangwu"
    assert group.req_id and user.req_id and group.req_id != user.req_id


async def test_long_push_is_split_on_line_boundaries(make_conn, fake) -> None:
    lines = [f"第{i:03d}位老师：已提交本周教研反思，内容完整。" for i in range(120)]
    text = "\n".join(lines)
    assert len(text.encode()) > 4096
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        await conn.send(push("wrGROUP01", text))
    contents = [frame.body["markdown"]["content"] for frame in fake.sent("aibot_send_msg")]
    assert len(contents) >= 2
    assert all(len(content.encode()) <= 4096 for content in contents)
    assert "\n".join(contents).split("\n") == lines


async def read_everything_sent(fake: FakeWeComWS, sink: RecordingSink) -> None:
    """Barrier: frames are handled in order, so once this message is in the sink the client
    has also handled every frame the fake sent before it (e.g. a pong)."""
    expected = len(sink.submitted) + 1
    await fake.push_message(userid="barrier", text="barrier")
    await sink.wait_submitted(expected)


async def test_heartbeat_pings_every_interval(make_conn, fake, sleep, sink) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        assert fake.sent("ping") == []
        sleep.tick()
        [first] = await fake.wait_sent("ping", 1)
        await read_everything_sent(fake, sink)
        sleep.tick()
        pings = await fake.wait_sent("ping", 2)
        assert first.req_id and pings[1].req_id != first.req_id
        assert HEARTBEAT in sleep.delays
        assert fake.connections == 1
        assert conn.is_connected


async def test_unanswered_ping_reconnects(make_conn, fake, sleep) -> None:
    fake.answer_pings = False
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        sleep.tick()
        await fake.wait_sent("ping", 1)
        sleep.tick()
        await fake.wait_subscribed(2)
    assert fake.connections == 2
    assert len(sleep.backoffs) == 1


@pytest.mark.parametrize("rng", [random.Random(2026), UpperBound()], ids=["seeded", "ceiling"])
async def test_drops_reconnect_with_growing_jittered_delays(make_conn, fake, sleep, rng) -> None:
    conn = make_conn(rng=rng)
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        for number in range(1, 6):
            await fake.wait_subscribed(number)
            await fake.drop()
        await fake.wait_subscribed(6)
    delays = sleep.backoffs
    assert len(delays) == 5
    for attempt, delay in enumerate(delays):
        assert BACKOFF_BASE <= delay <= min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt)
    if isinstance(rng, UpperBound):
        assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]


async def test_backoff_resets_after_a_healthy_connection(make_conn, fake, sleep) -> None:
    conn = make_conn(rng=UpperBound())
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await fake.wait_subscribed(1)
        await fake.drop()
        await fake.wait_subscribed(2)
        sleep.tick()
        await fake.wait_sent("ping", 1)  # answered: this connection is healthy
        await fake.drop()
        await fake.wait_subscribed(3)
        await fake.drop()
        await fake.wait_subscribed(4)
    assert sleep.backoffs == [1.0, 1.0, 2.0]


async def test_replayed_message_after_reconnect_is_not_processed_twice(
    make_conn, fake, sink
) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        frame = await fake.push_message(userid="zhangsan", text="签到", msgid="msg-replayed")
        await sink.wait_submitted(1)
        await fake.drop()
        await fake.wait_subscribed(2)
        await fake.replay(frame)
        await sink.wait_submitted(2)
    assert [incoming.msgid for incoming in sink.submitted] == ["msg-replayed", "msg-replayed"]
    assert [incoming.msgid for incoming in sink.accepted] == ["msg-replayed"]


async def test_replaced_connection_stops_without_reconnecting(
    make_conn, fake, sleep, caplog
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.channels.aibot_ws")
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT):
        task = asyncio.create_task(conn.run())
        await conn.connected.wait()
        await fake.send_disconnected_event()
        await task
        await fake.wait_disconnected()
        with pytest.raises(SendError) as caught:
            await conn.send(push("wrGROUP01", "还在吗"))
    assert conn.replaced
    assert not conn.is_connected
    assert fake.connections == 1
    assert sleep.backoffs == []
    assert caught.value.retryable
    assert "不再重连" in caplog.text


async def test_send_while_disconnected_is_retryable(make_conn, fake) -> None:
    conn = make_conn()
    with pytest.raises(SendError) as caught:
        await conn.send(push("wrGROUP01", "提醒"))
    assert caught.value.retryable
    assert fake.frames == []


@pytest.mark.parametrize(("errcode", "retryable"), [(45009, True), (-1, True), (40058, False)])
async def test_reply_answered_with_errcode_raises(
    make_conn, fake, sink, errcode, retryable
) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        frame = await fake.push_message(userid="zhangsan", text="签到", chatid="wrGROUP01")
        await sink.wait_submitted(1)
        fake.fail_next("aibot_respond_msg", errcode)
        with pytest.raises(SendError) as caught:
            await conn.send(reply_to(frame, "签到成功"))
    assert caught.value.retryable is retryable
    assert str(errcode) in str(caught.value)
    assert fake.sent("aibot_send_msg") == []


async def test_expired_req_id_falls_back_to_push(make_conn, fake, sink) -> None:
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        frame = await fake.push_message(userid="zhaoliu", text="我的反思")
        await sink.wait_submitted(1)
        fake.fail_next("aibot_respond_msg", 846605, "invalid req_id")
        await conn.send(reply_to(frame, "你本周已提交 2 篇反思"))
    [pushed] = fake.sent("aibot_send_msg")
    assert pushed.body["chatid"] == "zhaoliu"
    assert pushed.body["markdown"]["content"] == "你本周已提交 2 篇反思"


async def test_retry_after_partial_failure_resumes_without_repeating(make_conn, fake) -> None:
    text = "\n".join(f"第{i:03d}条：请各位老师按时参加周三的集体备课。" for i in range(120))
    message = push("wrGROUP01", text)
    conn = make_conn()
    async with asyncio.timeout(TEST_TIMEOUT), running(conn):
        await conn.connected.wait()
        fake.fail_next("aibot_send_msg", 45009, "api freq out of limit", after=1)
        with pytest.raises(SendError) as caught:
            await conn.send(message)
        assert caught.value.retryable
        await conn.send(message)
    contents = [frame.body["markdown"]["content"] for frame in fake.sent("aibot_send_msg")]
    first, failed, *rest = contents
    assert failed == rest[0]
    assert contents.count(first) == 1
    assert "\n".join([first, *rest]) == text
