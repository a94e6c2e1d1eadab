"""From a channel's incoming message to queued replies: inbox → router → outbox.

Channels call `submit`, which only writes the inbox row (so WeCom gets its answer within
milliseconds) and leaves the real work to a background task. Handling a message and queueing its
replies commit together, so after a crash `recover` can safely process what was left over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.clock import Clock
from bot.delivery import expand_effects
from bot.messages import Channel, Effect, Incoming, Reply
from storage.chats import ChatsRepo
from storage.messaging import InboxRepo, InboxStatus, OutboxRepo

log = logging.getLogger(__name__)

Handle = Callable[[Incoming], Awaitable[list[Effect]]]

APOLOGY_TEXT = "抱歉，处理这条消息时出错了，请稍后再试或联系管理员。"


class Pipeline:
    """The `IncomingSink` every channel feeds; runs the router in the background."""

    def __init__(
        self,
        inbox: InboxRepo,
        outbox: OutboxRepo,
        chats: ChatsRepo,
        handle: Handle,
        clock: Clock,
        *,
        private_channel: Channel | None = None,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._chats = chats
        self._handle = handle
        self._clock = clock
        self._private_channel = private_channel
        self._on_enqueued = on_enqueued
        # Strong references keep running tasks from being garbage-collected.
        self._tasks: set[asyncio.Task[None]] = set()
        self._active: dict[int, asyncio.Task[None]] = {}
        self._conversations = _KeyedLocks()

    async def submit(self, incoming: Incoming) -> bool:
        """Record the message durably and process it in the background; False for a duplicate."""
        return self._accept(incoming) is not None

    async def handle_now(self, incoming: Incoming) -> bool:
        """Submit and wait until the replies are queued (the console wants answers in order)."""
        task = self._accept(incoming)
        if task is None:
            return False
        await task
        return True

    async def recover(self) -> int:
        """Process, oldest first, messages a crash left unhandled; call once at start."""
        leftovers = [
            (inbox_id, incoming)
            for inbox_id, incoming in self._inbox.unprocessed()
            if inbox_id not in self._active
        ]
        if leftovers:
            log.info("recovering %d unprocessed inbox message(s)", len(leftovers))
        for inbox_id, incoming in leftovers:
            await self._spawn(inbox_id, incoming)
        return len(leftovers)

    @property
    def in_progress(self) -> int:
        """Messages accepted whose processing has not finished yet."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every background processing task has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def process(self, inbox_id: int, incoming: Incoming) -> None:
        """Run the router on one message and queue its replies, or an apology if it fails."""
        try:
            effects = await self._handle(incoming)
            outgoing = expand_effects(
                incoming, effects, self._chats, private_channel=self._private_channel
            )
            added = self._outbox.enqueue(outgoing, self._clock.now(), inbox_id=inbox_id)
            log.debug("inbox %d processed, %d message(s) queued", inbox_id, len(added))
        except Exception:
            log.exception(
                "processing inbox message %d (%s %s) failed",
                inbox_id,
                incoming.channel.value,
                incoming.msgid,
            )
            self._apologise(inbox_id, incoming)
        self._notify()

    def _accept(self, incoming: Incoming) -> asyncio.Task[None] | None:
        inbox_id = self._inbox.record(incoming)
        if inbox_id is None:
            log.info("duplicate delivery of %s %s ignored", incoming.channel.value, incoming.msgid)
            return None
        return self._spawn(inbox_id, incoming)

    def _spawn(self, inbox_id: int, incoming: Incoming) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run(inbox_id, incoming), name=f"inbox-{inbox_id}")
        self._tasks.add(task)
        self._active[inbox_id] = task
        task.add_done_callback(lambda done: self._finished(inbox_id, done))
        return task

    async def _run(self, inbox_id: int, incoming: Incoming) -> None:
        # One conversation's messages are handled in arrival order (asyncio.Lock is FIFO), so
        # "签到" sent just before "反思" is never overtaken when a handler awaits something.
        key = (incoming.channel.value, incoming.chat_id or incoming.userid)
        async with self._conversations.hold(key):
            await self.process(inbox_id, incoming)

    def _finished(self, inbox_id: int, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._active.pop(inbox_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "inbox message %d: processing task crashed", inbox_id, exc_info=task.exception()
            )

    def _apologise(self, inbox_id: int, incoming: Incoming) -> None:
        """Tell the user something went wrong (never how) and mark the message failed."""
        now = self._clock.now()
        apology = [
            message.model_copy(
                update={"dedup_key": f"reply:{incoming.channel.value}:{incoming.msgid}:error"}
            )
            for message in expand_effects(
                incoming,
                [Reply(text=APOLOGY_TEXT)],
                self._chats,
                private_channel=self._private_channel,
            )
        ]
        try:
            self._outbox.enqueue(apology, now, inbox_id=inbox_id, inbox_status=InboxStatus.FAILED)
        except Exception:
            log.exception("could not queue the apology for inbox message %d", inbox_id)
            try:
                self._inbox.mark_failed(inbox_id, now)
            except Exception:
                log.exception("could not mark inbox message %d failed", inbox_id)

    def _notify(self) -> None:
        if self._on_enqueued is None:
            return
        try:
            self._on_enqueued()
        except Exception:
            log.exception("on_enqueued callback failed")


class _KeyedLocks:
    """One FIFO lock per key, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]
