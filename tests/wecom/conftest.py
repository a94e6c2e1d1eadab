"""Fixtures for the WeCom API client and senders: a fake WeCom on 127.0.0.1, a fake clock."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.channels.wecom.client import WeComClient
from bot.core.clock import FakeClock
from tests.fakes.wecom_api import DEFAULT_CORP_ID, FakeWeComAPI


class RecordingSleep:
    """Stands in for asyncio.sleep: records each delay and moves the fake clock by it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 3, 0, 30, tzinfo=UTC))


@pytest.fixture
def sleeper(clock: FakeClock) -> RecordingSleep:
    return RecordingSleep(clock)


@pytest.fixture
def fake_api(clock: FakeClock) -> FakeWeComAPI:
    return FakeWeComAPI(clock)


@pytest.fixture
async def wecom_server(
    fake_api: FakeWeComAPI, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> TestServer:
    return await aiohttp_server(fake_api.make_app(), host="127.0.0.1")


@pytest.fixture
def base_url(wecom_server: TestServer) -> str:
    return str(wecom_server.make_url("")).rstrip("/")


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_client(
    http_session: aiohttp.ClientSession, base_url: str, clock: FakeClock, sleeper: RecordingSleep
) -> Callable[..., WeComClient]:
    def make(**overrides: Any) -> WeComClient:
        options: dict[str, Any] = {"sleep": sleeper, "rng": random.Random(7)}
        options.update(overrides)
        return WeComClient(http_session, base_url, DEFAULT_CORP_ID, clock, **options)

    return make


@pytest.fixture
def client(make_client: Callable[..., WeComClient]) -> WeComClient:
    return make_client()
