"""Wiring: everything the bot needs, built once from settings and passed explicitly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.channels.base import Sender
from bot.core.clock import Clock, SystemClock
from bot.core.messages import Channel
from bot.core.metrics import Metrics, QueueCounts
from bot.core.settings import Settings
from bot.pipeline.files import FileIntake
from bot.pipeline.inbox import Pipeline
from bot.pipeline.outbox_worker import OutboxWorker, Sleep
from bot.routing.context import BotConfig
from bot.routing.router import Dispatcher
from handlers import build_router
from reports.digest import Digest, build_digest
from scheduling.items import DigestBuilder, ReminderPolicy
from scheduling.scheduler import ReminderScheduler
from storage import Storage
from storage.leadership import new_instance_id
from storage.messaging import InboxRepo, OutboxRepo

if TYPE_CHECKING:
    from bot.text.dates import Period
    from storage.models import Alliance


@dataclass
class App:
    settings: Settings
    storage: Storage
    clock: Clock
    config: BotConfig
    dispatcher: Dispatcher
    inbox: InboxRepo
    outbox: OutboxRepo
    pipeline: Pipeline
    worker: OutboxWorker
    # Reminders, scheduled notices and digests; started with `await app.scheduler.start()`.
    scheduler: ReminderScheduler
    # `/metrics` (bot.runtime.metrics_route): this App's own registry.
    metrics: Metrics
    senders: dict[Channel, Sender] = field(default_factory=dict)

    def close(self) -> None:
        self.storage.close()


def queue_counts(storage: Storage) -> QueueCounts:
    """The queues' sizes for `/metrics`, read at scrape time."""
    stats = storage.outbox.stats()
    return QueueCounts(
        inbox_backlog=storage.inbox.backlog_count(),
        outbox_pending=stats.pending,
        outbox_failed=stats.failed,
        outbox_retrying=storage.outbox.retrying_count(),
    )


def timed_digests(build: DigestBuilder, metrics: Metrics) -> DigestBuilder:
    """`build`, with each digest's build time recorded in `metrics`."""

    def timed(
        storage: Storage, alliance: Alliance, period: Period, now: datetime
    ) -> Awaitable[Digest]:
        return metrics.timed_digest(lambda: build(storage, alliance, period, now))

    return timed


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    senders: Mapping[Channel, Sender] | None = None,
    private_channel: Channel | None = None,
    storage: Storage | None = None,
    file_intake: FileIntake | None = None,
    digest_builder: DigestBuilder = build_digest,
    leave_other_channels: bool = False,
    worker_sleep: Sleep = asyncio.sleep,
    metrics: Metrics | None = None,
    instance: str | None = None,
    reminder_policy: ReminderPolicy | None = None,
) -> App:
    """Build the bot. Nothing starts running here; callers start channels and workers.

    `serve` passes a `digest_builder` that builds each digest in a child process
    (`reports.digest_process`); tests and the console build them in this one.
    `leave_other_channels` keeps messages for channels without a sender queued (the console
    on a database that `serve` also delivers from). `worker_sleep` is how the outbox worker
    waits for the next due item (a benchmark's fast clock divides it). `instance` names this
    process in its claims on inbox and outbox rows when several instances share PostgreSQL;
    `reminder_policy` replaces the scheduler's default timings.
    """
    clock = clock or SystemClock()
    storage = storage or Storage.open(settings.db)
    metrics = metrics or Metrics()
    metrics.watch_queues(lambda: queue_counts(storage))
    instance = instance or new_instance_id()
    config = BotConfig.from_settings(settings)
    dispatcher = Dispatcher(build_router(), storage, clock, config)
    inbox, outbox = storage.inbox, storage.outbox
    all_senders = dict(senders or {})
    worker = OutboxWorker(
        outbox,
        all_senders,
        clock,
        storage.audit,
        max_attempts=settings.outbox_max_attempts,
        leave_other_channels=leave_other_channels,
        sleep=worker_sleep,
        metrics=metrics,
        instance=instance,
    )
    scheduler = ReminderScheduler(
        storage,
        clock,
        zone=settings.zone,
        private_channel=private_channel,
        on_enqueued=worker.wake,
        digest_builder=timed_digests(digest_builder, metrics),
        metrics=metrics,
        policy=reminder_policy,
    )

    def after_message() -> None:
        worker.wake()
        # It may have created, moved or cancelled something due (cheap: see scheduler.py).
        scheduler.rearm()

    pipeline = Pipeline(
        inbox,
        outbox,
        storage.chats,
        # Files and links sent to the bot are fetched before the router sees them.
        file_intake.wrap(dispatcher.process) if file_intake else dispatcher.process,
        clock,
        private_channel=private_channel,
        on_enqueued=after_message,
        metrics=metrics,
        instance=instance,
    )
    return App(
        settings=settings,
        storage=storage,
        clock=clock,
        config=config,
        dispatcher=dispatcher,
        inbox=inbox,
        outbox=outbox,
        pipeline=pipeline,
        worker=worker,
        scheduler=scheduler,
        metrics=metrics,
        senders=all_senders,
    )
