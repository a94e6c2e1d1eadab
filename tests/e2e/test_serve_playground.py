"""`serve` without any WeCom settings offers the playground page on this machine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.core.clock import FakeClock
from storage import Storage
from tests.fakes.small_alliance import GROUP, seed_small_alliance

from .conftest import make_settings
from .test_serve import serve_in_background


async def test_serve_without_wecom_serves_the_playground_page(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = make_settings(tmp_path / "bot.db")
    storage = Storage.open(settings.db)
    seed_small_alliance(storage, clock.now())
    storage.close()
    lines: list[str] = []
    task, stop, base_url = await serve_in_background(settings, clock, lines)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base_url}/playground/") as page:
                assert page.status == 200 and '"movable": false' in await page.text()
            socket = await session.ws_connect(f"{base_url}/playground/ws")
            async with session.post(
                f"{base_url}/playground/api/send",
                json={"userid": "t1", "chat": GROUP, "text": "帮助"},
            ) as sent:
                assert sent.status == 200
            # The background outbox worker delivers the answer to the page, as to WeCom.
            while (update := await socket.receive_json(timeout=10))["message"]["from_bot"] is False:
                pass
            assert update["message"]["chat"] == GROUP and "签到" in update["message"]["html"]
            async with session.post(f"{base_url}/playground/api/clock", json={"hours": 1}) as moved:
                assert moved.status == 400
                assert "真实时间" in (await moved.json())["error"]
            await socket.close()
    finally:
        stop.set()
        assert await asyncio.wait_for(task, timeout=10) == 0
    assert (
        f"没有配置企业微信，可在本机浏览器打开体验页：{base_url}/playground/（只对本机开放，按真实时间运行）"
        in lines
    )
