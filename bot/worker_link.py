"""The links between the processes of `serve`: socket pairs.

- intake → worker: one byte (`POKE`) after a commit that recorded something new in the intake
  file; end of file when the intake process ends, so the worker stops too.
- worker → intake: JSON lines with what `/healthz` shows: `{"state": "running",
  "long_connection": "connected"}`.

The other intake processes speak the same protocol with the first one (`bot.intake_processes`),
which relays their pokes to the worker and sends them the status `/healthz` shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

POKE = b"\x01"
BUSY_POKE = b"\x02"  # the commit held a flood's worth of callbacks: the intake is saturated
_READ = 4096

STATUS_INTERVAL = 0.5  # seconds between looks at the status

StatusHandler = Callable[[dict[str, Any]], None]
Sleep = Callable[[float], Awaitable[Any]]


class IntakeEnd:
    """The intake process's end of the link to one worker process."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    def poke(self, *, busy: bool = False) -> None:
        """Wake the worker; skipped while an earlier poke is still unsent (one is enough)."""
        writer = self._writer
        if not writer.is_closing() and writer.transport.get_write_buffer_size() == 0:
            writer.write(BUSY_POKE if busy else POKE)

    async def read_status(self, on_status: StatusHandler) -> None:
        """Pass each status line to `on_status` until the worker closes its end."""
        try:
            while line := await self._reader.readline():
                try:
                    status = json.loads(line)
                except ValueError:
                    log.warning("unreadable status line from the worker process")
                    continue
                if isinstance(status, dict):
                    on_status(status)
        except (ConnectionError, ValueError):
            log.warning("the link to the worker process broke")

    def close(self) -> None:
        self._writer.close()


class WorkerEnd:
    """The worker process's end: pokes in, status lines out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read_pokes(self, wake: Callable[[bool], None]) -> None:
        """Call `wake(busy)` for every batch of pokes until the intake process closes its end;
        `busy` when the last of them says the intake is saturated."""
        try:
            while data := await self._reader.read(_READ):
                wake(data[-1:] == BUSY_POKE)
        except ConnectionError:
            pass

    def send_status(self, status: dict[str, Any]) -> None:
        if not self._writer.is_closing():
            self._writer.write(json.dumps(status).encode() + b"\n")

    def close(self) -> None:
        self._writer.close()


class StatusReporter:
    """Sends `status()` over the link whenever it changes."""

    def __init__(self, end: WorkerEnd, status: Callable[[], dict[str, Any]]) -> None:
        self._end = end
        self._status = status
        self._sent: dict[str, Any] | None = None

    def report(self) -> None:
        status = self._status()
        if status != self._sent:
            self._end.send_status(status)
            self._sent = status

    async def run(self, sleep: Sleep) -> None:
        while True:
            self.report()
            await sleep(STATUS_INTERVAL)
