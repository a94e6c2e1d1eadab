"""WebhookSender: group robot messages, mentions, splitting and the 20-per-minute quota."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.channels.base import RateLimited, SendError
from bot.channels.webhook import MENTION_NOTE, WebhookSender, webhook_key
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.ratelimit import SlidingWindowLimiter, webhook_limiter
from bot.core.clock import FakeClock
from bot.core.messages import Channel, Outgoing, TargetKind
from tests.fakes.wecom_api import DEFAULT_WEBHOOK_KEY, FakeWeComAPI, Fault, webhook_url
from tests.wecom.conftest import RecordingSleep


@pytest.fixture
def limiter(clock: FakeClock) -> SlidingWindowLimiter:
    return webhook_limiter(clock)


@pytest.fixture
def sender(client: WeComClient, limiter: SlidingWindowLimiter) -> WebhookSender:
    return WebhookSender(client, limiter)


@pytest.fixture
def robot_url(base_url: str) -> str:
    return webhook_url(base_url)


def outgoing(
    url: str, text: str, *, markdown: bool = False, mention: list[str] | None = None
) -> Outgoing:
    return Outgoing(
        channel=Channel.WEBHOOK,
        target_kind=TargetKind.CHAT,
        target=url,
        text=text,
        markdown=markdown,
        mention=mention or [],
    )


async def test_text_with_mentions(
    sender: WebhookSender, fake_api: FakeWeComAPI, robot_url: str
) -> None:
    await sender.send(outgoing(robot_url, "请还没签到的老师尽快签到。", mention=["lisi", "@all"]))

    [message] = fake_api.messages
    assert (message.api, message.target, message.msgtype) == (
        "webhook/send",
        DEFAULT_WEBHOOK_KEY,
        "text",
    )
    assert message.content == "请还没签到的老师尽快签到。"
    assert message.mentioned_list == ("lisi", "@all")
    assert sender.channel is Channel.WEBHOOK


async def test_markdown_mentions_follow_in_a_separate_text(
    sender: WebhookSender, fake_api: FakeWeComAPI, robot_url: str
) -> None:
    await sender.send(
        outgoing(robot_url, "## 本周反思\n> 已提交 **12** 人", markdown=True, mention=["lisi"])
    )

    markdown, note = fake_api.messages
    assert markdown.msgtype == "markdown"
    assert markdown.content == "## 本周反思\n> 已提交 **12** 人"
    assert "mentioned_list" not in markdown.payload["markdown"]
    assert (note.msgtype, note.content, note.mentioned_list) == ("text", MENTION_NOTE, ("lisi",))


async def test_markdown_without_mentions_is_one_message(
    sender: WebhookSender, fake_api: FakeWeComAPI, robot_url: str
) -> None:
    await sender.send(outgoing(robot_url, "**周报**", markdown=True))

    assert [m.msgtype for m in fake_api.messages] == ["markdown"]


async def test_long_markdown_split_at_4096_bytes_in_order(
    sender: WebhookSender, fake_api: FakeWeComAPI, robot_url: str
) -> None:
    lines = [f"- 第{i:03d}位老师：**已签到**，反思「教学设计的改进」" for i in range(200)]

    await sender.send(outgoing(robot_url, "\n".join(lines), markdown=True))

    contents = [m.content or "" for m in fake_api.messages]
    sizes = [len(c.encode("utf-8")) for c in contents]
    assert len(contents) > 2
    assert max(sizes) <= 4096
    assert max(sizes) > 2048  # markdown uses its own, larger limit
    assert "\n".join(contents).split("\n") == lines
    assert fake_api.errors == []


async def test_long_text_split_at_2048_bytes_mentions_only_once(
    sender: WebhookSender, fake_api: FakeWeComAPI, robot_url: str
) -> None:
    lines = [f"{i:03d} 号：请在今晚提交反思" for i in range(200)]

    await sender.send(outgoing(robot_url, "\n".join(lines), mention=["@all"]))

    messages = fake_api.messages
    assert all(len((m.content or "").encode("utf-8")) <= 2048 for m in messages)
    assert "\n".join(m.content or "" for m in messages).split("\n") == lines
    assert [m.mentioned_list for m in messages] == [("@all",)] + [()] * (len(messages) - 1)


async def test_twenty_per_minute_the_21st_is_held_until_the_window_opens(
    sender: WebhookSender, fake_api: FakeWeComAPI, robot_url: str, clock: FakeClock
) -> None:
    for i in range(20):
        await sender.send(outgoing(robot_url, f"第 {i + 1} 条提醒"))

    with pytest.raises(RateLimited) as held:
        await sender.send(outgoing(robot_url, "第 21 条提醒"))
    assert held.value.retry_after == 60.0
    assert len(fake_api.messages) == 20

    clock.advance(timedelta(minutes=1))
    await sender.send(outgoing(robot_url, "第 21 条提醒"))

    assert fake_api.errors == []  # WeCom never had to answer 130101
    assert [m.content for m in fake_api.messages] == [f"第 {i + 1} 条提醒" for i in range(21)]


async def test_a_long_text_held_by_the_quota_resumes_after_the_parts_that_went(
    sender: WebhookSender, fake_api: FakeWeComAPI, robot_url: str, clock: FakeClock
) -> None:
    for i in range(18):
        await sender.send(outgoing(robot_url, f"第 {i + 1} 条提醒"))
    text = "\n".join("思" * 600 for _ in range(3))  # three parts of 1800 bytes

    with pytest.raises(RateLimited):
        await sender.send(outgoing(robot_url, text))
    clock.advance(timedelta(minutes=1))
    await sender.send(outgoing(robot_url, text))

    assert [m.content for m in fake_api.messages[18:]] == ["思" * 600] * 3


async def test_quota_is_per_robot(
    client: WeComClient, limiter: SlidingWindowLimiter, fake_api: FakeWeComAPI, base_url: str
) -> None:
    fake_api.webhook_keys.add("second-robot")
    sender = WebhookSender(client, limiter)

    for i in range(20):
        await sender.send(outgoing(webhook_url(base_url), f"一组 {i}"))
    await sender.send(outgoing(webhook_url(base_url, "second-robot"), "二组第一条"))

    assert fake_api.messages_for("second-robot")[0].content == "二组第一条"


async def test_robot_throttled_by_wecom_is_retried_with_backoff(
    sender: WebhookSender, fake_api: FakeWeComAPI, robot_url: str, sleeper: RecordingSleep
) -> None:
    fake_api.fail_next(Fault.error(130101))

    await sender.send(outgoing(robot_url, "你好"))

    assert len(fake_api.messages) == 1
    assert len(sleeper.delays) == 1


@pytest.mark.parametrize(
    "make_url",
    [
        lambda base: "https://example.com/cgi-bin/webhook/send?key=abc",
        lambda base: f"{base}/cgi-bin/message/send?key=abc",
        lambda base: f"{base}/cgi-bin/webhook/send",
        lambda base: f"{base}/cgi-bin/webhook/send?key=",
        lambda base: "not a url",
    ],
    ids=["other-host", "other-path", "no-key", "empty-key", "garbage"],
)
async def test_invalid_webhook_url_is_refused_without_sending(
    sender: WebhookSender,
    fake_api: FakeWeComAPI,
    base_url: str,
    make_url: Callable[[str], str],
) -> None:
    with pytest.raises(SendError) as caught:
        await sender.send(outgoing(make_url(base_url), "你好"))

    assert not caught.value.retryable
    assert "Webhook 地址无效" in str(caught.value)
    assert fake_api.requests == []


async def test_removed_robot_is_a_permanent_failure_with_a_hint(
    sender: WebhookSender, fake_api: FakeWeComAPI, base_url: str
) -> None:
    with pytest.raises(SendError) as caught:
        await sender.send(outgoing(webhook_url(base_url, "deleted-robot"), "你好"))

    assert not caught.value.retryable
    assert "重新添加机器人" in str(caught.value)


async def test_webhook_cannot_message_a_single_member(
    sender: WebhookSender, robot_url: str
) -> None:
    message = outgoing(robot_url, "你好").model_copy(update={"target_kind": TargetKind.USER})

    with pytest.raises(SendError) as caught:
        await sender.send(message)

    assert not caught.value.retryable


async def test_retry_after_partial_failure_does_not_repeat_delivered_parts(
    make_client: Callable[..., WeComClient],
    limiter: SlidingWindowLimiter,
    fake_api: FakeWeComAPI,
    robot_url: str,
) -> None:
    sender = WebhookSender(make_client(max_retries=0), limiter)
    text = "\n".join("思" * 600 for _ in range(3))
    fake_api.fail_next(Fault.http(502, after=1))

    with pytest.raises(SendError) as caught:
        await sender.send(outgoing(robot_url, text))
    assert caught.value.retryable

    await sender.send(outgoing(robot_url, text))

    assert [m.content for m in fake_api.messages] == ["思" * 600] * 3


async def test_webhook_key_parsing(base_url: str) -> None:
    assert webhook_key(webhook_url(base_url, "k-1"), base_url) == "k-1"
    assert webhook_key(webhook_url(base_url, "k-1") + "&debug=1", base_url + "/") == "k-1"
    assert webhook_key(webhook_url(base_url, "k-1"), "https://qyapi.weixin.qq.com") is None


async def test_webhook_file_upload_and_send(
    client: WeComClient, fake_api: FakeWeComAPI, robot_url: str
) -> None:
    media_id = await client.webhook_upload_file(robot_url, "反思汇总.xlsx", b"PK\x03\x04 data")
    await client.webhook_send(robot_url, {"msgtype": "file", "file": {"media_id": media_id}})

    assert fake_api.uploads[0].filename == "反思汇总.xlsx"
    [message] = fake_api.messages
    assert (message.msgtype, message.payload["file"]["media_id"]) == ("file", media_id)
