"""征集 deadline reminders: only to schools that have not answered, once at each time, through
restarts, quiet hours, downtime and a moved deadline; nothing once the request is closed.

东部联盟 has three schools here: 东部一小 (leader 刘洋, lead1), 东部二小 (no leader; 张敏, t3, is
named its contact) and 东部三小 (leader 马丽, lead3). 周敏 asks on Monday, due Friday 17:00.
"""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from storage import Storage
from storage.db import to_db_time
from storage.models import Role
from tests.fakes.small_alliance import GROUP
from tests.scheduling.conftest import SHANGHAI, Harness, HarnessFactory, Sent, local

ASK = "征集 东部联盟 周五17:00 各校本学期校本教研主题"
ANSWER = "反馈 F1 整本书阅读的课堂推进策略"
DAY_BEFORE = "feedback:1:day_before"
MORNING = "feedback:1:due_morning"


def add_third_school(storage: Storage) -> None:
    east = storage.roster.alliance_by_name("东部联盟")
    assert east is not None
    sanxiao = storage.roster.ensure_school("东部三小", east.id)
    storage.roster.add_member(
        "马丽",
        at=datetime(2030, 3, 4, 8, 0, tzinfo=SHANGHAI),
        role=Role.LEADER,
        school_id=sanxiao.id,
        alliance_id=east.id,
        userid="lead3",
    )


def item_of(sent: Sent) -> str:
    """`feedback:1:day_before` for a deadline reminder; '' for anything else."""
    parts = (sent.message.dedup_key or "").split(":")
    if parts[0] == "feedback" and len(parts) > 2 and parts[2] in ("day_before", "due_morning"):
        return ":".join(parts[:3])
    return ""


def reminders(sent: list[Sent]) -> list[tuple[str, str, str]]:
    """(local time, recipient, item) of every feedback reminder, in order of sending."""
    return [(s.when(SHANGHAI), s.to, item_of(s)) for s in sent if item_of(s)]


async def ask_and_answer_one(h: Harness) -> None:
    """Monday: 周敏 asks, names 张敏 as 东部二小's contact; 东部一小 answers at once."""
    await h.say("staff1", ASK, chat=None)
    await h.say("staff1", "联系人 东部二小 张敏", chat=None)
    await h.say("lead1", ANSWER)


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    return make_harness(prepare=add_third_school)


async def test_only_missing_schools_hear_once_at_each_time(harness: Harness) -> None:
    h = harness
    await ask_and_answer_one(h)
    sent = await h.advance(local("周六", "09:00"))

    assert sorted(reminders(sent)) == [
        ("周五 08:00", "@lead3", MORNING),
        ("周五 08:00", "@t3", MORNING),
        ("周四 18:00", "@lead3", DAY_BEFORE),
        ("周四 18:00", "@t3", DAY_BEFORE),
    ]
    to_contact = next(s for s in sent if s.to == "@t3" and item_of(s) == DAY_BEFORE)
    text = to_contact.message.text
    assert "征集 F1「各校本学期校本教研主题」" in text and "明天 下午 17:00" in text
    assert "东部二小" in text and "「反馈 F1 正文」" in text
    assert "东部三小" not in text  # each school hears about itself only


async def test_a_school_answering_between_the_reminders_is_not_reminded_again(
    harness: Harness,
) -> None:
    h = harness
    await ask_and_answer_one(h)
    sent = await h.advance(local("周四", "20:00"))
    await h.say("lead3", "反馈 F1 低年级识字写字的趣味化")
    sent += await h.advance(local("周六", "09:00"))

    assert sorted(reminders(sent)) == [
        ("周五 08:00", "@t3", MORNING),
        ("周四 18:00", "@lead3", DAY_BEFORE),
        ("周四 18:00", "@t3", DAY_BEFORE),
    ]


async def test_when_every_school_has_answered_nothing_is_sent(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    await ask_and_answer_one(h)
    await h.say("t3", "反馈 F1 小学段朗读教学")
    await h.say("lead3", "反馈 F1 低年级识字写字的趣味化")
    with caplog.at_level(logging.INFO, logger="scheduling"):
        sent = await h.advance(local("周六", "09:00"))

    assert reminders(sent) == []
    assert "every school has answered" in caplog.text


async def test_without_a_private_channel_the_group_is_told_and_contacts_mentioned(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(private=False, prepare=add_third_school)
    await ask_and_answer_one(h)
    sent = await h.advance(local("周五", "12:00"))

    assert reminders(sent) == [("周四 18:00", GROUP, DAY_BEFORE), ("周五 08:00", GROUP, MORNING)]
    day_before = next(s for s in sent if item_of(s) == DAY_BEFORE)
    assert sorted(day_before.message.mention) == ["lead3", "t3"]
    text = day_before.message.text
    # Schools are named (they are not people); no person's name is written out.
    assert "东部二小" in text and "东部三小" in text and "东部一小" not in text
    for name in ("张敏", "马丽", "刘洋"):
        assert name not in text


async def test_a_restart_does_not_send_twice(harness: Harness) -> None:
    first = harness
    await ask_and_answer_one(first)
    await first.advance(local("周四", "18:30"))

    second = first.reopen()  # a new process on the same database file
    await second.app.scheduler.start(paused=True)
    await second.flush()
    await second.advance(local("周六", "09:00"))
    await second.app.scheduler.stop()

    everything = reminders(first.sender.sent) + reminders(second.sender.sent)
    assert sorted(everything) == [
        ("周五 08:00", "@lead3", MORNING),
        ("周五 08:00", "@t3", MORNING),
        ("周四 18:00", "@lead3", DAY_BEFORE),
        ("周四 18:00", "@t3", DAY_BEFORE),
    ]
    assert all(item == MORNING for _, _, item in reminders(second.sender.sent))


async def test_a_closed_request_gets_nothing(harness: Harness) -> None:
    h = harness
    await ask_and_answer_one(h)
    await h.advance(local("周三", "10:00"))
    closed = await h.say("staff1", "征集 结束 F1", chat=None)
    assert any("征集 F1 已结束，不再提醒" in s.message.text for s in closed)

    sent = await h.advance(local("周六", "09:00"))

    assert reminders(sent) == []


async def test_a_moved_deadline_moves_the_reminders(harness: Harness) -> None:
    h = harness
    await ask_and_answer_one(h)
    await h.advance(local("周三", "10:00"))
    # There is no 改期 command yet; an administrator moves the deadline to Monday 17:00.
    h.storage.db.execute(
        "UPDATE feedback_requests SET due_at = ? WHERE id = 1",
        (to_db_time(local("周一", "17:00", week=1)),),
    )

    sent = await h.advance(local("周二", "09:00", week=1))

    assert sorted(reminders(sent)) == [
        ("周一 08:00", "@lead3", MORNING),
        ("周一 08:00", "@t3", MORNING),
        ("周日 18:00", "@lead3", DAY_BEFORE),
        ("周日 18:00", "@t3", DAY_BEFORE),
    ]
    moved = next(s for s in sent if item_of(s) == MORNING)
    assert (moved.message.dedup_key or "").startswith(f"{MORNING}:2030-03-11T09:00Z:")


async def test_quiet_hours_defer_the_morning_reminder(make_harness: HarnessFactory) -> None:
    def prepare(storage: Storage) -> None:
        add_third_school(storage)
        east = storage.roster.alliance_by_name("东部联盟")
        assert east is not None
        storage.roster.update_alliance(east.id, quiet_start="21:00", quiet_end="08:30")

    h = make_harness(prepare=prepare)
    await ask_and_answer_one(h)
    sent = await h.advance(local("周六", "09:00"))

    assert sorted(when for when, _, item in reminders(sent) if item == MORNING) == [
        "周五 08:30",
        "周五 08:30",
    ]


async def test_after_downtime_a_useful_reminder_is_caught_up_and_a_stale_one_skipped(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    first = harness
    await ask_and_answer_one(first)
    await first.advance(local("周四", "17:00"))
    # Down over Thursday 18:00 and back the next morning.
    first.clock.set(local("周五", "07:00"))
    second = first.reopen()
    with caplog.at_level(logging.INFO, logger="scheduling"):
        await second.app.scheduler.start(paused=True)
        await second.flush()
        await second.advance(local("周六", "09:00"))
    await second.app.scheduler.stop()

    # The day-before reminder is only useful until midnight: skipped and logged, not sent.
    assert sorted(reminders(second.sender.sent)) == [
        ("周五 08:00", "@lead3", MORNING),
        ("周五 08:00", "@t3", MORNING),
    ]
    assert "skipped feedback:1:day_before" in caplog.text


async def test_a_reminder_missed_by_a_short_outage_is_caught_up_that_evening(
    harness: Harness,
) -> None:
    first = harness
    await ask_and_answer_one(first)
    await first.advance(local("周四", "17:00"))
    first.clock.set(local("周四", "20:00"))  # down from 17:00 to 20:00
    second = first.reopen()
    await second.app.scheduler.start(paused=True)
    await second.flush()
    await second.advance(local("周五", "12:00"))
    await second.app.scheduler.stop()

    assert sorted(reminders(second.sender.sent)) == [
        ("周五 08:00", "@lead3", MORNING),
        ("周五 08:00", "@t3", MORNING),
        ("周四 20:00", "@lead3", DAY_BEFORE),
        ("周四 20:00", "@t3", DAY_BEFORE),
    ]
