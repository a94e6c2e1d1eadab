"""Tolerant parsing, help, unknown commands, identity binding and the permission matrix."""

from __future__ import annotations

import pytest

from bot.core.messages import Reply

from .conftest import Bot


@pytest.mark.parametrize(
    "text",
    ["@教研助手 帮助", "/帮助", "#帮助", "＃帮助", "@教研助手　帮助", "help", "菜单"],
)
def test_addressing_and_prefixes_are_tolerated(bot: Bot, text: str) -> None:
    assert "我是教研助手" in bot.reply("t1", text)


def test_help_is_role_aware_and_explains_one_command(bot: Bot) -> None:
    teacher = bot.reply("t1", "帮助", chat=None)
    leader = bot.reply("lead1", "帮助", chat=None)
    assert "签到" in teacher and "发起活动" not in teacher
    assert "发起活动" in leader and "角色" not in leader
    detail = bot.reply("t1", "帮助 签到")
    assert "用法：签到 [A编号] [签到码]" in detail and "打卡" in detail


def test_unknown_command_private_gets_help_group_gets_hint(bot: Bot) -> None:
    private = bot.reply("t1", "今天天气不错", chat=None)
    assert "没看懂" in private and "我是教研助手" in private
    group = bot.reply("t1", "签倒 A1")
    assert group.startswith("没看懂") and "签到" in group and len(group.splitlines()) == 1


def test_stranger_binds_identity_then_can_sign_in(bot: Bot) -> None:
    assert "我还不认识你" in bot.reply("newbie", "签到 A1")
    assert "名册里没有找到" in bot.reply("newbie", "我是 不存在 东部一小")
    assert "绑定成功：赵磊" in bot.reply("newbie", "我是 赵磊 东部二小")
    assert "已绑定为 赵磊" in bot.reply("other", "我是 赵磊") or "另一个" in bot.reply(
        "other", "我是 赵磊"
    )
    member = bot.storage.roster.member_by_userid("newbie")
    assert member is not None and member.name == "赵磊"


def test_bind_group_and_set_role_are_admin_things(bot: Bot) -> None:
    assert "权限" in bot.reply("t1", "绑定 东部联盟", chat="g-new")
    assert "已把本群绑定到「东部联盟」" in bot.reply("staff1", "绑定 东部", chat="g-new")
    assert bot.storage.chats.get("g-new") is not None
    assert "权限" in bot.reply("lead1", "角色 王芳 联盟负责人")
    assert "已把 王芳" in bot.reply("boss", "角色 王芳 联盟负责人", chat=None)  # configured admin
    member = bot.storage.roster.member_by_userid("t1")
    assert member is not None and member.role.value == "leader"


# Every staff-only command, as a teacher types it: each must be refused, nothing changed.
STAFF_ONLY = [
    "通知 明天停课",
    "定时通知 明天8点 明天停课",
    "回执 N1",
    "发起活动 周五 14:30 听评课",
    "修改活动 A1 地点:二小",
    "取消活动 A1",
    "代签 A1 李强",
    "未签到 A1",
    "未交 A1",
    "催交 A1",
    "汇总",
    "绑定 东部联盟",
    "角色 李强 教研员",
]


@pytest.mark.parametrize("text", STAFF_ONLY)
def test_teachers_are_refused_staff_commands(bot: Bot, text: str) -> None:
    bot.say("lead1", "发起活动 周五 14:30 听评课")
    effects = bot.say("t1", text)
    assert len(effects) == 1 and isinstance(effects[0], Reply)
    assert "权限" in effects[0].text


@pytest.mark.parametrize("text", STAFF_ONLY[:-2])
def test_leaders_may_run_them_in_their_alliance(bot: Bot, text: str) -> None:
    bot.say("lead1", "发起活动 周五 14:30 听评课")
    bot.say("lead1", "通知 需回执 明天停课")
    out = "\n".join(e.text for e in bot.say("lead1", text) if isinstance(e, Reply))
    assert "权限" not in out and "只能管理" not in out


def test_errors_never_leak_a_stack_trace(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database is on fire")

    monkeypatch.setattr(bot.storage.roster, "members_in", broken)
    out = bot.reply("lead1", "通知 需回执 测试")
    assert "出错" not in out or "Traceback" not in out
    out = bot.reply("lead1", "回执 N1")
    assert "抱歉" in out and "fire" not in out and "Traceback" not in out


async def test_background_command_leaves_the_event_loop_free(bot: Bot) -> None:
    """A long command (导出) runs in a worker thread: other messages are answered meanwhile."""
    import asyncio
    import threading

    from bot.core.messages import Channel, ChatType, Incoming
    from bot.routing.router import Args, Dispatcher, Router

    release = threading.Event()
    started = threading.Event()
    router = Router("test")

    @router.command("慢", summary="slow", usage="慢", background=True)
    def slow(ctx, args: Args) -> str:  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(timeout=10)
        # Its own connection still sees the same database.
        return f"完成：{ctx.storage.roster.count_members()} 人"

    @router.command("快", summary="fast", usage="快")
    def fast(ctx, args: Args) -> str:  # type: ignore[no-untyped-def]
        return "马上"

    dispatcher = Dispatcher(router, bot.storage, bot.clock, bot.dispatcher._config)

    def incoming(text: str, msgid: str) -> Incoming:
        return Incoming(
            channel=Channel.CONSOLE,
            msgid=msgid,
            userid="lead1",
            text=text,
            chat_type=ChatType.SINGLE,
            received_at=bot.clock.now(),
        )

    slow_task = asyncio.create_task(dispatcher.handle(incoming("慢", "s1")))
    assert await asyncio.to_thread(started.wait, 10)
    quick = await dispatcher.handle(incoming("快", "f1"))
    assert quick[0].text == "马上" and not slow_task.done()  # type: ignore[union-attr]
    release.set()
    finished = await asyncio.wait_for(slow_task, 10)
    assert finished[0].text == f"完成：{bot.storage.roster.count_members()} 人"  # type: ignore[union-attr]
