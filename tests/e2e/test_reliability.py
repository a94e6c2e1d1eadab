"""Retries, expired tokens, WeCom errors, the fast callback answer and restarts, end to end."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.channels.base import IncomingSink
from bot.core.clock import FakeClock
from bot.core.messages import Channel, Incoming
from bot.pipeline.inbox import Commit, Pipeline
from bot.runtime.app import App
from storage.messaging import InboxStatus, OutboxStatus
from tests.fakes.wecom_api import Fault

from .conftest import (
    BOT_NAME,
    GROUP_HTTP,
    GROUP_WS,
    Bot,
    Seeded,
    StartBot,
    signin_reply,
    stop_bot,
)

SEND = "/cgi-bin/message/send"


def inbox_rows(bot: Bot) -> list[tuple[str, str, str]]:
    return [
        (row[0], row[1], row[2])
        for row in bot.storage.db.execute("SELECT channel, msgid, status FROM inbox ORDER BY id")
    ]


class GatedPipeline:
    """The real pipeline whose handling waits for a gate the test opens (a slow handler)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    def __call__(self, app: App) -> IncomingSink:
        async def slow_handle(incoming: Incoming, commit: Commit) -> None:
            self.started.set()
            await self.gate.wait()
            await app.dispatcher.process(incoming, commit)

        app.pipeline = Pipeline(
            app.inbox,
            app.outbox,
            app.storage.chats,
            slow_handle,
            app.clock,
            private_channel=Channel.APP,
            on_enqueued=app.worker.wake,
        )
        return app.pipeline


class CrashAfterInboxWrite:
    """The process dies right after the durable inbox write: the message is never processed."""

    def __init__(self, app: App) -> None:
        self._inbox = app.storage.inbox

    async def submit(self, incoming: Incoming) -> bool:
        return self._inbox.record(incoming) is not None


# ---------------------------------------------------------------- redeliveries


async def test_same_msgid_three_times_over_the_http_callback_gets_one_reply(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()
    payload = bot.aibot_text("t1", f"{BOT_NAME} 签到 A1", chatid=GROUP_HTTP)
    for _ in range(3):  # WeCom retries when it thinks we were too slow
        assert await bot.post_aibot(payload) == (200, "")
    assert [fresh for _, fresh in bot.sink.submitted] == [True, False, False]
    assert await bot.deliver() == 1
    assert await bot.deliver() == 0
    assert bot.fake.response_texts() == [signin_reply("王芳")]
    assert inbox_rows(bot) == [("aibot_http", payload["msgid"], "processed")]


async def test_app_callback_retries_and_long_connection_replays_are_answered_once(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()
    xml = bot.app_text("t1", "签到 A1")
    for _ in range(3):
        assert await bot.post_app(xml) == (200, "")
    frame = await bot.fake.ws.push_message(userid="t2", text=f"{BOT_NAME} 签到", chatid=GROUP_WS)
    await bot.fake.ws.replay(frame)  # after a reconnect WeCom may deliver it again
    await bot.sink.wait_submitted(5)
    assert await bot.deliver() == 2
    assert bot.fake.app_texts("t1") == [signin_reply("王芳")]
    replies = await bot.fake.ws.wait_sent("aibot_respond_msg", 1)
    assert [r.body["stream"]["content"] for r in replies] == [signin_reply("李强")]
    assert await bot.deliver() == 0
    assert len(bot.fake.ws.sent("aibot_respond_msg")) == 1


# ---------------------------------------------------------------- WeCom API trouble


async def test_token_expiry_mid_run_is_refreshed_and_each_reply_sent_once(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    bot = await start_bot()
    api = bot.fake.api

    assert await bot.post_app(bot.app_text("t1", "签到 A1")) == (200, "")
    assert await bot.deliver() == 1
    assert api.token_requests == 1

    api.expire_tokens()  # WeCom revoked it early: the send answers 42001 and is retried once
    assert await bot.post_app(bot.app_text("t1", "我的记录")) == (200, "")
    assert await bot.deliver() == 1
    assert api.token_requests == 2 and api.errors == [42001]

    clock.advance(timedelta(hours=2))  # the cached token is due: fetched again before use
    assert await bot.post_app(bot.app_text("t1", "帮助")) == (200, "")
    assert await bot.deliver() == 1
    assert api.token_requests == 3 and api.errors == [42001]

    texts = bot.fake.app_texts("t1")
    assert len(texts) == 3 and texts[0] == signin_reply("王芳")
    assert len(api.messages) == 3


async def test_5xx_and_frequency_limit_on_message_send_still_deliver_exactly_once(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    bot = await start_bot()
    api = bot.fake.api

    # Within one delivery: the client retries a 502 and a 45009 by itself.
    api.fail_next(Fault.http(502, path=SEND), Fault.error(45009, path=SEND))
    assert await bot.post_app(bot.app_text("t1", "签到 A1")) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.app_texts("t1") == [signin_reply("王芳")]
    assert api.errors == [45009] and api.requests.count(SEND) == 3

    # WeCom down for longer than the client's retries: the outbox tries again later.
    api.fail_next(*[Fault.http(503, path=SEND)] * 4)
    assert await bot.post_app(bot.app_text("t2", "签到 A1")) == (200, "")
    assert await bot.deliver() == 0
    [waiting] = bot.app.outbox.items(OutboxStatus.PENDING)
    assert waiting.attempts == 1 and "HTTP 503" in (waiting.last_error or "")
    assert await bot.app.worker.run_once() == 0  # not due yet
    clock.set(waiting.due_at)
    assert await bot.app.worker.run_once() == 1
    assert await bot.app.worker.run_once() == 0
    assert bot.fake.app_texts("t2") == [signin_reply("李强")]
    assert bot.app.outbox.stats().pending == 0


# ---------------------------------------------------------------- fast callback answers


async def test_callbacks_answer_before_the_handler_has_finished(
    start_bot: StartBot, seeded: Seeded
) -> None:
    gated = GatedPipeline()
    bot = await start_bot(sink_factory=gated)

    aibot = bot.aibot_text("t1", f"{BOT_NAME} 签到 A1", chatid=GROUP_HTTP)
    # If the response waited for the handler, this would never return (the gate is closed).
    assert await asyncio.wait_for(bot.post_aibot(aibot), timeout=5) == (200, "")
    assert await asyncio.wait_for(bot.post_app(bot.app_text("t2", "签到 A1")), timeout=5) == (
        200,
        "",
    )
    await asyncio.wait_for(gated.started.wait(), timeout=5)
    # Recorded durably, answered, but not handled yet.
    assert [status for _, _, status in inbox_rows(bot)] == ["received", "received"]
    assert bot.app.outbox.items() == []
    assert bot.fake.responses == [] and bot.fake.app_texts("t2") == []

    gated.gate.set()
    assert await bot.deliver() == 2
    assert bot.fake.response_texts() == [signin_reply("王芳")]
    assert bot.fake.app_texts("t2") == [signin_reply("李强")]


async def test_fifty_sequential_callbacks_are_each_acknowledged_and_answered(
    start_bot: StartBot, seeded: Seeded
) -> None:
    """Latency is measured in bench/ (BENCHMARKS.md), not asserted here: a timed assertion
    fails on a loaded machine or under a faked clock without any change in behaviour."""
    bot = await start_bot()
    for index in range(50):
        payload = bot.aibot_text("t1", "帮助" if index % 2 else "我的记录")
        query, body = bot.fake.aibot.aibot_post(payload, bot.now_ts())
        async with bot.client.post("/wecom/aibot", params=query, data=body) as resp:
            assert resp.status == 200
    await bot.deliver()
    assert len(bot.fake.responses) == 50


# ---------------------------------------------------------------- hostile requests


async def test_bad_requests_through_the_full_web_app(start_bot: StartBot, seeded: Seeded) -> None:
    bot = await start_bot()
    client = bot.client
    aibot_query, aibot_body = bot.fake.aibot.aibot_post(
        bot.aibot_text("t1", "签到 A1"), bot.now_ts()
    )
    app_query, app_body = bot.fake.app.app_post(bot.app_text("t1", "签到 A1"), bot.now_ts())

    oversized = b"{" + b" " * (1024 * 1024) + b"}"
    for path, query in (("/wecom/aibot", aibot_query), ("/wecom/app", app_query)):
        async with client.post(path, params=query, data=oversized) as resp:
            assert resp.status == 413
    async with client.post("/wecom/aibot", params=aibot_query, data="{not json") as resp:
        assert resp.status == 400
    async with client.post("/wecom/app", params=app_query, data="<xml><Encrypt>") as resp:
        assert resp.status == 400

    forged = {**aibot_query, "msg_signature": "0" * 40}
    async with client.post("/wecom/aibot", params=forged, data=aibot_body) as resp:
        assert resp.status == 403
    forged = {**app_query, "msg_signature": "0" * 40}
    async with client.post("/wecom/app", params=forged, data=app_body) as resp:
        assert resp.status == 403
    stale_query, stale_body = bot.fake.app.app_post(
        bot.app_text("t1", "签到 A1"), bot.now_ts() - 600
    )
    async with client.post("/wecom/app", params=stale_query, data=stale_body) as resp:
        assert resp.status == 403

    assert inbox_rows(bot) == []
    async with client.get("/healthz") as resp:
        assert resp.status == 200  # still alive


async def test_url_verification_through_the_full_web_app(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()
    for path, side in (("/wecom/aibot", bot.fake.aibot), ("/wecom/app", bot.fake.app)):
        query = side.verify_query("1616140317555161061", bot.now_ts())
        async with bot.client.get(path, params=query) as resp:
            assert resp.status == 200
            assert await resp.text() == "1616140317555161061"


# ---------------------------------------------------------------- restarts


async def test_a_message_recorded_but_not_processed_is_handled_once_after_restart(
    start_bot: StartBot, seeded: Seeded
) -> None:
    crashed = await start_bot(sink_factory=CrashAfterInboxWrite)
    payload = crashed.aibot_text("t1", f"{BOT_NAME} 签到 A1", chatid=GROUP_HTTP)
    assert await crashed.post_aibot(payload) == (200, "")
    assert inbox_rows(crashed) == [("aibot_http", payload["msgid"], "received")]
    await stop_bot(crashed)

    restarted = await start_bot()  # start() recovers before the channels open
    assert await restarted.deliver() == 1
    assert inbox_rows(restarted) == [("aibot_http", payload["msgid"], "processed")]
    assert restarted.fake.response_texts() == [signin_reply("王芳")]
    assert await restarted.post_aibot(payload) == (200, "")  # WeCom's late retry
    assert await restarted.deliver() == 0
    await stop_bot(restarted)

    again = await start_bot()
    assert await again.deliver() == 0
    assert again.fake.response_texts() == [signin_reply("王芳")]
    signin = again.storage.submissions.signin(seeded.activity.id, seeded.teacher.id)
    assert signin is not None


async def test_a_clean_stop_queues_replies_of_messages_in_progress(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()
    assert await bot.post_app(bot.app_text("t1", "签到 A1")) == (200, "")
    await stop_bot(bot)  # as on SIGTERM right after the callback: drained, not lost

    restarted = await start_bot()
    assert [item.status for item in restarted.app.outbox.items()] == [OutboxStatus.PENDING]
    assert [status for _, _, status in inbox_rows(restarted)] == [InboxStatus.PROCESSED.value]
    assert await restarted.deliver() == 1
    assert restarted.fake.app_texts("t1") == [signin_reply("王芳")]


# Junk a scanner might send. Each is refused before any XML/JSON parser sees it: the
# signature check needs the ciphertext only, found by a bounded scan.
JUNK_CALLBACKS = {
    "megabyte of XML elements": ("/wecom/app", b"<xml>" + b"<a>x</a>" * 131_072 + b"</xml>", 413),
    "XML elements, Encrypt, wrong signature": (
        "/wecom/app",
        b"<xml>" + b"<a>x</a>" * 7_000 + b"<Encrypt>QUJD</Encrypt></xml>",
        403,
    ),
    "XML with an unknown encoding": (
        "/wecom/app",
        b'<?xml version="1.0" encoding="x-junk"?><xml><A>1</A></xml>',
        400,
    ),
    "JSON nested 100,000 deep": (
        "/wecom/aibot",
        b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        413,
    ),
    "JSON nested 30,000 deep": ("/wecom/aibot", b"[" * 30_000 + b"]" * 30_000, 400),
    "lone surrogate as encrypt": ("/wecom/aibot", b'{"encrypt":"\\ud800"}', 400),
}


@pytest.mark.parametrize("case", list(JUNK_CALLBACKS))
async def test_junk_callbacks_are_refused_with_one_warning_and_store_nothing(
    start_bot: StartBot, seeded: Seeded, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    path, body, status = JUNK_CALLBACKS[case]
    bot = await start_bot()
    query, _ = (
        bot.fake.app.app_post(bot.app_text("t1", "签到 A1"), bot.now_ts())
        if path == "/wecom/app"
        else bot.fake.aibot.aibot_post(bot.aibot_text("t1", "签到 A1"), bot.now_ts())
    )
    caplog.clear()
    async with bot.client.post(path, params=query, data=body) as resp:
        assert resp.status == status
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].exc_info is None
    assert inbox_rows(bot) == []
