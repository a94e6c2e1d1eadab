"""The per-target sliding-window limiter, driven by a fake clock: it holds back, never waits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.channels.base import RateLimited
from bot.channels.wecom.ratelimit import SlidingWindowLimiter
from bot.core.clock import FakeClock


def test_holds_back_only_as_long_as_the_oldest_slot_needs(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(3, timedelta(minutes=1), clock)
    for _ in range(2):
        limiter.acquire("robot")
    clock.advance(timedelta(seconds=20))
    limiter.acquire("robot")

    with pytest.raises(RateLimited) as held:
        limiter.acquire("robot")
    assert held.value.retry_after == 60.0 - 20.0

    clock.advance(timedelta(seconds=40))  # the first two slots free up at 60 s
    limiter.acquire("robot")
    limiter.acquire("robot")
    assert limiter.delay("robot") == 20.0


def test_keys_do_not_share_a_window(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(1, timedelta(minutes=1), clock)
    limiter.acquire("a")
    limiter.acquire("b")
    assert limiter.delay("a") == 60.0
    with pytest.raises(RateLimited):
        limiter.acquire("a")


def test_several_keys_are_taken_all_or_none(clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(1, timedelta(minutes=1), clock)
    limiter.acquire("lisi")

    with pytest.raises(RateLimited):
        limiter.acquire("wangwu", "lisi")

    assert limiter.delay("wangwu") == 0.0  # its slot was not used up by the held message


def test_rejects_nonsense_limits(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0, timedelta(minutes=1), clock)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(1, timedelta(0), clock)


def test_forgets_members_whose_window_has_passed(clock: FakeClock) -> None:
    # A district sends to thousands of members; the limiter must not keep them all forever.
    limiter = SlidingWindowLimiter(30, timedelta(minutes=1), clock)
    for member in range(1_000):
        limiter.acquire(f"member{member}")
    assert len(limiter) == 1_000

    clock.advance(timedelta(seconds=59))
    limiter.acquire("late")
    assert len(limiter) == 1_001  # all still inside their window

    clock.advance(timedelta(seconds=2))
    limiter.acquire("next")
    assert len(limiter) == 2  # only "late" (sent 2 s ago) and "next" are remembered
