"""The self-built app callback, driven with requests encrypted and signed as WeCom does."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.channels.app_callback import FILE_HINT, AppCallback
from bot.core.clock import FakeClock
from bot.core.messages import Channel, ChatType, Incoming
from bot.pipeline.files import (
    FILE_KIND,
    FILE_URL,
    LINK_TITLE,
    LINK_URL,
    FileIntake,
    FileStore,
    MediaDownloader,
)
from tests.fakes.media_hosts import media_hosts_listing
from tests.fakes.wecom_crypto import (
    BILLION_LAUGHS,
    WeComSide,
    app_event_xml,
    app_image_xml,
    app_link_xml,
    app_media_xml,
    app_text_xml,
    new_encoding_aes_key,
)

CORP_ID = "wwcorp0123456789"
TOKEN = "app-callback-token"
AES_KEY = new_encoding_aes_key()
NOW = 1_750_000_000

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


class RecordingSink:
    """Stands in for the pipeline: records accepted messages, reports repeats as duplicates."""

    def __init__(self, *, slow_processing: bool = False) -> None:
        self.accepted: list[Incoming] = []
        self.duplicates = 0
        self.fail = False
        self._seen: set[tuple[str, str]] = set()
        self._slow = slow_processing
        self.processing: list[asyncio.Task[None]] = []
        self.release = asyncio.Event()

    async def submit(self, incoming: Incoming) -> bool:
        if self.fail:
            raise RuntimeError("inbox write failed: database is locked")
        key = (incoming.channel.value, incoming.msgid)
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        self.accepted.append(incoming)
        if self._slow:
            # Like the real pipeline: processing runs in the background, maybe for long.
            self.processing.append(asyncio.create_task(self._process()))
        return True

    async def _process(self) -> None:
        await self.release.wait()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.fromtimestamp(NOW, UTC))


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def wecom() -> WeComSide:
    return WeComSide(TOKEN, AES_KEY, CORP_ID)


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, sink: RecordingSink, clock: FakeClock
) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    AppCallback(TOKEN, AES_KEY, CORP_ID, "1000002", sink, clock).add_routes(app)
    yield await aiohttp_client(app)


async def post(
    client: TestClient[Any, Any], wecom: WeComSide, xml: str, ts: int = NOW
) -> tuple[int, str]:
    query, body = wecom.app_post(xml, ts)
    resp = await client.post("/wecom/app", params=query, data=body)
    return resp.status, await resp.text()


def text_xml(content: str = "签到", **kw: Any) -> str:
    return app_text_xml(corp_id=CORP_ID, from_user="zhangsan", content=content, **kw)


# -- URL verification -------------------------------------------------------------------


async def test_url_verification_with_wecom_documentation_example(
    aiohttp_client: ClientFactory, sink: RecordingSink
) -> None:
    app = web.Application()
    doc_clock = FakeClock(datetime.fromtimestamp(1409659589, UTC))
    AppCallback(
        "QDG6eK",
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        "wx5823bf96d3bd56c7",
        "1",
        sink,
        doc_clock,
    ).add_routes(app)
    client = await aiohttp_client(app)
    resp = await client.get(
        "/wecom/app",
        params={
            "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
            "timestamp": "1409659589",
            "nonce": "263014780",
            "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp"
            "+4RPcs8TgAE7OaBO+FZXvnaqQ==",
        },
    )
    assert resp.status == 200
    assert await resp.text() == "1616140317555161061"


async def test_url_verification_echoes_the_plaintext(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    resp = await client.get("/wecom/app", params=wecom.verify_query("8143017542839110", NOW))
    assert resp.status == 200
    assert await resp.read() == b"8143017542839110"  # no quotes, no BOM, no newline


async def test_url_verification_survives_an_unescaped_plus(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    raw = wecom.raw_verify_query_with_plus("plus-check", NOW)
    resp = await client.get(f"/wecom/app?{raw}")
    assert resp.status == 200
    assert await resp.text() == "plus-check"


async def test_url_verification_with_wrong_signature_echoes_nothing(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    query = wecom.verify_query("secret-echo", NOW)
    query["msg_signature"] = "f" * 40
    resp = await client.get("/wecom/app", params=query)
    assert resp.status == 403
    assert "secret-echo" not in await resp.text()


async def test_url_verification_with_other_token_or_stale_time_is_refused(
    client: TestClient[Any, Any],
) -> None:
    other = WeComSide("another-token", AES_KEY, CORP_ID)
    resp = await client.get("/wecom/app", params=other.verify_query("x", NOW))
    assert resp.status == 403
    wecom = WeComSide(TOKEN, AES_KEY, CORP_ID)
    resp = await client.get("/wecom/app", params=wecom.verify_query("x", NOW - 600))
    assert resp.status == 403


async def test_url_verification_for_another_corp_is_a_bad_request(
    client: TestClient[Any, Any],
) -> None:
    other_corp = WeComSide(TOKEN, AES_KEY, "wwsomeoneelse")
    resp = await client.get("/wecom/app", params=other_corp.verify_query("x", NOW))
    assert resp.status == 400
    assert await resp.text() == "bad request"


async def test_url_verification_without_parameters_is_a_bad_request(
    client: TestClient[Any, Any],
) -> None:
    resp = await client.get("/wecom/app")
    assert resp.status == 400


# -- messages ---------------------------------------------------------------------------


async def test_text_message_reaches_the_inbox_and_is_answered_empty(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, clock: FakeClock
) -> None:
    status, body = await post(client, wecom, text_xml("反思 今天的课堂很有收获", msg_id="77"))
    assert (status, body) == (200, "")
    assert len(sink.accepted) == 1
    got = sink.accepted[0]
    assert got.channel is Channel.APP
    assert got.msgid == "77"
    assert got.userid == "zhangsan"
    assert got.text == "反思 今天的课堂很有收获"
    assert got.chat_type is ChatType.SINGLE
    assert got.chat_id is None
    assert got.received_at == clock.now()
    assert got.reply_context == {}


@pytest.mark.parametrize("msgtype", ["voice", "video", "location"])
async def test_unsupported_types_are_submitted_for_a_kind_answer(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, msgtype: str
) -> None:
    xml = app_media_xml(corp_id=CORP_ID, from_user="lisi", msgtype=msgtype, msg_id="900")
    assert await post(client, wecom, xml) == (200, "")
    [got] = sink.accepted
    assert (got.msgid, got.userid, got.text) == ("900", "lisi", "")
    assert got.reply_context == {"unsupported": msgtype}


# -- pictures, links, files ---------------------------------------------------------------


async def test_picture_is_noted_by_its_plain_pic_url(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    pic = "https://wework.qpic.cn/wwpic/842117_abcdEFGH_1700000000/0"
    xml = app_image_xml(corp_id=CORP_ID, from_user="lisi", pic_url=pic, msg_id="901")
    assert await post(client, wecom, xml) == (200, "")
    [got] = sink.accepted
    assert (got.msgid, got.userid, got.text) == ("901", "lisi", "")
    # No key source: PicUrl is served in the clear, the intake must not try to decrypt it.
    assert got.reply_context == {FILE_URL: pic, FILE_KIND: "image"}


async def test_picture_without_a_usable_url_is_answered_kindly(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    xml = app_image_xml(corp_id=CORP_ID, from_user="lisi", pic_url="javascript:alert(1)")
    assert await post(client, wecom, xml) == (200, "")
    assert sink.accepted[0].reply_context == {"unsupported": "image"}


async def test_shared_link_becomes_a_resource_share_with_its_title(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, tmp_path: Path
) -> None:
    xml = app_link_xml(
        corp_id=CORP_ID,
        from_user="lisi",
        title="大单元教学设计的\n三个关键",
        description="统编版三年级上册第三单元",
        url="https://mp.weixin.qq.com/s/Ab3dE",
        msg_id="902",
    )
    assert await post(client, wecom, xml) == (200, "")
    [got] = sink.accepted
    assert (got.msgid, got.text) == ("902", "")
    assert got.reply_context == {
        LINK_URL: "https://mp.weixin.qq.com/s/Ab3dE",
        LINK_TITLE: "大单元教学设计的 三个关键",
    }
    # What the router will see once the intake has looked at it (no download for links).
    async with aiohttp.ClientSession() as session:
        hosts = media_hosts_listing()  # a link needs no download: no media server listed
        intake = FileIntake(MediaDownloader(session, hosts), FileStore(tmp_path))
        prepared = await intake.prepare(got)
    assert prepared.text == "资源 大单元教学设计的 三个关键 https://mp.weixin.qq.com/s/Ab3dE"


async def test_link_without_a_title_uses_its_description(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    xml = app_link_xml(
        corp_id=CORP_ID,
        from_user="lisi",
        title="",
        description="《秋天的雨》课例实录",
        url="https://v.qq.com/x/page/k0001.html",
    )
    assert await post(client, wecom, xml) == (200, "")
    assert sink.accepted[0].reply_context[LINK_TITLE] == "《秋天的雨》课例实录"


@pytest.mark.parametrize("url", ["", "ftp://files.example.com/a.ppt", "weixin://dl/moments"])
async def test_link_without_a_web_address_is_answered_kindly(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, url: str
) -> None:
    xml = app_link_xml(corp_id=CORP_ID, from_user="lisi", title="课件", url=url)
    assert await post(client, wecom, xml) == (200, "")
    assert sink.accepted[0].reply_context == {"unsupported": "link"}


async def test_file_gets_an_immediate_hint_that_wecom_can_read(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, clock: FakeClock
) -> None:
    """Apps get no download URL for files: the member is told where to send them instead."""
    xml = app_media_xml(corp_id=CORP_ID, from_user="lisi", msgtype="file", msg_id="903")
    query, body = wecom.app_post(xml, NOW)
    resp = await client.post("/wecom/app", params=query, data=body)
    assert resp.status == 200
    reply = wecom.read_app_reply(await resp.text())
    assert reply == {
        "ToUserName": "lisi",
        "FromUserName": CORP_ID,
        "CreateTime": str(int(clock.now().timestamp())),
        "MsgType": "text",
        "Content": FILE_HINT,
    }
    assert "智能机器人" in FILE_HINT and "资源 标题 链接" in FILE_HINT
    assert sink.accepted == []


async def test_subscribe_event_asks_for_help_with_event_dedup_id(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    xml = app_event_xml(corp_id=CORP_ID, from_user="wangwu", event="subscribe", create_time=123)
    assert await post(client, wecom, xml) == (200, "")
    assert await post(client, wecom, xml) == (200, "")  # WeCom retry of the same event
    [got] = sink.accepted
    assert got.msgid == "wangwu:123:subscribe"
    assert got.text == "帮助"
    assert sink.duplicates == 1


async def test_menu_click_acts_as_typed_command(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    xml = app_event_xml(
        corp_id=CORP_ID, from_user="wangwu", event="click", create_time=456, event_key="签到"
    )
    assert await post(client, wecom, xml) == (200, "")
    [got] = sink.accepted
    assert (got.msgid, got.text) == ("wangwu:456:click", "签到")


@pytest.mark.parametrize("event", ["enter_agent", "unsubscribe", "view", "location"])
async def test_other_events_are_acknowledged_silently(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, event: str
) -> None:
    xml = app_event_xml(corp_id=CORP_ID, from_user="wangwu", event=event)
    assert await post(client, wecom, xml) == (200, "")
    assert sink.accepted == []


async def test_message_for_another_agent_is_ignored(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    assert await post(client, wecom, text_xml(agent_id="999")) == (200, "")
    assert sink.accepted == []


async def test_same_msgid_three_times_is_processed_once(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    xml = text_xml("签到", msg_id="123456789")
    for _ in range(3):
        assert await post(client, wecom, xml) == (200, "")
    assert len(sink.accepted) == 1
    assert sink.duplicates == 2


async def test_answer_does_not_wait_for_slow_processing(
    aiohttp_client: ClientFactory, wecom: WeComSide, clock: FakeClock
) -> None:
    sink = RecordingSink(slow_processing=True)
    app = web.Application()
    AppCallback(TOKEN, AES_KEY, CORP_ID, "1000002", sink, clock).add_routes(app)
    client = await aiohttp_client(app)
    assert await post(client, wecom, text_xml(msg_id="slow-1")) == (200, "")
    [task] = sink.processing
    assert not task.done()  # processing still running after WeCom got its answer
    sink.release.set()
    await task


# -- hostile or broken requests ---------------------------------------------------------


@pytest.mark.parametrize("offset", [-301, 301, -86400])
async def test_stale_or_future_timestamp_is_rejected(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, offset: int
) -> None:
    status, body = await post(client, wecom, text_xml(), ts=NOW + offset)
    assert status == 403
    assert body == "forbidden"
    assert sink.accepted == []


async def test_wrong_signature_is_rejected(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    query, body = wecom.app_post(text_xml(), NOW)
    query["msg_signature"] = "0" * 40
    resp = await client.post("/wecom/app", params=query, data=body)
    assert resp.status == 403
    assert sink.accepted == []


async def test_body_over_one_mebibyte_is_413(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    query, _ = wecom.app_post(text_xml(), NOW)
    big = io.BytesIO(b"x" * (1024 * 1024 + 1))
    resp = await client.post("/wecom/app", params=query, data=big)
    assert resp.status == 413


async def test_chunked_body_over_one_mebibyte_is_413(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    query, _ = wecom.app_post(text_xml(), NOW)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b"<" * 65536

    resp = await client.post("/wecom/app", params=query, data=chunks())
    assert resp.status == 413


async def test_missing_query_parameters_are_a_bad_request(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    query, body = wecom.app_post(text_xml(), NOW)
    del query["nonce"]
    resp = await client.post("/wecom/app", params=query, data=body)
    assert resp.status == 400


@pytest.mark.parametrize(
    "body",
    ["<xml><Encrypt>abc</Encrypt>", "{}", "", "<xml><ToUserName>x</ToUserName></xml>"],
)
async def test_malformed_envelope_is_a_bad_request(
    client: TestClient[Any, Any], wecom: WeComSide, body: str
) -> None:
    resp = await client.post("/wecom/app", params=wecom.query("abc", NOW), data=body)
    assert resp.status == 400
    assert await resp.text() == "bad request"


async def test_billion_laughs_envelope_is_refused_quickly(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    started = time.monotonic()
    resp = await client.post("/wecom/app", params=wecom.query("x", NOW), data=BILLION_LAUGHS)
    assert resp.status == 400
    assert time.monotonic() - started < 1.0


async def test_billion_laughs_inside_a_signed_message_is_refused(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    started = time.monotonic()
    assert (await post(client, wecom, BILLION_LAUGHS))[0] == 400
    assert time.monotonic() - started < 1.0
    assert sink.accepted == []


async def test_bad_base64_in_a_signed_envelope_is_a_bad_request(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    encrypted = "@@not-base64@@"
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    resp = await client.post("/wecom/app", params=wecom.query(encrypted, NOW), data=body)
    assert resp.status == 400


async def test_message_encrypted_with_another_key_is_a_bad_request(
    client: TestClient[Any, Any], sink: RecordingSink
) -> None:
    stranger = WeComSide(TOKEN, new_encoding_aes_key(), CORP_ID)
    assert (await post(client, stranger, text_xml()))[0] == 400
    assert sink.accepted == []


async def test_message_for_another_corp_is_a_bad_request(
    client: TestClient[Any, Any], sink: RecordingSink
) -> None:
    other_corp = WeComSide(TOKEN, AES_KEY, "wwsomeoneelse")
    assert (await post(client, other_corp, text_xml()))[0] == 400
    assert sink.accepted == []


@pytest.mark.parametrize(
    "plain",
    [
        "<xml><MsgType>text</MsgType>",
        "just text",
        "<xml><MsgType>text</MsgType><Content>hi</Content></xml>",  # no sender, no MsgId
        f"<xml><FromUserName>a</FromUserName><MsgType>text</MsgType>"
        f"<Content>hi</Content><ToUserName>{CORP_ID}</ToUserName></xml>",  # no MsgId
    ],
)
async def test_malformed_decrypted_message_is_a_bad_request(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, plain: str
) -> None:
    assert (await post(client, wecom, plain))[0] == 400
    assert sink.accepted == []


async def test_inbox_failure_asks_wecom_to_retry_without_leaking_details(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    sink.fail = True
    status, body = await post(client, wecom, text_xml())
    assert status == 503
    assert "database" not in body and "Traceback" not in body
    sink.fail = False
    assert await post(client, wecom, text_xml()) == (200, "")  # the retry lands
    assert len(sink.accepted) == 1
