"""The worker process of a two-process `serve`: everything except answering WeCom's callbacks.

It runs the whole bot of `bot.serve` (pipeline, outbox worker, scheduler, long connection)
without the HTTP listener, and takes over the messages the intake process recorded in the
intake files (`bot.intake_handoff`) when poked over the link (`bot.worker_link`). It runs
at the lowest CPU priority (`lower_priority`) and only trickles while intake is saturated:
answering WeCom in time matters more than handling at once, and what waits is durable. Started by `bot.worker_supervisor` as
`python -m bot.worker_process LINK_FD PARENT_PID [-v]` with the pickled settings on stdin.

- It ends when the intake process ends: the link reaches end of file, and on Linux the kernel
  also kills it at once if the parent dies (kill -9 of `serve` is then kill -9 of both).
- Only one worker runs per database: a lock file beside it is held while running, so a
  restarted `serve` cannot deliver the same outbox twice while an old worker still stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import pickle
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bot.intake_handoff import IntakeHandoff
from bot.intake_writer import IntakeBusy
from bot.libc import die_with_parent
from bot.serve import Runtime, RuntimeOptions, open_runtime
from bot.settings import Settings
from bot.worker_link import StatusReporter, WorkerEnd
from storage.intake import IntakeFile, intake_shards

log = logging.getLogger("bot.worker_process")  # not "__main__" when run with -m

LOG_FORMAT = "%(asctime)s %(levelname)s [worker] %(name)s: %(message)s"
# Where SCHED_IDLE is not available: far below the intake process.
WORKER_NICENESS = 19

Sleep = Callable[[float], Awaitable[Any]]


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".worker-lock")


@contextlib.contextmanager
def worker_lock(db: Path) -> Iterator[None]:
    """Hold the database's worker lock, waiting while another worker still has it."""
    import fcntl

    path = lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another worker process is still running on %s; waiting for it", db)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lower_priority() -> None:
    """Run on CPU time the intake process leaves: Linux's SCHED_IDLE class, so a callback
    arriving preempts the worker at once; elsewhere a high nice value."""
    sched_idle = getattr(os, "SCHED_IDLE", None)
    if sched_idle is not None:
        try:
            os.sched_setscheduler(0, sched_idle, os.sched_param(0))
            return
        except OSError:
            log.warning("SCHED_IDLE refused; running the worker at nice %d", WORKER_NICENESS)
    os.nice(WORKER_NICENESS)


async def run_worker(
    settings: Settings,
    link: socket.socket,
    *,
    options: RuntimeOptions | None = None,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Run the bot's background side until the link closes or a signal comes."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    end = WorkerEnd(*await asyncio.open_connection(sock=link))
    # The supervisor passes how many intake processes run; files of earlier ones are read too.
    shards = intake_shards(settings.db, settings.intake_processes or 1)
    intakes = [IntakeFile(settings.db, shard) for shard in shards]
    try:
        # The intake process answers HTTP; the worker builds no routes (nor loads wechatpy).
        # Nor does it force the disk while the intake is saturated (`storage.checkpoint`).
        busy = IntakeBusy()
        options = dataclasses.replace(
            options or RuntimeOptions(), http_routes=False, defer_checkpoints=busy
        )
        async with open_runtime(settings, options=options) as runtime:
            app = runtime.app
            handoff = IntakeHandoff(intakes, app.inbox, app.pipeline, busy=busy)
            runtime.services.append(handoff)  # started after recovery, stopped first
            listening = asyncio.create_task(_read_pokes(end, handoff, stop), name="worker-link")
            await runtime.start()
            reporter = asyncio.create_task(
                StatusReporter(end, lambda: _status(runtime)).run(sleep), name="worker-status"
            )
            log.info("worker process running")
            await stop.wait()
            for task in (listening, reporter):
                task.cancel()
            await asyncio.gather(listening, reporter, return_exceptions=True)
    finally:
        for intake in intakes:
            intake.close()
        end.close()
    log.info("worker process stopped")
    return 0


def _status(runtime: Runtime) -> dict[str, Any]:
    return {"state": "running", "long_connection": runtime.long_connection_state}


async def _read_pokes(end: WorkerEnd, handoff: IntakeHandoff, stop: asyncio.Event) -> None:
    await end.read_pokes(handoff.wake)
    log.info("the intake process closed the link; stopping")
    stop.set()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.worker_process")
    parser.add_argument("link_fd", type=int)
    parser.add_argument("parent_pid", type=int)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format=LOG_FORMAT)
    die_with_parent(args.parent_pid)
    lower_priority()
    try:
        # Written by our own parent on a pipe nobody else holds.
        settings = pickle.load(sys.stdin.buffer)
    except (EOFError, pickle.UnpicklingError):
        settings = None
    if not isinstance(settings, Settings):
        log.error("the worker process got no settings on stdin")
        return 2
    link = socket.socket(fileno=args.link_fd)
    with worker_lock(settings.db):
        gc.freeze()  # see bot.launch: the start-up heap stays out of full collections
        return asyncio.run(run_worker(settings, link))


if __name__ == "__main__":
    sys.exit(main())
