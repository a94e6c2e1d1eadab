"""The intake process's side of a two-process `serve`: start the worker and keep it running.

The two processes share a socket pair (`bot.worker_link`): the intake process pokes the
worker after each commit to the intake file; the worker reports its state ("running" once
its recovery is done) and the long connection's for `/healthz`. When the intake process ends
the link reaches end of file and the worker stops too.
The settings go to the worker pickled on its stdin (a pipe only the two processes share), so
both run on exactly the same settings and no secret appears on a command line.
A worker that exits on its own is started again after `restart_delay` seconds, doubling up
to `MAX_RESTART_DELAY` while it keeps failing within a minute of its start; callbacks are
still recorded meanwhile, and the new worker takes them over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.settings import Settings
from bot.worker_link import IntakeEnd

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0
# Worker states in which /healthz says "ok" (starting: recovering what a crash left).
WORKER_HEALTHY = frozenset({"starting", "running"})
MAX_RESTART_DELAY = 60.0
STABLE_AFTER = 60.0  # a worker that ran this long resets the restart delay
STOP_TIMEOUT = 20.0  # the worker's own services get 15 s to stop

Sleep = Callable[[float], Awaitable[Any]]


def worker_command(child_fd: int, *, verbose: bool) -> list[str]:
    """The worker's command line: this interpreter, the link's fd, this process's pid."""
    command = [sys.executable, "-m", "bot.worker_process", str(child_fd), str(os.getpid())]
    return [*command, "-v"] if verbose else command


class WorkerSupervisor:
    """Runs `bot.worker_process` beside the HTTP intake and relays pokes and its status."""

    def __init__(
        self,
        settings: Settings,
        *,
        verbose: bool = False,
        restart_delay: float = RESTART_DELAY,
        stop_timeout: float = STOP_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._verbose = verbose
        self._restart_delay = restart_delay
        self._stop_timeout = stop_timeout
        self._sleep = sleep
        self._monotonic = monotonic
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._link: IntakeEnd | None = None
        self._stopping = False
        self.state = "starting"  # then "running"; "restarting" after a crash; "stopped"
        self.long_connection: str | None = None

    def poke(self, *, busy: bool = False) -> None:
        """Tell the worker the intake file has new rows (it also looks every second)."""
        if self._link is not None:
            self._link.poke(busy=busy)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="worker-supervisor")

    async def stop(self) -> None:
        """Close the link (the worker then stops by itself); kill it if it takes too long."""
        self._stopping = True
        if self._link is not None:
            self._link.close()
        process = self._process
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), self._stop_timeout)
            except TimeoutError:
                log.warning("worker process did not stop in %.0f s; killing it", self._stop_timeout)
                process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.state = "stopped"

    async def _supervise(self) -> None:
        delay = self._restart_delay
        while not self._stopping:
            began = self._monotonic()
            try:
                code: int | None = await self._run_once()
            except OSError:
                log.exception("could not start the worker process")
                code = None
            if self._stopping:
                return
            if self._monotonic() - began >= STABLE_AFTER:
                delay = self._restart_delay
            log.error(
                "worker process ended (exit code %s); starting it again in %.0f s", code, delay
            )
            self.state = "restarting"
            self.long_connection = None
            await self._sleep(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY)

    async def _run_once(self) -> int:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *worker_command(theirs.fileno(), verbose=self._verbose),
                stdin=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._process = process
        self.state = "starting"
        assert process.stdin is not None
        with contextlib.suppress(ConnectionError):
            process.stdin.write(pickle.dumps(self._settings))
            await process.stdin.drain()
            process.stdin.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        link = self._link = IntakeEnd(reader, writer)
        listening = asyncio.create_task(link.read_status(self._apply), name="worker-status")
        try:
            return await process.wait()
        finally:
            self._link = None
            link.close()
            await asyncio.gather(listening, return_exceptions=True)

    def _apply(self, status: dict[str, Any]) -> None:
        state = status.get("state")
        if isinstance(state, str) and not self._stopping:
            self.state = state
        connection = status.get("long_connection")
        if connection is None or isinstance(connection, str):
            self.long_connection = connection
