"""Several intake processes on one port, so answering WeCom can use every core.

Why: one intake process verifies, decrypts and records callbacks on one core; under a flood it
was the bottleneck while the machine's other core sat half idle. Linux's SO_REUSEPORT lets
several sockets listen on one port and spreads new connections between them, so `serve` forks
more intake processes, each with its own socket and its own intake file (shard k,
`storage.intake`); the worker reads them all.

- The first process binds every socket before forking, so a port in use is reported before
  anything runs, and with port 0 all of them share the port the first one got.
- It forks before its event loop starts and right after `gc.freeze()`: the others share its
  loaded modules instead of loading their own.
- Each forked process keeps only its own socket and a link to the first process
  (`bot.worker_link`). The first relays its pokes to the worker and sends it the status
  `/healthz` shows. It stops when that link closes, and on Linux dies with the first process.
- An intake process that dies takes its socket with it: the kernel then gives its share of
  the connections to the others, and `/healthz` reports the service as degraded.

Elsewhere SO_REUSEPORT does not spread connections (BSD and macOS give them all to one
socket), so there is one intake process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot.libc import die_with_parent
from bot.settings import Settings
from bot.worker_link import StatusReporter, WorkerEnd

log = logging.getLogger(__name__)

DEFAULT_AT_MOST = 2  # beyond two, wrk-like floods showed no gain on small servers
BACKLOG = 128  # aiohttp's default
STOP_TIMEOUT = 10.0

# Runs forked intake process `shard` on its socket and its end of the link; its exit code.
RunShard = Callable[[int, socket.socket, socket.socket], int]


def intake_process_count(settings: Settings) -> int:
    """How many intake processes `serve` runs: the setting, or one per core (at most two);
    always one where the kernel does not spread connections between sockets."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return 1
    if settings.intake_processes is not None:
        return settings.intake_processes
    return max(1, min(DEFAULT_AT_MOST, os.cpu_count() or 1))


def bind_listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one address (the first address `host` resolves to)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    if port:
        _refuse_a_port_in_use(family, address)
    listeners: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            address = sock.getsockname()  # port 0: the others take the port this one got
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def _refuse_a_port_in_use(family: int, address: Any) -> None:
    """SO_REUSEPORT would let us share a port with another `serve` still running there (same
    user): it would silently take half the callbacks. A plain bind fails on a port in use."""
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


@dataclasses.dataclass
class IntakeChild:
    """A forked intake process, as the first one sees it."""

    shard: int
    pid: int
    link: socket.socket


def fork_intake_processes(listeners: Sequence[socket.socket], run: RunShard) -> list[IntakeChild]:
    """Fork one intake process per listener after the first; this process keeps the first.
    Call before any event loop or thread exists in this process."""
    parent = os.getpid()
    children: list[IntakeChild] = []
    for shard in range(1, len(listeners)):
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            code = 1
            try:
                ours.close()
                for child in children:
                    child.link.close()
                for index, sock in enumerate(listeners):
                    if index != shard:
                        sock.close()
                die_with_parent(parent)
                code = run(shard, listeners[shard], theirs)
            except Exception:
                log.exception("intake process %d failed", shard)
            finally:
                # Never return into the caller's code: that is the first process's job.
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os._exit(code)
        theirs.close()
        listeners[shard].close()
        children.append(IntakeChild(shard, pid, ours))
    return children


class SiblingRelay:
    """The first intake process's side of the links to the others: their pokes go to the
    worker, the status `/healthz` shows goes to them, and their deaths are noticed."""

    def __init__(
        self,
        children: Sequence[IntakeChild],
        poke: Callable[..., None],
        status: Callable[[], dict[str, Any]],
        *,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self._children = list(children)
        self._poke = poke
        self._status = status
        self._stop_timeout = stop_timeout
        self._running = len(children)
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._ends: list[WorkerEnd] = []

    @property
    def running(self) -> int:
        """Intake processes running, this one included."""
        return 1 + self._running

    @property
    def started(self) -> int:
        return 1 + len(self._children)

    async def start(self) -> None:
        for child in self._children:
            end = WorkerEnd(*await asyncio.open_connection(sock=child.link))
            self._ends.append(end)
            self._tasks.append(asyncio.create_task(self._relay(child, end), name="intake-relay"))

    async def stop(self) -> None:
        """Close the links (the others then stop by themselves) and wait for them to exit."""
        self._stopping = True
        for end in self._ends:
            end.close()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=self._stop_timeout)
        for child, task in zip(self._children, self._tasks, strict=True):
            if task in pending:
                log.warning("intake process %d did not stop in time; killing it", child.shard)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, 9)
        await asyncio.gather(*pending, return_exceptions=True)

    async def _relay(self, child: IntakeChild, end: WorkerEnd) -> None:
        def poke(busy: bool) -> None:
            self._poke(busy=busy)

        reporter = asyncio.create_task(StatusReporter(end, self._status).run(asyncio.sleep))
        try:
            await end.read_pokes(poke)  # until the link closes: the child is ending
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        code = await asyncio.to_thread(_wait_for_exit, child.pid)
        self._running -= 1
        if not self._stopping:
            log.error(
                "intake process %d ended (exit status %s); the others take its connections",
                child.shard,
                code,
            )


def _wait_for_exit(pid: int) -> int | None:
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        return None
