"""The two-process `serve`, in one test process: what the intake side records is taken over
by the worker side exactly once, handled in order, and only trickles while intake is busy.

Both sides open the real files (main database and intake file) on their own connections, as
the two processes do; only the socket between them is replaced by direct calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.group_commit import GroupCommit
from bot.intake_handoff import TRICKLE, IntakeHandoff
from bot.intake_writer import (
    BUSY_FOR,
    BUSY_PER_WINDOW,
    BUSY_WINDOW,
    IntakeHousekeeping,
    IntakeWriter,
)
from bot.messages import Channel, Incoming
from bot.pipeline import SATURATED_ARRIVALS
from storage.checkpoint import WalCheckpointer
from storage.db import open_database
from storage.intake import KEEP_TAKEN_OVER, IntakeFile, intake_path, intake_shards
from storage.messaging import InboxRepo, InboxStatus, OutboxRepo
from tests.test_pipeline import T0, FakeRouter, assert_all_processed, group_msg, make_pipeline


class Pokes:
    """What the intake side told the worker: one entry per poke, True when busy."""

    def __init__(self) -> None:
        self.sent: list[bool] = []

    def __call__(self, *, busy: bool = False) -> None:
        self.sent.append(busy)


class Clock:
    """A monotonic clock that moves only when told (the trickle's pacing is tested with it)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


async def record(writer: IntakeWriter, messages: list[Incoming]) -> list[bool]:
    """Submit in one loop turn, as callbacks arriving together would."""
    return list(await asyncio.gather(*(writer.submit(m) for m in messages)))


async def test_callbacks_of_one_turn_share_a_commit_and_a_poke_and_repeats_are_refused(
    db_path: Path,
) -> None:
    intake = IntakeFile(db_path)
    pokes = Pokes()
    writer = IntakeWriter(intake, pokes)
    first = [group_msg(f"m{i}") for i in range(3)]
    assert await record(writer, first) == [True, True, True]
    assert pokes.sent == [False]  # one commit, one poke
    again = await record(writer, [group_msg("m1"), group_msg("m9")])
    assert again == [False, True]  # WeCom's retry of m1 is a duplicate
    assert [row.values[1] for row in intake.after(0, 10)] == ["m0", "m1", "m2", "m9"]


async def test_a_flood_sized_commit_pokes_busy_and_holds_back_checkpoints(db_path: Path) -> None:
    pokes = Pokes()
    clock = Clock()
    writer = IntakeWriter(IntakeFile(db_path), pokes, monotonic=clock)
    assert not writer.busy()
    await record(writer, [group_msg(f"m{i}") for i in range(SATURATED_ARRIVALS)])
    assert pokes.sent == [True]
    # The intake file's checkpoints (disk syncs) wait while the burst goes on.
    intake = IntakeFile(db_path)
    assert writer.busy() and WalCheckpointer(intake.conn, intake.path, defer=writer.busy).deferred()
    clock.now += BUSY_FOR
    assert not writer.busy()


async def test_a_failed_commit_answers_every_callback_of_the_turn_with_the_error(
    db_path: Path,
) -> None:
    intake = IntakeFile(db_path)
    pokes = Pokes()
    writer = IntakeWriter(intake, pokes)
    intake.conn.execute("DROP TABLE intake")  # the disk is gone, in effect
    results = await asyncio.gather(
        writer.submit(group_msg("a")), writer.submit(group_msg("b")), return_exceptions=True
    )
    assert all(isinstance(r, Exception) for r in results)
    assert pokes.sent == []


async def test_the_worker_takes_over_each_row_once_and_handles_it_in_chat_order(
    db_path: Path,
) -> None:
    intake_side = IntakeFile(db_path)
    writer = IntakeWriter(intake_side, Pokes())
    await record(writer, [group_msg(f"m{i}", chat_id="c1") for i in range(5)])
    await record(writer, [group_msg("x1", chat_id="c2")])

    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    handoff = IntakeHandoff([IntakeFile(db_path)], InboxRepo(db), pipeline)
    assert handoff.take_over() == 6
    assert handoff.take_over() == 0  # the hand-off mark moved with the rows
    await pipeline.drain()
    assert [m for m in router.calls if m.startswith("m")] == [f"m{i}" for i in range(5)]
    assert sorted(router.calls) == sorted([*(f"m{i}" for i in range(5)), "x1"])
    assert_all_processed(db, replies=6)

    # A worker restarted on the same files finds nothing new to take, nothing to redo.
    router_after_restart = FakeRouter()
    restarted = make_pipeline(open_database(db_path), router_after_restart)
    assert await restarted.recover() == 0
    again = IntakeHandoff([IntakeFile(db_path)], InboxRepo(db), restarted)
    assert again.take_over() == 0
    assert router_after_restart.calls == []


def at_second(message: Incoming, second: int) -> Incoming:
    return message.model_copy(update={"received_at": T0 + timedelta(seconds=second)})


async def test_several_intake_files_are_taken_over_fairly_in_the_order_received(
    db_path: Path,
) -> None:
    """Two intake processes: one chat's messages can arrive through either (each callback
    is a new connection), and are handled in the order they were received; a repeat that
    the other process also took is handled once; each file keeps its own hand-off mark."""
    first, second = (
        IntakeWriter(IntakeFile(db_path, 0), Pokes()),
        IntakeWriter(IntakeFile(db_path, 1), Pokes()),
    )
    await record(first, [at_second(group_msg("a1"), 1), at_second(group_msg("a3"), 3)])
    await record(second, [at_second(group_msg("a2"), 2), at_second(group_msg("a1"), 4)])
    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    inbox = InboxRepo(db)
    handoff = IntakeHandoff([IntakeFile(db_path, 0), IntakeFile(db_path, 1)], inbox, pipeline)
    assert handoff.take_over(limit=2) == 2  # one row from each file, not two from the first
    assert (inbox.taken_over_through(0), inbox.taken_over_through(1)) == (1, 1)
    assert handoff.take_over() == 2
    await pipeline.drain()
    assert router.calls == ["a1", "a2", "a3"]  # the repeat of a1 through the second: once
    assert (inbox.taken_over_through(0), inbox.taken_over_through(1)) == (2, 2)
    assert handoff.take_over() == 0


def test_the_worker_reads_the_files_of_every_intake_process_and_any_left_behind(
    db_path: Path,
) -> None:
    assert intake_path(db_path, 0).name == "bot.intake.db"
    assert intake_path(db_path, 1).name == "bot.intake1.db"
    assert intake_shards(db_path, 2) == [0, 1]
    IntakeFile(db_path, 3).close()  # an earlier start ran four intake processes
    (db_path.parent / "bot.intake3.db-wal").touch()
    (db_path.parent / "bot.intakeX.db").touch()  # not one of ours
    assert intake_shards(db_path, 1) == [0, 3]


async def test_a_message_already_in_the_inbox_is_not_handled_again(db_path: Path) -> None:
    """E.g. the long connection and a callback delivered the same msgid (or a replaced
    intake file is taken over from its start)."""
    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    await pipeline.submit(group_msg("same"))
    await pipeline.drain()
    writer = IntakeWriter(IntakeFile(db_path), Pokes())
    await record(writer, [group_msg("same"), group_msg("new")])
    handoff = IntakeHandoff([IntakeFile(db_path)], InboxRepo(db), pipeline)
    assert handoff.take_over() == 2
    await pipeline.drain()
    assert router.calls == ["same", "new"]


async def test_a_replaced_intake_file_is_taken_over_from_its_first_row(db_path: Path) -> None:
    db = open_database(db_path)
    inbox = InboxRepo(db)
    writer = IntakeWriter(IntakeFile(db_path), Pokes())
    await record(writer, [group_msg(f"old{i}") for i in range(3)])
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    assert IntakeHandoff([IntakeFile(db_path)], inbox, pipeline).take_over() == 3
    await pipeline.drain()

    for suffix in ("", "-wal", "-shm"):  # an operator deleted the intake file
        Path(f"{intake_path(db_path)}{suffix}").unlink(missing_ok=True)
    fresh = IntakeWriter(IntakeFile(db_path), Pokes())
    await record(fresh, [group_msg("new")])
    handoff = IntakeHandoff([IntakeFile(db_path)], inbox, pipeline)
    await handoff.start()
    await wait_until(lambda: len(router.calls) == 4)
    await handoff.stop()
    assert router.calls == ["old0", "old1", "old2", "new"]


async def test_while_the_intake_is_busy_handling_trickles_and_catches_up_after(
    db_path: Path,
) -> None:
    db = open_database(db_path)
    writer = IntakeWriter(IntakeFile(db_path), Pokes())
    await record(writer, [group_msg(f"m{i:03d}", chat_id=f"c{i}") for i in range(3 * TRICKLE)])
    clock = Clock()
    slept: list[float] = []
    handoff: IntakeHandoff

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            clock.now += 10  # the flood is over: no busy poke for a while
            handoff.wake()

    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    handoff = IntakeHandoff(
        [IntakeFile(db_path)], InboxRepo(db), pipeline, monotonic=clock, sleep=sleep
    )
    handoff.wake(busy=True)
    taken: list[int] = []
    original = handoff.take_over

    def counting_take_over(limit: int | None = None) -> int:
        taken.append(original(limit))
        return taken[-1]

    handoff.take_over = counting_take_over  # type: ignore[method-assign]
    await handoff.start()
    await wait_until(lambda: len(taken) >= 3)
    await handoff.stop()
    assert taken[:3] == [TRICKLE, TRICKLE, TRICKLE]  # two busy turns, then the rest at once
    await pipeline.drain()
    assert len(router.calls) == 3 * TRICKLE


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def test_housekeeping_prunes_only_rows_taken_over_long_ago(db_path: Path) -> None:
    db = open_database(db_path)
    intake = IntakeFile(db_path)
    writer = IntakeWriter(intake, Pokes())
    old = [
        m.model_copy(update={"received_at": T0 - KEEP_TAKEN_OVER * 2})
        for m in (group_msg("old1"), group_msg("old2"), group_msg("old3"))
    ]
    await record(writer, old)
    await record(writer, [group_msg("recent")])
    inbox = InboxRepo(db)
    inbox.take_over({0: intake.after(0, 2)})  # old1, old2 moved; old3 and recent not yet

    class Now:
        def now(self) -> object:
            return T0

    housekeeping = IntakeHousekeeping(intake, inbox, Now())  # type: ignore[arg-type]
    assert housekeeping.prune() == 2
    assert [row.values[1] for row in intake.after(0, 10)] == ["old3", "recent"]
    # Ids are never reused, so the hand-off mark stays right after a prune.
    await record(writer, [group_msg("later")])
    assert intake.after(inbox.taken_over_through(0), 10)[-1].values[1] == "later"
    assert intake.last_id_ever() == 5


async def test_group_commit_gives_each_caller_its_own_result_and_survives_a_cancel() -> None:
    flushed: list[list[int]] = []

    def flush(items: list[int]) -> list[int]:
        flushed.append(items)
        return [item * 10 for item in items]

    commits: GroupCommit[int, int] = GroupCommit(flush)
    gone = asyncio.ensure_future(commits.submit(2))
    results = asyncio.gather(commits.submit(1), commits.submit(3))
    await asyncio.sleep(0)
    gone.cancel()
    assert await results == [10, 30]
    assert flushed == [[2, 1, 3]]  # one flush for the turn, the cancelled one included
    assert commits.waiting == 0


def test_status_of_a_taken_over_row_is_received_until_handled(db_path: Path) -> None:
    db = open_database(db_path)
    intake = IntakeFile(db_path)
    intake.record_many([group_msg("m1")])
    [entry] = InboxRepo(db).take_over({0: intake.after(0, 10)})
    assert entry.channel == Channel.AIBOT_WS.value and entry.conversation == "chat-1"
    assert InboxRepo(db).status(entry.inbox_id) is InboxStatus.RECEIVED
    assert OutboxRepo(db).pending_count() == 0


async def test_a_long_backlog_waits_in_the_intake_file_not_in_memory(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.intake_handoff.MAX_IN_PIPELINE", 10)
    db = open_database(db_path)
    writer = IntakeWriter(IntakeFile(db_path), Pokes())
    await record(writer, [group_msg(f"m{i:02d}", chat_id=f"c{i}") for i in range(25)])
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    held: list[int] = []

    async def sleep(seconds: float) -> None:
        held.append(pipeline.in_progress)
        await pipeline.drain()  # the pipeline catches up while the hand-off pauses

    handoff = IntakeHandoff([IntakeFile(db_path)], InboxRepo(db), pipeline, sleep=sleep)
    await handoff.start()
    await wait_until(lambda: len(router.calls) == 25)
    await handoff.stop()
    assert held and max(held) <= 10
    assert router.calls == [f"m{i:02d}" for i in range(25)]


async def test_a_sustained_rate_of_single_callbacks_counts_as_busy_too(db_path: Path) -> None:
    """A paced burst (one callback per commit, 500/s and more) is answered first as well."""
    clock = Clock()
    pokes = Pokes()
    writer = IntakeWriter(IntakeFile(db_path), pokes, monotonic=clock)
    for i in range(BUSY_PER_WINDOW):
        await record(writer, [group_msg(f"m{i}")])
        clock.now += BUSY_WINDOW / (2 * BUSY_PER_WINDOW)  # 1,000 per second
    assert pokes.sent[: BUSY_PER_WINDOW - 1] == [False] * (BUSY_PER_WINDOW - 1)
    assert pokes.sent[-1] is True
    clock.now += BUSY_WINDOW  # a quiet moment: a new window
    await record(writer, [group_msg("later")])
    assert pokes.sent[-1] is False
