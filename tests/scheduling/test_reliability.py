"""Never missed, never doubled: restarts, double wake-ups, two processes, downtime, the alarm."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.core.messages import Channel
from scheduling.scheduler import ReminderScheduler
from storage import Storage
from storage.models import EvidenceKind
from storage.reminders import DigestRequest, ReminderStatus
from tests.fakes.small_alliance import GROUP
from tests.scheduling.conftest import SHANGHAI, Harness, HarnessFactory, Sent, local, seed
from tests.scheduling.test_reminders import item_of, schedule

CREATE = "发起活动 周四 14:30-16:30 集体备课 地点:东部一小 反思截止:周五 12:00"


def count(sent: list[Sent], item: str) -> int:
    return sum(1 for s in sent if item_of(s) == item)


async def test_restart_in_the_middle_neither_loses_nor_repeats(
    make_harness: HarnessFactory,
) -> None:
    first = make_harness()
    await first.say("lead1", CREATE)
    await first.advance(local("周三", "18:30"))
    assert count(first.sender.sent, "activity:1:day_before") == 1

    second = first.reopen()  # a new process on the same database file
    await second.app.scheduler.start(paused=True)
    await second.flush()
    await second.advance(local("周五", "12:00"))
    await second.app.scheduler.stop()

    everything = first.sender.sent + second.sender.sent
    assert count(everything, "activity:1:day_before") == 1
    assert count(everything, "activity:1:hour_before") == 1
    assert [
        s.when(SHANGHAI) for s in second.sender.sent if item_of(s) == "activity:1:hour_before"
    ] == ["周四 13:30"]


async def test_reminder_queued_by_a_process_that_died_is_delivered_once_by_the_next(
    make_harness: HarnessFactory,
) -> None:
    first = make_harness()
    await first.say("lead1", CREATE)
    await first.advance(local("周三", "17:59"))
    first.clock.set(local("周三", "18:00"))
    assert await first.app.scheduler.run_due() == 1  # recorded and queued ...
    # ... and the process is killed before its outbox worker delivered anything.

    second = first.reopen()
    await second.app.scheduler.start(paused=True)
    await second.flush()
    await second.app.scheduler.stop()

    assert count(first.sender.sent, "activity:1:day_before") == 0
    assert [(s.when(SHANGHAI), s.to) for s in second.sender.sent] == [("周三 18:00", GROUP)]


async def test_double_wake_up_sends_once(make_harness: HarnessFactory) -> None:
    h = make_harness()
    await h.say("lead1", CREATE)
    await h.advance(local("周三", "17:59"))
    h.clock.set(local("周三", "18:00"))

    results = await asyncio.gather(h.app.scheduler.run_due(), h.app.scheduler.run_due())
    await h.flush()

    assert sorted(results) == [0, 1]
    assert count(h.sender.sent, "activity:1:day_before") == 1


async def test_two_processes_on_one_database_send_once(make_harness: HarnessFactory) -> None:
    h = make_harness()
    await h.say("lead1", CREATE)
    await h.advance(local("周三", "17:59"))
    other = Harness(h.path, h.clock, h.zone, registry=h.registry)
    h.clock.set(local("周三", "18:00"))

    sent_by_one = await h.app.scheduler.run_due()
    sent_by_other = await other.app.scheduler.run_due()
    await h.flush()

    assert (sent_by_one, sent_by_other) == (1, 0)
    assert count(h.sender.sent, "activity:1:day_before") == 1
    queued = [
        item
        for item in other.storage.outbox.items()
        if (item.message.dedup_key or "").startswith("activity:1:day_before")
    ]
    assert len(queued) == 1


# --- catching up after downtime ----------------------------------------------------------


@dataclass(frozen=True)
class DowntimeCase:
    name: str
    back_at: tuple[str, str]
    expected: list[tuple[str, str]]  # (local time, item) of what is sent from then on
    caught_up: list[str]
    skipped: list[str]


DOWNTIME_CASES = [
    DowntimeCase(
        "back Tuesday: the receipt reminder is caught up, the rest on time",
        ("周二", "09:00"),
        [
            ("周二 09:00", "notice:1:ack"),
            ("周三 18:00", "activity:1:day_before"),
            ("周四 13:30", "activity:1:hour_before"),
        ],
        caught_up=["notice:1:ack"],
        skipped=[],
    ),
    DowntimeCase(
        "back Wednesday evening: the day-before reminder is still useful",
        ("周三", "19:00"),
        [
            ("周三 19:00", "notice:1:ack"),
            ("周三 19:00", "activity:1:day_before"),
            ("周四 13:30", "activity:1:hour_before"),
        ],
        caught_up=["notice:1:ack", "activity:1:day_before"],
        skipped=[],
    ),
    DowntimeCase(
        "back on the activity's morning: yesterday's reminders are skipped",
        ("周四", "10:00"),
        [("周四 13:30", "activity:1:hour_before")],
        caught_up=[],
        skipped=["notice:1:ack", "activity:1:day_before"],
    ),
    DowntimeCase(
        "back ten minutes before the start: the 1 h reminder is still sent",
        ("周四", "14:20"),
        [("周四 14:20", "activity:1:hour_before")],
        caught_up=["activity:1:hour_before"],
        skipped=["notice:1:ack", "activity:1:day_before"],
    ),
    DowntimeCase(
        "back after the start: nothing about the activity is sent any more",
        ("周四", "15:00"),
        [],
        caught_up=[],
        skipped=["notice:1:ack", "activity:1:day_before", "activity:1:hour_before"],
    ),
]


@pytest.mark.parametrize("case", DOWNTIME_CASES, ids=lambda c: c.name)
async def test_catch_up_after_downtime(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture, case: DowntimeCase
) -> None:
    first = make_harness()
    await first.say("staff1", "通知 东部联盟 需回执 周五前上传研修材料", chat=None)
    await first.say("t1", "收到 N1")
    await first.say("t2", "收到 N1")
    await first.say("t3", "收到 N1")
    await first.say("t4", "收到 N1")  # only the leader is left to confirm
    await first.say("lead1", CREATE)
    first.close()  # the bot is down from here ...
    first.clock.set(local(*case.back_at))  # ... until now

    second = first.reopen()
    with caplog.at_level(logging.INFO, logger="scheduling"):
        await second.app.scheduler.start(paused=True)
        await second.flush()
        await second.advance(local("周四", "16:00"))
    await second.app.scheduler.stop()

    got = [(when, item) for when, _, item in schedule(second.sender.sent, SHANGHAI)]
    assert sorted(got) == sorted(case.expected)
    for item in case.caught_up:
        assert f"catching up {item}" in caplog.text
    for item in case.skipped:
        assert f"skipped {item}" in caplog.text and "too late" in caplog.text
    records = second.app.scheduler.repo.records()
    for item in case.skipped:
        assert any(r.key.startswith(item) and r.status is ReminderStatus.SKIPPED for r in records)


async def test_scheduled_notice_missed_by_far_is_cancelled_and_the_author_told(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    first = make_harness()
    await first.say("lead1", "定时通知 周二 09:00 东部联盟 周二的教研改到下午", chat=None)
    first.close()
    first.clock.set(local("周三", "09:00"))

    second = first.reopen()
    with caplog.at_level(logging.INFO, logger="scheduling"):
        await second.app.scheduler.start(paused=True)
        await second.flush()
    await second.app.scheduler.stop()

    assert [(s.to, "未能按时发出" in s.message.text) for s in second.sender.sent] == [
        ("@lead1", True)
    ]
    notice = second.storage.notices.get(1)
    assert notice is not None and notice.status.value == "cancelled"
    assert "skipped notice:1:publish" in caplog.text


# --- the APScheduler alarm -------------------------------------------------------------


async def test_alarm_is_armed_for_the_next_due_instant(make_harness: HarnessFactory) -> None:
    h = make_harness()
    scheduler = h.app.scheduler
    await scheduler.start(paused=True)
    # Nothing due soon: it still rings within max_sleep, to notice other processes' changes.
    assert scheduler.alarm_at == local("周一", "08:00") + scheduler.policy.max_sleep

    await h.say("lead1", CREATE)
    h.clock.set(local("周三", "17:55"))
    await h.say("t1", "活动")  # any handled message re-arms the alarm
    assert scheduler.alarm_at == local("周三", "18:00")

    await h.say("lead1", "修改活动 A1 周五 14:30")  # the reminder moves to Thursday 18:00
    # The alarm may still ring for the reminder that moved away: it finds nothing, looks again.
    assert scheduler.alarm_at == local("周三", "18:00")
    h.clock.set(local("周三", "18:00"))
    assert await scheduler.run_due() == 0
    scheduler.rearm()
    assert scheduler.alarm_at == local("周三", "18:10")
    h.clock.set(local("周四", "17:58"))
    scheduler.rearm()
    assert scheduler.alarm_at == local("周四", "18:00")

    await scheduler.stop()
    assert scheduler.alarm_at is None


async def test_alarm_follows_changes_made_by_another_process(make_harness: HarnessFactory) -> None:
    """An activity created through another instance (or a calendar import) and a 周报 现在
    asked there move this instance's alarm when it next re-arms: the database says what
    changed, not this process's memory."""
    h = make_harness()
    scheduler = h.app.scheduler
    await scheduler.start(paused=True)
    h.clock.set(local("周三", "17:55"))
    await h.say("t1", "活动")
    assert scheduler.alarm_at == local("周三", "18:05")

    other = Harness(h.path, h.clock, h.zone, h.private, h.registry)
    await other.say("lead1", CREATE)  # Thursday: reminded on Wednesday at 18:00
    await h.say("t1", "活动")
    assert scheduler.alarm_at == local("周三", "18:00")

    east = other.storage.roster.alliance_by_name("东部联盟")
    assert east is not None
    other.storage.reminders.request_digest(DigestRequest(east.id, h.clock.now(), "lead1", GROUP))
    scheduler.rearm()  # as after any message
    assert scheduler.alarm_at == local("周三", "17:55")  # due at once
    await scheduler.stop()


async def test_alarm_rings_and_runs_what_is_due(tmp_path: Path) -> None:
    """With a clock at real time, the APScheduler job really fires run_due (no sleeping)."""
    now = datetime.now(UTC).replace(microsecond=0)
    clock = FakeClock(now)
    storage = Storage.open(tmp_path / "alarm.db")
    seed(storage, now - timedelta(days=1))
    rang = asyncio.Event()
    scheduler = ReminderScheduler(
        storage, clock, zone=SHANGHAI, private_channel=Channel.CONSOLE, on_enqueued=rang.set
    )
    await scheduler.start()
    east = storage.roster.alliance_by_name("东部联盟")
    assert east is not None
    scheduler.repo.request_digest(DigestRequest(east.id, now, "lead1", GROUP))
    scheduler.rearm()  # as the app does after the 周报 现在 message
    try:
        await asyncio.wait_for(rang.wait(), timeout=10)
        records = scheduler.repo.records()
    finally:
        await scheduler.stop()
        storage.close()
    assert [r.status for r in records if r.key.startswith(f"digest:{east.id}:request:")] == [
        ReminderStatus.SENT
    ]


async def test_a_scheduled_notice_takes_its_file_along_when_it_goes_out(
    make_harness: HarnessFactory,
) -> None:
    """A file attached to a notice before it is due goes to its groups right after its text."""
    h = make_harness()
    await h.say("lead1", "定时通知 周二 09:00 东部联盟 周二教研安排见附件", chat=None)
    lead = h.storage.roster.member_by_userid("lead1")
    assert lead is not None
    stored = h.storage.resources.add_file(
        sha256="ab" * 32,
        name="安排.pdf",
        size=2048,
        path="ab/安排.pdf",
        executable=False,
        uploaded_by=lead.id,
        at=h.clock.now(),
    )
    h.storage.evidence.attach(
        file_id=stored.id,
        kind=EvidenceKind.NOTICE,
        record_id=1,
        activity_id=None,
        member_id=lead.id,
        at=h.clock.now(),
        source="test:file",
    )

    sent = await h.advance(local("周二", "09:00"))

    to_group = [s.message for s in sent if s.to == GROUP]
    assert [m.text for m in to_group] == [
        "【通知 N1】周二教研安排见附件\n——刘洋",
        "【通知 N1 附件】安排.pdf",
    ]
    file = to_group[1].attachment
    assert file is not None and (file.name, Path(file.path).parts[-2:]) == (
        "安排.pdf",
        ("ab", "安排.pdf"),
    )
