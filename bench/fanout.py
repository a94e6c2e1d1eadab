"""Benchmark 5: a notice fanned out to 300 groups, each reached by its own group robot,
under WeCom's quota of 20 messages per minute per robot.

The real router (通知 全部 …), outbox, worker, webhook sender and its per-robot limiter,
against the fake API, which enforces the same quota and answers errcode 130101 above it.
To measure "as fast as the limits allow" without waiting minutes, both sides share a clock
that runs 60x real time (one simulated minute per real second) and the outbox worker's waits
for a robot's window are divided by 60; simulated times are reported beside the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp

from bench.report import Report
from bench.world import seed_campus, serve_fake
from bot.channels.base import Sender
from bot.channels.console_sender import ConsoleSender
from bot.channels.webhook import WebhookSender
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.ratelimit import webhook_limiter
from bot.core.messages import Channel, ChatType, Incoming
from bot.core.settings import Settings
from bot.runtime.app import create_app
from storage import Storage
from tests.fakes.wecom_api import DEFAULT_CORP_ID, webhook_url

SECTION = "5. Notice fan-out to 300 groups (webhook robots, 20/min each)"
GROUPS = 300
SPEED = 60.0  # simulated seconds per real second


class FastClock:
    """Real time, running SPEED times faster from the moment it is made."""

    def __init__(self, speed: float = SPEED) -> None:
        self._speed = speed
        self._origin = datetime.now().astimezone()
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._began) * self._speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self._speed)


async def run(report: Report, work: Path) -> None:
    clock = FastClock()
    async with serve_fake(clock) as fake, aiohttp.ClientSession() as session:
        keys = [f"robot-{i:03d}" for i in range(GROUPS)]
        fake.api.webhook_keys = set(keys)
        db = work / "fanout.db"
        campus = seed_campus(db, clock.now(), 10, bind_callback_group=False)
        storage = Storage.open(db)
        for key in keys:
            storage.chats.bind(
                f"wrk-{key}",
                Channel.WEBHOOK.value,
                campus.alliance_id,
                bound_by="admin1",
                at=clock.now(),
                webhook_url=webhook_url(fake.api_base, key),
            )
        client = WeComClient(session, fake.api_base, DEFAULT_CORP_ID, clock, sleep=clock.sleep)
        senders: dict[Channel, Sender] = {
            Channel.WEBHOOK: WebhookSender(client, webhook_limiter(clock)),
            Channel.CONSOLE: ConsoleSender(lambda _line: None),
        }
        settings = Settings(_env_file=None, JIAOYAN_DB=db)  # type: ignore[call-arg]
        app = create_app(
            settings, clock=clock, senders=senders, storage=storage, worker_sleep=clock.sleep
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(app.worker.run(stop))
        try:
            for notices in (1, 25):
                before = len(fake.api.messages)
                errors_before = len(fake.api.errors)
                began, sim_began = time.monotonic(), clock.now()
                for n in range(notices):
                    incoming = Incoming(
                        channel=Channel.CONSOLE,
                        msgid=f"n{notices}-{n}-{time.time_ns()}",
                        userid="staff1",
                        text=f"通知 全部 第{n + 1}次通知：周五下午两点在东部一小集体备课。",
                        chat_type=ChatType.SINGLE,
                        received_at=clock.now(),
                    )
                    await app.pipeline.handle_now(incoming)
                expected = GROUPS * notices
                while len(fake.api.messages) - before < expected and app.outbox.pending_count():
                    await asyncio.sleep(0.01)
                while len(fake.api.messages) - before < expected:
                    await asyncio.sleep(0.01)
                real = time.monotonic() - began
                simulated = (clock.now() - sim_began).total_seconds()
                got = Counter(m.target for m in fake.api.messages[before:])
                in_order = all(
                    [m.content for m in fake.api.messages[before:] if m.target == key]
                    == sorted(
                        [m.content for m in fake.api.messages[before:] if m.target == key],
                        key=lambda c: int(str(c).split("第")[1].split("次")[0]),
                    )
                    for key in keys[:20]
                )
                refused = fake.api.errors[errors_before:].count(130101)
                report.add(
                    SECTION,
                    f"{notices} notice(s) x {GROUPS} groups = {expected:,} messages",
                    f"{real:.1f} s real = {simulated / 60:.1f} simulated min; "
                    f"{sum(got.values()):,} delivered, every group {set(got.values())} time(s) each, "
                    f"in order {in_order}, lost {expected - sum(got.values())}, "
                    f"over-quota refusals {refused}",
                    target="none lost or doubled, in order, no 130101",
                    ok=set(got.values()) == {notices}
                    and len(got) == GROUPS
                    and in_order
                    and not refused,
                )
        finally:
            stop.set()
            app.worker.wake()
            await worker
            storage.close()
