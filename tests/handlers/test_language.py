"""What teachers really type, through the real dispatcher: full-width codes, fields anywhere,
courtesy words, questions, and replies that show 上午/下午."""

from __future__ import annotations

from datetime import datetime

from bot.core.messages import Broadcast

from .conftest import SHANGHAI, Bot
from .test_activity_flow import LONG, create


def test_full_width_code_files_the_reflection_under_that_activity(bot: Bot) -> None:
    create(bot)
    create(bot, "发起活动 周四 9:00-11:00 集体备课 地点:东部二小")
    bot.at(11, 27, 18, 0)
    out = bot.reply("t1", f"反思 Ａ１ {LONG}\n第二段：下次试试小组朗读。")
    assert "对 A1 的反思" in out
    member = bot.storage.roster.member_by_userid("t1")
    assert member is not None
    reflection = bot.storage.submissions.reflections_of(member.id)
    assert set(reflection) == {1}
    assert reflection[1].body == f"{LONG}\n第二段：下次试试小组朗读。"


def test_change_time_as_a_field_announces_old_and_new(bot: Bot) -> None:
    create(bot)
    effects = bot.say("lead1", "修改活动 A1 时间：11月30日 15:00 地点:东部二小")
    announce = next(e.text for e in effects if isinstance(e, Broadcast))
    assert "时间：11月27日(周五) 下午 14:30–16:30 → 11月30日(周一) 下午 15:00–17:00" in announce
    assert "地点：东部一小 → 东部二小" in announce
    activity = bot.storage.activities.get(1)
    assert activity is not None and activity.title == "同课异构《秋天的雨》"


def test_a_new_time_without_a_date_keeps_the_activity_day(bot: Bot) -> None:
    create(bot)  # Friday 11月27日 14:30–16:30, created on an earlier day
    effects = bot.say("lead1", "修改活动 A1 15:00")
    announce = next(e.text for e in effects if isinstance(e, Broadcast))
    assert "→ 11月27日(周五) 下午 15:00–17:00" in announce
    bot.say("lead1", "修改活动 A1 时间:第3节")
    activity = bot.storage.activities.get(1)
    assert activity is not None
    assert activity.starts_at == datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)


def test_a_part_of_day_without_an_hour_is_asked_about(bot: Bot) -> None:
    out = bot.reply("lead1", "发起活动 12月15日下午 课例研讨")
    assert out == "12月15日下午几点？例如：12月15日 14:30"
    assert bot.storage.activities.get(1) is None


def test_courtesy_words_before_shou_dao_confirm_the_notice(bot: Bot) -> None:
    bot.say("staff1", "通知 东部联盟 需回执 周五下午听课", chat=None)
    assert bot.reply("t1", "好的收到") == "已确认收到通知 N1，谢谢！"
    assert bot.reply("t2", "好的，收到") == "已确认收到通知 N1，谢谢！"
    assert "我的" not in bot.reply("t3", "好的")


def test_leave_in_a_sentence_finds_the_activity_of_that_day(bot: Bot) -> None:
    create(bot)  # Friday
    assert "在 A1 请假" in bot.reply("t1", "我要请假，周五家里有事")
    mine = bot.reply("t1", "我的", chat=None)
    assert "A1「同课异构《秋天的雨》」请假" in mine and "待参加" not in mine
    asked = bot.reply("t2", "我要请假，家里有事")
    assert "请写明编号，例如：请假 A1 家里有事" in asked


def test_my_records_say_signed_in_before_the_activity_starts(bot: Bot) -> None:
    create(bot)  # Friday 14:30, sign-in opens at 14:00
    bot.at(11, 27, 14, 10)
    assert "签到成功" in bot.reply("t1", "签到 A1")
    mine = bot.reply("t1", "我的", chat=None)
    assert "A1「同课异构《秋天的雨》」已签到" in mine and "待参加" not in mine


def test_my_records_say_absent_once_an_activity_is_over(bot: Bot) -> None:
    create(bot)
    bot.at(11, 28, 9)
    assert "A1「同课异构《秋天的雨》」缺席" in bot.reply("t1", "我的", chat=None)


def test_signin_code_question_is_explained_not_tried(bot: Bot) -> None:
    out = bot.reply("t1", "签到码是多少")
    assert "现场公布" in out and "签到 A7 8527" in out


def test_scheduled_notice_in_quiet_hours_says_when_it_really_goes_out(bot: Bot) -> None:
    out = bot.reply("staff1", "定时通知 今天22:00 东部联盟 明天停课", chat=None)
    assert "将于 11月25日(周三) 上午 7:30 发出（晚上 22:00 在免打扰时段内，已顺延）" in out
