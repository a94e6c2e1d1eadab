"""Missing lists, nudges and 汇总 with exact numbers on a known week."""

from __future__ import annotations

from bot.core.messages import Broadcast, Direct, Reply

from .conftest import Bot

LONG = "本次集体备课聚焦单元整体教学设计，我认识到要从学生的真实问题出发设计学习任务，下周在班里试一试。"


def week(bot: Bot) -> None:
    """A1 on Friday: 王芳 on time + reflection, 李强 late, 张敏 on leave, 赵磊 and 刘洋 absent."""
    bot.say("lead1", "发起活动 周五 14:30-16:30 同课异构《秋天的雨》 地点:东部一小")
    bot.at(11, 27, 14, 10)
    bot.say("t1", "签到 A1")
    bot.say("t3", "请假 A1 外出培训")
    bot.at(11, 27, 14, 40)
    bot.say("t2", "签到 A1")
    bot.at(11, 27, 18, 0)
    bot.say("t1", f"反思 A1 {LONG}")


def texts(effects: list, private: bool) -> str:  # type: ignore[type-arg]
    return "\n".join(e.text for e in effects if isinstance(e, Reply) and e.private is private)


def test_missing_signins_counts_in_group_names_in_private(bot: Bot) -> None:
    week(bot)
    effects = bot.say("lead1", "未签到 A1")
    public, private = texts(effects, False), texts(effects, True)
    assert "未签到 2 人" in public and "东部一小：1 人" in public and "东部二小：1 人" in public
    assert "刘洋" not in public and "赵磊" not in public
    assert "东部一小：刘洋" in private and "东部二小：赵磊" in private
    assert "张敏" not in private  # on leave is not missing


def test_missing_reflections_and_nudge_mentions_exactly_them(bot: Bot) -> None:
    week(bot)
    out = bot.reply("lead1", "未交 A1", chat=None)
    assert "未交反思 3 人" in out and "李强" in out and "赵磊" in out and "王芳" not in out
    effects = bot.say("lead1", "催交 A1")
    nudge = next(e for e in effects if isinstance(e, Broadcast))
    # 赵磊 has no WeCom account: he cannot be @-mentioned.
    assert sorted(nudge.mention) == ["lead1", "t2"]
    assert "另有 1 人未绑定" in texts(effects, True)


def test_nudge_without_groups_goes_privately(bot: Bot) -> None:
    bot.storage.db.execute("DELETE FROM chats")
    bot.say("lead1", "发起活动 周五 14:30 集体备课", chat=None)
    bot.at(11, 28, 9, 0)
    effects = bot.say("lead1", "催交 A1", chat=None)
    direct = next(e for e in effects if isinstance(e, Direct))
    assert sorted(direct.userids) == ["lead1", "t1", "t2", "t3"]


def test_summary_rates_per_school_exact(bot: Bot) -> None:
    week(bot)
    bot.at(11, 28, 10, 0)
    out = bot.reply("lead1", "汇总 本周")
    assert "「东部联盟」本周" in out and "活动 1 次" in out
    # 东部一小: 刘洋, 王芳, 李强 expected; 2 signed (1 late); 1 reflection.
    assert "东部一小：签到 2/3 67%，反思 1/3 33%（迟到/补签1）" in out
    # 东部二小: 张敏 on leave (not counted), 赵磊 absent.
    assert "东部二小：签到 0/1 0%，反思 0/1 0%（请假1）" in out
    assert "合计：签到 2/4 50%，反思 1/4 25%（迟到/补签1，请假1）" in out
    assert out.index("东部一小") < out.index("东部二小")
    school_only = bot.reply("lead1", "汇总 本周 东部二小")
    assert "东部一小：" not in school_only and "东部二小：签到 0/1" in school_only
    assert "没有已开展的活动" in bot.reply("lead1", "汇总 上周")
    assert "没看懂时间范围" in bot.reply("lead1", "汇总 去年夏天")
