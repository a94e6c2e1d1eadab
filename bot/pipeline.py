"""From a channel's incoming message to queued replies: inbox → router → outbox.

Channels call `submit`, which only writes the inbox row (so WeCom gets its answer within
milliseconds) and queues the message in memory for processing. Handling a message and queueing
its replies commit together, so after a crash `recover` can safely process what was left over.

Processing shares the event loop with the HTTP callbacks. Had every message its own task, a
flood would give processing as many turns as intake and the accept rate would fall to the
processing rate. Instead one pump starts at most one message per loop turn, so under load the
callbacks are answered first and the backlog, already durable in the inbox, drains right after.
The backlog lives in memory too, so it is bounded: past `max_backlog` messages processing stops
yielding and keeps pace with intake again (the accept rate then falls to the processing rate).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from bot.clock import Clock
from bot.delivery import expand_effects
from bot.messages import Channel, Effect, Incoming, Reply
from storage.chats import ChatsRepo
from storage.messaging import InboxRepo, InboxStatus, OutboxRepo

log = logging.getLogger(__name__)

Handle = Callable[[Incoming], Awaitable[list[Effect]]]
ConversationKey = tuple[str, str]

APOLOGY_TEXT = "抱歉，处理这条消息时出错了，请稍后再试或联系管理员。"

# Conversations whose handler is running at once (handlers may await, e.g. a file download).
DEFAULT_MAX_CONCURRENT = 32
# Accepted messages waiting in memory before processing stops giving way to intake (~2.5 KB
# each; 4,000 keep `serve` under its 150 MB budget during a sustained flood).
DEFAULT_MAX_BACKLOG = 4_000


class _Job:
    """One accepted message waiting for (or in) processing."""

    __slots__ = ("done", "inbox_id", "incoming", "key")

    def __init__(
        self,
        inbox_id: int,
        incoming: Incoming,
        key: ConversationKey,
        done: asyncio.Future[None] | None,
    ) -> None:
        self.inbox_id = inbox_id
        self.incoming = incoming
        self.key = key
        self.done = done  # only when someone waits for this very message


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
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
    ) -> None:
        if max_concurrent < 1 or max_backlog < 1:
            raise ValueError("max_concurrent and max_backlog must be at least 1")
        self._inbox = inbox
        self._outbox = outbox
        self._chats = chats
        self._handle = handle
        self._clock = clock
        self._private_channel = private_channel
        self._on_enqueued = on_enqueued
        self._max_concurrent = max_concurrent
        self._max_backlog = max_backlog
        # Accepted and not finished, by inbox id (queued or running).
        self._active: dict[int, _Job] = {}
        # Per conversation: its waiting messages in arrival order. A key is present while the
        # conversation has a message queued or running, and is in `_ready` only when it has
        # one queued and none running, so a conversation never runs two messages at once.
        self._queues: dict[ConversationKey, deque[_Job]] = {}
        self._ready: deque[ConversationKey] = deque()
        self._running = 0
        self._pump: asyncio.Task[None] | None = None
        # Strong references keep running tasks from being garbage-collected.
        self._tasks: dict[asyncio.Task[None], _Job] = {}
        self._idle_waiters: list[asyncio.Future[None]] = []

    async def submit(self, incoming: Incoming) -> bool:
        """Record the message durably and process it in the background; False for a duplicate."""
        return self._accept(incoming, wait=False) is not None

    async def handle_now(self, incoming: Incoming) -> bool:
        """Submit and wait until the replies are queued (the console wants answers in order)."""
        job = self._accept(incoming, wait=True)
        if job is None:
            return False
        assert job.done is not None
        await job.done
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
        jobs = [self._queue(inbox_id, incoming, wait=True) for inbox_id, incoming in leftovers]
        await asyncio.gather(*(job.done for job in jobs if job.done), return_exceptions=True)
        return len(leftovers)

    @property
    def in_progress(self) -> int:
        """Messages accepted whose processing has not finished yet (queued or running)."""
        return len(self._active)

    async def drain(self) -> None:
        """Wait until every accepted message has been processed."""
        while self._active:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

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

    def _accept(self, incoming: Incoming, *, wait: bool) -> _Job | None:
        inbox_id = self._inbox.record(incoming)
        if inbox_id is None:
            log.info("duplicate delivery of %s %s ignored", incoming.channel.value, incoming.msgid)
            return None
        return self._queue(inbox_id, incoming, wait=wait)

    def _queue(self, inbox_id: int, incoming: Incoming, *, wait: bool) -> _Job:
        # One conversation's messages are handled in arrival order, so "签到" sent just
        # before "反思" is never overtaken when a handler awaits something.
        key = (incoming.channel.value, incoming.chat_id or incoming.userid)
        done = asyncio.get_running_loop().create_future() if wait else None
        job = _Job(inbox_id, incoming, key, done)
        self._active[inbox_id] = job
        queue = self._queues.get(key)
        if queue is None:
            self._queues[key] = deque((job,))
            self._ready.append(key)
        else:
            queue.append(job)
        self._kick()
        return job

    def _kick(self) -> None:
        """Start the pump if there is work it may start and it is not running."""
        if self._pump is None and self._ready and self._running < self._max_concurrent:
            self._pump = asyncio.create_task(self._pump_jobs(), name="pipeline-pump")

    async def _pump_jobs(self) -> None:
        """Start queued messages, one per event-loop turn, until none may start."""
        try:
            while self._ready and self._running < self._max_concurrent:
                job = self._queues[self._ready.popleft()].popleft()
                self._running += 1
                task = asyncio.create_task(self._run(job), name=f"inbox-{job.inbox_id}")
                self._tasks[task] = job
                task.add_done_callback(self._task_done)
                if not self._over_backlog():
                    # Yield: whatever else is ready (HTTP callbacks above all) runs before the
                    # next message starts.
                    await asyncio.sleep(0)
        finally:
            self._pump = None

    async def _run(self, first: _Job) -> None:
        job: _Job | None = first
        while job is not None:
            try:
                await self.process(job.inbox_id, job.incoming)
            except BaseException as exc:
                self._finish(job, exc)
                raise
            job = self._finish(job, None, may_continue=True)

    def _over_backlog(self) -> bool:
        return len(self._active) > self._max_backlog

    def _finish(
        self, job: _Job, error: BaseException | None, *, may_continue: bool = False
    ) -> _Job | None:
        """Bookkeeping after a message; returns the conversation's next message when the
        backlog is too long to wait for another turn (the caller processes it at once)."""
        self._active.pop(job.inbox_id, None)
        self._resolve(job, error)
        queue = self._queues[job.key]
        if queue and may_continue and self._over_backlog():
            return queue.popleft()  # keeps its processing slot
        self._running -= 1
        if queue:
            self._ready.append(job.key)  # the conversation's next message, behind the others
        else:
            del self._queues[job.key]
        self._kick()
        return None

    def _resolve(self, job: _Job, error: BaseException | None) -> None:
        done = job.done
        if done is not None and not done.done():
            if isinstance(error, asyncio.CancelledError):
                done.cancel()
            elif error is not None:
                done.set_exception(error)
            else:
                done.set_result(None)
        if not self._active:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        job = self._tasks.pop(task)
        if self._active.get(job.inbox_id) is job:
            # Cancelled before its first step (e.g. at loop shutdown): `_run` never ran.
            self._finish(job, asyncio.CancelledError())
        elif not task.cancelled() and task.exception() is not None:
            log.error("%s: processing task crashed", task.get_name(), exc_info=task.exception())

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
