"""评课 and 听课: the 三个一 parts in any shape, who may write them and who reads them."""

from __future__ import annotations

import pytest

from bot.core.messages import Reply

from .conftest import Bot

PARTS = "优点:导入自然 不足:小组讨论时间偏短 建议:多给学生展示的机会"


def lesson(bot: Bot) -> None:
    """A1 on Friday 11-27, 14:30–16:30, for 东部联盟; it is now Friday evening."""
    bot.say("lead1", "发起活动 周五 14:30-16:30 同课异构《秋天的雨》 地点:东部一小")
    bot.at(11, 27, 17, 0)


def private_texts(effects: list) -> str:  # type: ignore[type-arg]
    return "\n".join(e.text for e in effects if isinstance(e, Reply) and e.private)


def public_texts(effects: list) -> str:  # type: ignore[type-arg]
    return "\n".join(e.text for e in effects if isinstance(e, Reply) and not e.private)


@pytest.mark.parametrize(
    "text",
    [
        f"评课 A1 王芳 {PARTS}",
        "评课 A1 王芳 建议：多给学生展示的机会 优点：导入自然 不足：小组讨论时间偏短",
        "评课 A1 王芳\n优点 导入自然\n不足 小组讨论时间偏短\n建议 多给学生展示的机会",
        "评课 A1 王芳\n1.亮点：导入自然\n2.问题：小组讨论时间偏短\n3.希望：多给学生展示的机会",
        "评课A1 执教:王芳 优点导入自然；不足 小组讨论时间偏短；改进建议:多给学生展示的机会",
    ],
)
def test_review_parts_in_any_order_shape_and_wording(bot: Bot, text: str) -> None:
    lesson(bot)
    out = bot.reply("t2", text)
    assert "已收到李强对 A1（王芳执教）的评课" in out and "共有 1 条评课" in out
    mine = bot.reply("t1", "我的评课", chat=None)
    assert "优点：导入自然" in mine
    assert "不足：小组讨论时间偏短" in mine
    assert "建议：多给学生展示的机会" in mine
    assert "评课人 李强(东部一小)" in mine


def test_review_without_labels_asks_for_the_three_parts(bot: Bot) -> None:
    lesson(bot)
    out = bot.reply("t2", "评课 A1 这节课上得很好")
    assert "三个一" in out and "优点" in out and "不足" in out and "建议" in out and "例如" in out
    assert "还没有人评过" in bot.reply("t1", "我的评课")


def test_missing_parts_are_named_and_nothing_is_kept(bot: Bot) -> None:
    lesson(bot)
    out = bot.reply("t2", "评课 A1 王芳 优点:导入自然")
    assert "还缺「不足」「建议」" in out and "没有保存" in out
    assert "评课 0 条" in bot.reply("lead1", "查看评课 A1", chat=None)
    # An empty part is a missing one.
    assert "还缺「建议」" in bot.reply("t2", "评课 A1 优点:导入自然 不足:偏快 建议:")


def test_a_word_inside_a_sentence_is_not_a_label(bot: Bot) -> None:
    lesson(bot)
    bot.say("t2", "评课 A1 优点:抓住了学生的问题展开 不足:节奏偏快 建议:多留白")
    assert "优点：抓住了学生的问题展开" in bot.reply("lead1", "查看评课 A1", chat=None)


def test_bare_review_picks_the_one_obvious_activity(bot: Bot) -> None:
    lesson(bot)
    assert "已收到李强对 A1 的评课" in bot.reply("t2", f"评课 {PARTS}")


def test_review_again_replaces_the_earlier_one(bot: Bot) -> None:
    lesson(bot)
    bot.say("t2", f"评课 A1 王芳 {PARTS}")
    out = bot.reply("t2", "评课 A1 王芳 优点:朗读充分 不足:板书乱 建议:精简板书")
    assert "已更新" in out and "共有 1 条评课" in out
    text = bot.reply("lead1", "查看评课 A1", chat=None)
    assert "朗读充分" in text and "导入自然" not in text


def test_outsider_cannot_review_and_nothing_is_stored(bot: Bot) -> None:
    lesson(bot)
    out = bot.reply("t9", f"评课 A1 {PARTS}", chat=None)
    assert "不在参与范围内" in out
    assert "评课 0 条" in bot.reply("lead1", "查看评课 A1", chat=None)


def test_review_before_the_lesson_is_refused(bot: Bot) -> None:
    bot.say("lead1", "发起活动 周五 14:30-16:30 同课异构《秋天的雨》")
    assert "还没开始" in bot.reply("t2", f"评课 A1 {PARTS}")


def test_named_teacher_must_be_in_the_alliance(bot: Bot) -> None:
    lesson(bot)
    assert "名册里没有「孙丽」" in bot.reply("t2", f"评课 A1 孙丽 {PARTS}")
    # Words before the parts that name nobody: told where they belong.
    out = bot.reply("t2", f"评课 A1 这节课很好 {PARTS}")
    assert "名册里没有「这节课很好」" in out and "其余写在优点、不足、建议里" in out
    assert "自己的课请写「反思」" in bot.reply("t1", f"评课 A1 王芳 {PARTS}")


def test_group_sees_counts_teacher_and_leaders_see_text(bot: Bot) -> None:
    lesson(bot)
    effects = bot.say("t2", f"评课 A1 王芳 {PARTS}")
    assert "导入自然" not in public_texts(effects)  # the group learns that, not what
    # The teacher who taught reads it, privately even when asking in the group.
    asked = bot.say("t1", "我的评课")
    assert "导入自然" in private_texts(asked) and "导入自然" not in public_texts(asked)
    # Another teacher of the lesson's audience sees only their own count.
    other = bot.reply("t3", "我的评课")
    assert "导入自然" not in other and "还没有人评过你的课" in other
    # So does anyone asking 查看评课: the count, not the text.
    counted = bot.reply("t3", "查看评课 A1")
    assert "评课 1 条" in counted and "导入自然" not in counted
    # The teacher who taught reads it there too; so does the one who wrote it.
    assert "导入自然" in bot.reply("t1", "查看评课 A1", chat=None)
    assert "导入自然" in bot.reply("t2", "查看评课 A1", chat=None)
    # The leader: count in the group, text in private.
    view = bot.say("lead1", "查看评课 A1")
    assert "评课 1 条" in public_texts(view) and "导入自然" not in public_texts(view)
    assert "导入自然" in private_texts(view)
    # A leader of another alliance does not reach it; staff do.
    other = bot.reply("lead2", "查看评课 A1", chat=None)
    assert "评课 1 条" in other and "导入自然" not in other
    assert "导入自然" in bot.reply("staff1", "查看评课 A1", chat=None)


# 听课 -----------------------------------------------------------------------------------------


def test_observation_with_date_teacher_topic_subject(bot: Bot) -> None:
    bot.at(12, 4, 10, 0)
    out = bot.reply("t2", f"听课 12月3日 王芳 《圆的面积》 数学 {PARTS}")
    assert "已记录李强的听课：12月3日(周四) 王芳(东部一小)《圆的面积》（数学）" in out
    assert "本学期已听课 1 节" in out
    mine = bot.reply("t1", "我的评课")
    assert "12月3日(周四)《圆的面积》（数学） · 执教 王芳 · 听课人 李强(东部一小)" in mine
    assert "听课 1 节" in bot.reply("t2", "我的评课")


def test_observation_defaults_to_today_and_takes_a_school(bot: Bot) -> None:
    bot.at(12, 4, 10, 0)
    out = bot.reply("t3", f"推门听课 王芳(东部一小)《秋天的雨》\n{PARTS}")
    assert "12月4日(周五) 王芳(东部一小)《秋天的雨》" in out


def test_observation_past_weekday_is_the_last_one(bot: Bot) -> None:
    bot.at(12, 4, 10, 0)  # Friday
    assert "12月2日(周三)" in bot.reply("t2", f"听课 周三 王芳《圆》 {PARTS}")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"听课 王芳 圆的面积 {PARTS}", "《》"),
        (f"听课 《圆的面积》 {PARTS}", "执教老师"),
        (f"听课 王芳 李强 《圆的面积》 {PARTS}", "只写一位"),
        (f"听课 12月25日 王芳 《圆的面积》 {PARTS}", "还没到"),
        (f"听课 孙丽 《圆的面积》 {PARTS}", "名册里没有「孙丽」"),
        ("听课 王芳 《圆的面积》 优点:好", "还缺「不足」「建议」"),
        (f"听课 李强 《圆的面积》 {PARTS}", "自己的课"),
    ],
)
def test_observation_problems_store_nothing(bot: Bot, text: str, problem: str) -> None:
    bot.at(12, 4, 10, 0)
    assert problem in bot.reply("t2", text)
    assert "听课 0 节" in bot.reply("lead1", "查看听课", chat=None)


def test_namesakes_ask_which_one(bot: Bot) -> None:
    bot.at(12, 4, 10, 0)
    school = bot.storage.roster.find_school("东部二小")
    assert school is not None
    bot.storage.roster.add_member(
        "王芳", at=bot.clock.now(), school_id=school.id, alliance_id=school.alliance_id
    )
    out = bot.reply("t2", f"听课 王芳 《圆的面积》 {PARTS}")
    assert "有多位「王芳」" in out and "王芳(东部二小)" in out
    assert "已记录" in bot.reply("t2", f"听课 王芳(东部二小) 《圆的面积》 {PARTS}")


def test_leaders_list_observations_group_sees_count(bot: Bot) -> None:
    bot.at(12, 4, 10, 0)
    bot.say("t2", f"听课 王芳 《圆的面积》 {PARTS}", chat=None)
    view = bot.say("lead1", "查看听课")
    assert "听课 1 节" in public_texts(view) and "圆的面积" not in public_texts(view)
    assert "《圆的面积》" in private_texts(view) and "导入自然" in private_texts(view)
    assert "权限" in bot.reply("t3", "查看听课")


# Where the records show ---------------------------------------------------------------------


def test_counts_in_me_and_summary(bot: Bot) -> None:
    lesson(bot)
    bot.say("t2", f"评课 A1 王芳 {PARTS}")
    bot.at(12, 4, 10, 0)
    bot.say("t2", f"听课 12月3日 王芳 《圆的面积》 {PARTS}", chat=None)
    bot.say("t3", f"听课 12月3日 王芳 《圆的面积》 {PARTS}", chat=None)
    me = bot.reply("t2", "我的", chat=None)
    assert "听评课：本学期听课 1 节，评课 1 条" in me
    assert "我的课收到 3 条" in bot.reply("t1", "我的", chat=None)
    out = bot.reply("lead1", "汇总 本学期")
    assert "东部一小：听课 1 节，评课 1 条（1/3 位老师有记录）" in out
    assert "东部二小：听课 1 节，评课 0 条（1/2 位老师有记录）" in out
    # No activity this week, but 听课 happened: 汇总 still says so.
    week = bot.reply("lead1", "汇总 本周")
    assert "没有已开展的活动" in week and "东部一小：听课 1 节" in week


# 听课任务 -------------------------------------------------------------------------------------


def test_quota_progress_in_me(bot: Bot) -> None:
    bot.at(12, 4, 10, 0)
    assert "权限" in bot.reply("t1", "设置听课任务 每学期 2")
    assert "没有设置听课任务" in bot.reply("lead1", "听课任务")
    assert "请写每学期的听课节数" in bot.reply("lead1", "设置听课任务 很多")
    assert "每位老师每学期 2 节" in bot.reply("lead1", "设置听课任务 每学期 2")
    assert "听课 0 节（任务 2 节，还差 2 节）" in bot.reply("t2", "我的", chat=None)
    bot.say("t2", f"听课 王芳 《圆的面积》 {PARTS}", chat=None)
    assert "听课 1 节（任务 2 节，还差 1 节）" in bot.reply("t2", "我的", chat=None)
    bot.say("t2", f"听课 12月3日 张敏 《秋天的雨》 {PARTS}", chat=None)
    assert "听课 2 节（任务 2 节，已完成）" in bot.reply("t2", "我的", chat=None)
    # Another alliance has no quota; a leader cannot set one there.
    assert "（任务" not in bot.reply("t9", "我的", chat=None)
    assert "已取消" in bot.reply("lead1", "设置听课任务 关")
    assert "（任务" not in bot.reply("t2", "我的", chat=None)


# 量表 -----------------------------------------------------------------------------------------

FORM = "设置量表 同课异构 教学目标 教学过程 学生参与 教学效果"


def test_rating_form_asks_for_scores_and_checks_them(bot: Bot) -> None:
    lesson(bot)  # A1 is a 同课异构
    assert "权限" in bot.reply("lead1", FORM)
    assert "至少 2 个评分项目" in bot.reply("staff1", "设置量表 同课异构 教学目标")
    assert "已设置「东部联盟」同课异构的评课量表" in bot.reply("staff1", FORM)
    assert "同课异构：教学目标、教学过程、学生参与、教学效果" in bot.reply("t2", "量表")
    out = bot.reply("t2", f"评课 A1 王芳 {PARTS}")
    assert "已收到" in out and "「评分 A1 4 4 4 4」" in out
    assert "量表有 4 项" in bot.reply("t2", "评分 A1 4 5 3")
    assert "每项 1–5 分" in bot.reply("t2", "评分 A1 4 5 3 6")
    assert "1–5 的整数" in bot.reply("t2", "评分 A1 好 5 3 4")
    assert "平均 4.0" in bot.reply("t2", "评分 A1 4，5，3，4")
    # Inline, in the 评课 itself.
    inline = bot.reply("t3", f"评课 A1 王芳 {PARTS} 评分:5,4,4,3")
    assert "评分：教学目标 5、教学过程 4、学生参与 4、教学效果 3（平均 4.0）" in inline
    # A bad inline score keeps nothing.
    assert "量表有 4 项" in bot.reply("t1", f"评课 A1 李强 {PARTS} 评分:5,4")
    view = bot.reply("lead1", "查看评课 A1", chat=None)
    assert "评课 2 条" in view
    assert "量表平均（2 份）：教学目标 4.5、教学过程 4.5、学生参与 3.5、教学效果 3.5" in view
    assert "量表平均（2 份）" in bot.reply("t1", "我的评课")
    # The group sees none of it.
    assert "4.5" not in public_texts(bot.say("lead1", "查看评课 A1"))


def test_activity_without_a_form_needs_no_scores(bot: Bot) -> None:
    bot.say("staff1", FORM)
    bot.say("lead1", "发起活动 周五 14:30-16:30 集体备课《单元整体教学》")
    bot.at(11, 27, 17, 0)
    out = bot.reply("t2", f"评课 A1 {PARTS}")
    assert "已收到" in out and "评分" not in out
    assert "没有量表，不用评分" in bot.reply("t2", "评分 A1 4 4 4 4")
    assert "没有找到活动 A2" in bot.reply("t2", "评分 A2 4 4 4 4")
    assert "你还没有评" in bot.reply("t3", "评分 4 4 4 4")


def test_deleting_a_form_keeps_scores_given(bot: Bot) -> None:
    lesson(bot)
    bot.say("staff1", FORM)
    bot.say("t2", f"评课 A1 王芳 {PARTS} 评分:4,4,4,4")
    assert "没有「听评课」的量表" in bot.reply("staff1", "删除量表 听评课")
    assert "已删除" in bot.reply("staff1", "删除量表 同课异构")
    assert "还没有评课量表" in bot.reply("t2", "量表")
    assert "量表平均（1 份）" in bot.reply("lead1", "查看评课 A1", chat=None)


def test_each_teacher_reads_only_the_comments_on_their_own_lesson(bot: Bot) -> None:
    lesson(bot)  # 同课异构: 王芳 and 张敏 each taught
    bot.say("t2", "评课 A1 王芳 优点:朗读充分 不足:板书乱 建议:精简板书")
    bot.say("t2", "评课 A1 张敏 优点:情境生动 不足:节奏偏快 建议:多留白")
    assert "共有 3 条评课" in bot.reply("lead1", "评课 A1 赵磊 优点:好 不足:少 建议:多")
    wang = bot.reply("t1", "查看评课 A1", chat=None)
    assert "评课 3 条，你可以看其中 1 条" in wang
    assert "朗读充分" in wang and "情境生动" not in wang and "优点：好" not in wang
    zhang = bot.reply("t3", "我的评课")
    assert "情境生动" in zhang and "朗读充分" not in zhang
    everything = bot.reply("lead1", "查看评课 A1", chat=None)
    assert "评课 3 条：" in everything
    assert all(word in everything for word in ("朗读充分", "情境生动", "优点：好"))
