"""AppSender: outbox messages delivered through the self-built app to members and app chats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.channels.app_sender import AppSender
from bot.channels.base import RateLimited, SendError
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.ratelimit import app_member_limiter
from bot.core.clock import FakeClock
from bot.core.messages import Channel, Outgoing, TargetKind
from tests.fakes.wecom_api import DEFAULT_AGENT_ID, DEFAULT_APP_SECRET, FakeWeComAPI, Fault


def outgoing(
    text: str,
    *,
    kind: TargetKind = TargetKind.USER,
    target: str = "zhangsan",
    markdown: bool = False,
    dedup_key: str | None = None,
) -> Outgoing:
    return Outgoing(
        channel=Channel.APP,
        target_kind=kind,
        target=target,
        text=text,
        markdown=markdown,
        dedup_key=dedup_key,
    )


@pytest.fixture
def sender(client: WeComClient) -> AppSender:
    return AppSender(client, DEFAULT_APP_SECRET, str(DEFAULT_AGENT_ID))


async def test_private_message_goes_to_the_member(
    sender: AppSender, fake_api: FakeWeComAPI
) -> None:
    await sender.send(outgoing("你本周还没有提交反思，请在周五前提交。"))

    [message] = fake_api.messages
    assert (message.api, message.target, message.msgtype) == ("message/send", "zhangsan", "text")
    assert message.content == "你本周还没有提交反思，请在周五前提交。"
    assert message.payload["agentid"] == DEFAULT_AGENT_ID
    assert sender.channel is Channel.APP


async def test_several_members_in_one_target(sender: AppSender, fake_api: FakeWeComAPI) -> None:
    await sender.send(outgoing("未签到名单已发给组长。", target="lisi|wangwu"))

    assert [m.target for m in fake_api.messages] == ["lisi", "wangwu"]


async def test_group_message_goes_to_the_app_chat_as_markdown(
    sender: AppSender, fake_api: FakeWeComAPI
) -> None:
    await sender.send(
        outgoing("**通知**：周三下午教研活动", kind=TargetKind.CHAT, target="jy01", markdown=True)
    )

    [message] = fake_api.messages
    assert (message.api, message.target, message.msgtype) == ("appchat/send", "jy01", "markdown")
    assert message.content == "**通知**：周三下午教研活动"


async def test_long_text_arrives_in_order_within_the_byte_limit(
    sender: AppSender, fake_api: FakeWeComAPI
) -> None:
    lines = [f"{i:03d} 号老师：已签到，反思已提交。" for i in range(150)]

    await sender.send(outgoing("\n".join(lines)))

    contents = [m.content or "" for m in fake_api.messages]
    assert len(contents) > 1
    assert all(len(c.encode("utf-8")) <= 2048 for c in contents)
    assert "\n".join(contents).split("\n") == lines


async def test_untrusted_ip_is_a_permanent_failure_with_the_admin_hint(
    sender: AppSender, fake_api: FakeWeComAPI
) -> None:
    fake_api.fail_next(Fault.error(60020))

    with pytest.raises(SendError) as caught:
        await sender.send(outgoing("你好"))

    assert not caught.value.retryable
    assert "可信 IP" in str(caught.value)
    assert fake_api.messages == []


async def test_all_receivers_invalid_fails_permanently(
    sender: AppSender, fake_api: FakeWeComAPI
) -> None:
    fake_api.users = {"zhangsan"}

    with pytest.raises(SendError) as caught:
        await sender.send(outgoing("你好", target="nobody"))

    assert not caught.value.retryable
    assert "可见范围" in str(caught.value)


async def test_rate_limit_that_outlasts_retries_is_left_to_the_outbox(
    make_client: Callable[..., WeComClient], fake_api: FakeWeComAPI
) -> None:
    sender = AppSender(make_client(max_retries=1), DEFAULT_APP_SECRET, DEFAULT_AGENT_ID)
    fake_api.fail_next(Fault.error(45009), Fault.error(45009))

    with pytest.raises(SendError) as caught:
        await sender.send(outgoing("你好"))

    assert caught.value.retryable


async def test_retry_after_partial_failure_does_not_repeat_delivered_parts(
    make_client: Callable[..., WeComClient], fake_api: FakeWeComAPI
) -> None:
    sender = AppSender(make_client(max_retries=0), DEFAULT_APP_SECRET, DEFAULT_AGENT_ID)
    text = "\n".join("反" * 600 for _ in range(3))  # three parts of 1800 bytes
    fake_api.fail_next(Fault.http(500, path="/cgi-bin/message/send", after=1))

    with pytest.raises(SendError) as caught:
        await sender.send(outgoing(text, dedup_key="reminder-42"))
    assert caught.value.retryable
    assert len(fake_api.messages) == 1

    await sender.send(outgoing(text, dedup_key="reminder-42"))  # the outbox tries again

    assert [m.content for m in fake_api.messages] == ["反" * 600] * 3


async def test_member_quota_is_respected_instead_of_silently_dropped(
    client: WeComClient, fake_api: FakeWeComAPI, clock: FakeClock
) -> None:
    sender = AppSender(
        client, DEFAULT_APP_SECRET, DEFAULT_AGENT_ID, member_limiter=app_member_limiter(clock)
    )
    for i in range(30):
        await sender.send(outgoing(f"提醒 {i}"))

    with pytest.raises(RateLimited) as held:
        await sender.send(outgoing("提醒 30"))
    assert held.value.retry_after == 60.0
    clock.advance(timedelta(minutes=1))
    await sender.send(outgoing("提醒 30"))

    assert fake_api.dropped == []
    assert [m.content for m in fake_api.messages] == [f"提醒 {i}" for i in range(31)]


async def test_a_member_at_quota_holds_a_shared_message_without_using_the_others_slots(
    client: WeComClient, fake_api: FakeWeComAPI, clock: FakeClock
) -> None:
    limiter = app_member_limiter(clock)
    sender = AppSender(client, DEFAULT_APP_SECRET, DEFAULT_AGENT_ID, member_limiter=limiter)
    for i in range(30):
        await sender.send(outgoing(f"提醒 {i}", target="lisi"))

    with pytest.raises(RateLimited):
        await sender.send(outgoing("教研组通知", target="wangwu|lisi"))

    assert limiter.delay("wangwu") == 0.0
    assert [m.target for m in fake_api.messages].count("wangwu") == 0


async def test_without_the_limiter_the_31st_message_is_lost(
    sender: AppSender, fake_api: FakeWeComAPI
) -> None:
    for i in range(31):
        await sender.send(outgoing(f"提醒 {i}"))

    assert [m.content for m in fake_api.dropped] == ["提醒 30"]


async def test_wrong_channel_and_empty_text_are_refused(sender: AppSender) -> None:
    with pytest.raises(SendError) as wrong:
        await sender.send(
            Outgoing(channel=Channel.WEBHOOK, target_kind=TargetKind.USER, target="x", text="hi")
        )
    with pytest.raises(SendError) as empty:
        await sender.send(outgoing("  \n "))

    assert not wrong.value.retryable
    assert not empty.value.retryable
