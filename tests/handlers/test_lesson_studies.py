"""课例 (一课多研): rounds with their 执教, 说课 designs before the lesson, and the 课例 view."""

from __future__ import annotations

from .conftest import Bot

STUDY = "课例:分数的初步认识"
DESIGN_1 = "教学目标：认识几分之一。\n导入：分蛋糕的故事。\n练习：折纸找一半。"
DESIGN_2 = "教学目标：认识几分之一。\n导入：分月饼，学生动手分。\n练习：折纸找一半。"


def two_rounds(bot: Bot) -> None:
    """A1 说课 on Wednesday 11-25 (王芳), A2 on Friday 11-27 (李强); now Tuesday 09:00."""
    bot.say("lead1", f"发起活动 周三 14:30-16:30 说课《分数的初步认识》 {STUDY} 执教:王芳")
    bot.say("lead1", f"发起活动 周五 14:30-16:30 课例研讨《分数的初步认识》 {STUDY} 执教:李强")


def test_each_activity_of_a_study_is_its_next_round_with_its_teacher(bot: Bot) -> None:
    first = bot.reply("lead1", f"发起活动 周三 14:30 说课《分数的初步认识》 {STUDY} 执教:王芳")
    assert "课例「分数的初步认识」第1轮，执教 王芳" in first
    second = bot.reply("lead1", f"发起活动 周五 14:30 课例研讨 {STUDY} 执教:李强")
    assert "已发起活动 A2（课例「分数的初步认识」第2轮，执教 李强）" in second
    assert "课例：分数的初步认识（2 轮）" in bot.reply("t1", "课例")


def test_a_round_teacher_must_be_one_person_of_the_alliance(bot: Bot) -> None:
    east = bot.storage.roster.find_alliance("东部联盟")
    assert east is not None
    bot.storage.roster.add_member("王芳", at=bot.clock.now(), alliance_id=east.id, userid="t7")
    namesakes = bot.reply("lead1", f"发起活动 周三 14:30 说课 {STUDY} 执教:王芳")
    assert "有多位「王芳」" in namesakes
    outside = bot.reply("lead1", f"发起活动 周三 14:30 说课 {STUDY} 执教:孙丽")
    assert "名册里没有「孙丽」" in outside
    assert "执教:」要和「课例:」一起写" in bot.reply("lead1", "发起活动 周三 14:30 说课 执教:李强")
    assert "还没有课例" in bot.reply("lead1", "课例")
    assert bot.storage.activities.get(1) is None  # nothing half-made


def test_a_design_is_taken_before_the_lesson_and_only_for_说课_or_课例(bot: Bot) -> None:
    two_rounds(bot)
    bot.say("lead1", "发起活动 周四 14:30 集体备课《单元整体教学》")
    done = bot.reply("t1", f"说课 A1 {DESIGN_1}")
    assert done.startswith("已收到王芳对 A1 的说课稿（") and "第 1 版" in done
    assert "第 2 版" in bot.reply("t1", f"说课 A1 {DESIGN_2}")
    assert "还没开始" in bot.reply("t1", "反思 A1 " + "这次说课让我想清楚了目标。" * 4)
    assert "A3 不是说课或课例活动" in bot.reply("t1", f"说课 A3 {DESIGN_1}")
    assert "请写教学设计正文" in bot.reply("t1", "说课 A2")
    assert "不在参与范围内" in bot.reply("t9", f"说课 A1 {DESIGN_1}", chat=None)


def test_the_study_view_lists_rounds_points_and_what_changed_in_the_design(bot: Bot) -> None:
    two_rounds(bot)
    bot.say("t1", f"说课 A1 {DESIGN_1}")
    bot.say("t2", f"说课 A2 {DESIGN_2}")
    bot.at(11, 25, 14, 20)
    bot.say("t2", "签到 A1")
    bot.say("t3", "签到 A1")
    bot.at(11, 25, 17, 0)
    for who in ("t2", "t3"):
        bot.say(who, "评课 A1 王芳 优点:目标清楚 不足:小组讨论时间偏短 建议:增加动手操作")
    bot.at(11, 27, 17, 0)
    bot.say("t1", "评课 A2 李强 优点:导入有趣 不足:板书零散 建议:板书结构化")

    view = bot.reply("lead1", "课例 分数的初步认识")
    lines = view.splitlines()
    assert lines[0] == "课例「分数的初步认识」共 2 轮："
    first = lines.index(next(line for line in lines if line.startswith("第1轮")))
    second = lines.index(next(line for line in lines if line.startswith("第2轮")))
    assert first < second
    assert "A1 执教 王芳：签到 2，反思 0，评课 2" in lines[first]
    assert "A2 执教 李强：签到 0，反思 0，评课 1" in lines[second]
    assert "讨论" in lines[first + 1] and lines[first + 1].strip().startswith("不足：")
    assert lines[first + 2].strip().startswith("建议：") and "动手" in lines[first + 2]
    assert "板书" in view.split("第2轮")[1]
    changes = view[view.index("说课稿 第1轮→第2轮：") :].splitlines()
    assert "  - 导入：分蛋糕的故事。" in changes and "  + 导入：分月饼，学生动手分。" in changes
    assert not any("教学目标" in line for line in changes)  # unchanged lines are left out
    assert "没有找到课例「分数」" in bot.reply("lead1", "课例 分数")
