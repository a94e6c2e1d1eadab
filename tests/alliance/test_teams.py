"""团队 / 梯队, activities aimed at a team or some schools, and 汇总 by team and by 梯队."""

from __future__ import annotations

from bot.core.messages import Reply
from storage.attendance import expected_among, is_expected
from storage.models import Role

from .conftest import Bot, broadcasts, replies

TEAM = "一小青年语文组"
LONG = "本次读书分享让我重新理解了整本书阅读的课堂推进，下周准备在班里试一试分组共读的做法。"


def form_team(bot: Bot) -> str:
    """刘洋 (东部一小) forms a team with two of his teachers and two from small 朝阳小学."""
    return bot.reply("lead1", f"团队 新建 {TEAM} 王芳 李强 孙悦(朝阳小学) 周亮")


def test_a_leader_forms_a_team_across_two_schools(bot: Bot) -> None:
    out = form_team(bot)
    assert f"已组建团队「{TEAM}」" in out
    assert "校级联盟团队一般 5–10 人，目前 4 人" in out
    assert f"团队「{TEAM}」（东部一小，4 人，校际联盟：东部一小、朝阳小学）" in out
    assert "· 东部一小：李强、王芳" in out and "· 朝阳小学：周亮、孙悦" in out
    added = bot.reply("lead1", f"团队 加入 {TEAM} 何雪")
    assert "已加入：何雪。" in added and "目前" not in added and "5 人" in added
    assert "王芳已在团队中" in bot.reply("lead1", f"团队 加入 {TEAM} 王芳")
    assert "已移除：何雪。" in bot.reply("lead1", f"团队 移除 {TEAM} 何雪")


def test_who_sees_and_who_changes_a_team(bot: Bot) -> None:
    form_team(bot)
    assert f"· {TEAM}（东部一小，4 人，跨校）" in bot.reply("lead1", "团队")
    assert TEAM in bot.reply("staff1", "团队")  # staff in the 东部联盟 group
    assert "你所在的团队" in bot.reply("t5", "团队") and TEAM in bot.reply("t5", "团队")
    assert "西城小学的团队：还没有" in bot.reply("lead2", "团队", chat="group-west")
    assert "你只能管理本校的事务" in bot.reply("lead3", f"团队 加入 {TEAM} 张敏")
    assert "已加入：张敏" in bot.reply("staff1", f"团队 加入 {TEAM} 张敏")
    assert "需要管理员、教研员、联盟负责人权限" in bot.reply("t1", "团队 新建 读书会 王芳")
    assert "不在你所在的联盟" in bot.reply("lead1", "团队 新建 跨片团队 王芳 孙丽")
    assert "名册里没有「王小明」" in bot.reply("lead1", "团队 新建 读书会 王小明")
    assert f"团队「{TEAM}」已经存在" in bot.reply("lead1", f"团队 新建 {TEAM} 何雪")
    assert "没有找到团队「数学组」" in bot.reply("lead1", "团队 数学组")
    assert "请写团队名称和成员" in bot.reply("lead1", "团队 新建")


def test_an_alliance_leader_without_a_school_manages_the_schools_of_the_alliance(
    bot: Bot,
) -> None:
    """A 联盟负责人 with no school of their own: the team is based at its first member's
    school, 团队 lists the whole alliance's teams, and 梯队 is set for its teachers."""
    east = bot.storage.roster.alliance_by_name("东部联盟")
    assert east is not None
    bot.storage.roster.add_member(
        "钱宁", at=bot.clock.now(), role=Role.LEADER, alliance_id=east.id, userid="lead9"
    )
    form_team(bot)
    out = bot.reply("lead9", "团队 新建 二小数学组 张敏 周亮")
    assert "团队「二小数学组」（东部二小，2 人，校际联盟：东部二小、朝阳小学）" in out
    listing = bot.reply("lead9", "团队")
    assert "本联盟的团队（2 个）" in listing and TEAM in listing
    assert "已把 张敏 列入" in bot.reply("lead9", "梯队 青年 张敏")


def test_an_activity_for_a_team_expects_only_its_members(bot: Bot) -> None:
    form_team(bot)
    effects = bot.say("lead1", f"发起活动 周五 14:30 读书分享 对象:团队 {TEAM}")
    [announcement] = broadcasts(effects)
    assert f"对象：团队「{TEAM}」" in announcement.text
    bot.at(11, 27, 14, 10)
    bot.say("t1", "签到 A1")
    bot.say("t5", "签到 A1")
    missing = bot.say("lead1", "未签到 A1")
    public = "\n".join(e.text for e in missing if isinstance(e, Reply) and not e.private)
    private = "\n".join(e.text for e in missing if isinstance(e, Reply) and e.private)
    assert "未签到 2 人" in public
    assert "东部一小：李强" in private and "朝阳小学：周亮" in private
    for outsider in ("张敏", "赵磊", "刘洋", "何雪"):
        assert outsider not in private
    bot.at(11, 28, 9, 0)
    summary = bot.reply("lead1", "汇总 本周")
    assert "东部一小：签到 1/2 50%" in summary and "朝阳小学：签到 1/2 50%" in summary
    assert "东部二小" not in summary and "合计：签到 2/4 50%" in summary
    assert "有面向它的活动，不能解散" in bot.reply("lead1", f"团队 解散 {TEAM}")


def test_an_activity_for_some_schools_and_back_to_the_whole_alliance(bot: Bot) -> None:
    effects = bot.say("lead1", "发起活动 周五 14:30 送教下乡 对象:东部二小,朝阳小学")
    assert "对象：东部二小、朝阳小学" in broadcasts(effects)[0].text
    out = bot.reply("lead1", "未签到 A1", chat=None)
    assert "未签到 5 人" in out  # 马丽 (leader), 张敏, 赵磊, 孙悦, 周亮
    assert "东部一小" not in out
    bot.say("lead1", "修改活动 A1 对象:全联盟")
    assert "未签到 9 人" in bot.reply("lead1", "未签到 A1", chat=None)
    assert "没有找到学校「北京小学」" in bot.reply(
        "lead1", "发起活动 周五 15:00 听评课 对象:北京小学"
    )
    assert "请写团队名称" in bot.reply("lead1", "发起活动 周五 15:00 听评课 对象:团队")
    assert "西城小学不在本联盟" in bot.reply("lead1", "发起活动 周五 15:00 听评课 对象:西城小学")


def test_tiers_are_set_by_school_leaders_and_listed(bot: Bot) -> None:
    assert "已把 王芳、李强 列入青年教师梯队" in bot.reply("lead1", "梯队 青年 王芳 李强")
    assert "你只能管理本校的事务" in bot.reply("lead1", "梯队 青年 张敏")
    assert "梯队请写青年、成长或名优" in bot.reply("lead1", "梯队 骨干 王芳")
    overview = bot.reply("lead1", "梯队")
    assert "东部一小梯队（4 人）" in overview
    assert "· 青年教师 2 人：李强、王芳" in overview and "· 未分梯队 2 人：何雪、刘洋" in overview
    assert bot.reply("t1", "梯队") == "王芳：青年教师梯队。"
    assert "已清除 李强 的梯队" in bot.reply("lead1", "梯队 清除 李强")


def test_statistics_by_tier_and_by_team_on_a_known_week(bot: Bot) -> None:
    """A1 for all of 东部联盟 (9 people) on Friday.

    梯队: 青年 王芳 李强 孙悦; 成长 何雪 张敏; 名优 赵磊 刘洋; none: 马丽 周亮.
    Team: 王芳 李强 孙悦 周亮. 王芳 何雪 孙悦 刘洋 on time, 李强 late, 张敏 on leave;
    reflections from 王芳 and 何雪.
    """
    form_team(bot)
    bot.say("staff1", "梯队 青年 王芳 李强 孙悦")
    bot.say("staff1", "梯队 成长 何雪 张敏")
    bot.say("staff1", "梯队 名优 赵磊 刘洋")
    bot.say("lead1", "发起活动 周五 14:30-16:30 读书分享《给教师的建议》")
    bot.at(11, 27, 14, 10)
    for uid in ("t1", "t4", "t5", "lead1"):
        bot.say(uid, "签到 A1")
    bot.say("t3", "请假 A1 外出培训")
    bot.at(11, 27, 14, 40)
    bot.say("t2", "签到 A1")
    bot.at(11, 27, 18, 0)
    bot.say("t1", f"反思 A1 {LONG}")
    bot.say("t4", f"反思 A1 {LONG}")
    bot.at(11, 28, 9, 0)
    by_tier = bot.reply("lead1", "汇总 本周 按梯队")
    assert "「东部联盟」本周" in by_tier and "· 按梯队" in by_tier
    lines = by_tier.splitlines()
    start = lines.index("各梯队情况：")
    assert lines[start + 1 : start + 6] == [
        "· 青年教师：签到 3/3 100%，反思 1/3 33%（迟到/补签1）",
        "· 成长教师：签到 1/1 100%，反思 1/1 100%（请假1）",
        "· 名优教师：签到 1/2 50%，反思 0/2 0%",
        "· （未分梯队）：签到 0/2 0%，反思 0/2 0%",
        "合计：签到 5/8 63%，反思 2/8 25%（迟到/补签1，请假1）",
    ]
    by_team = bot.reply("lead1", "汇总 本周 按团队")
    assert f"· {TEAM}：签到 3/4 75%，反思 1/4 25%（迟到/补签1）" in by_team
    assert "· （未加入团队）：签到 2/4 50%，反思 1/4 25%（请假1）" in by_team
    one_school = bot.reply("lead1", "汇总 本周 东部一小 按梯队")
    assert "· 青年教师：签到 2/2 100%，反思 1/2 50%（迟到/补签1）" in one_school
    assert "· 名优教师：签到 1/1 100%，反思 0/1 0%" in one_school
    assert "成长教师：签到 1/1" in one_school  # 何雪
    # The default breakdown by school is unchanged.
    assert "各校情况（按签到率排序）：" in bot.reply("lead1", "汇总 本周")
    assert replies(bot.say("lead1", "汇总 本周")).count("合计") == 1


def test_is_expected_follows_the_target(bot: Bot) -> None:
    form_team(bot)
    bot.say("lead1", f"发起活动 周五 14:30 读书分享 对象:团队 {TEAM}")
    bot.say("lead1", "发起活动 周五 16:30 听评课 对象:东部二小")
    bot.say("lead1", "发起活动 周五 18:30 集体备课")
    roster, storage = bot.storage.roster, bot.storage
    a1, a2, a3 = (bot.storage.activities.get(i) for i in (1, 2, 3))
    assert a1 is not None and a2 is not None and a3 is not None
    wang, zhang, sun_li = (roster.member_by_userid(u) for u in ("t1", "t3", "t9"))
    assert wang is not None and zhang is not None and sun_li is not None
    assert [is_expected(storage, a, wang) for a in (a1, a2, a3)] == [True, False, True]
    assert [is_expected(storage, a, zhang) for a in (a1, a2, a3)] == [False, True, True]
    assert [is_expected(storage, a, sun_li) for a in (a1, a2, a3)] == [False, False, False]
    # Many at once (我的, a member's archive): the same answers, targets read together.
    for person, expected in ((wang, [1, 3]), (zhang, [2, 3]), (sun_li, [])):
        assert [a.id for a in expected_among(storage, [a1, a2, a3], person)] == expected
