"""Wiring: everything the bot needs, built once from settings and passed explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.channels.base import Sender
from bot.clock import Clock, SystemClock
from bot.context import BotConfig
from bot.messages import Channel
from bot.outbox_worker import OutboxWorker
from bot.pipeline import Pipeline
from bot.router import Dispatcher
from bot.settings import Settings
from handlers import build_router
from scheduling.scheduler import ReminderScheduler
from storage import Storage
from storage.messaging import InboxRepo, OutboxRepo


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
    senders: dict[Channel, Sender] = field(default_factory=dict)

    def close(self) -> None:
        self.storage.close()


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    senders: Mapping[Channel, Sender] | None = None,
    private_channel: Channel | None = None,
    storage: Storage | None = None,
) -> App:
    """Build the bot. Nothing starts running here; callers start channels and workers."""
    clock = clock or SystemClock()
    storage = storage or Storage.open(settings.db)
    config = BotConfig.from_settings(settings)
    dispatcher = Dispatcher(build_router(), storage, clock, config)
    inbox, outbox = InboxRepo(storage.db), OutboxRepo(storage.db)
    all_senders = dict(senders or {})
    worker = OutboxWorker(
        outbox, all_senders, clock, storage.audit, max_attempts=settings.outbox_max_attempts
    )
    scheduler = ReminderScheduler(
        storage,
        clock,
        zone=settings.zone,
        private_channel=private_channel,
        on_enqueued=worker.wake,
    )

    def after_message() -> None:
        # A handled message may have created, moved or cancelled something that is due.
        worker.wake()
        scheduler.rearm()

    pipeline = Pipeline(
        inbox,
        outbox,
        storage.chats,
        dispatcher.handle,
        clock,
        private_channel=private_channel,
        on_enqueued=after_message,
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
        senders=all_senders,
    )
