"""The fake WeCom API the benchmarks run against, served by the benchmark process itself so
it can read what WeCom "received". The bot under test uses the real clock, so seeded
activities are placed around the real `now` (`tests.fakes.campus`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from bot.core.clock import Clock, SystemClock
from tests.fakes.campus import BOT_NAME, GROUP_HTTP, REFLECTION, Campus, seed_campus
from tests.fakes.world import FakeWeCom, api_application, new_fake_wecom

__all__ = ["BOT_NAME", "GROUP_HTTP", "REFLECTION", "Campus", "seed_campus", "serve_fake"]


@contextlib.asynccontextmanager
async def serve_fake(clock: Clock | None = None) -> AsyncIterator[FakeWeCom]:
    """The fake WeCom API (with response_url) on a free loopback port, for the bot to call."""
    fake = new_fake_wecom(clock or SystemClock())
    fake.api.member_per_minute = 10**9  # the bench measures us, not WeCom's member quota
    runner = web.AppRunner(api_application(fake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.api_base = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
