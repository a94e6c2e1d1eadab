"""The parts of `serve` that only the leading instance runs, started when it leads.

Reminders and digests (the scheduler), WeCom's long connection (one per bot) and the
recovery of messages an instance that died left unprocessed run on one instance only. Which
one is decided by `storage.leadership` (an advisory lock on PostgreSQL; on SQLite the only
process always leads). The others ask again every `retry` seconds, so one of them takes over
within seconds when the leader's process dies (its connection drops, its lock goes with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from storage.leadership import LeaderLock

log = logging.getLogger(__name__)

# How often a follower asks for the lead, and the leader checks it still holds it (seconds).
LEADER_RETRY = 2.0
# How often the leader looks for messages an instance that died left unprocessed (seconds).
ORPHAN_SWEEP = 60.0


class Service(Protocol):
    """A background part of the bot that runs between start() and stop()."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Leadership:
    """A service that runs `services` while this instance leads, and stops them when it no
    longer does; `on_change(leading)` is told each change."""

    def __init__(
        self,
        lock: LeaderLock,
        services: Sequence[Service],
        *,
        on_change: Callable[[bool], None] | None = None,
        retry: float = LEADER_RETRY,
    ) -> None:
        self._lock = lock
        self._services = list(services)
        self._on_change = on_change
        self._retry = retry
        self._started: list[Service] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.leading = False

    async def start(self) -> None:
        """Ask once now (a single instance leads before it listens), then keep asking."""
        if self._task is not None:
            return
        self._stop.clear()
        await self._check()
        self._task = asyncio.create_task(self._watch(), name="leadership")

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await self._step_down()
        await asyncio.to_thread(self._lock.release)

    async def _watch(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._retry)
            if not self._stop.is_set():
                await self._check()

    async def _check(self) -> None:
        try:
            if self.leading:
                if not await asyncio.to_thread(self._lock.still_held):
                    log.warning("this instance lost the lead")
                    await self._step_down()
            elif await asyncio.to_thread(self._lock.try_acquire):
                await self._take_lead()
        except Exception:
            log.exception("checking the lead failed")

    async def _take_lead(self) -> None:
        log.info("this instance leads: reminders, digests and the long connection run here")
        self.leading = True
        self._tell(True)
        for service in self._services:
            try:
                await service.start()
            except Exception:
                log.exception("starting %s failed", type(service).__name__)
                continue
            self._started.append(service)

    async def _step_down(self) -> None:
        was_leading, self.leading = self.leading, False
        while self._started:
            service = self._started.pop()
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        if was_leading:
            self._tell(False)

    def _tell(self, leading: bool) -> None:
        if self._on_change is not None:
            try:
                self._on_change(leading)
            except Exception:
                log.exception("leadership change callback failed")


class PeriodicTask:
    """Calls `run` at start and then every `every` seconds, until stopped (restartable)."""

    def __init__(self, name: str, run: Callable[[], Awaitable[object]], every: float) -> None:
        self.name = name
        self._run = run
        self._every = every
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self._run()
            except Exception:
                log.exception("%s failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._every)
