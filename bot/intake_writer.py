"""The sink of the intake process of a two-process `serve`: record, poke the worker, answer.

Callbacks' messages go into the intake file (`storage.intake`), which no other process
writes, so a commit never waits for a lock: all callbacks of one loop turn share one commit
(`bot.group_commit`), and each is answered only after it. After a commit that stored
something new, `poke` tells the worker process to take the rows over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from bot.clock import Clock
from bot.group_commit import GroupCommit
from bot.messages import Incoming
from bot.pipeline import SATURATED_ARRIVALS
from bot.traffic_log import TrafficLog
from storage.checkpoint import INTAKE_TRUNCATE_ABOVE, WalCheckpointer
from storage.intake import IntakeFile
from storage.messaging import InboxRepo

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds
# The intake counts as busy (the worker then only trickles) when one commit holds a flood's
# worth of callbacks, or when this many arrive within BUSY_WINDOW seconds (500/s): a district's
# sign-in burst is answered first, its replies follow right after it.
BUSY_WINDOW = 0.1
BUSY_PER_WINDOW = 50
BUSY_FOR = 0.25  # seconds a busy commit counts (the worker trickles, checkpoints wait)


class Poke(Protocol):
    def __call__(self, *, busy: bool = False) -> None: ...


class IntakeBusy:
    """Whether an intake process found itself saturated within the last `BUSY_FOR` seconds:
    the intake writer marks it at a busy commit, the worker at a busy poke."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._until = -BUSY_FOR

    def mark(self) -> None:
        self._until = self._monotonic() + BUSY_FOR

    def __call__(self) -> bool:
        return self._monotonic() < self._until


class IntakeWriter:
    """`IncomingSink` that records messages for the worker process to handle."""

    def __init__(
        self, intake: IntakeFile, poke: Poke, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._intake = intake
        self._poke = poke
        self._monotonic = monotonic
        self._window_start = -BUSY_WINDOW
        self._in_window = 0
        # Called by the intake file's checkpointer: its disk syncs wait while this is true.
        self.busy = IntakeBusy(monotonic)
        self._commits: GroupCommit[Incoming, int | None] = GroupCommit(self._record)
        self._traffic = TrafficLog(log)

    async def submit(self, incoming: Incoming) -> bool:
        """Store the message durably; False when it was delivered before."""
        return await self._commits.submit(incoming) is not None

    def log_traffic(self) -> None:
        self._traffic.flush()

    def _record(self, messages: list[Incoming]) -> list[int | None]:
        try:
            ids = self._intake.record_many(messages)
        except Exception:
            log.exception("recording %d incoming message(s) failed", len(messages))
            raise
        new = sum(intake_id is not None for intake_id in ids)
        busy = self._busy(len(messages))
        if new:
            self._traffic.count("accepted", new)
            self._poke(busy=busy)
        if new < len(ids):
            self._traffic.count("duplicates ignored", len(ids) - new)
        return ids

    def _busy(self, arrived: int) -> bool:
        now = self._monotonic()
        if now - self._window_start >= BUSY_WINDOW:
            self._window_start, self._in_window = now, 0
        self._in_window += arrived
        busy = arrived >= SATURATED_ARRIVALS or self._in_window >= BUSY_PER_WINDOW
        if busy:
            self.busy.mark()
        return busy


class IntakeHousekeeping:
    """Keeps the intake file small, off the event loop's critical path: WAL checkpoints in a
    thread every second, except while `busy` (`storage.checkpoint`), and every `prune_every`
    seconds the rows the worker took over long ago are deleted (`IntakeFile.prune`)."""

    def __init__(
        self,
        intake: IntakeFile,
        inbox: InboxRepo,
        clock: Clock,
        *,
        busy: Callable[[], bool] | None = None,
        prune_every: float = PRUNE_EVERY,
    ) -> None:
        self._intake = intake
        self._inbox = inbox
        self._clock = clock
        self._prune_every = prune_every
        self._checkpointer = WalCheckpointer(
            intake.conn, intake.path, truncate_above=INTAKE_TRUNCATE_ABOVE, defer=busy
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def prune(self) -> int:
        try:
            mark = self._inbox.taken_over_through(self._intake.shard)
            pruned = self._intake.prune(mark, self._clock.now())
        except Exception:
            log.exception("pruning the intake file failed")
            return 0
        if pruned:
            log.info("pruned %d old message(s) from the intake file", pruned)
        return pruned

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._checkpointer.run(self._stop), name="intake-checkpoints"),
            asyncio.create_task(self._prune_regularly(), name="intake-prune"),
        ]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _prune_regularly(self) -> None:
        while not self._stop.is_set():
            self.prune()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._prune_every)
