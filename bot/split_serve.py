"""`serve` as two processes: this one answers WeCom, `bot.worker_process` does the rest.

Why: answering a callback (verify, decrypt, store, 200) and handling a message (router,
database, replies, delivery) each take a whole core under a sign-in burst. In one process
they share one event loop, so intake slows down to the speed of handling. Here the intake
process verifies, decrypts and checks each callback, records its message in the intake
file (`storage.intake`, `bot.intake_writer`), answers, and pokes the worker, which moves the
rows into the inbox and handles and delivers them on another core (`bot.intake_handoff`).
Each file has one writing process, so neither waits for the other's lock; a callback is
answered only after its commit, so a crash of either process loses nothing acknowledged.

This process also serves `/healthz` (with the worker's state) and the leaders' dashboard.
"""

from __future__ import annotations

import asyncio

from bot.check import channel_statuses
from bot.clock import Clock, SystemClock
from bot.http_intake import health_body, http_route_adders
from bot.intake_writer import IntakeHousekeeping, IntakeWriter
from bot.messages import Channel
from bot.settings import Settings
from bot.web import Announce, create_web_app, listen_until
from bot.worker_supervisor import WORKER_HEALTHY, WorkerSupervisor
from storage import Storage
from storage.db import PlainDatabase, connect
from storage.intake import IntakeFile, intake_path
from storage.messaging import InboxRepo, OutboxRepo


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
) -> int:
    """Listen and keep the worker process running until `stop` is set."""
    clock = clock or SystemClock()
    main_db = PlainDatabase(connect(settings.db))  # migrated before the worker opens it
    intake = IntakeFile(intake_path(settings.db))
    supervisor = supervisor or WorkerSupervisor(settings, verbose=verbose)
    writer = IntakeWriter(intake, supervisor.poke)
    housekeeping = IntakeHousekeeping(intake, InboxRepo(main_db), clock)
    dashboard_storage: list[Storage] = []  # opened by the first dashboard request

    def open_storage() -> Storage:
        if not dashboard_storage:
            dashboard_storage.append(Storage.open(settings.db))
        return dashboard_storage[0]

    statuses = channel_statuses(settings)
    enabled = {status.channel for status in statuses if status.enabled}
    outbox = OutboxRepo(main_db)

    def health() -> dict[str, object]:
        long_connection = None
        if Channel.AIBOT_WS in enabled:
            long_connection = supervisor.long_connection or "connecting"
        body = health_body(
            statuses, outbox.stats(), long_connection=long_connection, worker=supervisor.state
        )
        if supervisor.state not in WORKER_HEALTHY:
            body["status"] = "degraded"  # answered with 503: callbacks are stored, not handled
        return body

    adders = http_route_adders(settings, enabled, sink=writer, storage=open_storage, clock=clock)
    await supervisor.start()
    await housekeeping.start()
    try:
        code = await listen_until(
            create_web_app(health, adders), host, port, stop=stop, announce=announce
        )
    finally:
        await housekeeping.stop()
        writer.log_traffic()
        await supervisor.stop()
        intake.close()
        main_db.conn.close()
        for storage in dashboard_storage:
            storage.close()
    if code == 0:
        announce("服务已停止。")
    return code
