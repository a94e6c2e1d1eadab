"""Benchmark 6: a member's reply while another member is flooded with 300 replies.

The real outbox worker, app sender and per-member limiter (30 messages a minute, as WeCom
allows) deliver to the fake WeCom API, which drops anything above that quota. The victim's
reply is timed from its enqueue to its arrival at the fake API, first alone (the baseline,
same run) and then queued behind 300 replies to one other member; the ratio compares them.
Before fair delivery the second case waited for the flooder's nine further windows (~9 min).
Each wait is bounded (`LIMIT` seconds), so a regression reports MISSED instead of hanging.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from bench.report import Report
from bench.world import serve_fake
from bot.channels.app_sender import AppSender
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.ratelimit import APP_MEMBER_PER_MINUTE, app_member_limiter
from bot.core.clock import SystemClock
from bot.core.messages import Channel, Outgoing, TargetKind
from bot.core.settings import Settings
from bot.runtime.app import App, create_app
from tests.fakes.wecom_api import DEFAULT_AGENT_ID, DEFAULT_APP_SECRET, DEFAULT_CORP_ID
from tests.fakes.world import FakeWeCom

SECTION = "6. Fair delivery (a reply behind 300 replies to another member)"
FLOOD = 300
LIMIT = 10.0  # seconds any one wait may take before the figure counts as missed


def _reply(member: str, text: str) -> Outgoing:
    return Outgoing(channel=Channel.APP, target_kind=TargetKind.USER, target=member, text=text)


async def _victim_latency(app: App, fake: FakeWeCom, victim: str) -> float | None:
    """Real seconds from queueing the victim's reply to WeCom receiving it (None: too late)."""
    began = time.monotonic()
    app.outbox.enqueue([_reply(victim, "你的签到已记录")], SystemClock().now())
    app.worker.wake()
    while not any(m.target == victim for m in fake.api.messages):
        if time.monotonic() - began > LIMIT:
            return None
        await asyncio.sleep(0.001)
    return time.monotonic() - began


async def run(report: Report, work: Path) -> None:
    clock = SystemClock()
    async with serve_fake(clock) as fake, aiohttp.ClientSession() as session:
        fake.api.member_per_minute = APP_MEMBER_PER_MINUTE  # WeCom's quota, enforced here
        client = WeComClient(session, fake.api_base, DEFAULT_CORP_ID, clock)
        sender = AppSender(
            client,
            DEFAULT_APP_SECRET,
            DEFAULT_AGENT_ID,
            member_limiter=app_member_limiter(clock),
        )
        settings = Settings(_env_file=None, JIAOYAN_DB=work / "fairness.db")  # type: ignore[call-arg]
        app = create_app(settings, clock=clock, senders={Channel.APP: sender})
        stop = asyncio.Event()
        worker = asyncio.create_task(app.worker.run(stop))
        try:
            alone = await _victim_latency(app, fake, "victim-alone")
            app.outbox.enqueue([_reply("flooder", f"回复 {i}") for i in range(FLOOD)], clock.now())
            flooded = await _victim_latency(app, fake, "victim")
            flood_sent = sum(m.target == "flooder" for m in fake.api.messages)
        finally:
            stop.set()
            app.worker.wake()
            await worker
            app.storage.close()
        _report(report, alone, flooded, flood_sent, len(fake.api.dropped))


def _report(
    report: Report, alone: float | None, flooded: float | None, flood_sent: int, dropped: int
) -> None:
    def ms(seconds: float | None) -> str:
        return f"> {LIMIT:.0f} s" if seconds is None else f"{seconds * 1000:.1f} ms"

    report.add(SECTION, "victim's reply, nobody else queued (baseline)", ms(alone))
    ratio = "" if alone is None or flooded is None else f" = {flooded / alone:.1f}x baseline"
    report.add(
        SECTION,
        f"victim's reply behind {FLOOD} replies to another member",
        f"{ms(flooded)}{ratio}; flooder got {flood_sent} (its quota), WeCom dropped {dropped}",
        target="< 1 s, none dropped",
        ok=flooded is not None and flooded < 1.0 and dropped == 0,
        command="python -m bench --only fairness",
    )
