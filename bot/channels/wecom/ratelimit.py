"""Per-target sliding-window rate limiter with an injected clock and sleep.

WeCom silently drops or rejects messages above its per-target quotas (20/min per group
robot, about 30/min per member for app messages), so we wait before sending instead.
`aiolimiter` reads the event loop's clock directly and cannot be driven by a FakeClock,
so this small limiter is written here; it is exact (sliding log), not approximate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.clock import Clock

Sleep = Callable[[float], Awaitable[object]]

WEBHOOK_PER_MINUTE = 20
APP_MEMBER_PER_MINUTE = 30


@dataclass(slots=True)
class _Target:
    """One key's recent sends, and the queue of callers waiting for room (only while any)."""

    stamps: list[datetime] = field(default_factory=list)
    lock: asyncio.Lock | None = None
    waiting: int = 0


class SlidingWindowLimiter:
    """At most `limit` acquisitions per `window` for each key; callers of one key queue FIFO.

    A district has thousands of members, each a key of the app limiter, so a key is kept
    only while it has a send inside the window or a caller waiting: every `window` the
    limiter forgets the others, and a lock exists only while callers queue for one key.
    """

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
        self._targets: dict[str, _Target] = {}
        self._swept_at = clock.now()

    def __len__(self) -> int:
        """How many keys the limiter currently remembers."""
        return len(self._targets)

    def _prune(self, target: _Target, now: datetime) -> list[datetime]:
        stamps = target.stamps
        expired = 0
        while expired < len(stamps) and stamps[expired] + self._window <= now:
            expired += 1
        del stamps[:expired]
        return stamps

    def _wait_for(self, target: _Target, now: datetime) -> float:
        stamps = self._prune(target, now)
        if len(stamps) < self._limit:
            return 0.0
        return max((stamps[0] + self._window - now).total_seconds(), 0.0)

    def delay(self, key: str) -> float:
        """Seconds the next acquisition for `key` would wait now (0 when it may go at once)."""
        target = self._targets.get(key)
        return 0.0 if target is None else self._wait_for(target, self._clock.now())

    async def acquire(self, key: str) -> None:
        """Wait until `key` has room in its window, then take one slot."""
        now = self._clock.now()
        if now - self._swept_at >= self._window:
            self._forget_idle(now)
        target = self._targets.setdefault(key, _Target())
        if not target.waiting and self._wait_for(target, now) == 0:
            target.stamps.append(now)
            return
        target.waiting += 1
        if target.lock is None:
            target.lock = asyncio.Lock()
        try:
            async with target.lock:
                while (wait := self._wait_for(target, self._clock.now())) > 0:
                    await self._sleep(wait)
                target.stamps.append(self._clock.now())
        finally:
            target.waiting -= 1
            if not target.waiting:
                target.lock = None

    def _forget_idle(self, now: datetime) -> None:
        self._swept_at = now
        idle = [
            key
            for key, target in self._targets.items()
            if not target.waiting and not self._prune(target, now)
        ]
        for key in idle:
            del self._targets[key]


def webhook_limiter(clock: Clock, *, sleep: Sleep = asyncio.sleep) -> SlidingWindowLimiter:
    """20 messages per minute per group robot, WeCom's documented webhook quota."""
    return SlidingWindowLimiter(WEBHOOK_PER_MINUTE, timedelta(minutes=1), clock, sleep=sleep)


def app_member_limiter(clock: Clock, *, sleep: Sleep = asyncio.sleep) -> SlidingWindowLimiter:
    """30 app messages per minute per member; WeCom drops the excess without an error."""
    return SlidingWindowLimiter(APP_MEMBER_PER_MINUTE, timedelta(minutes=1), clock, sleep=sleep)
