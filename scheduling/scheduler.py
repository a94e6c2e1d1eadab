"""Running what is due, exactly once, woken by an APScheduler alarm clock.

The database is the only truth about what is due (`scheduling.items` derives it from
activities, notices and alliances); `sent_reminders` says what was already done. The scheduler
itself holds no schedule, so a restart, a changed activity or a second process needs no
special handling: `run_due()` looks at the database and does what is due and not yet recorded.

Why one interval job whose next run time is moved, instead of one job per reminder: APScheduler
would then be a second copy of the schedule that must be kept in sync on every change and
rebuilt at every start. Instead a single job ("the alarm") rings at the next due instant —
`rearm()` recomputes it from the database and moves the job there whenever something may have
changed (the app calls it after every handled message) — and, being an interval job, it also
rings at least every `policy.max_sleep` on its own. That bounds how late a change made by
another process (an import, a second bot) is noticed, and an alarm can never get lost:
a date job that misfired or was skipped would leave nothing armed at all.

Re-arming after every message must not cost what the whole window costs (hundreds of
activities at province size). The next wake-up, once worked out, stands until the clock
reaches it or the change log (`schedule_changes`, written by triggers on every schedule
source) shows a row that may bring something forward: changed activities, notices and 征集
are then worked out on their own; a changed alliance, quota or digest request, or the alarm
ringing, works everything out again. Rows that go away are not logged: an alarm left too
early rings, finds nothing and looks again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.clock import Clock
from bot.core.messages import Channel, Outgoing
from bot.core.metrics import Metrics
from bot.pipeline.delivery import expand_effects
from reports.digest import build_digest
from scheduling.items import (
    Compose,
    DigestBuilder,
    DueItem,
    Outcome,
    Planner,
    ReminderPolicy,
)
from scheduling.zones import local_day_bounds
from storage import Storage
from storage.reminders import RemindersRepo, ReminderStatus, ScheduleChanges

log = logging.getLogger(__name__)

ALARM_JOB_ID = "jiaoyan-run-due"
_TICK = timedelta(microseconds=1)
# More changed rows than this at once (a calendar import) are worked out with the rest.
_MAX_ROWS = 200


@dataclass(frozen=True)
class _Plan:
    """The next wake-up as last worked out; it stands while nothing it read has changed."""

    worked_at: datetime
    wake_at: datetime
    seen: int  # the last schedule change taken into account


class ReminderScheduler:
    """Sends reminders, scheduled notices and digests when due; never twice, never lost."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        *,
        zone: ZoneInfo,
        private_channel: Channel | None = None,
        digest_builder: DigestBuilder = build_digest,
        on_enqueued: Callable[[], None] | None = None,
        policy: ReminderPolicy | None = None,
        charts_dir: Path | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`charts_dir` keeps digest charts until sent; by default `charts/` beside the
        database file (none for an in-memory database: digests then go without a picture).
        `metrics` counts what was sent and what was skipped."""
        if charts_dir is None:
            data_dir = storage.data_dir
            charts_dir = data_dir / "charts" if data_dir is not None else None
        self._storage = storage
        self._clock = clock
        self._zone = zone
        self._private_channel = private_channel
        self._on_enqueued = on_enqueued
        self._policy = policy or ReminderPolicy()
        self._reminders = (metrics or Metrics()).reminders  # by status: sent, skipped
        self._repo = storage.reminders
        self._planner = Planner(
            storage,
            self._repo,
            zone=zone,
            private_channel=private_channel,
            digest_builder=digest_builder,
            policy=self._policy,
            charts_dir=charts_dir,
        )
        self._lock = asyncio.Lock()
        self._alarm: AsyncIOScheduler | None = None
        # Items whose composing failed, with the time to try again (this process only).
        self._retry_at: dict[str, datetime] = {}
        self._plan: _Plan | None = None
        self._forgotten = 0  # the change log was last trimmed behind this id

    @property
    def repo(self) -> RemindersRepo:
        return self._repo

    @property
    def policy(self) -> ReminderPolicy:
        return self._policy

    # lifecycle --------------------------------------------------------------------
    async def start(self, *, paused: bool = False) -> None:
        """Catch up on what fell due while the bot was down, then arm the alarm.

        `paused` arms the alarm without letting it ring (for tests and dry runs).
        """
        if self._alarm is not None:
            return
        await self.run_due()
        alarm = AsyncIOScheduler(timezone=self._zone)
        alarm.start(paused=paused)
        self._alarm = alarm
        self._add_job(self.wake_time())
        log.info("scheduler started; next wake-up at %s", self.alarm_at)

    async def stop(self) -> None:
        """Disarm the alarm and wait for a round in progress to finish."""
        alarm, self._alarm = self._alarm, None
        if alarm is not None and alarm.running:
            alarm.shutdown(wait=False)
            await asyncio.sleep(0)  # APScheduler finishes its shutdown on the loop
        async with self._lock:
            pass
        log.info("scheduler stopped")

    @property
    def alarm_at(self) -> datetime | None:
        """When the alarm will ring next (None when not started)."""
        if self._alarm is None:
            return None
        job = self._alarm.get_job(ALARM_JOB_ID)
        return job.next_run_time if job is not None else None

    def rearm(self) -> None:
        """Move the alarm to the next due instant; cheap, safe to call after any change."""
        if self._alarm is None:
            return
        try:
            when = self.wake_time()
            job = self._alarm.get_job(ALARM_JOB_ID)
            if job is None:
                self._add_job(when)
            elif job.next_run_time != when:
                job.modify(next_run_time=when)
        except Exception:
            log.exception("could not re-arm the reminder alarm")

    def _add_job(self, when: datetime) -> None:
        assert self._alarm is not None
        self._alarm.add_job(
            self._ring,
            trigger=IntervalTrigger(
                seconds=self._policy.max_sleep.total_seconds(), timezone=self._zone
            ),
            id=ALARM_JOB_ID,
            name="run due reminders",
            next_run_time=when,
            misfire_grace_time=None,
            coalesce=True,
            # A ring may be due while the previous one is finishing; run_due serialises them.
            max_instances=2,
            replace_existing=True,
        )

    async def _ring(self) -> None:
        try:
            await self.run_due()
        except Exception:
            log.exception("running due reminders failed")
        finally:
            self.rearm()

    # what is due ------------------------------------------------------------------
    def wake_time(self) -> datetime:
        """Now if something is due, else the next due instant, at most `max_sleep` away."""
        now = self._clock.now()
        plan = self._plan
        if plan is not None and plan.worked_at <= now < plan.wake_at:
            seen, changes = self._repo.schedule_changes_after(plan.seen)
            if not changes:
                return plan.wake_at
            if not changes.settings and changes.rows <= _MAX_ROWS:
                wake = self._first_due(now, plan.wake_at, changes)
                self._plan = replace(plan, wake_at=wake, seen=seen)
                return wake
        seen = self._repo.last_schedule_change()
        wake = self._first_due(now, now + self._policy.max_sleep)
        self._plan = _Plan(worked_at=now, wake_at=wake, seen=seen)
        return wake

    def _first_due(
        self, now: datetime, until: datetime, only: ScheduleChanges | None = None
    ) -> datetime:
        """Now if something (of `only`) is due, else its next due instant, else `until`."""
        if self._due_items(now, only):
            return now
        upcoming = self.next_due_after(now, until, only)
        return upcoming if upcoming is not None else until

    def next_due_after(
        self, moment: datetime, until: datetime, only: ScheduleChanges | None = None
    ) -> datetime | None:
        """The earliest instant in (moment, until] at which something not yet done is due."""
        # Quiet hours defer by less than a day: earlier nominal times may fire in the window.
        candidates = self._open_items(moment - timedelta(days=1), until + _TICK, only)
        times = [t for t in (self._effective(item) for item in candidates) if moment < t <= until]
        return min(times) if times else None

    def _open_items(
        self, start: datetime, end: datetime, only: ScheduleChanges | None = None
    ) -> list[DueItem]:
        items = [i for i in self._planner.items(start, end, only) if i.applicable]
        done = self._repo.recorded(i.key for i in items)
        return [i for i in items if i.key not in done]

    def _effective(self, item: DueItem) -> datetime:
        retry = self._retry_at.get(item.key)
        return max(item.fire_at, retry) if retry is not None else item.fire_at

    def _due_items(self, now: datetime, only: ScheduleChanges | None = None) -> list[DueItem]:
        items = self._open_items(now - self._policy.lookback, now + _TICK, only)
        due = [i for i in items if self._effective(i) <= now]
        return sorted(due, key=lambda i: (i.fire_at, i.key))

    # doing it -------------------------------------------------------------------
    async def run_due(self) -> int:
        """Send (or deliberately skip) everything due at the clock's now; returns how many
        items were sent. Safe to call any number of times, from any number of processes."""
        async with self._lock:
            now = self._clock.now()
            sent = queued = 0
            due = self._due_items(now)
            for item in due:
                try:
                    done, messages = await self._run_item(item, now)
                except Exception:
                    self._retry_at[item.key] = now + self._policy.retry_after
                    log.exception("%s (%s) failed; will retry", item.key, item.label)
                    continue
                self._retry_at.pop(item.key, None)
                sent += done
                queued += messages
            if queued:
                self._notify()
            if due:  # what was recorded (or will be retried) changed what is due next
                self._plan = None
            self._forget_seen_changes()
            return sent

    def _forget_seen_changes(self) -> None:
        """Empty the change log up to what the scheduler has taken into account."""
        seen = self._plan.seen if self._plan is not None else self._forgotten
        if seen > self._forgotten:
            self._repo.forget_schedule_changes(through=seen)
            self._forgotten = seen

    async def _run_item(self, item: DueItem, now: datetime) -> tuple[int, int]:
        """(1 if sent else 0, messages queued)."""
        if item.useful_until is not None and now >= item.useful_until:
            outcome = await _composed(item.compose_missed, now)
            count = self._commit(item, ReminderStatus.SKIPPED, outcome, self._expand(outcome), now)
            if count is not None:
                log.warning(
                    "skipped %s (%s) due at %s: too late, it was only useful until %s",
                    item.key,
                    item.label,
                    _local(item.fire_at, item.zone),
                    _local(item.useful_until, item.zone),
                )
            return 0, count or 0
        if item.guard is not None:
            day_start, day_end = local_day_bounds(now, item.zone)
            if self._repo.sent_between(item.guard, day_start, day_end):
                if self._commit(item, ReminderStatus.SKIPPED, Outcome(), [], now) is not None:
                    log.info("skipped %s (%s): already reminded today", item.key, item.label)
                return 0, 0
        outcome = await _composed(item.compose, now)
        messages = self._expand(outcome)
        if not messages:
            if self._commit(item, ReminderStatus.SKIPPED, outcome, [], now) is not None:
                log.info("skipped %s (%s): %s", item.key, item.label, outcome.why_empty)
            return 0, 0
        if now - item.fire_at > self._policy.late_after:
            log.info(
                "catching up %s (%s) due at %s",
                item.key,
                item.label,
                _local(item.fire_at, item.zone),
            )
        count = self._commit(item, ReminderStatus.SENT, outcome, messages, now)
        if count is None:
            log.info("%s was already handled by another run", item.key)
            return 0, 0
        log.info("sent %s (%s): %d message(s)", item.key, item.label, count)
        return 1, count

    def _commit(
        self,
        item: DueItem,
        status: ReminderStatus,
        outcome: Outcome,
        messages: list[Outgoing],
        now: datetime,
    ) -> int | None:
        """Record the item with its messages; the number queued, or None if already recorded."""
        done = self._repo.commit(
            item.key,
            status,
            messages,
            at=now,
            notice_update=outcome.notice_update,
            clear_request=outcome.clear_request,
        )
        if not done:
            return None
        self._reminders.labels(status.value).inc()
        return len(messages)

    def _expand(self, outcome: Outcome) -> list[Outgoing]:
        return expand_effects(
            None, outcome.effects, self._storage.chats, private_channel=self._private_channel
        )

    def _notify(self) -> None:
        if self._on_enqueued is None:
            return
        try:
            self._on_enqueued()
        except Exception:
            log.exception("on_enqueued callback failed")


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="minutes")


async def _composed(compose: Compose | None, now: datetime) -> Outcome:
    """What `compose` gives (awaited when it is async); nothing to send without one."""
    if compose is None:
        return Outcome()
    result = compose(now)
    return result if isinstance(result, Outcome) else await result
