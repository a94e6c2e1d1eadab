"""From an incoming message to what users see: dedup, crash recovery, routing of answers."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from bot.channels.console_sender import ConsoleSender
from bot.core.clock import FakeClock
from bot.core.messages import (
    Broadcast,
    Channel,
    ChatType,
    Direct,
    Effect,
    Incoming,
    Outgoing,
    Reply,
    TargetKind,
)
from bot.pipeline.delivery import PRIVATE_IN_GROUP_NOTE, expand_effects
from bot.pipeline.inbox import (
    APOLOGY_TEXT,
    DEFAULT_MAX_CONCURRENT,
    SATURATED_ARRIVALS,
    SATURATED_STRIDE,
    Commit,
    Pipeline,
    PlainHandle,
    replies_from,
)
from bot.pipeline.outbox_worker import OutboxWorker
from storage.audit import AuditRepo
from storage.chats import ChatsRepo
from storage.db import open_database, transaction
from storage.messaging import InboxRepo, InboxStatus, OutboxRepo

T0 = datetime(2024, 9, 2, 8, 0, tzinfo=UTC)
WEBHOOK_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"


def group_msg(
    msgid: str = "msg-1",
    *,
    channel: Channel = Channel.AIBOT_WS,
    text: str = "签到 A1",
    chat_id: str = "chat-1",
) -> Incoming:
    return Incoming(
        channel=channel,
        msgid=msgid,
        userid="zhang",
        text=text,
        chat_type=ChatType.GROUP,
        chat_id=chat_id,
        received_at=T0,
        reply_context={"req_id": f"req-{msgid}"},
    )


def single_msg(msgid: str = "msg-1", *, channel: Channel = Channel.AIBOT_WS) -> Incoming:
    return Incoming(channel=channel, msgid=msgid, userid="zhang", text="我的记录", received_at=T0)


class FakeRouter:
    """Stands in for the router's dispatch: answers each message, counting the calls."""

    def __init__(self, answer: Callable[[Incoming], list[Effect]] | None = None) -> None:
        self.calls: list[str] = []
        self.answer = answer or (lambda incoming: [Reply(text=f"已收到：{incoming.text}")])

    async def __call__(self, incoming: Incoming) -> list[Effect]:
        self.calls.append(incoming.msgid)
        return self.answer(incoming)


def make_pipeline(
    db: sqlite_utils.Database,
    router: PlainHandle,
    *,
    private_channel: Channel | None = None,
    on_enqueued: Callable[[], None] | None = None,
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
) -> Pipeline:
    return Pipeline(
        InboxRepo(db),
        OutboxRepo(db),
        ChatsRepo(db),
        replies_from(router),
        FakeClock(T0),
        private_channel=private_channel,
        on_enqueued=on_enqueued,
        max_concurrent=max_concurrent,
    )


def assert_all_processed(db: sqlite_utils.Database, *, replies: int) -> None:
    """Every received message is processed and `replies` replies wait in the outbox."""
    assert InboxRepo(db).unprocessed() == []
    assert OutboxRepo(db).pending_count() == replies


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


# --- the pipeline ------------------------------------------------------------------------


async def test_the_same_msgid_three_times_is_answered_once(db_path: Path) -> None:
    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)

    results = [await pipeline.submit(group_msg()) for _ in range(3)]
    await pipeline.drain()

    assert results == [True, False, False]
    assert router.calls == ["msg-1"]
    (item,) = OutboxRepo(db).items()
    assert item.message.text == "已收到：签到 A1"
    assert item.message.target == "chat-1" and item.message.reply_context == {"req_id": "req-msg-1"}

    # WeCom redelivers after our restart: still nothing new.
    db.conn.close()
    db = open_database(db_path)
    again = make_pipeline(db, router)
    assert await again.submit(group_msg()) is False
    await again.drain()
    assert router.calls == ["msg-1"] and OutboxRepo(db).pending_count() == 1


async def test_a_message_stored_before_a_crash_is_processed_once_at_start(db_path: Path) -> None:
    db = open_database(db_path)
    # What survives a kill -9 right after submit() wrote the inbox row.
    InboxRepo(db).record(group_msg("m-crash"))
    db.conn.close()

    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    assert await pipeline.recover() == 1
    assert await pipeline.recover() == 0
    assert await pipeline.submit(group_msg("m-crash")) is False  # WeCom's retry
    await pipeline.drain()

    assert router.calls == ["m-crash"]
    assert [item.message.text for item in OutboxRepo(db).items()] == ["已收到：签到 A1"]


async def test_processing_interrupted_midway_is_redone_once_after_restart(db_path: Path) -> None:
    db = open_database(db_path)

    async def dying_router(incoming: Incoming) -> list[Effect]:
        # The process is stopped while the router is busy (shutdown or kill).
        raise asyncio.CancelledError

    pipeline = Pipeline(
        InboxRepo(db), OutboxRepo(db), ChatsRepo(db), replies_from(dying_router), FakeClock(T0)
    )
    assert await pipeline.submit(group_msg("m-1"))
    await pipeline.drain()
    assert OutboxRepo(db).pending_count() == 0
    db.conn.close()

    db = open_database(db_path)
    router = FakeRouter()
    restarted = make_pipeline(db, router)
    assert await restarted.recover() == 1
    assert router.calls == ["m-1"]
    assert_all_processed(db, replies=1)


async def test_messages_in_one_chat_are_answered_in_order(db_path: Path) -> None:
    db = open_database(db_path)
    gate = asyncio.Event()
    calls: list[str] = []

    async def router(incoming: Incoming) -> list[Effect]:
        calls.append(incoming.msgid)
        if incoming.msgid == "m-1":
            await gate.wait()  # e.g. the handler waits on a WeCom API call
        return [Reply(text=f"回复 {incoming.msgid}")]

    pipeline = Pipeline(
        InboxRepo(db), OutboxRepo(db), ChatsRepo(db), replies_from(router), FakeClock(T0)
    )
    assert await pipeline.submit(group_msg("m-1"))
    assert await pipeline.submit(group_msg("m-2"))
    assert await pipeline.submit(group_msg("m-3", chat_id="chat-2"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert calls == ["m-1", "m-3"]  # the other chat is not held up

    gate.set()
    await pipeline.drain()
    texts = [item.message.text for item in OutboxRepo(db).items() if item.target == "chat-1"]
    assert texts == ["回复 m-1", "回复 m-2"]


async def test_new_messages_are_accepted_while_earlier_ones_are_stuck(db_path: Path) -> None:
    """WeCom gets its answer even when every processing slot waits on something slow."""
    db = open_database(db_path)
    gate = asyncio.Event()
    calls: list[str] = []

    async def router(incoming: Incoming) -> list[Effect]:
        calls.append(incoming.msgid)
        if incoming.text == "慢":
            await gate.wait()  # e.g. a file download from WeCom
        return [Reply(text=f"回复 {incoming.msgid}")]

    pipeline = make_pipeline(db, router, max_concurrent=2)
    assert await pipeline.submit(group_msg("m-1", text="慢"))
    assert await pipeline.submit(group_msg("m-2", text="慢", chat_id="chat-2"))
    for _ in range(10):
        await asyncio.sleep(0)
    assert calls == ["m-1", "m-2"]

    later = [("m-3", "chat-1"), ("m-4", "chat-3"), ("m-5", "chat-1"), ("m-6", "chat-3")]
    for msgid, chat in later:
        # submit() returns without waiting for a free slot, and the message is already durable.
        assert await pipeline.submit(group_msg(msgid, chat_id=chat))
    assert len(InboxRepo(db).unprocessed()) == 6 and pipeline.in_progress == 6
    for _ in range(10):
        await asyncio.sleep(0)
    assert calls == ["m-1", "m-2"]  # both slots still busy

    gate.set()
    await pipeline.drain()
    assert pipeline.in_progress == 0 and InboxRepo(db).unprocessed() == []
    assert sorted(calls) == ["m-1", "m-2", "m-3", "m-4", "m-5", "m-6"]
    by_chat: dict[str, list[str]] = {}
    for item in OutboxRepo(db).items():
        by_chat.setdefault(item.target, []).append(item.message.text)
    assert by_chat == {
        "chat-1": ["回复 m-1", "回复 m-3", "回复 m-5"],
        "chat-2": ["回复 m-2"],
        "chat-3": ["回复 m-4", "回复 m-6"],
    }


async def test_a_backlog_is_processed_one_message_per_loop_turn(db_path: Path) -> None:
    """Under a flood other tasks (the HTTP callbacks) get a turn between any two messages."""
    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    # 20 callbacks in the same loop turn: one inbox commit, then all are answered.
    accepted = await asyncio.gather(
        *(pipeline.submit(group_msg(f"m-{i}", chat_id=f"chat-{i}")) for i in range(20))
    )
    assert accepted == [True] * 20

    seen: list[int] = []
    for _ in range(8):  # a callback handler that needs the loop now and then
        seen.append(len(router.calls))
        await asyncio.sleep(0)
    assert all(after - before <= 1 for before, after in itertools.pairwise(seen))
    assert seen[-1] < 20

    await pipeline.drain()
    assert sorted(router.calls) == sorted(f"m-{i}" for i in range(20))
    assert OutboxRepo(db).pending_count() == 20


def callbacks(pipeline: Pipeline, count: int, prefix: str) -> list[asyncio.Future[bool]]:
    """`count` callbacks arriving now, each from its own chat (not awaited yet)."""
    return [
        asyncio.ensure_future(pipeline.submit(group_msg(f"{prefix}-{i}", chat_id=f"{prefix}{i}")))
        for i in range(count)
    ]


async def test_when_callbacks_pile_up_in_each_turn_processing_steps_back_further(
    db_path: Path,
) -> None:
    """A saturated loop answers WeCom first: processing takes only every few turns."""
    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    submits = callbacks(pipeline, 10, "m")
    await asyncio.sleep(0)
    turns = 4 * SATURATED_STRIDE
    before = len(router.calls)
    for turn in range(turns):  # a clump of callbacks in every loop turn
        submits += callbacks(pipeline, SATURATED_ARRIVALS, f"flood{turn}")
        await asyncio.sleep(0)
    assert len(router.calls) - before <= turns // SATURATED_STRIDE + 1

    await asyncio.gather(*submits)  # the flood is over: everything is answered
    await pipeline.drain()
    assert OutboxRepo(db).pending_count() == 10 + turns * SATURATED_ARRIVALS


async def test_callbacks_of_one_turn_are_acknowledged_only_once_their_rows_are_committed(
    db_path: Path,
) -> None:
    """Group commit: the answer to WeCom waits for the commit, so an ack means "stored"."""
    db = open_database(db_path)
    pipeline = make_pipeline(db, FakeRouter(lambda incoming: []))
    other = open_database(db_path)  # another connection sees only committed rows

    def committed() -> int:
        return int(other.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])

    submits = [
        asyncio.ensure_future(pipeline.submit(group_msg(f"m-{i}", chat_id=f"c{i}")))
        for i in range(10)
    ]
    submits.append(asyncio.ensure_future(pipeline.submit(group_msg("m-3", chat_id="c3"))))
    await asyncio.sleep(0)  # every callback has reached the inbox; none is answered yet
    assert committed() == 0 and not any(task.done() for task in submits)
    results = await asyncio.gather(*submits)
    assert committed() == 10
    assert results == [True] * 10 + [False]  # the redelivery in the same turn is a duplicate
    await pipeline.drain()


async def test_a_callback_that_gives_up_waiting_still_has_its_message_processed(
    db_path: Path,
) -> None:
    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    submit = asyncio.ensure_future(pipeline.submit(group_msg("m-1")))
    await asyncio.sleep(0)
    submit.cancel()  # e.g. WeCom closed the connection before we answered
    await pipeline.drain()
    assert router.calls == ["m-1"]
    assert_all_processed(db, replies=1)


async def test_a_long_backlog_is_reloaded_from_the_inbox_and_answered_in_full(
    db_path: Path,
) -> None:
    """Only ids wait in memory; the messages come back intact."""
    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    texts = [f"反思 A1 第{i}条：今天的课堂讨论很充分😀" for i in range(8)]
    await asyncio.gather(
        *(pipeline.submit(group_msg(f"m-{i}", text=text)) for i, text in enumerate(texts))
    )
    await pipeline.drain()
    assert router.calls == [f"m-{i}" for i in range(8)]  # one chat: arrival order kept
    assert [item.message.text for item in OutboxRepo(db).items()] == [
        f"已收到：{text}" for text in texts
    ]


async def test_handle_now_waits_for_its_own_message_behind_a_backlog(db_path: Path) -> None:
    db = open_database(db_path)
    router = FakeRouter()
    pipeline = make_pipeline(db, router)
    for i in range(5):
        assert await pipeline.submit(group_msg(f"m-{i}"))
    assert await pipeline.handle_now(group_msg("m-last"))
    assert router.calls == [f"m-{i}" for i in range(5)] + ["m-last"]
    assert [item.message.text for item in OutboxRepo(db).items()][-1] == "已收到：签到 A1"
    assert OutboxRepo(db).pending_count() == 6 and pipeline.in_progress == 0


async def test_a_failing_handler_gets_the_user_an_apology_not_a_stack_trace(
    db_path: Path,
) -> None:
    db = open_database(db_path)

    def explode(incoming: Incoming) -> list[Effect]:
        raise RuntimeError("KeyError in handlers/signins.py line 42")

    wakes: list[int] = []
    pipeline = make_pipeline(db, FakeRouter(explode), on_enqueued=lambda: wakes.append(1))
    assert await pipeline.handle_now(group_msg("m-err"))

    (item,) = OutboxRepo(db).items()
    assert item.message.text == APOLOGY_TEXT
    assert item.message.target == "chat-1" and item.message.channel is Channel.AIBOT_WS
    assert "KeyError" not in item.message.text
    (status,) = db.execute("SELECT status FROM inbox WHERE msgid = 'm-err'").fetchone()
    assert status == InboxStatus.FAILED
    assert InboxRepo(db).unprocessed() == []  # not retried forever at each start
    assert wakes == [1]


async def test_handle_now_waits_for_the_replies_and_wakes_the_worker(db_path: Path) -> None:
    db = open_database(db_path)
    wakes: list[int] = []
    pipeline = make_pipeline(db, FakeRouter(), on_enqueued=lambda: wakes.append(1))

    assert await pipeline.handle_now(single_msg("m-1")) is True
    assert OutboxRepo(db).pending_count() == 1 and wakes == [1]
    assert await pipeline.handle_now(single_msg("m-1")) is False
    assert wakes == [1]


async def test_console_user_sees_public_and_private_answers(db_path: Path) -> None:
    """End to end: console message → router → outbox → worker → console output."""
    db = open_database(db_path)
    lines: list[str] = []
    names = {"zhang": "张老师", "li": "李组长"}
    router = FakeRouter(
        lambda incoming: [
            Reply(text="已签到 ✅\n第 3 位", mention=["zhang"]),
            Reply(text="你的学时：12", private=True),
            Direct(userids=["li"], text="未签到：王老师"),
        ]
    )
    clock = FakeClock(T0)
    worker = OutboxWorker(
        OutboxRepo(db),
        {Channel.CONSOLE: ConsoleSender(lines.append, lambda uid: names.get(uid, uid))},
        clock,
        AuditRepo(db),
        max_attempts=3,
    )
    pipeline = Pipeline(
        InboxRepo(db),
        OutboxRepo(db),
        ChatsRepo(db),
        replies_from(router),
        clock,
        on_enqueued=worker.wake,
    )

    assert await pipeline.handle_now(group_msg(channel=Channel.CONSOLE))
    assert await worker.run_once() == 3

    assert lines == [
        "[群 chat-1] 教研助手: @张老师 已签到 ✅\n    第 3 位",
        "[私信 → 张老师] 教研助手: 你的学时：12",
        "[私信 → 李组长] 教研助手: 未签到：王老师",
    ]


# --- expand_effects ----------------------------------------------------------------------


@pytest.fixture
def chats(db_path: Path) -> ChatsRepo:
    db = open_database(db_path)
    for alliance_id, name in [(1, "东部协作体"), (2, "中西部一组")]:
        db.execute(
            "INSERT INTO alliances (id, name, created_at) VALUES (?, ?, ?)",
            (alliance_id, name, "2024-09-01T00:00:00.000000Z"),
        )
    repo = ChatsRepo(db)
    repo.bind("ws-chat", Channel.AIBOT_WS.value, 1, bound_by="admin", at=T0)
    repo.bind(
        "hooked-chat", Channel.AIBOT_HTTP.value, 1, bound_by="admin", at=T0, webhook_url=WEBHOOK_URL
    )
    repo.bind("http-only-chat", Channel.AIBOT_HTTP.value, 1, bound_by="admin", at=T0)
    repo.bind("app-chat", Channel.APP.value, 2, bound_by="admin", at=T0)
    return repo


@pytest.mark.parametrize("channel", [Channel.AIBOT_WS, Channel.APP, Channel.CONSOLE])
def test_private_reply_in_group_goes_to_the_sender_on_the_same_channel(
    chats: ChatsRepo, channel: Channel
) -> None:
    (out,) = expand_effects(
        group_msg(channel=channel),
        [Reply(text="王老师、李老师未交反思", private=True)],
        chats,
        private_channel=None,
    )
    assert (out.channel, out.target_kind, out.target) == (channel, TargetKind.USER, "zhang")
    assert out.reply_context == {}


def test_private_reply_on_http_callback_uses_the_private_channel(chats: ChatsRepo) -> None:
    (out,) = expand_effects(
        group_msg(channel=Channel.AIBOT_HTTP),
        [Reply(text="王老师、李老师未交反思", private=True)],
        chats,
        private_channel=Channel.APP,
    )
    assert (out.channel, out.target_kind, out.target) == (Channel.APP, TargetKind.USER, "zhang")


def test_private_reply_on_http_callback_never_leaks_into_the_group(chats: ChatsRepo) -> None:
    (out,) = expand_effects(
        group_msg(channel=Channel.AIBOT_HTTP),
        [Reply(text="王老师、李老师未交反思", private=True)],
        chats,
        private_channel=None,
    )
    assert (out.channel, out.target_kind, out.target) == (
        Channel.AIBOT_HTTP,
        TargetKind.CHAT,
        "chat-1",
    )
    assert out.text == PRIVATE_IN_GROUP_NOTE and "王老师" not in out.text
    assert "私聊" in out.text and out.mention == ["zhang"]


def test_public_replies_go_back_where_the_message_came_from(chats: ChatsRepo) -> None:
    in_group = group_msg(channel=Channel.AIBOT_HTTP)
    (out,) = expand_effects(in_group, [Reply(text="已签到")], chats, private_channel=None)
    assert (out.channel, out.target_kind, out.target) == (
        Channel.AIBOT_HTTP,
        TargetKind.CHAT,
        "chat-1",
    )
    assert out.reply_context == {"req_id": "req-msg-1"}

    (out,) = expand_effects(
        in_group, [Reply(text="**好**", markdown=True)], chats, private_channel=None
    )
    assert out.markdown and out.text == "**好**"

    # In a one-to-one chat even a private reply simply answers there.
    (out,) = expand_effects(
        single_msg(), [Reply(text="你的记录", private=True)], chats, private_channel=None
    )
    assert (out.channel, out.target_kind, out.target) == (
        Channel.AIBOT_WS,
        TargetKind.USER,
        "zhang",
    )


def test_broadcast_uses_webhooks_where_bound_and_skips_unpushable_chats(
    chats: ChatsRepo,
) -> None:
    outs = expand_effects(
        None,
        [Broadcast(text="【通知】周五教研", alliance_ids=[1], dedup_key="notice:N1")],
        chats,
        private_channel=None,
    )
    assert [(o.channel, o.target_kind, o.target) for o in outs] == [
        (Channel.AIBOT_WS, TargetKind.CHAT, "ws-chat"),
        (Channel.WEBHOOK, TargetKind.CHAT, WEBHOOK_URL),
    ]
    assert [o.dedup_key for o in outs] == [
        "notice:N1:aibot_ws:ws-chat",
        "notice:N1:webhook:hooked-chat",
    ]

    everywhere = expand_effects(None, [Broadcast(text="全区通知")], chats, private_channel=None)
    assert {o.target for o in everywhere} == {"ws-chat", WEBHOOK_URL, "app-chat"}


def test_direct_messages_use_the_private_channel_or_the_console(chats: ChatsRepo) -> None:
    direct = Direct(userids=["li", "wang", "li"], text="未交反思：3 人", dedup_key="missing:A1")
    outs = expand_effects(None, [direct], chats, private_channel=Channel.APP)
    assert [(o.channel, o.target_kind, o.target, o.dedup_key) for o in outs] == [
        (Channel.APP, TargetKind.USER, "li", "missing:A1:app:li"),
        (Channel.APP, TargetKind.USER, "wang", "missing:A1:app:wang"),
    ]

    from_console = expand_effects(
        group_msg(channel=Channel.CONSOLE), [direct], chats, private_channel=Channel.APP
    )
    assert {o.channel for o in from_console} == {Channel.CONSOLE}

    assert expand_effects(None, [direct], chats, private_channel=None) == []


def test_replies_get_keys_from_the_msgid_so_reprocessing_queues_nothing_new(
    db_path: Path, chats: ChatsRepo
) -> None:
    incoming = group_msg("m-7")
    effects: list[Effect] = [Reply(text="一"), Reply(text="二", private=True)]
    outs = expand_effects(incoming, effects, chats, private_channel=None)
    assert [o.dedup_key for o in outs] == ["reply:aibot_ws:m-7:0", "reply:aibot_ws:m-7:1"]

    outbox = OutboxRepo(open_database(db_path))
    assert len(outbox.enqueue(outs, T0)) == 2
    again = expand_effects(incoming, effects, chats, private_channel=None)
    assert outbox.enqueue(again, T0) == []


async def test_console_sender_shows_mentions_and_indents_long_text() -> None:
    lines: list[str] = []
    sender = ConsoleSender(lines.append)
    text = "【通知】周五教研\n\n地点：实验小学"
    await sender.send(
        Outgoing(
            channel=Channel.CONSOLE,
            target_kind=TargetKind.CHAT,
            target="c",
            text=text,
            mention=["@all"],
        )
    )
    assert lines == ["[群 c] 教研助手: @所有人 【通知】周五教研\n\n    地点：实验小学"]


async def test_the_service_log_gets_one_traffic_summary_not_a_line_per_message(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.pipeline.inbox")
    db = open_database(db_path)
    pipeline = make_pipeline(db, FakeRouter())
    for msgid in ("m-1", "m-2", "m-1", "m-3"):
        await pipeline.submit(group_msg(msgid))
    await pipeline.drain()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []

    pipeline.log_traffic()  # the minute is over (or the service stops)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert lines == ["messages in the last 60 s: 3 accepted, 1 duplicates ignored, 3 processed"]
    pipeline.log_traffic()  # nothing new: no empty line
    assert len([r for r in caplog.records if r.levelno >= logging.INFO]) == 1


class NotesRouter:
    """Handles messages the way the dispatcher does: its own write (a note) and the reply
    commit in one transaction; "坏" fails after writing, "等" must await a download."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        db.execute("CREATE TABLE IF NOT EXISTS notes (msgid TEXT)")
        self.awaited: list[str] = []

    async def handle(self, incoming: Incoming, commit: Commit) -> None:
        if incoming.text == "等":
            self.awaited.append(incoming.msgid)
            await asyncio.sleep(0)  # e.g. downloading the file
            commit([Reply(text=f"下载好了 {incoming.msgid}")])
            return
        with transaction(self.db.conn):
            self.db.execute("INSERT INTO notes VALUES (?)", [incoming.msgid])
            if incoming.text == "坏":
                raise RuntimeError("handler bug")
            commit([Reply(text=f"记下了 {incoming.msgid}")])

    def pipeline(self) -> Pipeline:
        return Pipeline(
            InboxRepo(self.db), OutboxRepo(self.db), ChatsRepo(self.db), self.handle, FakeClock(T0)
        )

    def notes(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT msgid FROM notes ORDER BY rowid")]


async def test_a_failing_message_is_undone_alone_and_gets_an_apology(
    db_path: Path,
) -> None:
    db = open_database(db_path)
    router = NotesRouter(db)
    pipeline = router.pipeline()
    texts = {"m-1": "好", "m-2": "坏", "m-3": "好"}
    await asyncio.gather(
        *(pipeline.submit(group_msg(m, text=t, chat_id=f"c{m}")) for m, t in texts.items())
    )
    await pipeline.drain()
    assert router.notes() == ["m-1", "m-3"]  # the failed message left nothing behind
    replies = {item.target: item.message.text for item in OutboxRepo(db).items()}
    assert replies == {"cm-1": "记下了 m-1", "cm-2": APOLOGY_TEXT, "cm-3": "记下了 m-3"}
    assert InboxRepo(db).unprocessed() == []


async def test_a_message_that_must_wait_keeps_its_place_in_its_chat(db_path: Path) -> None:
    db = open_database(db_path)
    router = NotesRouter(db)
    pipeline = router.pipeline()
    for msgid, text in (("m-1", "好"), ("m-2", "等"), ("m-3", "好"), ("m-4", "好")):
        await pipeline.submit(group_msg(msgid, text=text))  # one chat
    await pipeline.drain()
    assert router.awaited == ["m-2"]
    assert router.notes() == ["m-1", "m-3", "m-4"]
    assert [item.message.text for item in OutboxRepo(db).items()] == [
        "记下了 m-1",
        "下载好了 m-2",
        "记下了 m-3",
        "记下了 m-4",
    ]
