"""`serve` as several processes: intake processes answer WeCom, `bot.worker_process` does the rest.

Why: answering a callback (verify, decrypt, store, 200) and handling a message (router,
database, replies, delivery) each take a whole core under a sign-in burst. In one process
they share one event loop, so intake slows down to the speed of handling. Here an intake
process verifies, decrypts and checks each callback, records its message in its intake file
(`storage.intake`, `bot.intake_writer`), answers, and pokes the worker, which moves the rows
into the inbox and handles and delivers them on another core (`bot.intake_handoff`). Each
file has one writing process, so none waits for another's lock; a callback is answered only
after its commit, so a crash of any process loses nothing acknowledged.

On Linux there is one intake process per core (at most two by default) on one port
(`bot.intake_processes`): the first supervises the worker and relays the others' pokes.
Every intake process also serves `/healthz` (with the worker's state) and the dashboard.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from bot.check import channel_statuses
from bot.clock import Clock, SystemClock
from bot.http_intake import health_body, http_route_adders
from bot.intake_processes import IntakeChild, SiblingRelay
from bot.intake_writer import IntakeHousekeeping, IntakeWriter, Poke
from bot.messages import Channel
from bot.settings import Settings
from bot.web import Announce, create_web_app, listen_until
from bot.worker_link import IntakeEnd
from bot.worker_supervisor import WORKER_HEALTHY, WorkerSupervisor
from storage import Storage
from storage.db import PlainDatabase, connect
from storage.intake import IntakeFile
from storage.messaging import InboxRepo, OutboxRepo

# What every intake process's /healthz shows of the others: the worker's state, the long
# connection's, and how many intake processes run ("2/2").
Status = Callable[[], dict[str, Any]]


def prepare_files(settings: Settings, intake_processes: int) -> None:
    """Migrate the database and create the intake files before the other processes start, so
    they do not all set up the same new files at once."""
    connect(settings.db).close()
    for shard in range(intake_processes):
        IntakeFile(settings.db, shard).close()


def load_callback_modules(settings: Settings) -> None:
    """Import what answering the enabled callbacks needs now, before `serve` forks the other
    intake processes, so they share it (`bot.http_intake` imports it late for the worker's
    sake)."""
    if Channel.APP in {status.channel for status in channel_statuses(settings) if status.enabled}:
        import bot.channels.app_callback  # noqa: F401


async def run_split_server(
    settings: Settings,
    host: str,
    port: int,
    *,
    stop: asyncio.Event,
    announce: Announce,
    verbose: bool = False,
    clock: Clock | None = None,
    supervisor: WorkerSupervisor | None = None,
    sock: socket.socket | None = None,
    siblings: list[IntakeChild] | None = None,
) -> int:
    """The first intake process: listen (on `sock` when given), keep the worker process
    running and relay the forked `siblings` until `stop` is set."""
    siblings = siblings or []
    worker_settings = settings.model_copy(update={"intake_processes": 1 + len(siblings)})
    supervisor = supervisor or WorkerSupervisor(worker_settings, verbose=verbose)

    def status() -> dict[str, Any]:
        shown = {"state": supervisor.state, "long_connection": supervisor.long_connection}
        if relay.started > 1:
            shown["intake_processes"] = f"{relay.running}/{relay.started}"
        return shown

    relay = SiblingRelay(siblings, supervisor.poke, status)
    if siblings:
        announce(f"企业微信回调由 {relay.started} 个进程在同一端口接收。")
    await supervisor.start()
    await relay.start()
    try:
        code = await run_intake(
            settings,
            0,
            poke=supervisor.poke,
            status=status,
            stop=stop,
            announce=announce,
            clock=clock,
            address=(host, port),
            sock=sock,
        )
    finally:
        await relay.stop()
        await supervisor.stop()
    if code == 0:
        announce("服务已停止。")
    return code


async def run_forked_intake(
    settings: Settings, shard: int, sock: socket.socket, link: socket.socket, *, stop: asyncio.Event
) -> int:
    """A forked intake process: its own socket and intake file; pokes go to the first intake
    process, which sends back what /healthz shows. Stops when the link closes or `stop` is
    set."""
    end = IntakeEnd(*await asyncio.open_connection(sock=link))
    relayed: dict[str, Any] = {"state": "starting"}

    async def follow() -> None:
        await end.read_status(relayed.update)
        stop.set()  # the first intake process is stopping (or gone)

    following = asyncio.create_task(follow(), name="intake-link")
    try:
        return await run_intake(
            settings,
            shard,
            poke=end.poke,
            status=lambda: dict(relayed),
            stop=stop,
            announce=_quiet,
            sock=sock,
        )
    finally:
        end.close()
        await asyncio.gather(following, return_exceptions=True)


async def run_intake(
    settings: Settings,
    shard: int,
    *,
    poke: Poke,
    status: Status,
    stop: asyncio.Event,
    announce: Announce,
    clock: Clock | None = None,
    address: tuple[str, int] = ("", 0),
    sock: socket.socket | None = None,
) -> int:
    """One intake process: answer callbacks into intake file `shard` until `stop` is set."""
    clock = clock or SystemClock()
    main_db = PlainDatabase(connect(settings.db))
    intake = IntakeFile(settings.db, shard)
    writer = IntakeWriter(intake, poke)
    housekeeping = IntakeHousekeeping(intake, InboxRepo(main_db), clock, busy=writer.busy)
    dashboard_storage: list[Storage] = []  # opened by the first dashboard request

    def open_storage() -> Storage:
        if not dashboard_storage:
            dashboard_storage.append(Storage.open(settings.db))
        return dashboard_storage[0]

    statuses = channel_statuses(settings)
    enabled = {status.channel for status in statuses if status.enabled}
    outbox = OutboxRepo(main_db)

    def health() -> dict[str, object]:
        shown = status()
        worker = shown.get("state")
        long_connection = None
        if Channel.AIBOT_WS in enabled:
            long_connection = shown.get("long_connection") or "connecting"
        body = health_body(
            statuses,
            outbox.stats(),
            long_connection=long_connection,
            worker=worker if isinstance(worker, str) else None,
            intake_processes=shown.get("intake_processes"),
        )
        if worker not in WORKER_HEALTHY or not _all_running(shown.get("intake_processes")):
            body["status"] = "degraded"  # answered with 503: callbacks are stored, not handled
        return body

    adders = http_route_adders(settings, enabled, sink=writer, storage=open_storage, clock=clock)
    await housekeeping.start()
    try:
        return await listen_until(
            create_web_app(health, adders), *address, stop=stop, announce=announce, sock=sock
        )
    finally:
        await housekeeping.stop()
        writer.log_traffic()
        intake.close()
        main_db.conn.close()
        for storage in dashboard_storage:
            storage.close()


def _all_running(intake_processes: object) -> bool:
    """ "2/2" is; "1/2" (an intake process died) is not."""
    if not isinstance(intake_processes, str):
        return True
    running, _, started = intake_processes.partition("/")
    return running == started


def _quiet(_line: str) -> None:
    """Forked intake processes leave the start-up and stop lines to the first one."""
