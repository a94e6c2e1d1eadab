"""Per-target sliding-window rate limiter with an injected clock and sleep.

WeCom silently drops or rejects messages above its per-target quotas (20/min per group
robot, about 30/min per member for app messages), so we wait before sending instead.
`aiolimiter` reads the event loop's clock directly and cannot be driven by a FakeClock,
so this small limiter is written here; it is exact (sliding log), not approximate.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.clock import Clock

Sleep = Callable[[float], Awaitable[object]]

WEBHOOK_PER_MINUTE = 20
APP_MEMBER_PER_MINUTE = 30


class SlidingWindowLimiter:
    """At most `limit` acquisitions per `window` for each key; callers of one key queue FIFO."""

    def __init__(
        self,
        limit: int,
        window: timedelta,
        clock: Clock,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[datetime]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _prune(self, key: str, now: datetime) -> deque[datetime]:
        stamps = self._sent.setdefault(key, deque())
        while stamps and stamps[0] + self._window <= now:
            stamps.popleft()
        return stamps

    def delay(self, key: str) -> float:
        """Seconds the next acquisition for `key` would wait now (0 when it may go at once)."""
        now = self._clock.now()
        stamps = self._prune(key, now)
        if len(stamps) < self._limit:
            return 0.0
        return max((stamps[0] + self._window - now).total_seconds(), 0.0)

    async def acquire(self, key: str) -> None:
        """Wait until `key` has room in its window, then take one slot."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            while True:
                wait = self.delay(key)
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._sent[key].append(self._clock.now())


def webhook_limiter(clock: Clock, *, sleep: Sleep = asyncio.sleep) -> SlidingWindowLimiter:
    """20 messages per minute per group robot, WeCom's documented webhook quota."""
    return SlidingWindowLimiter(WEBHOOK_PER_MINUTE, timedelta(minutes=1), clock, sleep=sleep)


def app_member_limiter(clock: Clock, *, sleep: Sleep = asyncio.sleep) -> SlidingWindowLimiter:
    """30 app messages per minute per member; WeCom drops the excess without an error."""
    return SlidingWindowLimiter(APP_MEMBER_PER_MINUTE, timedelta(minutes=1), clock, sleep=sleep)
