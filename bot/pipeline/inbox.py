"""From a channel's incoming message to queued replies: inbox → router → outbox.

Channels call `submit`, which only writes the inbox row (so WeCom gets its answer within
milliseconds) and queues the message in memory for processing. Handling a message and queueing
its replies commit together, so after a crash `recover` can safely process what was left over.

A commit costs far more than an insert, so the inbox rows of all callbacks that arrive in the
same event-loop turn are written in one commit (group commit); each callback is answered only
after that commit, so an acknowledged message is always durable.

Processing shares the event loop with the HTTP callbacks. Had every message its own task, a
flood would give processing as many turns as intake and the accept rate would fall to the
processing rate. Instead one pump decides per loop turn, so under load the callbacks are
answered first and the backlog, already durable in the inbox, drains right after:
- quiet (no callback for `QUIET_BEFORE_BATCH`): up to `batch` messages in one commit;
- callbacks arriving: one message per turn;
- saturated (a turn brought `SATURATED_ARRIVALS` callbacks at once): one every
  `SATURATED_STRIDE` turns.
A message that must await something (a file download, a background command) runs as a task.
Only the first `keep_in_memory` waiting messages are held whole; behind them the backlog keeps
the inbox id and reloads the message when its turn comes, so a long flood costs little memory.
Past `max_backlog` messages processing stops yielding and keeps pace with intake again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.core.clock import Clock
from bot.core.messages import Channel, Effect, Incoming, Reply
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
# Handles the message without awaiting anything when it can (and returns True); False, before
# doing anything, when it must await (a file to download, a background command).
HandleAtOnce = Callable[[Incoming, Commit], bool]
PlainHandle = Callable[[Incoming], Awaitable[list[Effect]]]
ConversationKey = tuple[str, str]

APOLOGY_TEXT = "抱歉，处理这条消息时出错了，请稍后再试或联系管理员。"

# Conversations whose handler is running at once (handlers may await, e.g. a file download).
DEFAULT_MAX_CONCURRENT = 32
# Waiting messages held whole (~2.5 KB each); the ones behind cost ~0.2 KB (id and chat).
DEFAULT_KEEP_IN_MEMORY = 1_000
# Accepted messages waiting before processing stops giving way to intake (~25 MB of backlog).
DEFAULT_MAX_BACKLOG = 100_000
# Messages handled at once share one commit; while callbacks keep arriving, one per loop turn.
DEFAULT_BATCH = 16
# How long no callback must have come before processing switches to batches: a batch (a few
# ms) would hold up every callback that arrives meanwhile, and callbacks of a burst come in
# irregular clumps, so "none in the last loop turns" is not quiet enough.
QUIET_BEFORE_BATCH = timedelta(milliseconds=50)
# A loop turn that brings this many callbacks at once means the loop is saturated: callbacks
# queue up while it works. Then processing takes only every `SATURATED_STRIDE`-th turn, so
# WeCom gets its answers in time (a late answer is retried, which only adds load); the backlog
# is durable and drains when the flood is over.
SATURATED_ARRIVALS = 8
SATURATED_STRIDE = 4


def replies_from(handle: PlainHandle) -> Handle:
    """Adapt a handle that just returns replies (it has no transaction to share)."""

    async def handle_and_commit(incoming: Incoming, commit: Commit) -> None:
        commit(await handle(incoming))

    return handle_and_commit


class _Job:
    """One accepted message waiting for (or in) processing."""

    __slots__ = ("done", "inbox_id", "incoming", "key")

    def __init__(
        self,
        inbox_id: int,
        incoming: Incoming | None,
        key: ConversationKey,
        done: asyncio.Future[None] | None,
    ) -> None:
        self.inbox_id = inbox_id
        self.incoming = incoming  # None: reload from the inbox when its turn comes
        self.key = key
        self.done = done  # only when someone waits for this very message


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
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        keep_in_memory: int = DEFAULT_KEEP_IN_MEMORY,
        handle_at_once: HandleAtOnce | None = None,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        if max_concurrent < 1 or max_backlog < 1 or keep_in_memory < 0 or batch < 1:
            raise ValueError(
                "max_concurrent, max_backlog and batch must be >= 1, keep_in_memory >= 0"
            )
        self._inbox = inbox
        self._outbox = outbox
        self._chats = chats
        self._handle = handle
        self._handle_at_once = handle_at_once
        self._batch = batch
        self._last_arrival: datetime | None = None  # when a callback was last recorded
        self._saturated = False  # the last inbox commit had SATURATED_ARRIVALS or more
        self._pump_turn = 0
        self._clock = clock
        self._private_channel = private_channel
        self._on_enqueued = on_enqueued
        self._max_concurrent = max_concurrent
        self._max_backlog = max_backlog
        self._keep_in_memory = keep_in_memory
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
        try:
            await self._handle(incoming, replies.commit)
            replies.ensure_committed()
        except Exception:
            self._failed(inbox_id, incoming)
        self._notify()

    def _process_at_once(self, inbox_id: int, incoming: Incoming) -> bool:
        """Handle the message now if it needs no waiting; False when `process` must."""
        if self._handle_at_once is None:
            return False
        replies = _Replies(self, inbox_id, incoming)
        try:
            if not self._handle_at_once(incoming, replies.commit):
                return False
            replies.ensure_committed()
        except Exception:
            self._failed(inbox_id, incoming)
        return True

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
            inbox_ids = self._inbox.record_many([incoming for incoming, _ in arrivals])
        except Exception:
            log.exception("recording %d incoming message(s) failed", len(arrivals))
            self._wake_idle()
            raise
        now = self._clock.now()
        self._saturated = len(arrivals) >= SATURATED_ARRIVALS
        jobs: list[_Job | None] = []
        for (incoming, wait), inbox_id in zip(arrivals, inbox_ids, strict=True):
            job = None
            if inbox_id is None:
                self._traffic.count("duplicates ignored")
                log.debug(
                    "duplicate delivery of %s %s ignored", incoming.channel.value, incoming.msgid
                )
            else:
                self._traffic.count("accepted")
                self._last_arrival = now
                job = self._queue(inbox_id, incoming, wait=wait)
            jobs.append(job)
        self._wake_idle()
        return jobs

    def _queue(self, inbox_id: int, incoming: Incoming, *, wait: bool) -> _Job:
        # One conversation's messages are handled in arrival order, so "签到" sent just
        # before "反思" is never overtaken when a handler awaits something.
        key = (incoming.channel.value, incoming.chat_id or incoming.userid)
        done = asyncio.get_running_loop().create_future() if wait else None
        held = incoming if wait or len(self._active) < self._keep_in_memory else None
        job = _Job(inbox_id, held, key, done)
        self._queue_job(job)
        return job

    def _queue_job(self, job: _Job) -> None:
        key = job.key
        self._active[job.inbox_id] = job
        queue = self._queues.get(key)
        if queue is None:
            self._queues[key] = deque((job,))
            self._ready.append(key)
        else:
            queue.append(job)
        self._kick()

    def _kick(self) -> None:
        """Start the pump if there is work it may start and it is not running."""
        if self._pump is None and self._ready and self._running < self._max_concurrent:
            self._pump = asyncio.create_task(self._pump_jobs(), name="pipeline-pump")

    async def _pump_jobs(self) -> None:
        """Start queued messages, a batch per event-loop turn, until none may start.

        While callbacks keep arriving the batch is a single message, so they are answered
        first; once none came for `QUIET_BEFORE_BATCH`, up to `batch` messages that need no
        waiting share one commit.
        """
        try:
            while self._ready and self._running < self._max_concurrent:
                self._pump_turn += 1
                last = self._last_arrival
                quiet = last is None or self._clock.now() - last >= QUIET_BEFORE_BATCH
                if quiet:
                    self._start_batch(self._batch)
                elif not self._saturated or self._pump_turn % SATURATED_STRIDE == 0:
                    self._start_batch(1)
                if not self._over_backlog():
                    # Yield: whatever else is ready (HTTP callbacks above all) runs before the
                    # next batch starts.
                    await asyncio.sleep(0)
        finally:
            self._pump = None

    def _start_batch(self, limit: int) -> None:
        """Handle up to `limit` ready messages in one transaction; one that must await
        something gets a task of its own and ends the batch."""
        handled: list[_Job] = []
        try:
            with self._outbox.batch():
                while len(handled) < limit and self._ready:
                    if self._running >= self._max_concurrent:
                        break
                    job = self._queues[self._ready.popleft()].popleft()
                    self._running += 1
                    incoming = job.incoming or self._inbox.get(job.inbox_id)
                    if incoming is None or self._process_at_once(job.inbox_id, incoming):
                        handled.append(job)  # finished once committed
                    else:
                        self._spawn(job, incoming)
                        break  # it runs as its own task: the loop gets a turn first
        except Exception as exc:
            # The batch's replies and inbox updates are rolled back; the messages stay
            # "received" and are processed again by `recover()` at the next start.
            log.exception("committing %d processed message(s) failed", len(handled))
            for job in handled:
                self._finish(job, exc)
            return
        for job in handled:
            self._finish(job, None)
        if handled:
            self._notify()

    def _spawn(self, job: _Job, incoming: Incoming) -> None:
        task = asyncio.create_task(self._run(job, incoming), name=f"inbox-{job.inbox_id}")
        self._tasks[task] = job
        task.add_done_callback(self._task_done)

    async def _run(self, first: _Job, first_incoming: Incoming) -> None:
        job: _Job | None = first
        incoming: Incoming | None = first_incoming
        while job is not None:
            try:
                if incoming is None:
                    incoming = job.incoming or self._inbox.get(job.inbox_id)
                if incoming is not None:
                    await self.process(job.inbox_id, incoming)
            except BaseException as exc:
                self._finish(job, exc)
                raise
            job = self._finish(job, None, may_continue=True)
            incoming = None

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
