"""Notices: posting to one or all alliances, confirming, and receipts per school."""

from __future__ import annotations

from bot.core.messages import Broadcast, Reply

from .conftest import Bot


def test_notice_with_receipt_is_broadcast_and_confirmed(bot: Bot) -> None:
    effects = bot.say("lead1", "通知 需回执 周五下午全体语文教师到东部一小听课")
    broadcast = next(e for e in effects if isinstance(e, Broadcast))
    assert broadcast.text.startswith("【通知 N1】周五下午全体语文教师到东部一小听课")
    assert "收到 N1" in broadcast.text
    east = bot.storage.roster.alliance_by_name("东部联盟")
    assert east is not None and broadcast.alliance_ids == [east.id]
    assert "已确认收到通知 N1" in bot.reply("t1", "收到")
    assert "已经确认过" in bot.reply("t1", "收到 N1")
    assert "已确认收到通知 N1" in bot.reply("t2", "＃收到 Ｎ１")  # full-width typed


def test_receipts_counts_in_group_names_privately(bot: Bot) -> None:
    bot.say("lead1", "通知 需回执 本周五集体备课")
    bot.say("t1", "收到")
    effects = bot.say("lead1", "回执 N1")
    public = [e for e in effects if isinstance(e, Reply) and not e.private]
    private = [e for e in effects if isinstance(e, Reply) and e.private]
    assert "已确认 1/5" in public[0].text
    assert "东部一小：1/3" in public[0].text and "东部二小：0/2" in public[0].text
    assert "李强" not in public[0].text  # names never posted to the group
    assert "李强" in private[0].text and "张敏" in private[0].text
    assert "需要" in bot.reply("t1", "回执 N1")


def test_notice_to_all_needs_district_role(bot: Bot) -> None:
    assert "不能操作「全部联盟」" in bot.reply("lead1", "通知 全部 下周教研暂停")
    effects = bot.say("staff1", "通知 全部 下周教研暂停", chat=None)
    broadcast = next(e for e in effects if isinstance(e, Broadcast))
    assert broadcast.alliance_ids is None


def test_notice_to_a_named_alliance(bot: Bot) -> None:
    effects = bot.say("staff1", "通知 中西部一组 需回执 请提交校本教研主题", chat=None)
    broadcast = next(e for e in effects if isinstance(e, Broadcast))
    west = bot.storage.roster.alliance_by_name("中西部一组")
    assert west is not None and broadcast.alliance_ids == [west.id]
    assert broadcast.text.startswith("【通知 N1】请提交校本教研主题")
    assert "已确认收到通知 N1" in bot.reply("t9", "收到", chat="group-west")
    assert "没有需要你确认" in bot.reply("t1", "收到")


def test_scheduled_notice_is_stored_not_sent(bot: Bot) -> None:
    effects = bot.say("lead1", "定时通知 明天上午8点 需回执 今天下午的集体备课改到三楼会议室")
    assert not any(isinstance(e, Broadcast) for e in effects)
    assert "11月25日(周三) 上午 8:00" in effects[0].text  # type: ignore[union-attr]
    scheduled = bot.storage.notices.scheduled()
    assert len(scheduled) == 1 and scheduled[0].body == "今天下午的集体备课改到三楼会议室"
    assert "已经过去" in bot.reply("lead1", "定时通知 今天早上7点 过去的事")


def test_teacher_cannot_post_notices(bot: Bot) -> None:
    out = bot.reply("t1", "通知 大家好")
    assert "需要" in out and "权限" in out
    assert bot.storage.notices.get(1) is None
