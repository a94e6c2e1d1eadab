"""Reminders fire once, at the right local time, follow changes, and respect quiet hours."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from storage import Storage
from storage.models import SigninStatus
from tests.fakes.small_alliance import GROUP, WEST_GROUP
from tests.scheduling.conftest import SHANGHAI, HarnessFactory, Sent, local

REFLECTION = "今天的集体备课让我重新思考了单元整体教学，学习任务的设计要从学生的真实问题出发，课后我会修改自己的教学设计。"
NEW_YORK = ZoneInfo("America/New_York")
URUMQI = ZoneInfo("Asia/Urumqi")


def item_of(sent: Sent) -> str:
    """Which scheduled item a message belongs to, from its outbox dedup key."""
    key = sent.message.dedup_key or ""
    parts = key.split(":")
    if parts[0] == "digest":
        return ":".join(parts[:2])
    if parts[0] in ("activity", "reflection", "notice"):
        return ":".join(parts[:3])
    return parts[0]


def schedule(sent: list[Sent], zone: ZoneInfo) -> list[tuple[str, str, str]]:
    """(local time, recipient, item) of every scheduled message, in order."""
    return [(s.when(zone), s.to, item_of(s)) for s in sent if item_of(s) != "reply"]


# --- a whole week, in three time zones -------------------------------------------------


@dataclass(frozen=True)
class ZoneCase:
    name: str
    settings_zone: ZoneInfo
    alliance_zone: ZoneInfo | None

    @property
    def zone(self) -> ZoneInfo:
        return self.alliance_zone or self.settings_zone


ZONE_CASES = [
    ZoneCase("Shanghai by default", SHANGHAI, None),
    ZoneCase("New York from JIAOYAN_TZ", NEW_YORK, None),
    ZoneCase("Urumqi as the alliance's own zone", SHANGHAI, URUMQI),
]

WEEK_EXPECTED = [
    ("周三 18:00", GROUP, "activity:1:day_before"),
    ("周四 13:30", GROUP, "activity:1:hour_before"),
    # Deadline reminders go privately to those still missing: not 王芳 (handed in) and not
    # 赵磊 (on leave); the leader is a participant too.
    ("周四 18:00", "@lead1", "reflection:1:day_before"),
    ("周四 18:00", "@t2", "reflection:1:day_before"),
    ("周四 18:00", "@t3", "reflection:1:day_before"),
    ("周五 08:00", "@lead1", "reflection:1:due_morning"),
    ("周五 08:00", "@t3", "reflection:1:due_morning"),
    ("周五 17:00", GROUP, "digest:2"),
    # The digest's list of the missing goes to the alliance's leader alone.
    ("周五 17:00", "@lead1", "digest:2"),
]


@pytest.mark.parametrize("case", ZONE_CASES, ids=lambda c: c.name)
async def test_a_week_of_reminders_each_once_at_local_time(
    make_harness: HarnessFactory, case: ZoneCase
) -> None:
    def prepare(storage: Storage) -> None:
        if case.alliance_zone is not None:
            east = storage.roster.alliance_by_name("东部联盟")
            assert east is not None
            storage.roster.update_alliance(east.id, timezone=case.alliance_zone.key)

    zone = case.zone
    h = make_harness(case.settings_zone, start=local("周一", "08:00", zone), prepare=prepare)
    sent: list[Sent] = []
    await h.say("lead1", "发起活动 周四 14:30-16:30 集体备课 地点:东部一小 反思截止:周五 12:00")
    sent += await h.advance(local("周三", "10:00", zone))
    await h.say("t4", "请假 A1 外出培训")
    sent += await h.advance(local("周四", "14:05", zone))
    await h.say("t1", "签到")
    await h.say("t2", "签到 A1")
    sent += await h.advance(local("周四", "16:45", zone))
    await h.say("t1", f"反思 A1 {REFLECTION}")
    sent += await h.advance(local("周四", "20:00", zone))
    await h.say("t2", f"反思 A1 {REFLECTION}", chat=None)
    sent += await h.advance(local("周六", "00:00", zone))

    east = [entry for entry in schedule(sent, zone) if entry[1] != WEST_GROUP]
    assert sorted(east) == sorted(WEEK_EXPECTED)
    # The other alliance keeps the deployment's zone for its own digest.
    [west] = [s for s in sent if s.to == WEST_GROUP]
    assert (west.when(case.settings_zone), item_of(west)) == ("周五 17:00", "digest:3")
    day_before = next(s for s in sent if item_of(s) == "activity:1:day_before")
    assert "A1" in day_before.message.text and "14:30" in day_before.message.text
    assert "「签到 A1」" in day_before.message.text
    private = next(s for s in sent if s.to == "@t3")
    assert "刘洋" not in private.message.text and "「反思 A1 正文」" in private.message.text
    assert "张敏老师" in private.message.text and "12:00" in private.message.text


async def test_new_york_reminders_keep_local_time_across_daylight_saving(
    make_harness: HarnessFactory,
) -> None:
    # US clocks go forward on Sunday 2030-03-10; the activity is on Monday 03-11.
    h = make_harness(NEW_YORK, start=local("周五", "09:00", NEW_YORK))
    await h.say("lead1", "发起活动 下周一 09:00 集体备课 地点:东部一小")
    sent = await h.advance(local("周一", "10:00", NEW_YORK, week=1))

    times = {item_of(s): s.at for s in sent if item_of(s).startswith("activity")}
    assert times == {
        "activity:1:day_before": datetime(2030, 3, 10, 22, 0, tzinfo=UTC),  # 18:00 EDT
        "activity:1:hour_before": datetime(2030, 3, 11, 12, 0, tzinfo=UTC),  # 08:00 EDT
    }


async def test_cancelled_activity_fires_nothing(make_harness: HarnessFactory) -> None:
    h = make_harness()
    await h.say("lead1", "发起活动 周四 14:30-16:30 集体备课 反思截止:周五 12:00")
    await h.advance(local("周二", "09:00"))
    cancel = await h.say("lead1", "取消活动 A1 临时有变")
    assert any("【活动取消】" in s.message.text for s in cancel)

    sent = await h.advance(local("周日", "23:00"))

    assert [entry for entry in schedule(sent, SHANGHAI) if "digest" not in entry[2]] == []


# --- changes move reminders; at most one per item per day ------------------------------


@dataclass(frozen=True)
class ChangeCase:
    name: str
    change_at: tuple[str, str]
    change: str
    expected: list[tuple[str, str, str]]


CHANGE_CASES = [
    ChangeCase(
        "moved to Friday before any reminder: both reminders move",
        ("周二", "10:00"),
        "修改活动 A1 周五 09:00",
        [
            ("周四 18:00", GROUP, "activity:1:day_before"),
            ("周五 08:00", GROUP, "activity:1:hour_before"),
        ],
    ),
    ChangeCase(
        "moved later the same day after the day-before reminder: only the 1 h one moves",
        ("周三", "19:00"),
        "修改活动 A1 周四 16:00",
        [
            ("周三 18:00", GROUP, "activity:1:day_before"),
            ("周四 15:00", GROUP, "activity:1:hour_before"),
        ],
    ),
    ChangeCase(
        "only the place changes: reminders stay where they were",
        ("周二", "10:00"),
        "修改活动 A1 地点:二小报告厅",
        [
            ("周三 18:00", GROUP, "activity:1:day_before"),
            ("周四 13:30", GROUP, "activity:1:hour_before"),
        ],
    ),
]


@pytest.mark.parametrize("case", CHANGE_CASES, ids=lambda c: c.name)
async def test_changed_activity_moves_its_reminders(
    make_harness: HarnessFactory, case: ChangeCase
) -> None:
    h = make_harness()
    await h.say("lead1", "发起活动 周四 14:30-16:30 集体备课 地点:东部一小")
    sent = await h.advance(local(*case.change_at))
    await h.say("lead1", case.change)
    sent += await h.advance(local("周五", "12:00"))

    activity = [e for e in schedule(sent, SHANGHAI) if e[2].startswith("activity")]
    assert activity == case.expected


async def test_at_most_one_reminder_per_item_per_day(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    h = make_harness()
    await h.say("lead1", "发起活动 周四 14:30-16:30 集体备课")
    sent = await h.advance(local("周四", "13:40"))
    assert ("周四 13:30", GROUP, "activity:1:hour_before") in schedule(sent, SHANGHAI)

    await h.say("lead1", "修改活动 A1 周四 15:00")  # its new 1 h reminder would be at 14:00
    with caplog.at_level(logging.INFO, logger="scheduling"):
        sent = await h.advance(local("周四", "16:00"))

    assert [e for e in schedule(sent, SHANGHAI) if e[2].startswith("activity")] == []
    assert "activity:1:hour_before:2030-03-07T07:00Z" in caplog.text
    assert "already reminded today" in caplog.text


# --- quiet hours ---------------------------------------------------------------------


@dataclass(frozen=True)
class QuietCase:
    name: str
    actions: list[tuple[tuple[str, str], str, str, str | None]]  # (when, who, text, chat)
    expected: list[tuple[str, str, str]]
    prepare: Callable[[Storage], None] | None = None
    only: str = ""  # keep only items starting with this
    until: tuple[str, str] = ("周五", "12:00")


def _quiet_noon(storage: Storage) -> None:
    east = storage.roster.alliance_by_name("东部联盟")
    assert east is not None
    storage.roster.update_alliance(east.id, quiet_start="12:00", quiet_end="14:00")


QUIET_CASES = [
    QuietCase(
        "a scheduled notice due at 22:00 waits until 07:30",
        [(("周二", "10:00"), "lead1", "定时通知 今晚22点 东部联盟 明天的活动改到三楼", None)],
        [("周三 07:30", GROUP, "notice:1:publish")],
        only="notice",
    ),
    QuietCase(
        "a 1 h reminder at 07:00 is sent when quiet hours end at 07:30",
        [(("周一", "09:00"), "lead1", "发起活动 周四 08:00-09:00 晨读分享", GROUP)],
        [
            ("周三 18:00", GROUP, "activity:1:day_before"),
            ("周四 07:30", GROUP, "activity:1:hour_before"),
        ],
        only="activity",
    ),
    QuietCase(
        "an alliance's own quiet hours (12:00–14:00) defer a receipt reminder",
        [(("周一", "12:30"), "staff1", "通知 东部联盟 需回执 周五前上传研修材料", None)],
        [
            ("周二 14:00", "@lead1", "notice:1:ack"),
            ("周二 14:00", "@t1", "notice:1:ack"),
            ("周二 14:00", "@t2", "notice:1:ack"),
            ("周二 14:00", "@t3", "notice:1:ack"),
            ("周二 14:00", "@t4", "notice:1:ack"),
        ],
        prepare=_quiet_noon,
        only="notice",
        until=("周三", "12:00"),
    ),
]


@pytest.mark.parametrize("case", QUIET_CASES, ids=lambda c: c.name)
async def test_quiet_hours_defer_until_they_end(
    make_harness: HarnessFactory, case: QuietCase
) -> None:
    h = make_harness(prepare=case.prepare)
    sent: list[Sent] = []
    for (day, hhmm), who, text, chat in case.actions:
        sent += await h.advance(local(day, hhmm))
        await h.say(who, text, chat)
    sent += await h.advance(local(*case.until))

    entries = [e for e in schedule(sent, SHANGHAI) if e[2].startswith(case.only)]
    assert sorted(entries) == sorted(case.expected)


async def test_deadline_reminder_mentions_the_missing_in_the_group_without_private_channel(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(private=False)
    await h.say("lead1", "发起活动 周四 14:30-16:30 集体备课 反思截止:周五 12:00")
    await h.advance(local("周三", "10:00"))
    await h.say("t4", "请假 A1 外出培训")
    await h.advance(local("周四", "16:45"))
    await h.say("t1", f"反思 A1 {REFLECTION}")
    sent = await h.advance(local("周四", "18:30"))

    [reminder] = [s for s in sent if item_of(s) == "reflection:1:day_before"]
    assert reminder.to == GROUP and reminder.when(SHANGHAI) == "周四 18:00"
    assert sorted(reminder.message.mention) == ["lead1", "t2", "t3"]
    assert "「反思 A1 正文」" in reminder.message.text


async def test_deadline_reminder_leaves_out_people_outside_the_audience(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(private=False)
    await h.say("lead1", "发起活动 周四 14:30-16:30 集体备课 反思截止:周五 12:00")
    await h.advance(local("周四", "14:40"))
    # 孙丽 (中西部一组) cannot sign in to 东部联盟's A1; a sign-in of hers from before the
    # boundary is kept but does not make her someone to remind.
    answers = await h.say("t9", "签到 A1", WEST_GROUP)
    assert "不在参与范围内" in "".join(a.message.text for a in answers)
    sun = h.storage.roster.member_by_userid("t9")
    assert sun is not None
    h.storage.submissions.sign_in(1, sun.id, at=h.clock.now(), status=SigninStatus.LATE)
    sent = await h.advance(local("周四", "18:30"))

    [reminder] = [s for s in sent if item_of(s) == "reflection:1:day_before"]
    assert "t9" not in reminder.message.mention
    assert sorted(reminder.message.mention) == ["lead1", "t1", "t2", "t3", "t4"]


async def test_a_series_instance_is_reminded_like_any_activity(
    make_harness: HarnessFactory,
) -> None:
    """The second instance of 每周三 gets its own day-before and hour-before reminders."""
    h = make_harness()
    await h.say("lead1", "发起活动 每周三 15:00-17:00 集体备课 共3次 地点:东部一小")
    sent = await h.advance(local("周三", "18:00", week=1))

    second = [entry for entry in schedule(sent, SHANGHAI) if entry[2].startswith("activity:2")]
    assert second == [
        ("周二 18:00", GROUP, "activity:2:day_before"),
        ("周三 14:00", GROUP, "activity:2:hour_before"),
    ]
    day_before = next(s for s in sent if item_of(s) == "activity:2:day_before")
    assert "A2" in day_before.message.text and "「签到 A2」" in day_before.message.text
