"""From a channel's incoming message to queued replies: inbox → router → outbox.

Channels call `submit`, which only writes the inbox row (so WeCom gets its answer within
milliseconds) and queues the message for processing. Handling a message and queueing its
replies commit together, so after a crash `recover` can safely process what was left over.

A commit costs far more than an insert, so the inbox rows of all callbacks that arrive in the
same event-loop turn are written in one commit (group commit); each callback is answered only
after that commit, so an acknowledged message is always durable.

Processing shares the event loop with the HTTP callbacks. One pump starts one message per
loop turn, each in a task of its own (a handler may await a file download or a background
command): under a flood every turn answers all the callbacks that arrived and processes one
message (one every `SATURATED_STRIDE` turns once the loop is saturated), so intake stays
fast and the backlog, already durable in the inbox, drains right after. Waiting messages are held as inbox ids and read back when their turn comes, so a long
flood costs little memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.core.clock import Clock
from bot.core.logs import processing_message
from bot.core.messages import Channel, Effect, Incoming, Reply
from bot.core.metrics import Metrics
from bot.pipeline.delivery import expand_effects
from bot.pipeline.group_commit import GroupCommit
from bot.pipeline.traffic_log import TrafficLog
from storage.chats import ChatsRepo
from storage.messaging import InboxRepo, InboxStatus, OutboxRepo

log = logging.getLogger(__name__)

# Queues a message's replies and marks it processed. A handle calls it once, inside the same
# database transaction as the handler's own writes when it can (one commit per message).
Commit = Callable[[list[Effect]], None]
Handle = Callable[[Incoming, Commit], Awaitable[None]]
PlainHandle = Callable[[Incoming], Awaitable[list[Effect]]]
ConversationKey = tuple[str, str]

APOLOGY_TEXT = "抱歉，处理这条消息时出错了，请稍后再试或联系管理员。"

# Conversations whose handler is running at once (handlers may await, e.g. a file download).
DEFAULT_MAX_CONCURRENT = 32
# A loop turn that brings this many callbacks at once means the loop is saturated: callbacks
# queue up while it works. Then processing takes only every `SATURATED_STRIDE`-th turn, so
# WeCom gets its answers in time; the backlog is durable and drains when the flood is over.
SATURATED_ARRIVALS = 8
SATURATED_STRIDE = 4
# Several instances on one database: a message claimed by an instance is taken over by another
# only when the claim is this old (its instance died). Far longer than any handler runs.
INBOX_CLAIM_LEASE = timedelta(minutes=5)


def replies_from(handle: PlainHandle) -> Handle:
    """Adapt a handle that just returns replies (it has no transaction to share)."""

    async def handle_and_commit(incoming: Incoming, commit: Commit) -> None:
        commit(await handle(incoming))

    return handle_and_commit


class _Job:
    """One accepted message waiting for (or in) processing."""

    __slots__ = ("done", "held_until", "inbox_id", "key")

    def __init__(
        self,
        inbox_id: int,
        key: ConversationKey,
        done: asyncio.Future[None] | None,
        held_until: float,
    ) -> None:
        self.inbox_id = inbox_id  # the message is read back from the inbox when its turn comes
        self.key = key
        self.done = done  # only when someone waits for this very message
        # Loop time until which the claim written with the inbox row surely holds (several
        # instances); later, or for a recovered message, it is claimed again before running.
        self.held_until = held_until


class _Replies:
    """The `Commit` given to a handle for one message, remembering whether it was called."""

    __slots__ = ("committed", "inbox_id", "incoming", "pipeline")

    def __init__(self, pipeline: Pipeline, inbox_id: int, incoming: Incoming) -> None:
        self.pipeline = pipeline
        self.inbox_id = inbox_id
        self.incoming = incoming
        self.committed = False

    def commit(self, effects: list[Effect]) -> None:
        self.pipeline._queue_replies(self.inbox_id, self.incoming, effects)
        self.committed = True

    def ensure_committed(self) -> None:
        if not self.committed:
            log.error("inbox %d: handle returned without queuing replies", self.inbox_id)
            self.commit([])


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
        metrics: Metrics | None = None,
        instance: str = "",
    ) -> None:
        """`instance` names this process in its claims on inbox rows, when several
        instances share the database (`InboxRepo.shared`)."""
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        self._inbox = inbox
        self._outbox = outbox
        self._chats = chats
        self._handle = handle
        self._clock = clock
        self._private_channel = private_channel
        self._on_enqueued = on_enqueued
        self._max_concurrent = max_concurrent
        self._callbacks = (metrics or Metrics()).callbacks  # by channel and outcome
        self._instance = instance if inbox.shared else None
        # Callbacks of the current loop turn waiting for their inbox commit.
        self._arrivals: GroupCommit[tuple[Incoming, bool], _Job | None] = GroupCommit(
            self._record_arrivals
        )
        self._traffic = TrafficLog(log)
        # Accepted and not finished, by inbox id (queued or running).
        self._active: dict[int, _Job] = {}
        # Per conversation: its waiting messages in arrival order. A key is present while the
        # conversation has a message queued or running, and is in `_ready` only when it has
        # one queued and none running, so a conversation never runs two messages at once.
        self._queues: dict[ConversationKey, deque[_Job]] = {}
        self._ready: deque[ConversationKey] = deque()
        self._running = 0
        self._pump: asyncio.Task[None] | None = None
        self._pump_turn = 0
        self._saturated = False  # the last inbox commit had SATURATED_ARRIVALS or more
        # Strong references keep running tasks from being garbage-collected.
        self._tasks: dict[asyncio.Task[None], _Job] = {}
        self._idle_waiters: list[asyncio.Future[None]] = []

    async def submit(self, incoming: Incoming) -> bool:
        """Record the message durably and process it in the background; False for a duplicate."""
        return await self._accept(incoming, wait=False) is not None

    async def handle_now(self, incoming: Incoming) -> bool:
        """Submit and wait until the replies are queued (the console wants answers in order)."""
        job = await self._accept(incoming, wait=True)
        if job is None:
            return False
        assert job.done is not None
        await job.done
        return True

    async def recover(self) -> int:
        """Process, oldest first, messages a crash left unhandled; call at start.

        With several instances, only this instance's own (from before a restart) and those
        whose claim is older than the lease (their instance died): a live instance keeps what
        it is processing. The leading instance
        calls this again from time to time (`bot.runtime.leader`)."""
        stale_before = None
        if self._instance is not None:
            stale_before = self._clock.now() - INBOX_CLAIM_LEASE
        leftovers = [
            (inbox_id, incoming)
            for inbox_id, incoming in self._inbox.unprocessed(stale_before, self._instance)
            if inbox_id not in self._active
        ]
        if leftovers:
            log.info("recovering %d unprocessed inbox message(s)", len(leftovers))
        jobs = [
            self._queue(inbox_id, incoming, wait=True, held=False)
            for inbox_id, incoming in leftovers
        ]
        await asyncio.gather(*(job.done for job in jobs if job.done), return_exceptions=True)
        return len(leftovers)

    @property
    def in_progress(self) -> int:
        """Messages received whose processing has not finished yet (committing, queued or
        running)."""
        return len(self._active) + self._arrivals.waiting

    async def drain(self) -> None:
        """Wait until every received message has been processed."""
        while self.in_progress:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    def log_traffic(self) -> None:
        """Write the traffic counted since the last summary line now (e.g. at shutdown)."""
        self._traffic.flush()

    async def process(self, inbox_id: int, incoming: Incoming) -> None:
        """Run the router on one message and queue its replies, or an apology if it fails."""
        replies = _Replies(self, inbox_id, incoming)
        with processing_message(inbox_id):  # every log line of this message carries its id
            try:
                await self._handle(incoming, replies.commit)
                replies.ensure_committed()
            except Exception:
                self._failed(inbox_id, incoming)
        self._notify()

    def _queue_replies(self, inbox_id: int, incoming: Incoming, effects: list[Effect]) -> None:
        outgoing = expand_effects(
            incoming, effects, self._chats, private_channel=self._private_channel
        )
        added = self._outbox.enqueue(outgoing, self._clock.now(), inbox_id=inbox_id)
        self._traffic.count("processed")
        log.debug("inbox %d processed, %d message(s) queued", inbox_id, len(added))

    def _failed(self, inbox_id: int, incoming: Incoming) -> None:
        log.exception(
            "processing inbox message %d (%s %s) failed",
            inbox_id,
            incoming.channel.value,
            incoming.msgid,
        )
        self._traffic.count("failed")
        self._apologise(inbox_id, incoming)

    async def _accept(self, incoming: Incoming, *, wait: bool) -> _Job | None:
        return await self._arrivals.submit((incoming, wait))

    def _record_arrivals(self, arrivals: list[tuple[Incoming, bool]]) -> list[_Job | None]:
        """One inbox commit for the turn's callbacks, then queue them.

        Queued here rather than by each caller, so a callback cancelled while waiting (its
        client went away) still has its recorded message processed."""
        try:
            inbox_ids = self._inbox.record_many(
                [incoming for incoming, _ in arrivals], claimed_by=self._instance
            )
        except Exception:
            log.exception("recording %d incoming message(s) failed", len(arrivals))
            for incoming, _ in arrivals:
                self._callbacks.labels(incoming.channel.value, "error").inc()
            self._wake_idle()
            raise
        self._saturated = len(arrivals) >= SATURATED_ARRIVALS
        jobs: list[_Job | None] = []
        for (incoming, wait), inbox_id in zip(arrivals, inbox_ids, strict=True):
            job = None
            outcome = "duplicate" if inbox_id is None else "accepted"
            self._callbacks.labels(incoming.channel.value, outcome).inc()
            if inbox_id is None:
                self._traffic.count("duplicates ignored")
                log.debug(
                    "duplicate delivery of %s %s ignored", incoming.channel.value, incoming.msgid
                )
            else:
                self._traffic.count("accepted")
                job = self._queue(inbox_id, incoming, wait=wait, held=True)
            jobs.append(job)
        self._wake_idle()
        return jobs

    def _queue(self, inbox_id: int, incoming: Incoming, *, wait: bool, held: bool) -> _Job:
        """`held`: recorded just now with this instance's claim (not recovered)."""
        # One conversation's messages are handled in arrival order, so "签到" sent just
        # before "反思" is never overtaken when a handler awaits something.
        key = (incoming.channel.value, incoming.chat_id or incoming.userid)
        loop = asyncio.get_running_loop()
        done = loop.create_future() if wait else None
        held_until = loop.time() + INBOX_CLAIM_LEASE.total_seconds() / 2 if held else 0.0
        job = _Job(inbox_id, key, done, held_until)
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
        """Start one queued message per event-loop turn, until none may start.

        Whatever else is ready (HTTP callbacks above all) runs between two messages, so a
        flood is answered first and processed right after."""
        try:
            while self._ready and self._running < self._max_concurrent:
                self._pump_turn += 1
                if self._saturated and self._pump_turn % SATURATED_STRIDE:
                    await asyncio.sleep(0)
                    continue
                job = self._queues[self._ready.popleft()].popleft()
                self._running += 1
                task = asyncio.create_task(self._run(job), name=f"inbox-{job.inbox_id}")
                self._tasks[task] = job
                task.add_done_callback(self._task_done)
                await asyncio.sleep(0)
        finally:
            self._pump = None

    async def _run(self, job: _Job) -> None:
        try:
            incoming = self._inbox.get(job.inbox_id) if self._claim(job) else None
            if incoming is not None:
                await self.process(job.inbox_id, incoming)
        except BaseException as exc:
            self._finish(job, exc)
            raise
        self._finish(job, None)

    def _claim(self, job: _Job) -> bool:
        """Several instances: whether this one still holds the message (another may have
        taken it over after a long wait, or recovered it at the same time). A message
        recorded here moments ago is surely held: no write (it would cost a commit)."""
        if self._instance is None or asyncio.get_running_loop().time() < job.held_until:
            return True
        now = self._clock.now()
        if self._inbox.claim(job.inbox_id, self._instance, now, now - INBOX_CLAIM_LEASE):
            return True
        log.info("inbox %d is being processed by another instance", job.inbox_id)
        return False

    def _finish(self, job: _Job, error: BaseException | None) -> None:
        """Bookkeeping after a message: its conversation's next one queues behind the others."""
        self._active.pop(job.inbox_id, None)
        self._resolve(job, error)
        self._running -= 1
        if self._queues[job.key]:
            self._ready.append(job.key)
        else:
            del self._queues[job.key]
        self._kick()

    def _resolve(self, job: _Job, error: BaseException | None) -> None:
        done = job.done
        if done is not None and not done.done():
            if isinstance(error, asyncio.CancelledError):
                done.cancel()
            elif error is not None:
                done.set_exception(error)
            else:
                done.set_result(None)
        self._wake_idle()

    def _wake_idle(self) -> None:
        if self.in_progress:
            return
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
