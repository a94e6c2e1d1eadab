"""What the person running the bot sees: `/metrics` after real callbacks through the fakes,
log lines that name the message they belong to, and systemd told when the bot is ready."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli.harness import Speaker
from bot.core.clock import FakeClock
from bot.core.logs import log_handler
from bot.core.settings import Settings
from bot.runtime.sd_notify import SystemdNotifier
from bot.runtime.serve import RuntimeOptions, run_server
from storage import Storage
from storage.messaging import InboxStatus
from tests.fakes.wecom_api import Fault
from tests.fakes.world import ClockSleep, FakeWeCom

from .conftest import BOT_NAME, GROUP_HTTP, Bot, Seeded, StartBot, make_settings, signin_reply

TOKEN = "scrape-token-2026"
SEND = "/cgi-bin/message/send"
ALL_RECEIVERS_INVALID = 81013  # WeCom's answer when no recipient exists: not retryable


async def scrape(bot: Bot, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with bot.client.get("/metrics", headers=headers) as resp:
        return resp.status, await resp.text()


async def metric(bot: Bot, name: str, **labels: str) -> float:
    status, text = await scrape(bot)
    assert status == 200
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def test_metrics_are_off_without_a_token(start_bot: StartBot, seeded: Seeded) -> None:
    bot = await start_bot()
    assert (await scrape(bot))[0] == 404


async def test_metrics_need_the_token(
    start_bot: StartBot, seeded: Seeded, settings: Settings, fake: FakeWeCom
) -> None:
    bot = await start_bot(
        bot_settings=make_settings(settings.db, fake, JIAOYAN_METRICS_TOKEN=TOKEN)
    )
    assert (await scrape(bot, token=None))[0] == 401
    assert (await scrape(bot, token="guess"))[0] == 401
    status, text = await scrape(bot)
    assert status == 200 and "jiaoyan_inbox_backlog" in text


async def test_metrics_count_callbacks_sends_and_errcodes(
    start_bot: StartBot, seeded: Seeded, settings: Settings, fake: FakeWeCom
) -> None:
    bot = await start_bot(
        bot_settings=make_settings(settings.db, fake, JIAOYAN_METRICS_TOKEN=TOKEN)
    )
    accepted = {"channel": "aibot_http", "outcome": "accepted"}
    assert await metric(bot, "jiaoyan_callbacks_total", **accepted) == 0

    signin = bot.aibot_text("t1", f"{BOT_NAME} 签到 A1", chatid=GROUP_HTTP)
    assert await bot.post_aibot(signin) == (200, "")
    assert await bot.post_aibot(signin) == (200, "")  # WeCom's retry of the same message
    query, body = bot.fake.aibot.aibot_post(bot.aibot_text("t1", "签到"), bot.now_ts())
    query["msg_signature"] = "0" * 40  # not from WeCom
    async with bot.client.post("/wecom/aibot", params=query, data=body) as resp:
        assert resp.status >= 400

    assert await metric(bot, "jiaoyan_callbacks_total", **accepted) == 1
    assert (
        await metric(bot, "jiaoyan_callbacks_total", channel="aibot_http", outcome="duplicate") == 1
    )
    assert (
        await metric(bot, "jiaoyan_callbacks_total", channel="aibot_http", outcome="rejected") == 1
    )

    assert await bot.deliver() == 1
    assert bot.fake.response_texts() == [signin_reply("王芳")]
    assert await metric(bot, "jiaoyan_inbox_backlog") == 0
    assert await metric(bot, "jiaoyan_sends_total", channel="aibot_http", outcome="sent") == 1
    assert await metric(bot, "jiaoyan_send_seconds_count", channel="aibot_http") == 1

    # A private answer WeCom refuses for good: counted by errcode, the item given up.
    bot.fake.api.fail_next(Fault.error(ALL_RECEIVERS_INVALID, path=SEND))
    assert await bot.post_app(bot.app_text("t1", "我的记录")) == (200, "")
    await bot.deliver()
    assert await metric(bot, "jiaoyan_wecom_errors_total", errcode=str(ALL_RECEIVERS_INVALID)) == 1
    assert await metric(bot, "jiaoyan_outbox_items", status="failed") == 1
    assert await metric(bot, "jiaoyan_outbox_items", status="pending") == 0
    assert await metric(bot, "jiaoyan_sends_total", channel="app", outcome="gave_up") == 1


async def test_json_log_lines_carry_the_inbox_id(start_bot: StartBot, seeded: Seeded) -> None:
    bot = await start_bot()
    stream = io.StringIO()
    handler = log_handler("json", stream)
    handler.setLevel(logging.DEBUG)
    pipeline_log = logging.getLogger("bot.pipeline")
    previous = pipeline_log.level
    pipeline_log.addHandler(handler)
    pipeline_log.setLevel(logging.DEBUG)
    try:
        assert await bot.post_aibot(
            bot.aibot_text("t1", f"{BOT_NAME} 签到 A1", chatid=GROUP_HTTP)
        ) == (200, "")
        await bot.deliver()
        bot.app.pipeline.log_traffic()  # the traffic summary: outside any message
    finally:
        pipeline_log.removeHandler(handler)
        pipeline_log.setLevel(previous)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [inbox_id] = [row[0] for row in bot.storage.db.conn.execute("SELECT id FROM inbox")]
    processed = [
        entry for entry in lines if entry["message"].startswith(f"inbox {inbox_id} processed")
    ]
    assert len(processed) == 1
    entry = processed[0]
    assert entry["inbox_id"] == inbox_id and entry["level"] == "DEBUG"
    assert entry["logger"] == "bot.pipeline.inbox" and entry["time"].endswith("+00:00")
    [summary] = [entry for entry in lines if entry is not processed[0]]
    assert "accepted" in summary["message"] and "inbox_id" not in summary


async def test_systemd_hears_ready_after_recovery_and_stopping_at_shutdown(
    settings: Settings, seeded: Seeded, clock: FakeClock
) -> None:
    # A message the last run accepted but never processed: READY must wait for it.
    storage = Storage.open(settings.db)
    try:
        leftover = storage.inbox.record(Speaker(clock).incoming("t1", "我的记录"))
    finally:
        storage.close()
    assert leftover is not None

    with tempfile.TemporaryDirectory(prefix="sd") as folder:  # unix socket paths are short
        address = str(Path(folder) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
            systemd.bind(address)
            systemd.setblocking(False)
            stop = asyncio.Event()
            ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(
                run_server(
                    settings,
                    "127.0.0.1",
                    0,
                    stop=stop,
                    clock=clock,
                    options=RuntimeOptions(api_sleep=ClockSleep(clock), run_worker=False),
                    announce=lambda _line: None,
                    on_ready=ready.set_result,
                    notifier=SystemdNotifier(address),
                )
            )
            base_url = await asyncio.wait_for(ready, timeout=10)
            message = systemd.recv(4096).decode()
            assert message == f"READY=1\nSTATUS=正在服务 {base_url}"
            with closing(Storage.open(settings.db)) as reader:
                assert reader.inbox.status(leftover) is InboxStatus.PROCESSED
            with pytest.raises(BlockingIOError):
                systemd.recv(4096)  # nothing more while serving

            stop.set()
            assert await asyncio.wait_for(task, timeout=10) == 0
            assert systemd.recv(4096) == b"STOPPING=1"


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SystemdNotifier.from_environ({})
    assert not notifier.enabled and notifier.notify("READY=1") is False
