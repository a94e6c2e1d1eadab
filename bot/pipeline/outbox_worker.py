"""Delivering queued messages: in order per target, retried with backoff, each marked sent once.

The database holds all state (due time, attempts, last error), so a restart resumes exactly
where the previous process stopped. Waiting is the only real-time operation, and it goes through
an injected `sleep` so tests never wait.

Fairness: a round never waits for one recipient's quota. Senders do not sleep in their rate
limiter; they raise `RateLimited`, and the worker moves that target's head item to when its
window opens (`OutboxRepo.defer`, no attempt counted). `next_batch` never returns items queued
behind a deferred one, so order per target holds, and the round, and the next one, go on to
every other target: a member who receives hundreds of messages delays nobody else.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from enum import Enum

from bot.channels.base import RateLimited, Sender, SendError
from bot.core.clock import Clock
from bot.core.messages import Channel
from bot.core.metrics import Metrics
from storage.audit import AuditRepo
from storage.messaging import OutboxItem, OutboxRepo

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# How long a round's claim on its items holds (several instances on PostgreSQL): long enough
# for any send with its retries inside the API client, short enough that the items of an
# instance that died go out from another soon after.
CLAIM_LEASE = timedelta(minutes=2)
# A round starts no send after this long: one send may take ~90 s at worst (four 10-second
# attempts with backoff, and a token fetch), so the last one ends before the claim lapses
# and another instance could take the item. What is left is released for the next round.
SEND_WINDOW = timedelta(seconds=30)

AUDIT_ACTOR = "outbox"
AUDIT_GIVE_UP = "outbox.give_up"
_MAX_ERROR_CHARS = 500
_SECRET_QUERY = re.compile(r"(?i)\b(key|access_token|secret|token)=[^&\s]+")


class _Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"
    DEFERRED = "deferred"
    GAVE_UP = "gave_up"


class OutboxWorker:
    """Sends what the outbox holds through the channel senders."""

    def __init__(
        self,
        outbox: OutboxRepo,
        senders: Mapping[Channel, Sender],
        clock: Clock,
        audit: AuditRepo,
        *,
        max_attempts: int,
        base_delay: float = 2.0,
        max_delay: float = 600.0,
        batch_size: int = 100,
        concurrency: int = 4,
        idle_wait: float = 5.0,
        sleep: Sleep = asyncio.sleep,
        leave_other_channels: bool = False,
        metrics: Metrics | None = None,
        instance: str = "",
    ) -> None:
        """`leave_other_channels`: items for a channel without a sender stay queued for
        another process (the console beside `serve`) instead of failing as misconfigured.
        `metrics` counts sends by outcome, times them and counts WeCom's errcodes.
        `instance` names this process in its claims on outbox rows (several instances)."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._outbox = outbox
        self._senders = dict(senders)
        self._channels = frozenset(self._senders) if leave_other_channels else None
        self._instance = instance
        self._clock = clock
        self._audit = audit
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._idle_wait = idle_wait
        self._sleep = sleep
        self._metrics = metrics or Metrics()
        self._wake = asyncio.Event()
        # One round at a time: a caller's `run_once` (the console, after each line) and the
        # `run` loop would otherwise read the same batch and send it twice.
        self._round = asyncio.Lock()
        self._more_due = False
        # Delivered items not yet marked: marked together at the end of the loop turn.
        self._delivered: list[int] = []
        self._mark_delivered: asyncio.Handle | None = None

    def leave_channel(self, channel: Channel, leave: bool) -> None:
        """Leave `channel`'s items queued for another instance (True), or send them again.
        Only the leading instance holds the long connection, so only it sends its items."""
        channels = set(self._senders) if self._channels is None else set(self._channels)
        if leave:
            channels.discard(channel)
        elif channel in self._senders:
            channels.add(channel)
        self._channels = frozenset(channels)
        self.wake()

    def wake(self) -> None:
        """Something was queued: stop waiting and look at the outbox now."""
        self._wake.set()

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): doubling, capped."""
        return float(min(self._max_delay, self._base_delay * 2 ** (attempt - 1)))

    async def run_once(self) -> int:
        """Try every due item once; return how many were delivered.

        Safe to call while `run` is looping: a round in progress is finished (and its items
        marked sent) before the next one reads the outbox.
        """
        async with self._round:
            return await self._round_once()

    async def _round_once(self) -> int:
        batch = self._outbox.claim_batch(
            self._clock.now(),
            self._batch_size,
            self._channels,
            instance=self._instance,
            lease=CLAIM_LEASE,
        )
        self._more_due = len(batch) >= self._batch_size
        if not batch:
            return 0
        queues: dict[tuple[Channel, str], list[OutboxItem]] = {}
        for item in batch:
            queues.setdefault((item.channel, item.target), []).append(item)
        limit = asyncio.Semaphore(max(1, self._concurrency))
        closes = self._clock.now() + SEND_WINDOW
        left: list[int] = []
        try:
            sent = await asyncio.gather(
                *(self._send_queue(items, limit, closes, left) for items in queues.values())
            )
        finally:
            self._mark_sent()
            if left:
                self._outbox.release(left, self._instance)
                self._more_due = True
        return sum(sent)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, sleeping until woken or until the next item is due."""
        log.info("outbox worker started")
        while not stop.is_set():
            # Cleared before looking at the DB, so a wake() during run_once is not lost.
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                # e.g. the database is locked or gone: do not spin, try again a bit later.
                log.exception("outbox worker round failed")
                await self._wait(stop, self._idle_wait)
                continue
            if stop.is_set():
                break
            if self._more_due:
                await asyncio.sleep(0)  # let other tasks run between full batches
                continue
            await self._wait(stop, self._seconds_until_due())
        log.info("outbox worker stopped")

    def _seconds_until_due(self) -> float:
        try:
            due = self._outbox.next_due_at(self._channels)
        except Exception:
            log.exception("could not read the next due time")
            return self._idle_wait
        if due is None:
            return self._idle_wait
        seconds = (due - self._clock.now()).total_seconds()
        return max(0.0, min(self._idle_wait, seconds))

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = {
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._sleep(seconds)),
        }
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _send_queue(
        self, items: list[OutboxItem], limit: asyncio.Semaphore, closes: datetime, left: list[int]
    ) -> int:
        """Send one target's items in order; stop at the first that must wait (retry, quota),
        or when the round's send window `closes` (the rest go into `left`)."""
        sent = 0
        async with limit:
            for position, item in enumerate(items):
                if self._clock.now() >= closes:
                    left.extend(i.id for i in items[position:])
                    break
                outcome = await self._deliver(item)
                if outcome is _Outcome.SENT:
                    sent += 1
                elif outcome in (_Outcome.RETRY, _Outcome.DEFERRED):
                    break
        return sent

    async def _deliver(self, item: OutboxItem) -> _Outcome:
        outcome = await self._attempt(item)
        self._metrics.sends.labels(item.channel.value, outcome.value).inc()
        return outcome

    async def _attempt(self, item: OutboxItem) -> _Outcome:
        sender = self._senders.get(item.channel)
        if sender is None:
            self._give_up(item, f"no sender configured for channel {item.channel.value}")
            return _Outcome.GAVE_UP
        metrics = self._metrics
        started = metrics.monotonic()
        try:
            await sender.send(item.message)
        except RateLimited as exc:
            return self._defer(item, exc.retry_after)  # our own quota: not a send, not timed
        except SendError as exc:
            self._timed(item, started)
            errcode = _errcode_of(exc)
            if errcode is not None:
                metrics.wecom_errors.labels(str(errcode)).inc()
            return self._failed(item, str(exc) or type(exc).__name__, retryable=exc.retryable)
        except Exception as exc:
            self._timed(item, started)
            # A sender bug or an unwrapped network error: worth another try, loudly.
            log.exception("sender for %s raised unexpectedly", item.channel.value)
            return self._failed(item, f"{type(exc).__name__}: {exc}", retryable=True)
        self._timed(item, started)
        self._delivered.append(item.id)
        if self._mark_delivered is None:
            # One commit for every delivery that completes in this loop turn.
            self._mark_delivered = asyncio.get_running_loop().call_soon(self._mark_sent)
        return _Outcome.SENT

    def _timed(self, item: OutboxItem, started: float) -> None:
        elapsed = self._metrics.monotonic() - started
        self._metrics.send_seconds.labels(item.channel.value).observe(elapsed)

    def _mark_sent(self) -> None:
        if self._mark_delivered is not None:
            self._mark_delivered.cancel()
            self._mark_delivered = None
        delivered, self._delivered = self._delivered, []
        if not delivered:
            return
        try:
            stale = self._outbox.mark_sent_many(delivered, self._clock.now())
        except Exception:
            # They stay pending and would go out again: say so loudly.
            log.exception("could not record %d delivered outbox item(s)", len(delivered))
            return
        for item_id in stale:
            log.warning("outbox item %d was no longer pending when sent", item_id)

    def _defer(self, item: OutboxItem, seconds: float) -> _Outcome:
        """The target's quota is used up: its queue waits, every other target goes on."""
        self._outbox.defer(item.id, self._clock.now() + timedelta(seconds=seconds))
        log.debug(
            "outbox item %d to %s %s waits %.1fs for its rate limit",
            item.id,
            item.channel.value,
            _describe_target(item),
            seconds,
        )
        return _Outcome.DEFERRED

    def _failed(self, item: OutboxItem, error: str, *, retryable: bool) -> _Outcome:
        error = _redact(error, item)
        attempt = item.attempts + 1
        if retryable and attempt < self._max_attempts:
            delay = self.retry_delay(attempt)
            next_due = self._clock.now() + timedelta(seconds=delay)
            self._outbox.mark_retry(item.id, error, next_due)
            log.warning(
                "outbox item %d to %s %s failed (attempt %d/%d), retry in %.0fs: %s",
                item.id,
                item.channel.value,
                _describe_target(item),
                attempt,
                self._max_attempts,
                delay,
                error,
            )
            return _Outcome.RETRY
        self._give_up(item, error)
        return _Outcome.GAVE_UP

    def _give_up(self, item: OutboxItem, error: str) -> None:
        error = _redact(error, item)
        now = self._clock.now()
        if not self._outbox.mark_failed(item.id, error, now):
            return
        attempts = item.attempts + 1
        detail = (
            f"gave up delivering outbox #{item.id} via {item.channel.value} to "
            f"{item.message.target_kind.value} {_describe_target(item)} after {attempts} "
            f"attempt(s): {error}"
        )
        self._audit.record(now, AUDIT_ACTOR, AUDIT_GIVE_UP, detail)
        log.error(detail)


def _errcode_of(exc: BaseException) -> int | None:
    """WeCom's errcode behind a send error: senders raise SendError from the WeComError (or
    the long connection's refusal) that carries it."""
    cause: BaseException | None = exc
    while cause is not None:
        errcode = getattr(cause, "errcode", None)
        if isinstance(errcode, int):
            return errcode
        cause = cause.__cause__
    return None


def _describe_target(item: OutboxItem) -> str:
    """The target as it may appear in logs: webhook URLs carry their secret in the query."""
    return _SECRET_QUERY.sub(r"\1=***", item.target)


def _redact(error: str, item: OutboxItem) -> str:
    error = error.replace(item.target, _describe_target(item))
    error = _SECRET_QUERY.sub(r"\1=***", error)
    return error[:_MAX_ERROR_CHARS]
