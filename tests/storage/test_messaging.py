"""The inbox and outbox tables: dedup across restarts, atomic hand-over, per-target order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.messages import Channel, ChatType, Incoming, Outgoing, TargetKind
from storage.db import open_database
from storage.messaging import InboxRepo, InboxStatus, OutboxRepo, OutboxStatus

T0 = datetime(2024, 9, 2, 8, 0, tzinfo=UTC)


def incoming(msgid: str = "msg-1", channel: Channel = Channel.AIBOT_WS) -> Incoming:
    return Incoming(
        channel=channel,
        msgid=msgid,
        userid="zhang",
        text="签到 A1",
        chat_type=ChatType.GROUP,
        chat_id="chat-1",
        received_at=T0,
        reply_context={"req_id": "r-1"},
    )


def to_chat(chat: str, text: str, *, key: str | None = None) -> Outgoing:
    return Outgoing(
        channel=Channel.AIBOT_WS,
        target_kind=TargetKind.CHAT,
        target=chat,
        text=text,
        dedup_key=key,
    )


def test_inbox_remembers_a_msgid_across_restart(db_target: Path | str) -> None:
    path = db_target
    db = open_database(path)
    first = InboxRepo(db).record(incoming())
    assert first is not None
    db.conn.close()

    reopened = InboxRepo(open_database(path))
    assert reopened.record(incoming()) is None
    # The same msgid on another channel is another message.
    assert reopened.record(incoming(channel=Channel.APP)) is not None
    (only,) = [row for row in reopened.unprocessed() if row[0] == first]
    assert only[1] == incoming()


def test_unprocessed_lists_only_messages_not_yet_handled(db_target: Path | str) -> None:
    db = open_database(db_target)
    inbox = InboxRepo(db)
    a = inbox.record(incoming("a"))
    b = inbox.record(incoming("b"))
    c = inbox.record(incoming("c"))
    assert a and b and c
    assert inbox.mark_processed(a, T0)
    assert inbox.mark_failed(c, T0)
    assert [msg.msgid for _, msg in inbox.unprocessed()] == ["b"]
    # A finished message is not finished twice.
    assert not inbox.mark_processed(a, T0)
    assert inbox.status(c) is InboxStatus.FAILED


def test_enqueue_with_inbox_id_marks_it_processed_and_never_queues_twice(
    db_target: Path | str,
) -> None:
    db = open_database(db_target)
    inbox, outbox = InboxRepo(db), OutboxRepo(db)
    inbox_id = inbox.record(incoming())
    assert inbox_id is not None

    added = outbox.enqueue(
        [to_chat("chat-1", "已签到"), to_chat("chat-1", "提示")], T0, inbox_id=inbox_id
    )
    assert len(added) == 2
    assert inbox.status(inbox_id) is InboxStatus.PROCESSED
    assert inbox.unprocessed() == []

    # A second processing of the same message (no dedup keys at all) adds nothing.
    assert outbox.enqueue([to_chat("chat-1", "已签到")], T0, inbox_id=inbox_id) == []
    assert outbox.pending_count() == 2


def test_enqueue_is_all_or_nothing(db_target: Path | str) -> None:
    db = open_database(db_target)
    inbox, outbox = InboxRepo(db), OutboxRepo(db)
    inbox_id = inbox.record(incoming())
    assert inbox_id is not None

    def crashing() -> Iterator[Outgoing]:
        yield to_chat("chat-1", "第一条")
        raise RuntimeError("process died while queueing")

    with pytest.raises(RuntimeError):
        outbox.enqueue(crashing(), T0, inbox_id=inbox_id)
    assert outbox.pending_count() == 0
    assert [i for i, _ in inbox.unprocessed()] == [inbox_id]


def test_dedup_key_queues_a_message_once(db_target: Path | str) -> None:
    outbox = OutboxRepo(open_database(db_target))
    assert len(outbox.enqueue([to_chat("chat-1", "明天教研", key="remind:A1")], T0)) == 1
    assert outbox.enqueue([to_chat("chat-1", "明天教研", key="remind:A1")], T0) == []
    # Within one call too.
    assert len(outbox.enqueue([to_chat("c2", "x", key="k"), to_chat("c2", "x", key="k")], T0)) == 1
    assert outbox.pending_count() == 2


def test_next_batch_never_overtakes_an_earlier_message_to_the_same_target(
    db_target: Path | str,
) -> None:
    outbox = OutboxRepo(open_database(db_target))
    first, second = outbox.enqueue([to_chat("chat-1", "一"), to_chat("chat-1", "二")], T0)
    (other,) = outbox.enqueue([to_chat("chat-2", "别的群")], T0)

    assert [item.id for item in outbox.next_batch(T0, 10)] == [first, second, other]

    # The first one waits for a retry: the second must wait behind it, other chats go on.
    outbox.mark_retry(first, "HTTP 503", T0 + timedelta(seconds=30))
    assert [item.id for item in outbox.next_batch(T0 + timedelta(seconds=5), 10)] == [other]
    assert outbox.next_due_at() == T0  # chat-2's message, not chat-1's blocked second
    outbox.mark_sent(other, T0)
    assert outbox.next_due_at() == T0 + timedelta(seconds=30)

    later = outbox.next_batch(T0 + timedelta(seconds=30), 10)
    assert [(item.id, item.message.text) for item in later] == [(first, "一"), (second, "二")]


def test_marking_is_exactly_once_and_counted(db_target: Path | str) -> None:
    outbox = OutboxRepo(open_database(db_target))
    a, b, c = outbox.enqueue([to_chat("x", "1"), to_chat("y", "2"), to_chat("z", "3")], T0)

    assert outbox.mark_sent(a, T0 + timedelta(seconds=1))
    assert not outbox.mark_sent(a, T0 + timedelta(seconds=2))
    assert not outbox.mark_retry(a, "late", T0)
    assert outbox.mark_retry(b, "HTTP 502", T0 + timedelta(seconds=4))
    assert outbox.mark_failed(c, "invalid chatid", T0 + timedelta(seconds=3))

    sent = outbox.get(a)
    assert sent is not None and sent.status is OutboxStatus.SENT
    assert sent.sent_at == T0 + timedelta(seconds=1) and sent.attempts == 1
    retried = outbox.get(b)
    assert retried is not None and retried.attempts == 1 and retried.last_error == "HTTP 502"
    assert outbox.pending_count() == 1
    stats = outbox.stats()
    assert (stats.pending, stats.sent, stats.failed) == (1, 1, 1)
    assert stats.oldest_pending_due == T0 + timedelta(seconds=4)
    assert [item.id for item in outbox.items(OutboxStatus.FAILED)] == [c]


def test_queued_messages_survive_restart(db_target: Path | str) -> None:
    path = db_target
    db = open_database(path)
    OutboxRepo(db).enqueue([to_chat("chat-1", "多行\n消息", key="k1")], T0)
    db.conn.close()

    outbox = OutboxRepo(open_database(path))
    (item,) = outbox.next_batch(T0, 10)
    assert item.message == to_chat("chat-1", "多行\n消息", key="k1")
    assert item.due_at == T0 and item.created_at == T0


def test_deliveries_marked_together_count_once_and_name_the_stale_ones(
    db_target: Path | str,
) -> None:
    outbox = OutboxRepo(open_database(db_target))
    a, b, c = outbox.enqueue([to_chat("x", "1"), to_chat("y", "2"), to_chat("z", "3")], T0)
    outbox.mark_failed(c, "invalid chatid", T0)

    assert outbox.mark_sent_many([a, b, c], T0 + timedelta(seconds=1)) == [c]
    assert outbox.mark_sent_many([a], T0 + timedelta(seconds=2)) == [a]
    stats = outbox.stats()
    assert (stats.pending, stats.sent, stats.failed) == (0, 2, 1)
