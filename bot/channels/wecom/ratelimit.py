"""Per-target sliding-window rate limiter with an injected clock; it never waits.

WeCom silently drops or rejects messages above its per-target quotas (20/min per group
robot, about 30/min per member for app messages), so we hold a message back instead.
Holding back is the outbox's job, not the sender's: a full window raises `RateLimited` with
the seconds until a slot frees, and the outbox worker defers that target's queue by as much
while it keeps delivering to everyone else. A sender that slept here would make every other
recipient wait for the slowest one. `aiolimiter` reads the event loop's clock directly and
cannot be driven by a FakeClock, so this small limiter is written here; it is exact (sliding
log), not approximate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.channels.base import RateLimited
from bot.core.clock import Clock

WEBHOOK_PER_MINUTE = 20
APP_MEMBER_PER_MINUTE = 30


class SlidingWindowLimiter:
    """At most `limit` acquisitions per `window` for each key.

    A district has thousands of members, each a key of the app limiter, so a key is kept
    only while it has a send inside the window: every `window` the limiter forgets the others.
    """

    def __init__(self, limit: int, window: timedelta, clock: Clock) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self._limit = limit
        self._window = window
        self._clock = clock
        self._stamps: dict[str, list[datetime]] = {}
        self._swept_at = clock.now()

    def __len__(self) -> int:
        """How many keys the limiter currently remembers."""
        return len(self._stamps)

    def _prune(self, stamps: list[datetime], now: datetime) -> list[datetime]:
        expired = 0
        while expired < len(stamps) and stamps[expired] + self._window <= now:
            expired += 1
        del stamps[:expired]
        return stamps

    def _wait_for(self, key: str, now: datetime) -> float:
        stamps = self._prune(self._stamps.get(key, []), now)
        if len(stamps) < self._limit:
            return 0.0
        return max((stamps[0] + self._window - now).total_seconds(), 0.0)

    def delay(self, key: str) -> float:
        """Seconds until `key` has room again (0 when it may go at once)."""
        return self._wait_for(key, self._clock.now())

    def acquire(self, *keys: str) -> None:
        """Take one slot for each key, or none of them and raise `RateLimited` if any is full.

        All or nothing, so a message to several members does not use up the slots of those
        with room while it waits for the one without.
        """
        now = self._clock.now()
        if now - self._swept_at >= self._window:
            self._forget_idle(now)
        wait = max((self._wait_for(key, now) for key in keys), default=0.0)
        if wait > 0:
            raise RateLimited(wait)
        for key in keys:
            self._stamps.setdefault(key, []).append(now)

    def _forget_idle(self, now: datetime) -> None:
        self._swept_at = now
        idle = [key for key, stamps in self._stamps.items() if not self._prune(stamps, now)]
        for key in idle:
            del self._stamps[key]


def webhook_limiter(clock: Clock) -> SlidingWindowLimiter:
    """20 messages per minute per group robot, WeCom's documented webhook quota."""
    return SlidingWindowLimiter(WEBHOOK_PER_MINUTE, timedelta(minutes=1), clock)


def app_member_limiter(clock: Clock) -> SlidingWindowLimiter:
    """30 app messages per minute per member; WeCom drops the excess without an error."""
    return SlidingWindowLimiter(APP_MEMBER_PER_MINUTE, timedelta(minutes=1), clock)
