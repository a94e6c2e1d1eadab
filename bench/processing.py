"""Sustained processing: how many messages per second go from the inbox through the router
and handlers to a recorded sign-in/reflection and a queued reply, without HTTP.

The real `App` (router, handlers, SQLite file, pipeline, outbox, and the WAL checkpointer
thread `serve` runs beside them) in this process; with JIAOYAN_BENCH_PG=postgresql://… (an
empty database) the same run on PostgreSQL instead (docs/storage.md), and with also
JIAOYAN_BENCH_INSTANCES=N the messages are shared out between N processes, each its own App
on the one database, as N `serve` instances would (docs/capacity.md); messages are submitted together as callbacks
arriving at once would be, and the clock stops when the last reply is queued. Each teacher
sends one message, so every sign-in is a new row.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from datetime import datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from bench.payloads import command
from bench.report import Report
from bench.world import Campus, seed_campus
from bot.core.clock import SystemClock
from bot.core.messages import Channel, ChatType, Incoming
from bot.core.settings import Settings
from bot.runtime.app import create_app
from storage import Storage
from storage.checkpoint import TRUNCATE_ABOVE, WalCheckpointer

SECTION = "1b. Sustained processing (inbox -> router -> sign-in/reflection stored -> reply queued)"
MESSAGES = 10_000


def incoming(campus_userid: str, text: str, msgid: str, now: datetime) -> Incoming:
    return Incoming(
        channel=Channel.APP,
        msgid=msgid,
        userid=campus_userid,
        text=text,
        chat_type=ChatType.SINGLE,
        received_at=now,
    )


async def run(report: Report, work: Path, messages: int = MESSAGES) -> float:
    db: Path | str = os.environ.get("JIAOYAN_BENCH_PG") or work / "processing.db"
    now = datetime.now().astimezone()
    campus = seed_campus(db, now, messages)
    instances = int(os.environ.get("JIAOYAN_BENCH_INSTANCES") or 1)
    if instances > 1 and isinstance(db, str):
        return _run_instances(report, db, campus, now, messages, instances)
    settings = Settings(_env_file=None, JIAOYAN_DB=db)  # type: ignore[call-arg]
    storage = Storage.open(db)
    app = create_app(settings, clock=SystemClock(), storage=storage, private_channel=Channel.APP)
    # As in serve: WAL checkpoints (and their disk syncs) run in a thread, not in a commit.
    checkpoint_stop = asyncio.Event()
    checkpoints: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    if storage.path is not None:
        checkpointer = WalCheckpointer(storage.db.conn, storage.path, truncate_above=TRUNCATE_ABOVE)
        checkpoints = asyncio.create_task(
            checkpointer.run(checkpoint_stop), name="wal-checkpointer"
        )
    else:
        checkpoints.set_result(None)
    try:
        batch = [
            incoming(campus.userid(i), command(campus, i), f"p{i}", now) for i in range(messages)
        ]
        began = time.perf_counter()
        # As callbacks arriving together: one inbox commit, then the backlog is processed.
        await asyncio.gather(*(app.pipeline.submit(item) for item in batch))
        submitted = time.perf_counter()
        await app.pipeline.drain()
        ended = time.perf_counter()
        queued = app.outbox.pending_count()
        signins = len(storage.submissions.signins(campus.signin.id))
        reflections = len(storage.submissions.reflections(campus.reflect.id))
    finally:
        checkpoint_stop.set()
        await checkpoints
        storage.close()
    rate = messages / (ended - began)
    engine = "" if isinstance(db, Path) else ", PostgreSQL"
    report.add(
        SECTION,
        f"{messages:,} messages{engine} (half 签到, half 反思), one per teacher",
        f"{rate:,.0f} msg/s ({ended - began:.2f} s; inbox writes alone {messages / (submitted - began):,.0f}/s)",
        target=">= 2,000 msg/s",
        ok=rate >= 2000,
    )
    report.add(
        SECTION,
        "recorded / queued",
        f"{signins:,} sign-ins, {reflections:,} reflections, {queued:,} replies queued",
        ok=signins + reflections == messages and queued == messages,
    )
    return rate


def _run_instances(
    report: Report, db: str, campus: Campus, now: datetime, messages: int, instances: int
) -> float:
    """The same messages shared out between `instances` processes on one PostgreSQL
    database; the rate counts from the first start to the last reply queued."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(instances)
    results = context.Queue()
    shares = [
        [(campus.userid(i), command(campus, i), f"p{i}") for i in range(k, messages, instances)]
        for k in range(instances)
    ]
    workers = [
        context.Process(target=_instance, args=(db, share, now, ready, results)) for share in shares
    ]
    for worker in workers:
        worker.start()
    spans = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    began = min(start for start, _ in spans)
    ended = max(end for _, end in spans)
    rate = messages / (ended - began)
    storage = Storage.open(db)
    try:
        queued = storage.outbox.pending_count()
        stored = len(storage.submissions.signins(campus.signin.id)) + len(
            storage.submissions.reflections(campus.reflect.id)
        )
    finally:
        storage.close()
    report.add(
        SECTION,
        f"{messages:,} messages, PostgreSQL, {instances} processes on one database",
        f"{rate:,.0f} msg/s together ({ended - began:.2f} s)",
        ok=stored == messages and queued == messages,
    )
    return rate


def _instance(
    db: str,
    share: list[tuple[str, str, str]],
    now: datetime,
    ready: Barrier,
    results: Queue[tuple[float, float]],
) -> None:
    """One instance: its own App and connection, its share of the messages."""

    async def process() -> tuple[float, float]:
        settings = Settings(_env_file=None, JIAOYAN_DB=db)  # type: ignore[call-arg]
        storage = Storage.open(db)
        app = create_app(
            settings, clock=SystemClock(), storage=storage, private_channel=Channel.APP
        )
        batch = [incoming(userid, text, msgid, now) for userid, text, msgid in share]
        try:
            ready.wait()
            began = time.monotonic()
            await asyncio.gather(*(app.pipeline.submit(item) for item in batch))
            await app.pipeline.drain()
            return began, time.monotonic()
        finally:
            storage.close()

    results.put(asyncio.run(process()))
