"""`python -m bench.refusals`: what junk costs the app callback before it is refused.

One process, loopback, the real `AppCallback` behind aiohttp, real encryption and signatures
(`tests/fakes/wecom_crypto.py`). Sequential requests, so each figure is one request's full
round trip. Compared in the same run: a valid text callback (the baseline), a junk megabyte
(413 by its Content-Length), 63 KiB of XML elements with a wrong signature (403 after the
bounded scan), and — for the record — what a full XML parse of that body alone costs, which
is what the callback did before the scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.report import machine
from bot.channels.app_callback import AppCallback
from bot.channels.wecom.callback_security import parse_xml_fields
from bot.core.clock import FakeClock
from bot.core.messages import Incoming
from tests.fakes.wecom_crypto import WeComSide, app_text_xml, new_encoding_aes_key

ROUNDS = 300
TOKEN = "bench-token"
CORP_ID = "wwbench"
NOW = 1_790_000_000
JUNK_MEGABYTE = b"<xml>" + b"<a>x</a>" * 131_072 + b"</xml>"
JUNK_SIGNED = b"<xml>" + b"<a>x</a>" * 8_000 + b"<Encrypt>QUJD</Encrypt></xml>"


class _CountingSink:
    def __init__(self) -> None:
        self.accepted = 0

    async def submit(self, incoming: Incoming) -> bool:
        self.accepted += 1
        return True


async def _median_ms(send: Callable[[int], Awaitable[int]], expected: int) -> float:
    times = []
    for index in range(ROUNDS):
        started = time.perf_counter()
        status = await send(index)
        times.append(time.perf_counter() - started)
        assert status == expected, (status, expected)
    return statistics.median(times) * 1000


def _parse_ms(body: bytes) -> float:
    times = []
    for _ in range(20):
        started = time.perf_counter()
        with contextlib.suppress(Exception):  # the point is the time spent, not the outcome
            parse_xml_fields(body)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def run() -> None:
    key = new_encoding_aes_key()
    wecom = WeComSide(TOKEN, key, CORP_ID)
    clock = FakeClock(datetime.fromtimestamp(NOW, UTC))
    app = web.Application()
    AppCallback(TOKEN, key, CORP_ID, "1000002", _CountingSink(), clock).add_routes(app)
    server = TestServer(app)
    await server.start_server()
    url = str(server.make_url("/wecom/app"))
    logging.disable(logging.WARNING)  # one line per refusal would be the bench's cost
    try:
        async with aiohttp.ClientSession() as session:

            async def post(query: dict[str, str], body: bytes | str) -> int:
                async with session.post(url, params=query, data=body) as resp:
                    await resp.read()
                    return resp.status

            def valid(index: int) -> Awaitable[int]:
                xml = app_text_xml(
                    corp_id=CORP_ID, from_user="u1", content="签到", msg_id=str(index)
                )
                return post(*wecom.app_post(xml, NOW))

            good_query, _ = wecom.app_post(
                app_text_xml(corp_id=CORP_ID, from_user="u1", content="x"), NOW
            )
            baseline = await _median_ms(valid, 200)
            megabyte = await _median_ms(lambda _: post(good_query, JUNK_MEGABYTE), 413)
            signed = await _median_ms(lambda _: post(good_query, JUNK_SIGNED), 403)
    finally:
        logging.disable(logging.NOTSET)
        await server.close()
    parse = _parse_ms(JUNK_MEGABYTE)
    print(f"Machine: {machine()}")
    print(f"valid text callback (baseline):        {baseline:6.2f} ms median of {ROUNDS}")
    print(
        f"junk megabyte, 413:                    {megabyte:6.2f} ms  ({megabyte / baseline:.2f}x)"
    )
    print(f"63 KiB XML, wrong signature, 403:      {signed:6.2f} ms  ({signed / baseline:.2f}x)")
    print(f"full XML parse of the megabyte alone:  {parse:6.2f} ms  ({parse / baseline:.2f}x)")


if __name__ == "__main__":
    asyncio.run(run())
