"""Moving a simulated clock through time so that everything due fires at its own instant.

Used by `jiaoyan-bot simulate`, the demo and tests: instead of sleeping, the clock jumps from
one due instant to the next, running what is due at each, so a week takes a second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.core.clock import FakeClock
from scheduling.scheduler import ReminderScheduler

AfterEach = Callable[[], Awaitable[object]]


async def advance_clock(
    scheduler: ReminderScheduler,
    clock: FakeClock,
    target: datetime,
    *,
    after_each: AfterEach | None = None,
) -> int:
    """Run what is due now, then at every due instant up to `target`, ending at `target`.

    `after_each` runs after every round (e.g. the outbox worker's `run_once`, so messages go
    out at the simulated time they were queued). Returns how many items were sent.
    """
    if target < clock.now():
        raise ValueError(f"cannot move the clock back from {clock.now()} to {target}")
    sent = await _round(scheduler, after_each)
    while (upcoming := scheduler.next_due_after(clock.now(), target)) is not None:
        clock.set(upcoming)
        sent += await _round(scheduler, after_each)
    if clock.now() < target:
        clock.set(target)
        sent += await _round(scheduler, after_each)
    return sent


async def _round(scheduler: ReminderScheduler, after_each: AfterEach | None) -> int:
    sent = await scheduler.run_due()
    if after_each is not None:
        await after_each()
    return sent
