"""The per-target sliding-window limiter, driven by a fake clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.wecom.ratelimit import SlidingWindowLimiter
from tests.wecom.conftest import RecordingSleep


async def test_waits_only_as_long_as_the_oldest_slot_needs(
    clock: FakeClock, sleeper: RecordingSleep
) -> None:
    limiter = SlidingWindowLimiter(3, timedelta(minutes=1), clock, sleep=sleeper)
    for _ in range(2):
        await limiter.acquire("robot")
    clock.advance(timedelta(seconds=20))
    await limiter.acquire("robot")

    assert limiter.delay("robot") == 60.0 - 20.0
    await limiter.acquire("robot")  # the first two slots free up at 60 s
    assert sleeper.delays == [40.0]
    await limiter.acquire("robot")  # the second of the first two was freed too
    assert sleeper.delays == [40.0]
    assert limiter.delay("robot") == 20.0


async def test_keys_do_not_share_a_window(clock: FakeClock, sleeper: RecordingSleep) -> None:
    limiter = SlidingWindowLimiter(1, timedelta(minutes=1), clock, sleep=sleeper)
    await limiter.acquire("a")
    await limiter.acquire("b")
    assert sleeper.delays == []
    assert limiter.delay("a") == 60.0


async def test_concurrent_callers_of_one_key_queue_in_order(
    clock: FakeClock, sleeper: RecordingSleep
) -> None:
    limiter = SlidingWindowLimiter(2, timedelta(minutes=1), clock, sleep=sleeper)
    order: list[int] = []

    async def take(i: int) -> None:
        await limiter.acquire("robot")
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(5)))

    assert order == [0, 1, 2, 3, 4]
    assert sleeper.delays == [60.0, 60.0]


def test_rejects_nonsense_limits(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0, timedelta(minutes=1), clock)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(1, timedelta(0), clock)
