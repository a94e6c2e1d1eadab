"""The per-target sliding-window limiter, driven by a fake clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.channels.wecom.ratelimit import SlidingWindowLimiter
from bot.core.clock import FakeClock
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


async def test_forgets_members_whose_window_has_passed(
    clock: FakeClock, sleeper: RecordingSleep
) -> None:
    # A district sends to thousands of members; the limiter must not keep them all forever.
    limiter = SlidingWindowLimiter(30, timedelta(minutes=1), clock, sleep=sleeper)
    for member in range(1_000):
        await limiter.acquire(f"member{member}")
    assert len(limiter) == 1_000

    clock.advance(timedelta(seconds=59))
    await limiter.acquire("late")
    assert len(limiter) == 1_001  # all still inside their window

    clock.advance(timedelta(seconds=2))
    await limiter.acquire("next")
    assert len(limiter) == 2  # only "late" (sent 2 s ago) and "next" are remembered
    assert sleeper.delays == []


async def test_a_forgotten_key_starts_with_a_full_window(
    clock: FakeClock, sleeper: RecordingSleep
) -> None:
    limiter = SlidingWindowLimiter(2, timedelta(minutes=1), clock, sleep=sleeper)
    await limiter.acquire("robot")
    await limiter.acquire("robot")
    clock.advance(timedelta(minutes=2))
    await limiter.acquire("other")  # sweeps "robot"
    await limiter.acquire("robot")
    await limiter.acquire("robot")
    await limiter.acquire("robot")  # the third in one window waits the full minute
    assert sleeper.delays == [60.0]


async def test_a_key_with_queued_callers_is_kept_while_they_wait(clock: FakeClock) -> None:
    delays: list[float] = []

    async def sleep_and_yield(seconds: float) -> None:
        delays.append(seconds)
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)  # let the other callers run while this one "waits"

    limiter = SlidingWindowLimiter(1, timedelta(minutes=1), clock, sleep=sleep_and_yield)
    order: list[str] = []

    async def take(key: str, tag: str) -> None:
        await limiter.acquire(key)
        order.append(tag)

    # The second and third "robot" callers wait a minute each; a sweep during their wait
    # (triggered by "other" once the clock passed the window) must not drop their queue.
    await asyncio.gather(
        take("robot", "r1"), take("robot", "r2"), take("robot", "r3"), take("other", "o1")
    )
    assert order == ["r1", "o1", "r2", "r3"]
    assert delays == [60.0, 60.0]
    assert len(limiter) == 2
