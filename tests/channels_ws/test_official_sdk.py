"""WeCom's own smart-bot client (`wecom-aibot-python-sdk`, PyPI) against our fake server.

Our long-connection client is tested against `tests/fakes/wecom_ws.py`; this proves the fake
speaks the protocol the official client speaks: subscribe, heartbeats, a pushed message, a
reply on its req_id, a proactive send, and the three-step media upload. The Python SDK
(1.0.2) has no upload method, so the upload goes through its generic `reply(frame, body,
cmd)` with the frames and order of the Node SDK's `uploadMedia` (@wecom/aibot-node-sdk
1.0.7): init, then the chunks sent at once (it runs up to four workers), then finish.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.wecom_ws import DEFAULT_BOT_ID, DEFAULT_SECRET, FakeWeComWS

aibot = pytest.importorskip("aibot", reason="pip install -e '.[test]' (wecom-aibot-python-sdk)")
from aibot import WSClient, WSClientOptions  # noqa: E402
from aibot.utils import generate_req_id  # noqa: E402

TEST_TIMEOUT = 10.0
CHUNK = 512 * 1024  # the Node SDK's chunk size, before base64


class QuietLogger:
    """The SDK prints every frame by default; tests keep their output for failures."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def debug(self, message: str, *args: Any) -> None:
        pass

    def info(self, message: str, *args: Any) -> None:
        pass

    def warn(self, message: str, *args: Any) -> None:
        pass

    def error(self, message: str, *args: Any) -> None:
        self.errors.append(message)


@pytest.fixture
async def official(
    fake_url: tuple[FakeWeComWS, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, QuietLogger]]:
    """The official client connected and subscribed to the fake, closed afterwards."""
    fake, url = fake_url
    # The SDK always passes its certifi TLS context; the fake listens on plain ws:// locally.
    monkeypatch.setattr(aibot.ws, "_SSL_CONTEXT", None)
    logger = QuietLogger()
    client = WSClient(
        WSClientOptions(
            bot_id=DEFAULT_BOT_ID,
            secret=DEFAULT_SECRET,
            ws_url=url.replace("http://", "ws://"),
            # The SDK's own timer (milliseconds): short, so its pings come during the test.
            heartbeat_interval=20,
            max_reconnect_attempts=0,
            logger=logger,
        )
    )
    await client.connect()
    try:
        yield client, logger
    finally:
        client.disconnect()
        await asyncio.wait_for(fake.wait_disconnected(), TEST_TIMEOUT)


async def within(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, TEST_TIMEOUT)


async def test_official_client_subscribes_and_keeps_the_connection_alive(
    fake: FakeWeComWS, official: tuple[Any, QuietLogger]
) -> None:
    client, logger = official
    await within(fake.wait_subscribed())
    subscribe = fake.sent("aibot_subscribe")[0]
    assert subscribe.body == {"bot_id": DEFAULT_BOT_ID, "secret": DEFAULT_SECRET}
    pings = await within(fake.wait_sent("ping", 3))
    # Each ping was answered (the SDK would close after two unanswered ones), on one connection.
    assert all(p.connection == 1 for p in pings) and fake.connections == 1
    assert client.is_connected and logger.errors == []


async def test_official_client_receives_a_message_and_its_reply_is_accepted(
    fake: FakeWeComWS, official: tuple[Any, QuietLogger]
) -> None:
    client, logger = official
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client.on("message.text", received.put_nowait)
    await within(fake.wait_subscribed())
    pushed = await fake.push_message(userid="t1", text="签到 A1", chatid="group-east")

    frame = await within(received.get())
    assert frame["body"]["text"]["content"] == "签到 A1"
    assert frame["body"]["from"]["userid"] == "t1" and frame["body"]["chatid"] == "group-east"
    ack = await within(client.reply_stream(frame, "stream-1", "王芳，签到成功。", finish=True))

    assert ack["errcode"] == 0
    reply = fake.sent("aibot_respond_msg")[0]
    assert reply.req_id == pushed["headers"]["req_id"]
    assert reply.body == {
        "msgtype": "stream",
        "stream": {"id": "stream-1", "finish": True, "content": "王芳，签到成功。"},
    }
    assert logger.errors == []


async def test_official_proactive_send_is_accepted(
    fake: FakeWeComWS, official: tuple[Any, QuietLogger]
) -> None:
    client, _ = official
    await within(fake.wait_subscribed())
    body = {"msgtype": "markdown", "markdown": {"content": "**提醒** 明天 14:00 集体备课"}}
    ack = await within(client.send_message("group-east", body))
    assert ack["errcode"] == 0
    sent = fake.sent("aibot_send_msg")[0]
    assert sent.body == {"chatid": "group-east", **body}


async def test_a_bad_secret_is_refused_with_853000(
    fake_url: tuple[FakeWeComWS, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: the fake does check what the official client sends."""
    fake, url = fake_url
    monkeypatch.setattr(aibot.ws, "_SSL_CONTEXT", None)
    logger = QuietLogger()
    client = WSClient(
        WSClientOptions(
            bot_id=DEFAULT_BOT_ID,
            secret="wrong",
            ws_url=url.replace("http://", "ws://"),
            max_reconnect_attempts=0,
            logger=logger,
        )
    )
    try:
        await client.connect()
        await within(fake.wait_sent("aibot_subscribe"))
        await within(fake.wait_disconnected())
    finally:
        client.disconnect()
    assert fake.subscriptions == 0
    assert any("853000" in error for error in logger.errors)


async def upload_like_the_node_sdk(client: Any, data: bytes, kind: str, filename: str) -> str:
    """`uploadMedia` of @wecom/aibot-node-sdk, step by step, over the Python SDK's transport."""

    async def request(cmd: str, body: dict[str, Any]) -> dict[str, Any]:
        frame = {"headers": {"req_id": generate_req_id(cmd)}}
        answer: dict[str, Any] = await client.reply(frame, body, cmd)
        return answer

    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    init = await request(
        "aibot_upload_media_init",
        {
            "type": kind,
            "filename": filename,
            "total_size": len(data),
            "total_chunks": len(pieces),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        },
    )
    upload_id = init["body"]["upload_id"]
    await asyncio.gather(
        *(
            request(
                "aibot_upload_media_chunk",
                {
                    "upload_id": upload_id,
                    "chunk_index": index,
                    "base64_data": base64.b64encode(piece).decode("ascii"),
                },
            )
            for index, piece in enumerate(pieces)
        )
    )
    finish = await request("aibot_upload_media_finish", {"upload_id": upload_id})
    media_id: str = finish["body"]["media_id"]
    return media_id


async def test_official_upload_frames_are_accepted_and_the_file_can_be_sent(
    fake: FakeWeComWS, official: tuple[Any, QuietLogger]
) -> None:
    client, logger = official
    await within(fake.wait_subscribed())
    data = bytes(range(256)) * 5000  # 1.28 MB: three chunks in flight at once
    media_id = await within(
        upload_like_the_node_sdk(client, data, "file", "东部联盟-教研档案.xlsx")
    )

    assert [u.data for u in fake.uploads] == [data]
    assert fake.uploads[0].filename == "东部联盟-教研档案.xlsx" and media_id
    assert sorted(f.body["chunk_index"] for f in fake.sent("aibot_upload_media_chunk")) == [0, 1, 2]
    ack = await within(
        client.send_message("lead1", {"msgtype": "file", "file": {"media_id": media_id}})
    )
    assert ack["errcode"] == 0 and logger.errors == []


async def test_a_chunk_that_does_not_add_up_is_refused(
    fake: FakeWeComWS, official: tuple[Any, QuietLogger]
) -> None:
    """Control: a finish whose chunks miss the announced md5 is an error the SDK raises."""
    client, _ = official
    await within(fake.wait_subscribed())
    init = await within(
        client.reply(
            {"headers": {"req_id": generate_req_id("aibot_upload_media_init")}},
            {"type": "file", "filename": "a.txt", "total_size": 10, "total_chunks": 1,
             "md5": hashlib.md5(b"0123456789", usedforsecurity=False).hexdigest()},
            "aibot_upload_media_init",
        )
    )  # fmt: skip
    upload_id = init["body"]["upload_id"]
    await within(
        client.reply(
            {"headers": {"req_id": generate_req_id("aibot_upload_media_chunk")}},
            {"upload_id": upload_id, "chunk_index": 0,
             "base64_data": base64.b64encode(b"9876543210").decode("ascii")},
            "aibot_upload_media_chunk",
        )
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="errcode=40006"):
        await within(
            client.reply(
                {"headers": {"req_id": generate_req_id("aibot_upload_media_finish")}},
                {"upload_id": upload_id},
                "aibot_upload_media_finish",
            )
        )
    assert fake.uploads == []
