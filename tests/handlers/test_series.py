"""Recurring activities (系列活动): created at once, used per instance, changed once."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.messages import Broadcast, Effect, Reply
from storage.models import ActivityStatus, CalendarDay, CalendarDayKind, Term

from .conftest import SHANGHAI, Bot


def broadcasts(effects: list[Effect]) -> list[str]:
    return [e.text for e in effects if isinstance(e, Broadcast)]


def replies(effects: list[Effect]) -> str:
    return "\n".join(e.text for e in effects if isinstance(e, Reply))


def days_of(bot: Bot, series_id: int) -> list[str]:
    return [
        f"{a.starts_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
        for a in bot.storage.activities.in_series(series_id)
    ]


def test_weekly_series_from_december_into_january_announced_once(bot: Bot) -> None:
    bot.at(12, 20, 10)  # a Sunday: 至1月14日 is next year
    effects = bot.say(
        "lead1",
        "发起活动 每周三 15:00-17:00 集体备课《单元整体教学》 至1月14日 对象:东部一小",
    )
    [announcement] = broadcasts(effects)
    assert announcement.startswith("【新系列活动】S1「集体备课《单元整体教学》」 每周三")
    assert "共 4 次：A1 12月23日、A2 12月30日、A3 2027年1月6日、A4 2027年1月13日" in announcement
    assert "对象：东部一小" in announcement
    assert "已发起系列活动 S1" in replies(effects) and "未导入校历" in replies(effects)
    assert days_of(bot, 1) == [
        "2026-12-23 15:00",
        "2026-12-30 15:00",
        "2027-01-06 15:00",
        "2027-01-13 15:00",
    ]
    for activity in bot.storage.activities.in_series(1):
        assert activity.kind == "集体备课" and activity.series_id == 1
        assert bot.storage.teams.activity_target(activity.id).school_ids == [1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "发起活动 每两周周二 14:30 听评课 共4次",
            ["2026-11-24 14:30", "2026-12-08 14:30", "2026-12-22 14:30", "2027-01-05 14:30"],
        ),
        (
            "发起活动 每周二、四 14:30 读书分享 共4次",
            ["2026-11-24 14:30", "2026-11-26 14:30", "2026-12-01 14:30", "2026-12-03 14:30"],
        ),
        (
            "发起活动 每周二和周四 8:00 读书分享 共3次",  # 8:00 today has passed: from Thursday
            ["2026-11-26 08:00", "2026-12-01 08:00", "2026-12-03 08:00"],
        ),
        (
            "发起活动 每周五 第三节 听评课 至12月4日",
            ["2026-11-27 10:00", "2026-12-04 10:00"],
        ),
    ],
)
def test_creation_variants(bot: Bot, text: str, expected: list[str]) -> None:
    effects = bot.say("lead1", text)
    assert len(broadcasts(effects)) == 1, replies(effects)
    assert days_of(bot, 1) == expected


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("发起活动 每周三 15:00 集体备课", "请写系列活动到哪天结束或共几次"),
        ("发起活动 每周三 15:00 集体备课 共31次", "一个系列最多 30 次"),
        ("发起活动 每周二、四 15:00 集体备课 至2027年6月30日", "一个系列最多 30 次"),
        ("发起活动 每周三 集体备课 共3次", "请写每次的时间"),
        ("发起活动 每周三 15:00 集体备课 共3次 反思截止:12月1日", "每次活动后 3 天"),
    ],
)
def test_unusable_series_stores_nothing(bot: Bot, text: str, answer: str) -> None:
    assert answer in bot.reply("lead1", text)
    assert bot.storage.series.get(1) is None
    assert bot.storage.activities.get(1) is None


def test_teacher_may_not_start_a_series(bot: Bot) -> None:
    assert "需要" in bot.reply("t1", "发起活动 每周三 15:00 集体备课 共3次")
    assert bot.storage.series.get(1) is None and bot.storage.activities.get(1) is None


def test_staff_may_start_a_series(bot: Bot) -> None:
    assert "已发起系列活动 S1" in bot.reply("staff1", "发起活动 每周三 15:00 集体备课 共3次")


def test_calendar_days_are_skipped_and_the_term_is_the_default_end(bot: Bot) -> None:
    bot.storage.calendar.import_term(
        Term(name="2026秋季学期", starts_on=date(2026, 9, 1), ends_on=date(2027, 1, 16)),
        [
            CalendarDay(day=date(2026, 12, 30), kind=CalendarDayKind.HOLIDAY, name="校运动会"),
            CalendarDay(day=date(2027, 1, 1), kind=CalendarDayKind.HOLIDAY, name="元旦"),
        ],
    )
    bot.at(12, 20, 10)
    effects = bot.say("lead1", "发起活动 每周三 15:00 集体备课 共3次")
    assert days_of(bot, 1) == ["2026-12-23 15:00", "2027-01-06 15:00", "2027-01-13 15:00"]
    assert "按校历跳过：12月30日（校运动会）" in broadcasts(effects)[0]
    assert "按校历跳过：12月30日（校运动会）" in replies(effects)
    # Without an end the series runs to the day before 放假.
    effects = bot.say("lead1", "发起活动 每周五 9:00 教研组会")
    assert days_of(bot, 2) == ["2026-12-25 09:00", "2027-01-08 09:00", "2027-01-15 09:00"]
    assert "元旦" in replies(effects) and "本学期放假前（2027年1月15日）" in replies(effects)


def test_list_shows_a_series_as_one_line(bot: Bot) -> None:
    bot.say("lead1", "发起活动 每周三 15:00-17:00 集体备课 共6次 地点:东部二小")
    bot.say("lead1", "发起活动 周五 14:30 同课异构《秋天的雨》")
    listing = bot.reply("t1", "活动")
    assert (
        "· S1「集体备课」 每周三 下午 15:00–17:00，东部二小；下次 A1 11月25日(周三)，还有 6 次"
        in listing
    )
    assert "· A7「同课异构《秋天的雨》」11月27日(周五)" in listing
    assert "A2" not in listing and "A3" not in listing
    bot.at(11, 25, 18)
    assert "下次 A2 12月2日(周三)，还有 5 次" in bot.reply("t1", "活动")


def test_instances_take_signins_leave_and_reflections_each(bot: Bot) -> None:
    bot.say("lead1", "发起活动 每周三 15:00-17:00 集体备课 共3次")
    bot.at(12, 2, 14, 40)
    assert "签到成功" in bot.reply("t1", "签到")  # the open instance is A2
    assert "已登记 张敏 在 A3 请假" in bot.reply("t3", "请假 A3 外出培训")
    assert list(bot.storage.submissions.signins(2)) and not bot.storage.submissions.signins(1)


def test_series_change_is_announced_once_and_only_moves_what_has_not_started(bot: Bot) -> None:
    bot.say("lead1", "发起活动 每周三 15:00-17:00 集体备课 共4次")
    bot.at(11, 26, 9)  # A1 is over
    effects = bot.say("lead1", "修改活动 S1 16:00-17:30 地点:东部二小")
    [announcement] = broadcasts(effects)
    assert announcement.startswith(
        "【活动调整】S1「集体备课」（每周三）以后的 3 次（A2–A4，12月2日起）"
    )
    assert "时间：每周三 下午 15:00–17:00 → 每周三 下午 16:00–17:30" in announcement
    assert "地点：未定 → 东部二小" in announcement
    assert days_of(bot, 1) == [
        "2026-11-25 15:00",
        "2026-12-02 16:00",
        "2026-12-09 16:00",
        "2026-12-16 16:00",
    ]
    # One instance can still be changed on its own.
    effects = bot.say("lead1", "修改活动 A3 12月10日 15:00")
    assert "【活动调整】A3" in broadcasts(effects)[0]
    assert days_of(bot, 1)[2] == "2026-12-10 15:00"
    assert "只能统一改几点" in bot.reply("lead1", "修改活动 S1 12月17日 15:00")
    assert "需要" in bot.reply("t1", "修改活动 S1 地点:东部一小")


def test_series_cancel_is_announced_once_and_keeps_held_instances(bot: Bot) -> None:
    bot.say("lead1", "发起活动 每周三 15:00-17:00 集体备课 共4次")
    bot.at(11, 26, 9)
    effects = bot.say("lead1", "取消活动 S1 本学期到此结束")
    assert broadcasts(effects) == [
        "【活动取消】S1「集体备课」（每周三）以后的 3 次（A2–A4，12月2日起）已取消，"
        "原因：本学期到此结束。"
    ]
    statuses = [a.status for a in bot.storage.activities.in_series(1, include_cancelled=True)]
    assert statuses == [ActivityStatus.SCHEDULED, *[ActivityStatus.CANCELLED] * 3]
    assert "没有尚未开始的活动" in bot.reply("lead1", "取消活动 S1")
    assert "没有找到系列活动 S9" in bot.reply("lead1", "取消活动 S9")


def test_a_leader_starts_series_only_in_their_own_alliance(bot: Bot) -> None:
    answer = bot.reply("lead2", "发起活动 每周三 15:00 集体备课 共3次")
    assert "只能管理本联盟" in answer
    assert bot.storage.series.get(1) is None
