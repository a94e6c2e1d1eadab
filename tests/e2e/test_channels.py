"""A teacher signs in and hands in a reflection over each channel; a notice reaches the groups.

Every message goes the whole way: WeCom's fake encrypts/signs or frames it, the real web app
or long connection receives it, the inbox records it, the router and handlers answer, the
outbox worker delivers through the real sender, and the fake records what a user would see.
"""

from __future__ import annotations

import asyncio

from bot.clock import FakeClock
from storage.models import SigninStatus
from tests.fakes.wecom_api import DEFAULT_WEBHOOK_KEY, webhook_url

from .conftest import (
    AFTER_ACTIVITY,
    BOT_NAME,
    GROUP_HTTP,
    GROUP_WS,
    REFLECTION,
    Bot,
    Seeded,
    StartBot,
    reflection_reply,
    signin_reply,
)


def assert_recorded(bot: Bot, seeded: Seeded) -> None:
    """The sign-in (on time) and the reflection are in the database."""
    submissions = bot.storage.submissions
    signin = submissions.signin(seeded.activity.id, seeded.teacher.id)
    assert signin is not None and signin.status is SigninStatus.ON_TIME
    reflection = submissions.reflection(seeded.activity.id, seeded.teacher.id)
    assert reflection is not None and reflection.body == REFLECTION and reflection.version == 1


async def test_teacher_over_the_long_connection(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    bot = await start_bot()
    ws = bot.fake.ws

    signin = await ws.push_message(userid="t1", text=f"{BOT_NAME} 签到", chatid=GROUP_WS)
    await bot.sink.wait_submitted(1)
    assert await bot.deliver() == 1
    [reply] = await ws.wait_sent("aibot_respond_msg", 1)
    # The answer goes back on the req_id of the message it answers, as a finished stream.
    assert reply.req_id == signin["headers"]["req_id"]
    assert reply.body["stream"]["content"] == signin_reply("王芳")
    assert reply.body["stream"]["finish"] is True

    clock.set(AFTER_ACTIVITY)
    await ws.push_message(userid="t1", text=f"{BOT_NAME} 反思 {REFLECTION}", chatid=GROUP_WS)
    await bot.sink.wait_submitted(2)
    assert await bot.deliver() == 1
    replies = await ws.wait_sent("aibot_respond_msg", 2)
    assert replies[1].body["stream"]["content"] == reflection_reply("王芳")
    assert_recorded(bot, seeded)


async def test_teacher_over_the_smart_bot_http_callback(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    bot = await start_bot()

    first = bot.aibot_text("t1", f"{BOT_NAME} 签到 A1", chatid=GROUP_HTTP)
    assert await bot.post_aibot(first) == (200, "")  # empty packet now, answer via response_url
    assert await bot.deliver() == 1
    assert bot.fake.responses == [
        {"msgtype": "markdown", "markdown": {"content": signin_reply("王芳")}}
    ]
    assert bot.fake.response_codes == [f"RC-{first['msgid']}"]

    clock.set(AFTER_ACTIVITY)
    second = bot.aibot_text("t1", f"{BOT_NAME} 反思 A1 {REFLECTION}", chatid=GROUP_HTTP)
    assert await bot.post_aibot(second) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.response_texts() == [signin_reply("王芳"), reflection_reply("王芳")]
    assert bot.fake.response_codes[1] == f"RC-{second['msgid']}"
    assert_recorded(bot, seeded)


async def test_teacher_over_the_self_built_app(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    bot = await start_bot()

    assert await bot.post_app(bot.app_text("t1", "签到 A1")) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.app_texts("t1") == [signin_reply("王芳")]

    clock.set(AFTER_ACTIVITY)
    assert await bot.post_app(bot.app_text("t1", f"反思 A1\n{REFLECTION}")) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.app_texts("t1") == [signin_reply("王芳"), reflection_reply("王芳")]
    [first, _] = [m for m in bot.fake.api.messages if m.api == "message/send"]
    assert first.payload["agentid"] == 1000002 and first.msgtype == "text"
    assert_recorded(bot, seeded)


async def test_a_notice_reaches_the_webhook_group_and_the_long_connection_group(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()

    notice = "通知 东部联盟 周五下午全体语文教师到东部一小听课"
    assert await bot.post_app(bot.app_text("staff1", notice)) == (200, "")
    assert await bot.deliver() == 3

    expected = "【通知 N1】周五下午全体语文教师到东部一小听课\n——周敏"
    hook = bot.fake.api.messages_for(DEFAULT_WEBHOOK_KEY)
    assert [(m.api, m.msgtype, m.content) for m in hook] == [("webhook/send", "text", expected)]
    [push] = await bot.fake.ws.wait_sent("aibot_send_msg", 1)
    assert push.body == {
        "chatid": GROUP_WS,
        "msgtype": "markdown",
        "markdown": {"content": expected},
    }
    assert bot.fake.app_texts("staff1") == ["已发布通知 N1 到东部联盟（2 个群）。"]
    assert await bot.deliver() == 0  # nothing is sent twice


async def test_an_admin_binds_groups_by_chat_and_by_webhook(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()

    await bot.fake.ws.push_message(
        userid="admin1", text=f"{BOT_NAME} 绑定 东部联盟", chatid="wrkNewGroup"
    )
    await bot.sink.wait_submitted(1)
    assert await bot.deliver() == 1
    [reply] = await bot.fake.ws.wait_sent("aibot_respond_msg", 1)
    assert reply.body["stream"]["content"] == (
        "已把本群绑定到「东部联盟」。之后的通知、活动提醒会发到这里。"
    )
    bound = bot.storage.chats.get("wrkNewGroup")
    assert bound is not None and bound.channel == "aibot_ws"
    assert bound.alliance_id == seeded.activity.alliance_id

    other_key = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    bot.fake.api.webhook_keys.add(other_key)
    url = webhook_url(bot.fake.api_base, other_key)
    assert await bot.post_app(bot.app_text("admin1", f"绑定 东部联盟 {url}")) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.app_texts("admin1") == [
        "已把本群绑定到「东部联盟」，并记录了群机器人地址用于推送。之后的通知、活动提醒会发到这里。"
    ]
    # The next notice reaches the newly bound push-only group too.
    assert await bot.post_app(bot.app_text("staff1", "通知 东部联盟 下周教研暂停一次")) == (200, "")
    await bot.deliver()
    assert [m.content for m in bot.fake.api.messages_for(other_key)] == [
        "【通知 N1】下周教研暂停一次\n——周敏"
    ]
    await asyncio.wait_for(bot.fake.ws.wait_sent("aibot_send_msg", 2), timeout=10)
