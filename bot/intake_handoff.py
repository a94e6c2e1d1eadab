"""The worker side of a two-process `serve`: take over what the intake process recorded.

An intake process pokes the worker after each commit (`wake`); the hand-off then moves the
new rows of every intake file (one per intake process, `storage.intake`) into the inbox, in
one commit with each file's hand-off mark (`InboxRepo.take_over`), and queues them in the
pipeline in the order they were received. A poll every `poll_seconds` covers
a poke that got lost, e.g. while the worker was restarting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.intake_writer import IntakeBusy
from bot.pipeline import Pipeline
from storage.intake import IntakeFile
from storage.messaging import InboxRepo

log = logging.getLogger(__name__)

CHUNK = 500  # rows moved per commit
POLL_SECONDS = 1.0
# While the intake process says it is saturated, handling trickles: at most TRICKLE rows per
# TRICKLE_SECONDS, so this process leaves the machine to the callbacks (WeCom wants its
# answer within 5 s; a reply can wait until the flood is over, the messages are durable).
TRICKLE = 20
TRICKLE_SECONDS = 0.1
# The pipeline holds at most this many taken-over messages; the rest wait in the intake file,
# so a long flood's backlog costs no memory here.
MAX_IN_PIPELINE = 1_000

WaitFor = Callable[[Awaitable[Any], float], Awaitable[Any]]


class IntakeHandoff:
    """A `Service` of the worker process: intake file → inbox → pipeline."""

    def __init__(
        self,
        intakes: Sequence[IntakeFile],
        inbox: InboxRepo,
        pipeline: Pipeline,
        *,
        poll_seconds: float = POLL_SECONDS,
        wait_for: WaitFor = asyncio.wait_for,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        busy: IntakeBusy | None = None,
    ) -> None:
        self._intakes = list(intakes)  # one per intake process
        self._inbox = inbox
        self._pipeline = pipeline
        self._poll_seconds = poll_seconds
        self._wait_for = wait_for
        self._sleep = sleep
        self._busy = busy or IntakeBusy(monotonic)
        self._woken = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self, busy: bool = False) -> None:
        """The intake process recorded something new (`busy`: while it is saturated)."""
        if busy:
            self._busy.mark()
        self._woken.set()

    @property
    def intake_busy(self) -> bool:
        return self._busy()

    def take_over(self, limit: int | None = None) -> int:
        """Move rows recorded since the last hand-off (at most `limit`, shared fairly between
        the intake files) into the inbox and queue the new ones; returns how many moved."""
        moved = 0
        while limit is None or moved < limit:
            wanted = CHUNK if limit is None else min(CHUNK, limit - moved)
            each = max(1, wanted // len(self._intakes))
            batches = {
                intake.shard: intake.after(self._inbox.taken_over_through(intake.shard), each)
                for intake in self._intakes
            }
            taken = sum(len(rows) for rows in batches.values())
            if not taken:
                break
            self._pipeline.adopt(self._inbox.take_over(batches))
            moved += taken
            if all(len(rows) < each for rows in batches.values()):
                break
        return moved

    async def start(self) -> None:
        for intake in self._intakes:
            if intake.last_id_ever() < self._inbox.taken_over_through(intake.shard):
                # A new intake file (the old one was deleted): take all of it. Messages seen
                # before are recognised by their msgid and not handled twice.
                log.warning("the intake file %s is new; taking over all of it", intake.path)
                self._inbox.take_over_reset(intake.shard)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="intake-handoff")

    async def stop(self) -> None:
        self._stopping = True
        self._woken.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping:
            self._woken.clear()
            busy = self.intake_busy
            room = MAX_IN_PIPELINE - self._pipeline.in_progress
            limit = min(TRICKLE, room) if busy else room
            try:
                full = limit > 0 and self.take_over(limit) >= limit
            except Exception:
                # The rows stay in the intake file: the next poke or poll tries again.
                log.exception("taking over new messages from the intake file failed")
                full = False
            if busy or full or limit <= 0:
                # More is waiting: come back after a pause (busy) or once the pipeline made
                # some room, without waiting for a poke.
                await self._sleep(TRICKLE_SECONDS)
                continue
            with contextlib.suppress(TimeoutError):
                await self._wait_for(self._woken.wait(), self._poll_seconds)
