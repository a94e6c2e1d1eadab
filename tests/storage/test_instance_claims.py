"""Several instances on one PostgreSQL database: who sends an outbox item, who processes an
inbox message. Two repositories on two connections stand for two `serve` instances."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from storage.db import open_database, transaction
from storage.leadership import AdvisoryLeaderLock
from storage.messaging import InboxRepo, OutboxRepo

from .test_messaging import T0, incoming, to_chat

LEASE = timedelta(minutes=2)


def claimed_texts(outbox: OutboxRepo, instance: str, at: timedelta = timedelta()) -> list[str]:
    batch = outbox.claim_batch(T0 + at, 10, None, instance=instance, lease=LEASE)
    return [item.message.text or "" for item in batch]


def test_an_item_is_claimed_by_one_instance_and_a_dead_ones_claim_lapses(pg_url: str) -> None:
    a, b = OutboxRepo(open_database(pg_url)), OutboxRepo(open_database(pg_url))
    first, _ = a.enqueue([to_chat("chat-1", "一"), to_chat("chat-1", "二")], T0)
    a.enqueue([to_chat("chat-2", "三")], T0)

    assert claimed_texts(a, "a") == ["一", "二", "三"]
    assert claimed_texts(b, "b") == []  # nothing is sent twice
    a.mark_sent(first, T0)
    # chat-1's next item is still a's: b may not overtake it.
    assert claimed_texts(b, "b", timedelta(seconds=10)) == []
    assert b.next_due_at() == T0 + LEASE  # b sleeps until a's claim lapses, no busy loop
    # a died: once its claim lapses, b sends what a had not sent, in order.
    assert claimed_texts(b, "b", LEASE) == ["二", "三"]


def test_a_target_another_instance_is_claiming_is_skipped_not_waited_for(pg_url: str) -> None:
    a, b = open_database(pg_url), OutboxRepo(open_database(pg_url))
    b.enqueue([to_chat("chat-1", "一"), to_chat("chat-1", "二")], T0)
    b.enqueue([to_chat("chat-2", "三")], T0)
    with transaction(a.conn):  # instance a is in the middle of claiming chat-1
        a.conn.execute(
            "SELECT id FROM outbox WHERE target = 'chat-1' ORDER BY id LIMIT 1 FOR UPDATE"
        )
        assert claimed_texts(b, "b") == ["三"]


def test_a_retried_item_is_free_for_any_instance_when_due_again(pg_url: str) -> None:
    a, b = OutboxRepo(open_database(pg_url)), OutboxRepo(open_database(pg_url))
    (item,) = a.enqueue([to_chat("chat-1", "一")], T0)
    assert claimed_texts(a, "a") == ["一"]
    a.mark_retry(item, "HTTP 503", T0 + timedelta(seconds=4))
    assert claimed_texts(b, "b", timedelta(seconds=4)) == ["一"]


def test_an_inbox_message_is_processed_by_its_instance_unless_that_one_died(
    pg_url: str,
) -> None:
    a, b = InboxRepo(open_database(pg_url)), InboxRepo(open_database(pg_url))
    (row,) = a.record_many([incoming()], claimed_by="a")
    assert row is not None
    lease = timedelta(minutes=5)
    # b starts up meanwhile: a's fresh message is not b's to recover.
    assert b.unprocessed(T0 - lease) == []
    assert not b.claim(row, "b", T0, T0 - lease)
    # a restarted after a crash (same host and port): its own message is its own at once.
    assert [i for i, _ in a.unprocessed(T0 - lease, "a")] == [row]
    assert a.claim(row, "a", T0, T0 - lease)
    # a died with it unprocessed: after the lease, b takes it over, and only b.
    later = T0 + lease + timedelta(seconds=1)
    assert [i for i, _ in b.unprocessed(later - lease)] == [row]
    assert b.claim(row, "b", later, later - lease)
    assert not a.claim(row, "a", later, later - lease)


def test_sqlite_has_one_instance_and_claims_nothing(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.db")
    outbox, inbox = OutboxRepo(db), InboxRepo(db)
    assert not outbox.shared and not inbox.shared
    outbox.enqueue([to_chat("chat-1", "一")], T0)
    assert claimed_texts(outbox, "a") == ["一"]
    assert claimed_texts(outbox, "b") == ["一"]  # one process: nothing to claim against
    assert db.execute("SELECT claimed_by, claimed_until FROM outbox").fetchall() == [(None, None)]


def test_one_instance_leads_until_its_connection_drops(pg_url: str) -> None:
    a, b = AdvisoryLeaderLock(pg_url), AdvisoryLeaderLock(pg_url)
    try:
        assert a.try_acquire()
        assert not b.try_acquire()
        assert a.still_held()
        a.release()  # the process died: the server closes its connection
        # The server frees the lock when that session's backend has exited, a moment later;
        # the follower asks again until then.
        deadline = time.monotonic() + 10
        while not b.try_acquire():
            assert time.monotonic() < deadline, "the lead was not freed"
            time.sleep(0.01)
        assert not a.try_acquire()
    finally:
        a.release()
        b.release()


def test_a_long_queue_held_by_one_instance_does_not_starve_the_other(pg_url: str) -> None:
    a, b = OutboxRepo(open_database(pg_url)), OutboxRepo(open_database(pg_url))
    b.enqueue([to_chat("chat-1", text) for text in ("一", "二", "三")], T0)
    b.enqueue([to_chat("chat-2", "别的群")], T0)

    def claim(outbox: OutboxRepo, instance: str) -> list[str]:
        batch = outbox.claim_batch(T0, 2, None, instance=instance, lease=LEASE)
        return [item.message.text or "" for item in batch]

    assert claim(b, "b") == ["一", "二"]
    assert claim(a, "a") == ["别的群"]
