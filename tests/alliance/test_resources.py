"""资源 and 推荐 through the router: sharing, listing, searching by Chinese words, pushing."""

from __future__ import annotations

from .conftest import Bot, broadcasts, replies

VIDEO = "https://pan.example.com/s/qiutian-video"


def share_three(bot: Bot) -> None:
    bot.say("t1", f"资源 《秋天的雨》朗读指导课例 {VIDEO} #三年级 #朗读")
    bot.say("t3", "资源 三年级上册第二单元教学设计 https://pan.example.com/s/unit2 #单元整体")
    bot.say("lead1", "资源 整本书阅读推荐书目 https://pan.example.com/s/books #阅读")


def test_teacher_shares_a_link_and_it_is_listed_not_pushed(bot: Bot) -> None:
    effects = bot.say("t1", f"资源 《秋天的雨》朗读指导课例 {VIDEO} #三年级 #朗读")
    assert broadcasts(effects) == []  # a teacher's share is listed, not pushed
    out = replies(effects)
    assert "已收录资源 R1（课例视频）" in out and "推荐后会推送" in out
    listing = bot.reply("t2", "资源")
    assert (
        "R1 [课例视频]《秋天的雨》朗读指导课例 #三年级 #朗读（王芳·东部一小 11月24日）" in listing
    )
    assert VIDEO in listing


def test_kinds_are_inferred_or_given(bot: Bot) -> None:
    share_three(bot)
    bot.say("t2", "资源 第二课时 https://pan.example.com/s/ppt 类型:课件")
    listing = bot.reply("t2", "资源")
    assert "R2 [教学设计]三年级上册第二单元教学设计" in listing
    assert "R3 [书目]整本书阅读推荐书目" in listing
    assert "R4 [课件]第二课时" in listing
    # Newest first.
    assert listing.index("R4") < listing.index("R3") < listing.index("R1")
    only = bot.reply("t2", "资源 类型:课件")
    assert "R4" in only and "R1" not in only


def test_search_finds_a_word_inside_a_longer_title(bot: Bot) -> None:
    share_three(bot)
    out = bot.reply("t2", "资源 朗读")
    assert "找到 1 条与「朗读」相关的资源" in out and "《秋天的雨》朗读指导课例" in out
    assert "教学设计" not in out
    # Two words typed together, not adjacent in the title: word segmentation, not substring.
    assert "《秋天的雨》朗读指导课例" in bot.reply("t2", "资源 课例朗读")
    assert "整本书阅读推荐书目" in bot.reply("t2", "资源 书目")
    assert "三年级上册第二单元教学设计" in bot.reply("t2", "资源 单元整体")  # a tag
    assert "没有找到与「数学」相关的资源" in bot.reply("t2", "资源 数学")


def test_staff_recommends_and_the_alliance_groups_get_it_once(bot: Bot) -> None:
    share_three(bot)
    effects = bot.say("staff1", "推荐 R1 这节朗读指导课值得反复看，请各校组织观摩")
    [push] = broadcasts(effects)
    assert push.text.startswith("【资源推荐 R1】[课例视频]《秋天的雨》朗读指导课例")
    assert VIDEO in push.text and "推荐语：这节朗读指导课值得反复看" in push.text
    east = bot.storage.roster.alliance_by_name("东部联盟")
    assert east is not None and push.alliance_ids == [east.id]
    assert "推送到 1 个群" in replies(effects)
    assert "⭐推荐" in bot.reply("t2", "资源 朗读")
    again = bot.say("lead1", "推荐 R1")
    assert broadcasts(again) == [] and "已在" in replies(again) and "推荐过" in replies(again)


def test_teachers_cannot_recommend_and_leaders_only_in_their_alliance(bot: Bot) -> None:
    share_three(bot)
    assert "需要管理员、教研员、联盟负责人权限" in bot.reply("t2", "推荐 R1")
    out = bot.reply("lead2", "推荐 R1", chat=None)  # 陈静 leads 中西部一组, not 东部联盟
    assert "只能管理本联盟" in out
    assert "请写资源编号" in bot.reply("lead1", "推荐 秋天的雨")
    assert "没有找到资源 R99" in bot.reply("lead1", "推荐 R99")


def test_resources_attached_to_an_activity(bot: Bot) -> None:
    bot.say("lead1", "发起活动 周五 14:30 课例研讨《秋天的雨》 地点:东部一小")
    out = bot.reply("t1", "资源 A1 《秋天的雨》教学设计 https://pan.example.com/s/design")
    assert "已收录资源 R1（教学设计），已归入活动 A1" in out
    bot.say("t2", "资源 A1 第二课时课件 https://pan.example.com/s/ppt")
    bot.say("t3", "资源 别的资料 https://pan.example.com/s/other")
    attached = bot.reply("t3", "资源 A1")
    assert "活动 A1「课例研讨《秋天的雨》」的资源（2 条）" in attached
    assert "R1 [教学设计]" in attached and "R2 [课件]第二课时课件" in attached
    assert "别的资料" not in attached
    assert "所属活动：A1" in bot.reply("t3", "资源 R1")
    assert "没有找到活动 A9" in bot.reply("t3", "资源 A9 设计 https://x.example.com/1")


def test_malformed_shares_get_a_one_line_hint_with_an_example(bot: Bot) -> None:
    out = bot.reply("t1", "资源 https://pan.example.com/s/abc #三年级")
    assert out.startswith("请写资源标题，例如：资源 《秋天的雨》教学设计 https://")
    assert "\n" not in out
    assert "没有「音频」这种资源类型" in bot.reply(
        "t1", "资源 朗读 https://x.example.com 类型:音频"
    )
    assert "还没有资源" in bot.reply("t1", "资源")


def test_resources_of_another_alliance_are_not_listed_here(bot: Bot) -> None:
    bot.say("t9", "资源 西城小学读书分享 https://pan.example.com/s/west", chat="group-west")
    assert "还没有资源" in bot.reply("t1", "资源")
    assert "西城小学读书分享" in bot.reply("t9", "资源", chat="group-west")
