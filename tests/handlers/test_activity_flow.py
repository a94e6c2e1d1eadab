"""An activity from creation to sign-in, leave, reflection and personal records."""

from __future__ import annotations

from bot.core.messages import Broadcast, Reply
from storage.models import SigninStatus

from .conftest import Bot

LONG = "今天听了王老师的《秋天的雨》，她用朗读带动想象，学生参与度很高。我的课堂提问太碎，下次要设计更开放的问题。"


def create(
    bot: Bot, text: str = "发起活动 周五 14:30-16:30 同课异构《秋天的雨》 地点:东部一小 学时:3"
) -> str:
    effects = bot.say("lead1", text)
    announce = [e for e in effects if isinstance(e, Broadcast)]
    assert len(announce) == 1, effects
    return announce[0].text


def test_create_activity_announces_to_the_alliance(bot: Bot) -> None:
    text = create(bot)
    assert "A1" in text and "同课异构" in text and "11月27日(周五) 下午 14:30–16:30" in text
    assert "东部一小" in text and "14:00 起发送「签到 A1」" in text and "学时：3" in text
    activity = bot.storage.activities.get(1)
    assert activity is not None and activity.kind == "同课异构" and activity.hours == 3
    assert activity.school_id is not None


def test_sign_in_window_on_time_late_makeup_and_duplicate(bot: Bot) -> None:
    create(bot)
    bot.at(11, 27, 13, 0)
    assert "还没开始签到" in bot.reply("t1", "签到 A1")
    bot.at(11, 27, 14, 5)
    assert "签到成功" in bot.reply("t1", "签到")  # the only open activity is found
    assert "不用重复签到" in bot.reply("t1", "签到 A1")
    bot.at(11, 27, 14, 50)
    assert "迟到（下午 14:50）" in bot.reply("t2", "qd A1")
    bot.at(11, 28, 9, 0)
    assert "补签" in bot.reply("t3", "打卡 A1")
    signins = bot.storage.submissions.signins(1)
    assert [s.status for s in signins.values()] == [
        SigninStatus.ON_TIME,
        SigninStatus.LATE,
        SigninStatus.MAKEUP,
    ]


def test_signin_code_is_checked(bot: Bot) -> None:
    create(bot, "发起活动 明天下午3点 集体备课 签到码:8527")
    bot.at(11, 25, 14, 50)
    assert "需要签到码" in bot.reply("t1", "签到 A1")
    assert "签到码不对" in bot.reply("t1", "签到 A1 1111")
    assert "签到成功" in bot.reply("t1", "签到 A1 8527")


def test_proxy_signin_and_leave(bot: Bot) -> None:
    create(bot)
    bot.at(11, 27, 14, 10)
    out = bot.reply("lead1", "代签 A1 赵磊 王芳 不存在")
    assert "已为 赵磊、王芳 代签" in out and "没有「不存在」" in out
    assert "已签到过" in bot.reply("lead1", "代签 A1 王芳")
    assert "需要" in bot.reply("t1", "代签 A1 李强")  # teachers may not
    assert "已登记 张敏 在 A1 请假" in bot.reply("t3", "请假 A1 外出培训")
    assert "已更新" in bot.reply("t3", "请假 A1 区里开会")
    assert "无需请假" in bot.reply("t1", "请假 A1")


def test_reflection_too_short_then_accepted_then_replaced(bot: Bot) -> None:
    create(bot)
    bot.at(11, 27, 14, 10)
    bot.say("t1", "签到")
    bot.at(11, 27, 17, 0)
    short = bot.reply("t1", "反思 A1 很好的一节课")
    assert "只有 6 字，至少需要 30 字" in short
    # Spaces (full-width too), tabs and line breaks are not counted as 字.
    spaced = bot.reply("t1", "反思 A1 很好的\u3000一节课\n\n\t收获 很 多")
    assert "只有 10 字，至少需要 30 字" in spaced
    assert bot.storage.submissions.reflection(1, 4) is None  # nothing half-stored
    assert "已收到 王芳 对 A1 的反思" in bot.reply("t1", f"反思 A1\n{LONG}")
    again = bot.reply("t1", f"反思A1 {LONG}补充：朗读指导要更具体。")
    assert "第 2 版" in again
    reflection = bot.storage.submissions.reflection(1, 4)
    assert reflection is not None and reflection.body.endswith("朗读指导要更具体。")
    versions = bot.storage.submissions.versions(reflection.id)
    assert [v.version for v in versions] == [1, 2] and versions[0].body == LONG


def test_reflection_by_quoting_the_activity_message(bot: Bot) -> None:
    create(bot)
    create(bot, "发起活动 周四 9:00 集体备课 地点:东部二小")
    bot.at(11, 28, 9, 0)
    out = bot.reply("t1", f"反思 {LONG}", quote="【新活动】A1 同课异构《秋天的雨》")
    assert "对 A1 的反思" in out


def test_my_records_credit_hours_only_with_signin_and_reflection(bot: Bot) -> None:
    create(bot)
    create(bot, "发起活动 周四 9:00-11:00 集体备课 地点:东部二小 学时:1.5")
    bot.at(11, 26, 8, 50)
    bot.say("t1", "签到 A2")
    bot.at(11, 27, 14, 0)
    bot.say("t1", "签到 A1")
    bot.at(11, 27, 18, 0)
    bot.say("t1", f"反思 A1 {LONG}")
    mine = bot.reply("t1", "我的", chat=None)
    assert "A1「同课异构《秋天的雨》」已签到，已交反思，+3学时" in mine
    assert "A2「集体备课」已签到，未交反思" in mine
    assert "待交反思" in mine
    assert "本学期已获学时：3" in mine


def test_change_and_cancel_tell_participants(bot: Bot) -> None:
    create(bot)
    effects = bot.say("lead1", "修改活动 A1 周五 15:00-17:00 地点:东部二小")
    assert any(
        isinstance(e, Broadcast) and "活动调整" in e.text and "15:00–17:00" in e.text
        for e in effects
    )
    activity = bot.storage.activities.get(1)
    assert activity is not None and activity.place == "东部二小"
    effects = bot.say("lead1", "取消活动 A1 因天气原因延期")
    assert any(isinstance(e, Broadcast) and "因天气原因延期" in e.text for e in effects)
    assert "已取消" in bot.reply("t1", "签到 A1")


def test_leader_of_another_alliance_cannot_manage(bot: Bot) -> None:
    create(bot)
    out = bot.reply("lead2", "取消活动 A1", chat="group-west")
    assert "只能管理本联盟" in out
    assert bot.storage.activities.get(1).status.value == "scheduled"  # type: ignore[union-attr]


def test_malformed_activity_gets_a_hint_with_example(bot: Bot) -> None:
    out = bot.reply("lead1", "发起活动 同课异构")
    assert "例如：发起活动" in out
    assert "学时要写数字" in bot.reply("lead1", "发起活动 周五 14:30 听评课 学时:两个")
    assert "已经过去" in bot.reply("lead1", "发起活动 2026-11-01 14:30 听评课")
    assert isinstance(bot.say("lead1", "活动")[0], Reply)


def test_activity_for_one_school_is_not_pending_for_other_schools(bot: Bot) -> None:
    create(bot, "发起活动 周五 14:30 听评课 地点:东部一小 对象:东部一小")
    assert "A1" in bot.reply("t1", "我的", chat=None)  # 王芳 teaches at 东部一小
    assert "A1" not in bot.reply("t3", "我的", chat=None)  # 张敏 teaches at 东部二小
