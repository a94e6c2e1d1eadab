"""Delivery from the outbox: order per chat, retries with backoff, giving up loudly, waking."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from bot.channels.base import SendError
from bot.channels.wecom.ratelimit import SlidingWindowLimiter
from bot.core.clock import FakeClock
from bot.core.messages import Channel, Outgoing, TargetKind
from bot.pipeline.outbox_worker import CLAIM_LEASE, OutboxWorker, Sleep
from storage.audit import AuditRepo
from storage.db import open_database
from storage.messaging import OutboxRepo, OutboxStatus

T0 = datetime(2024, 9, 2, 8, 0, tzinfo=UTC)
WEBHOOK_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY-123"


class FakeSender:
    """The channel boundary: records what would reach WeCom, fails as scripted."""

    def __init__(self, channel: Channel = Channel.AIBOT_WS) -> None:
        self.channel = channel
        self.sent: list[Outgoing] = []
        self.attempts: list[Outgoing] = []
        self.fail_retryable: dict[str, int] = {}  # target -> failures left
        self.fail_permanently: set[str] = set()
        self.crash_with: Exception | None = None
        self.on_sent: Callable[[Outgoing], None] | None = None

    async def send(self, message: Outgoing) -> None:
        self.attempts.append(message)
        if message.target in self.fail_permanently:
            raise SendError("errcode 93000: invalid chatid", retryable=False)
        left = self.fail_retryable.get(message.target, 0)
        if left:
            self.fail_retryable[message.target] = left - 1
            raise SendError("HTTP 503 from WeCom", retryable=True)
        if self.crash_with is not None:
            error, self.crash_with = self.crash_with, None
            raise error
        self.sent.append(message)
        if self.on_sent is not None:
            self.on_sent(message)


class QuotaSender(FakeSender):
    """A sender with WeCom's per-member quota (the real limiter on the fake clock)."""

    def __init__(self, clock: FakeClock, per_minute: int) -> None:
        super().__init__(Channel.APP)
        self.clock = clock
        self.limiter = SlidingWindowLimiter(per_minute, timedelta(minutes=1), clock)
        self.sent_at: list[tuple[datetime, str, str]] = []

    async def send(self, message: Outgoing) -> None:
        self.limiter.acquire(message.target)
        await super().send(message)
        self.sent_at.append((self.clock.now(), message.target, message.text))


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_database(tmp_path / "bot.db")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def msg(target: str, text: str, *, channel: Channel = Channel.AIBOT_WS) -> Outgoing:
    return Outgoing(channel=channel, target_kind=TargetKind.CHAT, target=target, text=text)


def make_worker(
    db: sqlite_utils.Database,
    clock: FakeClock,
    senders: dict[Channel, FakeSender],
    *,
    max_attempts: int = 5,
    sleep: Sleep = asyncio.sleep,
) -> OutboxWorker:
    return OutboxWorker(
        OutboxRepo(db),
        senders,
        clock,
        AuditRepo(db),
        max_attempts=max_attempts,
        base_delay=2.0,
        max_delay=600.0,
        sleep=sleep,
    )


async def test_a_retrying_message_is_not_overtaken_by_the_next_to_the_same_chat(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    sender = FakeSender()
    sender.fail_retryable["chat-1"] = 1
    worker = make_worker(db, clock, {Channel.AIBOT_WS: sender})
    OutboxRepo(db).enqueue([msg("chat-1", "通知 N1"), msg("chat-1", "通知 N2")], T0)
    OutboxRepo(db).enqueue([msg("chat-2", "别的群")], T0)

    assert await worker.run_once() == 1
    assert [m.text for m in sender.sent] == ["别的群"]
    assert [m.text for m in sender.attempts if m.target == "chat-1"] == ["通知 N1"]

    clock.advance(timedelta(seconds=1))  # backoff is 2 s: nothing yet
    assert await worker.run_once() == 0

    clock.advance(timedelta(seconds=1))
    assert await worker.run_once() == 2
    assert [m.text for m in sender.sent] == ["别的群", "通知 N1", "通知 N2"]


async def test_a_round_asked_for_while_another_runs_does_not_send_twice(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    """The console calls run_once after each line while the run loop may be delivering."""
    sender = FakeSender()
    worker = make_worker(db, clock, {Channel.AIBOT_WS: sender})
    OutboxRepo(db).enqueue([msg("chat-1", "周报")], T0)

    rounds = [asyncio.create_task(worker.run_once()) for _ in range(2)]
    assert sorted(await asyncio.gather(*rounds)) == [0, 1]
    assert [m.text for m in sender.sent] == ["周报"]


async def test_retries_back_off_exponentially_then_send_exactly_once(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    sender = FakeSender()
    sender.fail_retryable["chat-1"] = 3
    worker = make_worker(db, clock, {Channel.AIBOT_WS: sender})
    outbox = OutboxRepo(db)
    (item_id,) = outbox.enqueue([msg("chat-1", "周报")], T0)

    waits: list[float] = []
    for _ in range(3):
        assert await worker.run_once() == 0
        item = outbox.get(item_id)
        assert item is not None and item.status is OutboxStatus.PENDING
        waits.append((item.due_at - clock.now()).total_seconds())
        clock.set(item.due_at)
    assert waits == [2.0, 4.0, 8.0]

    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert [m.text for m in sender.sent] == ["周报"]
    item = outbox.get(item_id)
    assert item is not None
    assert item.status is OutboxStatus.SENT and item.attempts == 4 and item.sent_at == clock.now()


async def test_giving_up_after_max_attempts_leaves_an_audit_line(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    sender = FakeSender()
    sender.fail_retryable["chat-1"] = 100
    worker = make_worker(db, clock, {Channel.AIBOT_WS: sender}, max_attempts=3)
    outbox = OutboxRepo(db)
    (item_id,) = outbox.enqueue([msg("chat-1", "张老师的反思全文")], T0)

    for _ in range(3):
        await worker.run_once()
        clock.advance(timedelta(minutes=10))
    await worker.run_once()

    assert len(sender.attempts) == 3
    item = outbox.get(item_id)
    assert item is not None and item.status is OutboxStatus.FAILED
    assert item.last_error == "HTTP 503 from WeCom"
    ((_, actor, action, detail),) = AuditRepo(db).recent()
    assert actor == "outbox" and action == "outbox.give_up"
    assert "aibot_ws" in detail and "chat-1" in detail and "HTTP 503" in detail
    assert "反思" not in detail  # never the message body


async def test_a_permanent_error_gives_up_at_once_without_leaking_the_webhook_key(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    webhook = FakeSender(Channel.WEBHOOK)
    webhook.fail_permanently.add(WEBHOOK_URL)
    worker = make_worker(db, clock, {Channel.WEBHOOK: webhook})
    OutboxRepo(db).enqueue([msg(WEBHOOK_URL, "明天 9:00 教研", channel=Channel.WEBHOOK)], T0)

    assert await worker.run_once() == 0
    assert len(webhook.attempts) == 1
    (failed,) = OutboxRepo(db).items(OutboxStatus.FAILED)
    assert failed.attempts == 1
    ((_, _, action, detail),) = AuditRepo(db).recent()
    assert action == "outbox.give_up"
    assert "webhook" in detail and "93000" in detail
    assert "SECRET-KEY-123" not in detail and "key=***" in detail


async def test_a_channel_without_sender_fails_with_an_audit_line(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    worker = make_worker(db, clock, {Channel.AIBOT_WS: FakeSender()})
    OutboxRepo(db).enqueue(
        [Outgoing(channel=Channel.APP, target_kind=TargetKind.USER, target="li", text="名单")], T0
    )

    assert await worker.run_once() == 0
    assert OutboxRepo(db).stats().failed == 1
    ((_, _, action, detail),) = AuditRepo(db).recent()
    assert action == "outbox.give_up" and "no sender" in detail and "app" in detail


async def test_a_worker_leaving_other_channels_keeps_their_messages_queued(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    """The console beside `serve`: it sends its own messages and leaves WeCom's to serve."""
    console = FakeSender(Channel.CONSOLE)
    worker = OutboxWorker(
        OutboxRepo(db),
        {Channel.CONSOLE: console},
        clock,
        AuditRepo(db),
        max_attempts=3,
        leave_other_channels=True,
    )
    outbox = OutboxRepo(db)
    outbox.enqueue([msg("chat-1", "群提醒"), msg("me", "私聊", channel=Channel.CONSOLE)], T0)

    assert await worker.run_once() == 1
    assert [m.text for m in console.sent] == ["私聊"]
    [waiting] = outbox.items(OutboxStatus.PENDING)
    assert waiting.channel is Channel.AIBOT_WS and outbox.stats().failed == 0
    assert outbox.next_due_at() == T0 and outbox.next_due_at([Channel.CONSOLE]) is None
    assert AuditRepo(db).recent() == []


async def test_an_unexpected_sender_exception_is_retried(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    sender = FakeSender()
    sender.crash_with = ConnectionResetError("peer reset")
    worker = make_worker(db, clock, {Channel.AIBOT_WS: sender})
    OutboxRepo(db).enqueue([msg("chat-1", "提醒")], T0)

    assert await worker.run_once() == 0
    clock.advance(timedelta(seconds=2))
    assert await worker.run_once() == 1
    assert [m.text for m in sender.sent] == ["提醒"]


async def until(condition: Callable[[], bool], rounds: int = 1000) -> None:
    """Let other tasks run until `condition` holds (no real time passes)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def test_run_wakes_up_on_wake_without_sleeping(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    requested: list[float] = []
    never = asyncio.Event()

    async def sleep_forever(seconds: float) -> None:
        requested.append(seconds)
        await never.wait()

    sender = FakeSender()
    worker = make_worker(db, clock, {Channel.AIBOT_WS: sender}, sleep=sleep_forever)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))

    await until(lambda: len(requested) == 1)
    assert requested == [5.0]  # nothing queued: idle wait, capped

    OutboxRepo(db).enqueue([msg("chat-1", "新通知")], T0)
    worker.wake()
    await until(lambda: len(sender.sent) == 1)
    assert sender.sent[0].text == "新通知"

    stop.set()
    await asyncio.wait_for(running, timeout=1)


async def test_run_sleeps_exactly_until_the_next_retry(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    requested: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        requested.append(seconds)
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    stop = asyncio.Event()
    sender = FakeSender()
    sender.fail_retryable["chat-1"] = 2
    sender.on_sent = lambda _message: stop.set()
    worker = make_worker(db, clock, {Channel.AIBOT_WS: sender}, sleep=fake_sleep)
    OutboxRepo(db).enqueue([msg("chat-1", "活动提醒")], T0)

    await asyncio.wait_for(worker.run(stop), timeout=1)

    assert requested == [2.0, 4.0]
    assert [m.text for m in sender.sent] == ["活动提醒"]
    assert clock.now() == T0 + timedelta(seconds=6)


async def test_a_member_flooding_the_bot_does_not_delay_anyone_elses_reply(
    db: sqlite_utils.Database, clock: FakeClock
) -> None:
    """300 replies to one member wait for that member's quota; the next member's goes at once."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    stop = asyncio.Event()
    sender = QuotaSender(clock, per_minute=30)
    sender.on_sent = lambda _message: stop.set() if len(sender.sent) == 301 else None
    worker = make_worker(db, clock, {Channel.APP: sender}, sleep=fake_sleep)
    outbox = OutboxRepo(db)
    outbox.enqueue([msg("flooder", f"回复 {i}", channel=Channel.APP) for i in range(300)], T0)
    outbox.enqueue([msg("victim", "你的签到已记录", channel=Channel.APP)], T0)

    await asyncio.wait_for(worker.run(stop), timeout=5)

    victim = [(at, i) for i, (at, target, _) in enumerate(sender.sent_at) if target == "victim"]
    assert victim == [(T0, 30)]  # right after the flooder's first quota, no virtual time later
    flood = [(at, text) for at, target, text in sender.sent_at if target == "flooder"]
    assert [text for _, text in flood] == [f"回复 {i}" for i in range(300)]
    assert [at for at, _ in flood] == [T0 + timedelta(minutes=i // 30) for i in range(300)]
    # Waiting for the quota is not a failed attempt: ten windows, yet max_attempts=5 held.
    assert outbox.stats().failed == 0
    assert {item.attempts for item in outbox.items()} == {1}
    assert max(slept) <= 5.0


async def test_a_slow_round_stops_before_its_claim_lapses_and_hands_the_rest_on(
    pg_url: str, clock: FakeClock
) -> None:
    """Two instances on PostgreSQL while WeCom answers slowly (50 s a send): the first stops
    starting sends once its send window closes, and releases the rest, which the second sends
    at once. Had it kept going past its lease, the second would have sent them too."""

    def instance(name: str, sender: FakeSender) -> OutboxWorker:
        db = open_database(pg_url)
        repo = OutboxRepo(db)
        return OutboxWorker(
            repo, {sender.channel: sender}, clock, AuditRepo(db), max_attempts=3, instance=name
        )

    OutboxRepo(open_database(pg_url)).enqueue([msg("chat-1", t) for t in "一二三四"], T0)
    b_sender = FakeSender()
    b = instance("b", b_sender)

    class SlowSender(FakeSender):
        async def send(self, message: Outgoing) -> None:
            await super().send(message)
            clock.advance(timedelta(seconds=50))
            if clock.now() > T0 + CLAIM_LEASE:
                await b.run_once()  # the other instance's round comes meanwhile

    a_sender = SlowSender()
    a = instance("a", a_sender)

    assert await a.run_once() == 1
    assert await b.run_once() == 3  # released: no wait for a's lease to lapse

    assert [m.text for m in a_sender.sent] == ["一"]
    assert [m.text for m in b_sender.sent] == ["二", "三", "四"]
    assert OutboxRepo(open_database(pg_url)).stats().pending == 0
