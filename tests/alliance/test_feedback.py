"""征集 / 反馈 / 联系人 through the router, and reminders that reach only the missing schools."""

from __future__ import annotations

from datetime import datetime

from bot.core.messages import Channel
from scheduling.scheduler import ReminderScheduler
from scheduling.simulated import advance_clock

from .conftest import SHANGHAI, Bot, broadcasts, directs, replies

QUESTION = "各校本学期校本教研主题"


def ask(bot: Bot) -> None:
    """周敏 asks 东部联盟 on Tuesday, due Friday 17:00."""
    bot.say("staff1", f"征集 东部联盟 周五17:00 {QUESTION}", chat=None)


def answer_some(bot: Bot) -> None:
    """东部一小 answers; 东部二小 answers and then revises; 朝阳小学 stays silent."""
    bot.at(11, 25, 10, 0)
    bot.say("lead1", "反馈 F1 整本书阅读的课堂推进策略")
    bot.say("lead3", "反馈 F1 低年级识字写字的趣味化")
    bot.at(11, 25, 16, 30)
    bot.say("lead3", "反馈 低年级识字写字的趣味化与评价")


def test_request_is_announced_to_the_alliance_with_its_leaders_mentioned(bot: Bot) -> None:
    effects = bot.say("staff1", f"征集 东部联盟 周五17:00 {QUESTION}", chat=None)
    [announcement] = broadcasts(effects)
    assert announcement.text.startswith(f"【征集 F1】{QUESTION}")
    assert "11月27日(周五) 下午 17:00 前发送「反馈 F1 正文」" in announcement.text
    # 朝阳小学 has no leader and no contact: its teachers are asked, and told so.
    assert sorted(announcement.mention) == ["lead1", "lead3", "t5", "t6"]
    assert "朝阳小学还没有联系人，这次发给本校老师" in announcement.text
    out = replies(effects)
    assert "已发起征集 F1（东部联盟，3 所学校）" in out
    assert "朝阳小学没有联系人，已发给该校老师" in out


def test_answers_side_by_side_with_the_missing_school(bot: Bot) -> None:
    ask(bot)
    answer_some(bot)
    out = bot.reply("staff1", "反馈 F1", chat=None)
    assert out.startswith(f"征集 F1：{QUESTION}（截止 11月27日(周五) 下午 17:00）")
    assert "已反馈 2/3 校：" in out
    assert "【东部一小】（刘洋，11月25日(周三) 上午 10:00）\n整本书阅读的课堂推进策略" in out
    assert (
        "【东部二小】（马丽，11月25日(周三) 下午 16:30，第 2 版）\n低年级识字写字的趣味化与评价"
        in out
    )
    assert "未反馈 1 校：朝阳小学（无联系人）" in out
    # The first version is kept.
    answer = bot.storage.feedback.answers(1)
    erxiao = bot.storage.roster.find_school("东部二小")
    assert erxiao is not None
    versions = bot.storage.feedback.versions(answer[erxiao.id].id)
    assert [v.body for v in versions] == ["低年级识字写字的趣味化", "低年级识字写字的趣味化与评价"]


def test_answer_replies_say_what_happened(bot: Bot) -> None:
    ask(bot)
    assert "已收到东部一小对征集 F1 的反馈，谢谢！" in bot.reply("lead1", "反馈 F1 整本书阅读")
    assert "第 2 版，以此为准" in bot.reply("lead1", "反馈 F1 整本书阅读的推进")
    assert "与上次相同" in bot.reply("lead1", "反馈 F1 整本书阅读的推进")
    own = bot.reply("lead1", "反馈 F1", chat=None)
    assert "东部一小（第 2 版）：整本书阅读的推进" in own and "东部二小" not in own
    bot.at(11, 28, 9, 0)
    assert "已过截止时间，仍已记录" in bot.reply("lead3", "反馈 F1 识字写字")


def test_only_leaders_and_contacts_answer_and_staff_names_contacts(bot: Bot) -> None:
    ask(bot)
    # A teacher of a school with a leader does not answer for it.
    assert "只有各校业务领导" in bot.reply("t1", "反馈 F1 我们学校的主题是朗读")
    assert "你只能管理本校的事务" in bot.reply("lead1", "联系人 朝阳小学 孙悦")
    out = bot.reply("staff1", "联系人 朝阳小学 孙悦", chat=None)
    assert "已指定 孙悦 为朝阳小学的联系人" in out
    # Now that 朝阳小学 has a contact, its other teachers no longer answer for it.
    assert "只有各校业务领导" in bot.reply("t6", "反馈 F1 我们学校的主题是朗读")
    assert "已收到朝阳小学对征集 F1 的反馈" in bot.reply("t5", "反馈 F1 小学段朗读教学")
    assert "各校均已反馈" not in bot.reply("staff1", "反馈 F1", chat=None)
    listing = bot.reply("staff1", "联系人")
    assert "· 朝阳小学：孙悦" in listing and "· 东部一小：刘洋" in listing
    assert "各校反馈只有教研员和发起征集的负责人可以查看" in bot.reply("t1", "反馈 F1")


class Reminders:
    """The real scheduler over the bot's database; what it queued for 征集 deadlines."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._scheduler = ReminderScheduler(
            bot.storage, bot.clock, zone=SHANGHAI, private_channel=Channel.CONSOLE
        )

    async def until(self, month: int, day: int, hour: int, minute: int = 0) -> None:
        target = datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)
        await advance_clock(self._scheduler, self._bot.clock, target)

    def queued(self) -> list[tuple[str, str, str]]:
        """(local time, recipient, text) of every feedback reminder in the outbox."""
        found = []
        for item in self._bot.storage.outbox.items():
            key = item.message.dedup_key or ""
            if key.startswith("feedback:") and key.split(":")[2] in ("day_before", "due_morning"):
                when = item.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")
                found.append((when, item.message.target, item.message.text))
        return found


async def test_reminders_go_only_to_schools_that_have_not_answered(bot: Bot) -> None:
    ask(bot)
    bot.say("staff1", "联系人 朝阳小学 孙悦", chat=None)
    answer_some(bot)
    reminders = Reminders(bot)
    await reminders.until(11, 28, 9)
    # 东部一小 and 东部二小 answered: only 朝阳小学's contact hears, the day before the
    # deadline at 18:00 and on its morning at 08:00.
    assert [(when, to) for when, to, _ in reminders.queued()] == [
        ("11-26 18:00", "t5"),
        ("11-27 08:00", "t5"),
    ]
    day_before, morning = (text for _, _, text in reminders.queued())
    assert "征集 F1「各校本学期校本教研主题」" in day_before
    assert "明天 下午 17:00" in day_before and "今天 下午 17:00" in morning
    assert "朝阳小学" in day_before and "「反馈 F1 正文」" in day_before


async def test_a_school_that_answers_after_the_first_reminder_gets_no_second(bot: Bot) -> None:
    ask(bot)
    bot.say("staff1", "联系人 朝阳小学 孙悦", chat=None)
    answer_some(bot)
    reminders = Reminders(bot)
    await reminders.until(11, 26, 20)
    bot.say("t5", "反馈 F1 小学段朗读教学")
    await reminders.until(11, 28, 9)
    assert [(when, to) for when, to, _ in reminders.queued()] == [("11-26 18:00", "t5")]


async def test_closed_requests_are_not_reminded_or_answered(bot: Bot) -> None:
    ask(bot)
    assert "征集 F1 已结束，不再提醒" in bot.reply("staff1", "征集 结束 F1", chat=None)
    reminders = Reminders(bot)
    await reminders.until(11, 28, 9)
    assert reminders.queued() == []
    assert "征集 F1 已结束" in bot.reply("lead1", "反馈 F1 主题是朗读")


def test_malformed_requests_get_a_hint_and_teachers_cannot_ask(bot: Bot) -> None:
    assert "请先写截止时间再写问题" in bot.reply("staff1", f"征集 {QUESTION}")
    assert "请写要征集的问题" in bot.reply("staff1", "征集 周五17:00")
    assert "截止时间已经过去了" in bot.reply("staff1", "征集 昨天 本学期主题")
    assert "需要管理员、教研员、联盟负责人权限" in bot.reply("t1", f"征集 周五 {QUESTION}")


def test_without_a_number_the_open_request_is_answered_and_listed(bot: Bot) -> None:
    assert "目前没有需要反馈的征集" in bot.reply("lead1", "反馈 我校主题是朗读")
    ask(bot)
    bot.say("staff1", "征集 东部联盟 11月30日 课例研讨中遇到的问题", chat=None)
    assert "请写明编号" in bot.reply("lead1", "反馈 我校主题是朗读")
    bot.say("lead1", "反馈 F1 我校主题是朗读")
    # Only F2 is still unanswered by 东部一小, so a bare answer goes there.
    assert "征集 F2" in bot.reply("lead1", "反馈 课堂上学生不敢说")
    pending = bot.reply("staff1", "反馈")
    assert "F1「各校本学期校本教研主题」" in pending and "已反馈 1/3 校" in pending
    mine = bot.reply("lead3", "反馈")
    assert "F1" in mine and "东部二小未反馈" in mine


def test_a_group_without_bound_chats_gets_direct_messages(bot: Bot) -> None:
    bot.storage.db.execute("DELETE FROM chats")
    effects = bot.say("staff1", f"征集 东部联盟 周五17:00 {QUESTION}", chat=None)
    [direct] = directs(effects)
    assert sorted(direct.userids) == ["lead1", "lead3", "t5", "t6"]


def test_a_school_without_contact_answers_through_any_of_its_teachers(bot: Bot) -> None:
    ask(bot)
    assert "已收到朝阳小学对征集 F1 的反馈" in bot.reply("t6", "反馈 F1 小学段朗读教学")
    assert "第 2 版" in bot.reply("t5", "反馈 F1 小学段朗读与识字")
    assert "【朝阳小学】（孙悦" in bot.reply("staff1", "反馈 F1", chat=None)


def test_a_leader_asks_within_their_own_alliance(bot: Bot) -> None:
    effects = bot.say("lead1", f"征集 周五17:00 {QUESTION}")
    [announcement] = broadcasts(effects)
    assert announcement.text.startswith(f"【征集 F1】{QUESTION}")
    assert "已发起征集 F1（东部联盟，3 所学校）" in replies(effects)
    # Not in another alliance, named or from its group.
    assert "你只能管理本联盟的事务" in bot.reply("lead1", f"征集 中西部一组 周五 {QUESTION}")
    bot.at(11, 25, 10, 0)
    bot.say("lead3", "反馈 F1 低年级识字写字的趣味化")
    # The leader who asked sees every school's answer and what is missing, and closes it.
    view = bot.reply("lead1", "反馈 F1", chat=None)
    assert "已反馈 1/3 校" in view and "【东部二小】（马丽" in view
    assert "未反馈 2 校" in view
    pending = bot.reply("lead1", "反馈", chat=None)
    assert "你发起的征集：" in pending and "已反馈 1/3 校" in pending
    assert "需要你回复的征集：" in pending and "东部一小未反馈" in pending
    # Another leader of the alliance only sees their own school's answer and cannot close it.
    own = bot.reply("lead3", "反馈 F1", chat=None)
    assert "东部二小（第 1 版）" in own and "东部一小" not in own
    assert "只有发起人或教研员可以结束" in bot.reply("lead3", "征集 结束 F1")
    assert "已结束" in bot.reply("lead1", "征集 结束 F1")
