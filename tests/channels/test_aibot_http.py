"""The smart bot's HTTP callback and response_url sender, spoken to as WeCom does."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.aibot_http import AibotHttpCallback, AibotResponseSender
from bot.channels.base import SendError
from bot.core.clock import FakeClock
from bot.core.messages import Channel, ChatType, Incoming, Outgoing, TargetKind
from bot.core.settings import origin_of
from bot.pipeline.files import (
    FILE_ERROR,
    FILE_KEY_SOURCE,
    FILE_KIND,
    FILE_NAME,
    FILE_SHA256,
    FILE_URL,
    FileIntake,
    FileProblem,
    FileStore,
    MediaDownloader,
)
from tests.fakes.media_hosts import media_hosts_listing
from tests.fakes.wecom_crypto import WeComSide, aibot_media_message, new_encoding_aes_key

TOKEN = "aibot-callback-token"
AES_KEY = new_encoding_aes_key()
NOW = 1_750_000_000
RESPONSE_URL = "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC1"

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


class RecordingSink:
    """Stands in for the pipeline: records accepted messages, reports repeats as duplicates."""

    def __init__(self, *, slow_processing: bool = False) -> None:
        self.accepted: list[Incoming] = []
        self.duplicates = 0
        self._seen: set[tuple[str, str]] = set()
        self._slow = slow_processing
        self.processing: list[asyncio.Task[None]] = []
        self.release = asyncio.Event()

    async def submit(self, incoming: Incoming) -> bool:
        key = (incoming.channel.value, incoming.msgid)
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        self.accepted.append(incoming)
        if self._slow:
            self.processing.append(asyncio.create_task(self._process()))
        return True

    async def _process(self) -> None:
        await self.release.wait()


def text_message(content: str = "@教研助手 签到", **overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "msgid": "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=",
        "aibotid": "AIBOTID",
        "chatid": "wrkSFfCgAAxxxx",
        "chattype": "group",
        "from": {"userid": "zhangsan"},
        "response_url": RESPONSE_URL,
        "msgtype": "text",
        "text": {"content": content},
    }
    message.update(overrides)
    return message


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.fromtimestamp(NOW, UTC))


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def wecom() -> WeComSide:
    return WeComSide(TOKEN, AES_KEY, receive_id="")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def make_client(
    aiohttp_client: ClientFactory,
    sink: RecordingSink,
    clock: FakeClock,
    welcome_text: str | None = None,
) -> TestClient[Any, Any]:
    app = web.Application()
    AibotHttpCallback(TOKEN, AES_KEY, sink, clock, welcome_text=welcome_text).add_routes(app)
    return await aiohttp_client(app)


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, sink: RecordingSink, clock: FakeClock
) -> TestClient[Any, Any]:
    return await make_client(aiohttp_client, sink, clock)


async def post(
    client: TestClient[Any, Any], wecom: WeComSide, payload: dict[str, Any], ts: int = NOW
) -> tuple[int, str]:
    query, body = wecom.aibot_post(payload, ts)
    resp = await client.post("/wecom/aibot", params=query, data=body)
    return resp.status, await resp.text()


# -- URL verification -------------------------------------------------------------------


async def test_url_verification_with_empty_receive_id(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    resp = await client.get("/wecom/aibot", params=wecom.verify_query("5927143561", NOW))
    assert resp.status == 200
    assert await resp.read() == b"5927143561"


async def test_url_verification_with_wrong_signature_echoes_nothing(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    query = wecom.verify_query("5927143561", NOW)
    query["msg_signature"] = "a" * 40
    resp = await client.get("/wecom/aibot", params=query)
    assert resp.status == 403
    assert "5927143561" not in await resp.text()


async def test_url_verification_survives_an_unescaped_plus(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    raw = wecom.raw_verify_query_with_plus("plus-check", NOW)
    resp = await client.get(f"/wecom/aibot?{raw}")
    assert resp.status == 200
    assert await resp.text() == "plus-check"


async def test_url_verification_without_echostr_is_a_bad_request(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    query = wecom.verify_query("x", NOW)
    del query["echostr"]
    resp = await client.get("/wecom/aibot", params=query)
    assert resp.status == 400


async def test_url_verification_meant_for_an_app_is_refused(
    client: TestClient[Any, Any],
) -> None:
    app_side = WeComSide(TOKEN, AES_KEY, receive_id="wwcorp")
    resp = await client.get("/wecom/aibot", params=app_side.verify_query("x", NOW))
    assert resp.status == 400


# -- messages ---------------------------------------------------------------------------


async def test_group_text_reaches_the_inbox_with_mention_and_response_url(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, clock: FakeClock
) -> None:
    assert await post(client, wecom, text_message("@教研助手 反思 学生很投入")) == (200, "")
    [got] = sink.accepted
    assert got.channel is Channel.AIBOT_HTTP
    assert got.msgid == "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI="
    assert got.userid == "zhangsan"
    assert got.text == "@教研助手 反思 学生很投入"  # the router strips the mention
    assert got.chat_type is ChatType.GROUP
    assert got.chat_id == "wrkSFfCgAAxxxx"
    assert got.quote is None
    assert got.received_at == clock.now()
    assert got.reply_context == {"response_url": RESPONSE_URL}


async def test_single_chat_has_no_chat_id(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    payload = text_message("我的签到", chattype="single")
    assert await post(client, wecom, payload) == (200, "")
    [got] = sink.accepted
    assert got.chat_type is ChatType.SINGLE
    assert got.chat_id is None


async def test_quoted_message_text_is_kept(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    payload = text_message(
        "@教研助手 这条算反思吗",
        quote={"msgtype": "text", "text": {"content": "今天的公开课让我重新思考提问方式"}},
    )
    assert (await post(client, wecom, payload))[0] == 200
    assert sink.accepted[0].quote == "今天的公开课让我重新思考提问方式"


async def test_mixed_message_keeps_its_text_parts_and_first_picture(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    payload = text_message(
        msgtype="mixed",
        mixed={
            "msg_item": [
                {"msgtype": "text", "text": {"content": "@教研助手 反思"}},
                {"msgtype": "image", "image": {"url": "https://127.0.0.1/img/first"}},
                {"msgtype": "text", "text": {"content": "板书照片见上"}},
                {"msgtype": "image", "image": {"url": "https://127.0.0.1/img/second"}},
            ]
        },
        quote={
            "msgtype": "mixed",
            "mixed": {"msg_item": [{"msgtype": "text", "text": {"content": "原文"}}]},
        },
    )
    del payload["text"]
    assert (await post(client, wecom, payload))[0] == 200
    [got] = sink.accepted
    assert got.text == "@教研助手 反思\n板书照片见上"
    assert got.quote == "原文"
    # The text and the first picture (for the intake; a caption like 反思 keeps it unshared).
    assert got.reply_context == {
        "response_url": RESPONSE_URL,
        FILE_URL: "https://127.0.0.1/img/first",
        FILE_KIND: "image",
        FILE_KEY_SOURCE: "callback",
    }


async def test_voice_uses_wecom_transcript(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    payload = text_message(chattype="single", msgtype="voice", voice={"content": "我要签到"})
    del payload["text"]
    assert (await post(client, wecom, payload))[0] == 200
    assert sink.accepted[0].text == "我要签到"


@pytest.mark.parametrize("msgtype", ["video", "location"])
async def test_unsupported_types_are_submitted_for_a_kind_answer(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, msgtype: str
) -> None:
    payload = text_message(chattype="single", msgtype=msgtype)
    del payload["text"]
    payload[msgtype] = {"url": "https://127.0.0.1/media"}
    assert await post(client, wecom, payload) == (200, "")
    [got] = sink.accepted
    assert got.text == ""
    assert got.reply_context == {"response_url": RESPONSE_URL, "unsupported": msgtype}


# -- pictures and files -----------------------------------------------------------------

MEDIA_URL = "https://127.0.0.1/cgi-bin/media/file-7f3a"


def media_message(kind: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("msgid", "CAIQ16HMjQYY/FILE0001=")
    return aibot_media_message(kind, MEDIA_URL, userid="zhangsan", response_url=RESPONSE_URL, **kw)


@pytest.mark.parametrize("kind", ["file", "image"])
async def test_file_or_picture_is_noted_for_download_with_the_callback_key(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, kind: str
) -> None:
    assert await post(client, wecom, media_message(kind)) == (200, "")  # answered at once
    [got] = sink.accepted
    assert (got.userid, got.text, got.chat_type) == ("zhangsan", "", ChatType.SINGLE)
    assert got.reply_context == {
        "response_url": RESPONSE_URL,
        FILE_URL: MEDIA_URL,
        FILE_KIND: kind,
        FILE_KEY_SOURCE: "callback",
    }


async def test_file_with_a_caption_and_a_name_keeps_both(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    payload = media_message(
        "file", caption="资源 第三单元教学设计 #三年级", filename="第三单元教学设计.docx"
    )
    assert await post(client, wecom, payload) == (200, "")
    [got] = sink.accepted
    assert got.text == "资源 第三单元教学设计 #三年级"
    assert got.reply_context[FILE_NAME] == "第三单元教学设计.docx"
    assert got.reply_context[FILE_URL] == MEDIA_URL


async def test_file_without_a_url_is_answered_kindly(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    payload = media_message("file")
    payload["file"] = {"url": ""}
    assert await post(client, wecom, payload) == (200, "")
    [got] = sink.accepted
    assert got.reply_context == {"response_url": RESPONSE_URL, "unsupported": "file"}


async def test_text_quoting_a_file_carries_the_file(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    """In a group a file reaches the bot only when quoted: `@bot 资源 标题` quoting it."""
    payload = text_message(
        "@教研助手 资源 第三单元教学设计",
        quote={"msgtype": "file", "file": {"url": MEDIA_URL}},
    )
    assert await post(client, wecom, payload) == (200, "")
    [got] = sink.accepted
    assert got.text == "@教研助手 资源 第三单元教学设计"
    assert got.reply_context[FILE_URL] == MEDIA_URL
    assert got.reply_context[FILE_KIND] == "file"
    assert got.reply_context[FILE_KEY_SOURCE] == "callback"


async def test_text_quoting_only_text_carries_no_media(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    payload = text_message(
        "@教研助手 资源", quote={"msgtype": "text", "text": {"content": "第三单元"}}
    )
    assert await post(client, wecom, payload) == (200, "")
    assert sink.accepted[0].reply_context == {"response_url": RESPONSE_URL}


class MediaHost:
    """WeCom's media host for the HTTP mode: serves bodies encrypted with the EncodingAESKey."""

    def __init__(self, wecom: WeComSide) -> None:
        self.wecom = wecom
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.match_info["name"])
        body, name = self.files[request.match_info["name"]]
        return web.Response(
            body=self.wecom.encrypt_media(body),
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )


async def test_callback_media_decrypt_with_the_bots_key_into_the_store(
    client: TestClient[Any, Any],
    wecom: WeComSide,
    sink: RecordingSink,
    session: aiohttp.ClientSession,
    aiohttp_server: ServerFactory,
    tmp_path: Path,
) -> None:
    """What the channel notes is enough for the intake: same key, same bytes back."""
    host = MediaHost(wecom)
    document = "第三单元教学设计：以读促写，三课时。".encode() * 50
    host.files["d1"] = (document, "第三单元教学设计.docx")
    app = web.Application()
    app.router.add_get("/media/{name}", host.handle)
    server = await aiohttp_server(app)  # binds 127.0.0.1
    url = str(server.make_url("/media/d1"))
    payload = aibot_media_message(
        "file", url, userid="zhangsan", msgid="F1", response_url=RESPONSE_URL
    )
    assert await post(client, wecom, payload) == (200, "")

    store = FileStore(tmp_path / "files")
    hosts = media_hosts_listing(str(server.make_url("")))
    intake = FileIntake(MediaDownloader(session, hosts), store, callback_aes_key=AES_KEY)
    prepared = await intake.prepare(sink.accepted[0])
    assert FILE_ERROR not in prepared.reply_context
    assert prepared.text == "资源"
    assert prepared.reply_context[FILE_NAME] == "第三单元教学设计.docx"
    [stored] = [path for path in store.root.rglob("*") if path.is_file()]
    assert stored.read_bytes() == document
    assert prepared.reply_context[FILE_SHA256] in stored.name


async def test_callback_media_off_the_listed_hosts_are_never_requested(
    client: TestClient[Any, Any],
    wecom: WeComSide,
    sink: RecordingSink,
    session: aiohttp.ClientSession,
    aiohttp_server: ServerFactory,
    tmp_path: Path,
) -> None:
    """A callback naming another server (here: another port on 127.0.0.1) gets no download."""
    listed, unlisted = MediaHost(wecom), MediaHost(wecom)
    servers = []
    for host in (listed, unlisted):
        host.files["d1"] = ("第三单元教学设计".encode() * 50, "教学设计.docx")
        app = web.Application()
        app.router.add_get("/media/{name}", host.handle)
        servers.append(await aiohttp_server(app))
    unlisted_url = str(servers[1].make_url("/media/d1"))
    payload = aibot_media_message(
        "file", unlisted_url, userid="zhangsan", msgid="F2", response_url=RESPONSE_URL
    )
    assert await post(client, wecom, payload) == (200, "")

    hosts = media_hosts_listing(str(servers[0].make_url("")))
    intake = FileIntake(MediaDownloader(session, hosts), FileStore(tmp_path / "files"))
    prepared = await intake.prepare(sink.accepted[0])
    assert prepared.reply_context[FILE_ERROR] == FileProblem.UNSAFE_URL
    assert unlisted.requests == [] and listed.requests == []


async def test_same_msgid_three_times_is_processed_once(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink
) -> None:
    for _ in range(3):
        assert await post(client, wecom, text_message()) == (200, "")
    assert len(sink.accepted) == 1
    assert sink.duplicates == 2


async def test_answer_does_not_wait_for_slow_processing(
    aiohttp_client: ClientFactory, wecom: WeComSide, clock: FakeClock
) -> None:
    sink = RecordingSink(slow_processing=True)
    client = await make_client(aiohttp_client, sink, clock)
    started = time.monotonic()
    assert await post(client, wecom, text_message()) == (200, "")
    assert time.monotonic() - started < 1.0
    [task] = sink.processing
    assert not task.done()
    sink.release.set()
    await task


async def test_enter_chat_gets_an_encrypted_welcome_that_wecom_can_read(
    aiohttp_client: ClientFactory,
    wecom: WeComSide,
    sink: RecordingSink,
    clock: FakeClock,
) -> None:
    client = await make_client(aiohttp_client, sink, clock, welcome_text="你好，我是教研助手")
    event = {
        "msgid": "EV1",
        "create_time": NOW,
        "aibotid": "AIBOTID",
        "chattype": "single",
        "from": {"userid": "zhangsan"},
        "msgtype": "event",
        "event": {"eventtype": "enter_chat"},
    }
    query, body = wecom.aibot_post(event, NOW)
    resp = await client.post("/wecom/aibot", params=query, data=body)
    assert resp.status == 200
    reply = await resp.json()
    assert set(reply) == {"encrypt", "msgsignature", "timestamp", "nonce"}
    assert reply["msgsignature"] == wecom.sign(reply["timestamp"], reply["nonce"], reply["encrypt"])
    plain, receive_id = wecom.decrypt(reply["encrypt"])
    assert receive_id == ""
    assert json.loads(plain) == {"msgtype": "text", "text": {"content": "你好，我是教研助手"}}
    assert sink.accepted == []


@pytest.mark.parametrize("eventtype", ["enter_chat", "template_card_event", "feedback_event"])
async def test_events_without_welcome_are_acknowledged_empty(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, eventtype: str
) -> None:
    event = {
        "msgid": "EV2",
        "aibotid": "AIBOTID",
        "chattype": "single",
        "from": {"userid": "zhangsan"},
        "msgtype": "event",
        "event": {"eventtype": eventtype},
    }
    assert await post(client, wecom, event) == (200, "")
    assert sink.accepted == []


# -- hostile or broken requests ---------------------------------------------------------


@pytest.mark.parametrize("offset", [-301, 400])
async def test_stale_timestamp_is_rejected(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, offset: int
) -> None:
    assert (await post(client, wecom, text_message(), ts=NOW + offset))[0] == 403
    assert sink.accepted == []


async def test_wrong_token_is_rejected(client: TestClient[Any, Any], sink: RecordingSink) -> None:
    forger = WeComSide("guessed-token", AES_KEY, receive_id="")
    assert (await post(client, forger, text_message()))[0] == 403
    assert sink.accepted == []


async def test_body_over_one_mebibyte_is_413(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    query, _ = wecom.aibot_post(text_message(), NOW)
    big = io.BytesIO(b'{"encrypt": "' + b"A" * (1024 * 1024) + b'"}')
    resp = await client.post("/wecom/aibot", params=query, data=big)
    assert resp.status == 413


@pytest.mark.parametrize("body", ["{", "[]", '"encrypt"', "{}", '{"encrypt": 5}', "<xml/>"])
async def test_malformed_json_envelope_is_a_bad_request(
    client: TestClient[Any, Any], wecom: WeComSide, body: str
) -> None:
    resp = await client.post("/wecom/aibot", params=wecom.query("x", NOW), data=body)
    assert resp.status == 400
    assert await resp.text() == "bad request"


async def test_bad_base64_is_a_bad_request(client: TestClient[Any, Any], wecom: WeComSide) -> None:
    encrypted = "%%%not base64%%%"
    body = json.dumps({"encrypt": encrypted})
    resp = await client.post("/wecom/aibot", params=wecom.query(encrypted, NOW), data=body)
    assert resp.status == 400


async def test_wrong_aes_key_is_a_bad_request(
    client: TestClient[Any, Any], sink: RecordingSink
) -> None:
    stranger = WeComSide(TOKEN, new_encoding_aes_key(), receive_id="")
    assert (await post(client, stranger, text_message()))[0] == 400
    assert sink.accepted == []


async def test_payload_with_a_corp_receive_id_is_a_bad_request(
    client: TestClient[Any, Any], sink: RecordingSink
) -> None:
    app_side = WeComSide(TOKEN, AES_KEY, receive_id="wwcorp")
    assert (await post(client, app_side, text_message()))[0] == 400
    assert sink.accepted == []


@pytest.mark.parametrize(
    "change",
    [
        {"from": None},
        {"from": {"userid": ""}},
        {"msgid": ""},
        {"chattype": "channel"},
        {"chatid": None},  # group without chatid
        {"response_url": "file:///etc/passwd"},
        {"msgtype": "event"},  # event without event body
        {"aibotid": None},
    ],
)
async def test_invalid_decrypted_message_is_a_bad_request(
    client: TestClient[Any, Any], wecom: WeComSide, sink: RecordingSink, change: dict[str, Any]
) -> None:
    payload = {k: v for k, v in {**text_message(), **change}.items() if v is not None}
    assert (await post(client, wecom, payload))[0] == 400
    assert sink.accepted == []


async def test_decrypted_text_that_is_not_json_is_a_bad_request(
    client: TestClient[Any, Any], wecom: WeComSide
) -> None:
    encrypted = wecom.encrypt("<xml>not json</xml>")
    body = json.dumps({"encrypt": encrypted})
    resp = await client.post("/wecom/aibot", params=wecom.query(encrypted, NOW), data=body)
    assert resp.status == 400


# -- replies through response_url -------------------------------------------------------


class FakeResponseUrl:
    """WeCom's response_url endpoint: records what the bot posts, answers like WeCom."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        assert request.query["response_code"] == "RC1"
        assert request.content_type == "application/json"
        self.received.append(await request.json())
        return web.json_response(self.answer, status=self.status)


@pytest.fixture
async def response_url(aiohttp_server: ServerFactory) -> tuple[FakeResponseUrl, str]:
    fake = FakeResponseUrl()
    app = web.Application()
    app.router.add_post("/cgi-bin/aibot/response", fake.handle)
    server = await aiohttp_server(app)
    return fake, str(server.make_url("/cgi-bin/aibot/response?response_code=RC1"))


def sender_for(session: aiohttp.ClientSession, url: str | None) -> AibotResponseSender:
    """A sender that trusts the origin of `url` (the fake's), as WECOM_API_BASE would."""
    origin = origin_of(url) if url else None
    return AibotResponseSender(session, allowed_origins=frozenset({origin} if origin else ()))


def outgoing(url: str | None, text: str = "✅ 签到成功") -> Outgoing:
    return Outgoing(
        channel=Channel.AIBOT_HTTP,
        target_kind=TargetKind.CHAT,
        target="wrkSFfCgAAxxxx",
        text=text,
        reply_context={"response_url": url} if url else {},
    )


async def test_reply_to_a_received_message_arrives_at_its_response_url(
    client: TestClient[Any, Any],
    wecom: WeComSide,
    sink: RecordingSink,
    session: aiohttp.ClientSession,
    response_url: tuple[FakeResponseUrl, str],
) -> None:
    fake, url = response_url
    assert (await post(client, wecom, text_message(response_url=url)))[0] == 200
    [incoming] = sink.accepted
    reply = Outgoing(
        channel=incoming.channel,
        target_kind=TargetKind.CHAT,
        target=incoming.chat_id or incoming.userid,
        text="**张三** 签到成功（第 3 期）",
        markdown=True,
        reply_context=incoming.reply_context,
    )
    sender = sender_for(session, url)
    assert sender.channel is Channel.AIBOT_HTTP
    await sender.send(reply)
    assert fake.received == [
        {"msgtype": "markdown", "markdown": {"content": "**张三** 签到成功（第 3 期）"}}
    ]


async def test_plain_text_replies_are_sent_as_markdown_content(
    session: aiohttp.ClientSession, response_url: tuple[FakeResponseUrl, str]
) -> None:
    fake, url = response_url
    await sender_for(session, url).send(outgoing(url, "收到"))
    assert fake.received == [{"msgtype": "markdown", "markdown": {"content": "收到"}}]


async def test_without_response_url_the_error_is_permanent_and_explains_why(
    session: aiohttp.ClientSession,
) -> None:
    with pytest.raises(SendError) as exc:
        await sender_for(session, None).send(outgoing(None))
    assert exc.value.retryable is False
    assert "long connection" in str(exc.value)


async def test_wecom_error_code_is_reported(
    session: aiohttp.ClientSession, response_url: tuple[FakeResponseUrl, str]
) -> None:
    fake, url = response_url
    fake.answer = {"errcode": 40058, "errmsg": "response_url expired"}
    with pytest.raises(SendError) as exc:
        await sender_for(session, url).send(outgoing(url))
    assert exc.value.retryable is False
    assert "40058" in str(exc.value)
    fake.answer = {"errcode": -1, "errmsg": "system busy"}
    with pytest.raises(SendError) as busy:
        await sender_for(session, url).send(outgoing(url))
    assert busy.value.retryable is True


async def test_server_errors_are_retryable(
    session: aiohttp.ClientSession, response_url: tuple[FakeResponseUrl, str]
) -> None:
    fake, url = response_url
    fake.status = 502
    with pytest.raises(SendError) as exc:
        await sender_for(session, url).send(outgoing(url))
    assert exc.value.retryable is True


async def test_response_url_off_wecom_is_never_called(
    session: aiohttp.ClientSession,
    response_url: tuple[FakeResponseUrl, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, url = response_url
    wecom_only = AibotResponseSender(
        session, allowed_origins=frozenset({"https://qyapi.weixin.qq.com:443"})
    )
    with pytest.raises(SendError) as exc:
        await wecom_only.send(outgoing(url))
    assert exc.value.retryable is False
    assert fake.received == []
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "not a WeCom origin" in warning.getMessage()
    # The same host with another scheme is another origin.
    with pytest.raises(SendError):
        await sender_for(session, url).send(outgoing(url.replace("http://", "https://")))


async def test_unreachable_response_url_is_retryable(
    session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/cgi-bin/aibot/response?response_code=RC1"
    with pytest.raises(SendError) as exc:
        await sender_for(session, url).send(outgoing(url))
    assert exc.value.retryable is True
