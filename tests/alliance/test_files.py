"""Files sent to the bot: downloaded from a fake WeCom media server on 127.0.0.1 with real
AES-256-CBC encryption, kept under the data directory, shared as resources — or refused."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels.aibot_ws import AibotLongConnection
from bot.channels.aibot_ws_frames import MessageBody
from bot.core.messages import Channel, Effect, Incoming
from bot.pipeline.files import (
    FILE_AES_KEY,
    FILE_KEY_SOURCE,
    FILE_KIND,
    FILE_URL,
    LINK_TITLE,
    LINK_URL,
    MAX_FILE_BYTES,
    FileIntake,
    FileProblem,
    FileProblemError,
    FileRefused,
    FileStore,
    MediaDownloader,
    decrypt_media,
    files_dir_for,
)
from bot.pipeline.inbox import Pipeline
from tests.fakes.media_hosts import media_hosts_listing
from tests.fakes.wecom_ws import DEFAULT_BOT_ID, DEFAULT_SECRET, FakeWeComWS

from .conftest import Bot, replies

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
PPTX = b"PK\x03\x04" + "《秋天的雨》第二课时课件".encode() * 200
PPTX_NAME = "秋天的雨第二课时.pptx"


def new_key() -> str:
    """A per-message key as WeCom sends it: 32 random bytes, base64."""
    return base64.b64encode(os.urandom(32)).decode()


def encrypt_media(plain: bytes, key_b64: str) -> bytes:
    """What WeCom serves: AES-256-CBC, IV = key[:16], PKCS#7 padding to 32 bytes."""
    key = base64.b64decode(key_b64 + "=" * (-len(key_b64) % 4))
    pad = 32 - len(plain) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()


class MediaServer:
    """WeCom's media download host: encrypted bodies, file names in Content-Disposition."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str | None]] = {}
        self.redirects: dict[str, str] = {}  # name → Location
        self.requests: list[str] = []

    def add(self, name: str, body: bytes, filename: str | None = None) -> str:
        self.files[name] = (body, filename)
        return f"/media/{name}"

    async def media(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append(name)
        if name == "huge-declared":
            return web.Response(body=b"\0" * (MAX_FILE_BYTES + 1024 * 1024))
        if name == "huge-streamed":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(21):
                await response.write(b"\0" * (1024 * 1024))
            await response.write_eof()
            return response
        if name in self.redirects:
            raise web.HTTPFound(self.redirects[name])
        if name not in self.files:
            return web.Response(status=404, text="expired")
        body, filename = self.files[name]
        headers = {}
        if filename:
            quoted = urllib.parse.quote(filename, safe="")
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quoted}"
        return web.Response(body=body, headers=headers)


async def serve_media(aiohttp_server: ServerFactory) -> tuple[MediaServer, str]:
    """A media server on 127.0.0.1 and its base URL (a port of its own)."""
    server = MediaServer()
    app = web.Application()
    app.router.add_get("/media/{name}", server.media)
    running = await aiohttp_server(app)
    return server, str(running.make_url("")).rstrip("/")


@pytest.fixture
async def media(aiohttp_server: ServerFactory) -> tuple[MediaServer, str]:
    """WeCom's media host: listed in WECOM_MEDIA_HOSTS by the `intake` fixture."""
    return await serve_media(aiohttp_server)


@pytest.fixture
async def foreign(aiohttp_server: ServerFactory) -> tuple[MediaServer, str]:
    """Another server on 127.0.0.1, not on the list (as an internal service would be)."""
    return await serve_media(aiohttp_server)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(files_dir_for(tmp_path / "bot.db"))


@pytest.fixture
def intake(
    session: aiohttp.ClientSession, store: FileStore, media: tuple[MediaServer, str]
) -> FileIntake:
    """The bot's intake with the media server on WECOM_MEDIA_HOSTS (and nothing else local)."""
    downloader = MediaDownloader(session, media_hosts_listing(media[1]))
    return FileIntake(downloader, store, callback_aes_key=CALLBACK_KEY)


CALLBACK_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # 43 chars, like the admin's


def stored_files(store: FileStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


async def send_file(
    bot: Bot,
    intake: FileIntake,
    url: str,
    *,
    text: str = "",
    key: str | None = None,
    kind: str = "file",
    incoming: Incoming | None = None,
) -> list[Effect]:
    context = {FILE_URL: url, FILE_KIND: kind}
    if key:
        context[FILE_AES_KEY] = key
    message = incoming or bot.incoming("t1", text, chat=None, reply_context=context)
    return await bot.dispatcher.handle(await intake.prepare(message))


class SubmitWatcher:
    """The pipeline as the channel's sink, telling the test when a message was handed over."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self.submitted = asyncio.Event()

    async def submit(self, incoming: Incoming) -> bool:
        fresh = await self._pipeline.submit(incoming)
        self.submitted.set()
        return fresh


async def heartbeat_never_due(delay: float) -> None:
    """Injected sleep: backoffs return at once, heartbeats wait until the test ends."""
    if delay >= 30.0:
        await asyncio.Event().wait()
    await asyncio.sleep(0)


# decryption -------------------------------------------------------------------------


def test_decrypt_media_round_trip_and_refusals() -> None:
    key = new_key()
    assert decrypt_media(encrypt_media(PPTX, key), key) == PPTX
    assert decrypt_media(encrypt_media(b"", key), key) == b""
    # Fixed keys: with a random wrong key the padding check passes by chance about 1 in 256.
    right = base64.b64encode(bytes(range(32))).decode()
    other = base64.b64encode(bytes(range(100, 132))).decode()
    with pytest.raises(FileProblemError) as wrong:
        decrypt_media(encrypt_media(PPTX, right), other)
    assert wrong.value.problem is FileProblem.DECRYPT_FAILED
    with pytest.raises(FileProblemError):  # 15 bytes (16 would be a whole block)
        decrypt_media(b"not whole block", key)
    with pytest.raises(FileProblemError):
        decrypt_media(encrypt_media(PPTX, key), "short-key")


# the whole path: long connection → inbox → intake → router → outbox ------------------


async def test_file_sent_over_the_long_connection_becomes_a_resource(
    bot: Bot,
    media: tuple[MediaServer, str],
    session: aiohttp.ClientSession,
    intake: FileIntake,
    store: FileStore,
    aiohttp_server: ServerFactory,
) -> None:
    server, base = media
    key = new_key()
    url = base + server.add("abc", encrypt_media(PPTX, key), PPTX_NAME)
    inbox, outbox = bot.storage.inbox, bot.storage.outbox
    pipeline = Pipeline(
        inbox, outbox, bot.storage.chats, intake.wrap(bot.dispatcher.process), bot.clock
    )
    sink = SubmitWatcher(pipeline)
    fake = FakeWeComWS()
    ws_server = await aiohttp_server(fake.make_app())
    conn = AibotLongConnection(
        str(ws_server.make_url("/")),
        DEFAULT_BOT_ID,
        DEFAULT_SECRET,
        sink,
        session=session,
        clock=bot.clock,
        sleep=heartbeat_never_due,
    )
    task = asyncio.create_task(conn.run())
    try:
        async with asyncio.timeout(10):
            await conn.connected.wait()
            frame: dict[str, Any] = {
                "cmd": "aibot_msg_callback",
                "headers": {"req_id": "req-file-1"},
                "body": {
                    "msgid": "msg-file-1",
                    "aibotid": DEFAULT_BOT_ID,
                    "chattype": "single",
                    "from": {"userid": "t1"},
                    "msgtype": "file",
                    "file": {"url": url, "aeskey": key},
                },
            }
            await fake._push(frame)  # the fake's own helper only builds text messages
            await sink.submitted.wait()
            await pipeline.drain()
    finally:
        conn.stop()
        async with asyncio.timeout(10):
            await task
    [answer] = [item.message for item in outbox.items()]
    assert answer.channel is Channel.AIBOT_WS and answer.target == "t1"
    assert answer.reply_context["req_id"] == "req-file-1"
    assert answer.text.startswith("已收录资源 R1（课件），谢谢分享！")
    [kept] = stored_files(store)
    assert kept.read_bytes() == PPTX and kept.suffix == ".pptx"
    assert kept.parent.parent == store.root and store.root.name == "files"  # beside bot.db
    listing = bot.reply("t2", "资源")
    assert "R1 [课件]秋天的雨第二课时" in listing and f"文件：{PPTX_NAME}（" in listing
    assert "已存档" in listing


async def test_caption_gives_title_tags_and_activity(
    bot: Bot, media: tuple[MediaServer, str], intake: FileIntake
) -> None:
    bot.say("lead1", "发起活动 周五 14:30 课例研讨《秋天的雨》 地点:东部一小")
    server, base = media
    key = new_key()
    url = base + server.add("design", encrypt_media(b"%PDF-1.7 design", key), "设计.pdf")
    effects = await send_file(
        bot, intake, url, key=key, text="资源 A1 《秋天的雨》教学设计 #三年级", kind="image"
    )
    assert "已收录资源 R1（教学设计），已归入活动 A1" in replies(effects)
    assert "R1 [教学设计]《秋天的雨》教学设计 #三年级" in bot.reply("t2", "资源 A1")


async def test_a_file_over_the_limit_is_refused_with_a_clear_message(
    bot: Bot, media: tuple[MediaServer, str], intake: FileIntake, store: FileStore
) -> None:
    _, base = media
    for name in ("huge-declared", "huge-streamed"):
        out = replies(await send_file(bot, intake, f"{base}/media/{name}"))
        assert out.startswith("文件超过 20 MB 上限，没有保存。请上传到网盘后分享链接")
    assert stored_files(store) == []
    assert "还没有资源" in bot.reply("t1", "资源")


async def test_executables_are_never_kept(
    bot: Bot, media: tuple[MediaServer, str], intake: FileIntake, store: FileStore
) -> None:
    server, base = media
    key = new_key()
    setup = base + server.add("setup", encrypt_media(b"MZ\x90\x00program", key), "课件播放器.exe")
    disguised = base + server.add("fake-pdf", encrypt_media(b"MZ\x90\x00x", key), "教案.pdf")
    script = base + server.add("script", encrypt_media(b"echo hi", key), "install.sh")
    for url in (setup, disguised, script):
        out = replies(await send_file(bot, intake, url, key=key))
        assert out.startswith("出于安全考虑，不接收可执行文件或脚本")
    assert stored_files(store) == []


async def test_expired_or_undecryptable_downloads_ask_to_send_again(
    bot: Bot, media: tuple[MediaServer, str], intake: FileIntake
) -> None:
    server, base = media
    assert "链接已过期" in replies(await send_file(bot, intake, f"{base}/media/gone"))
    url = base + server.add("garbled", encrypt_media(PPTX, new_key()), PPTX_NAME)
    assert "没能解开" in replies(await send_file(bot, intake, url, key=new_key()))


def only_warning(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.exc_info is None  # one line, no traceback
    return warning


async def test_a_file_off_wecoms_media_hosts_is_never_requested(
    bot: Bot,
    foreign: tuple[MediaServer, str],
    intake: FileIntake,
    store: FileStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, base = foreign
    key = new_key()
    url = base + server.add("abc", encrypt_media(PPTX, key), PPTX_NAME) + "?sign=s3cret"
    out = replies(await send_file(bot, intake, url, key=key))
    assert server.requests == []
    assert "没能接收" in out and "不是企业微信的" in out
    assert stored_files(store) == [] and "R1" not in bot.reply("t2", "资源")
    warning = only_warning(caplog).getMessage()
    assert "WECOM_MEDIA_HOSTS" in warning and base in warning and "s3cret" not in warning


async def test_a_redirect_off_the_list_is_not_followed(
    bot: Bot,
    media: tuple[MediaServer, str],
    foreign: tuple[MediaServer, str],
    intake: FileIntake,
    store: FileStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, base = media
    elsewhere, elsewhere_base = foreign
    key = new_key()
    target = elsewhere_base + elsewhere.add("abc", encrypt_media(PPTX, key), PPTX_NAME)
    server.redirects["moved"] = target
    out = replies(await send_file(bot, intake, f"{base}/media/moved", key=key))
    assert server.requests == ["moved"] and elsewhere.requests == []
    assert "没能接收" in out and stored_files(store) == []
    assert "redirect is never followed" in only_warning(caplog).getMessage()


async def test_a_picture_with_another_command_is_not_downloaded(
    bot: Bot, media: tuple[MediaServer, str], intake: FileIntake
) -> None:
    server, base = media
    url = base + server.add("photo", b"\xff\xd8jpeg", "板书.jpg")
    effects = await send_file(bot, intake, url, text="我的", kind="image")
    assert "王芳" in replies(effects)  # 我的 answered as usual
    alone = await send_file(bot, intake, url, kind="image")  # a bare photo is not filed
    assert "只能看懂文字消息" in replies(alone)
    assert server.requests == []


async def test_processing_the_same_message_again_shares_it_once(
    bot: Bot, media: tuple[MediaServer, str], intake: FileIntake, store: FileStore
) -> None:
    server, base = media
    key = new_key()
    url = base + server.add("abc", encrypt_media(PPTX, key), PPTX_NAME)
    message = bot.incoming("t1", "", chat=None, reply_context={FILE_URL: url, FILE_AES_KEY: key})
    first = replies(await send_file(bot, intake, url, incoming=message))
    again = replies(await send_file(bot, intake, url, incoming=message))  # e.g. after a crash
    assert "R1" in first and "R1" in again
    assert "R2" not in bot.reply("t1", "资源")
    assert len(stored_files(store)) == 1


async def test_http_callback_media_use_the_callback_key(
    bot: Bot, media: tuple[MediaServer, str], intake: FileIntake
) -> None:
    server, base = media
    url = base + server.add("cb", encrypt_media(PPTX, CALLBACK_KEY), PPTX_NAME)
    context = {FILE_URL: url, FILE_KEY_SOURCE: "callback", FILE_KIND: "file"}
    message = bot.incoming("t1", "", chat=None, reply_context=context)
    effects = await bot.dispatcher.handle(await intake.prepare(message))
    assert "已收录资源 R1（课件）" in replies(effects)


# the store ----------------------------------------------------------------------------


def test_store_flags_executables_and_never_serves_them(store: FileStore) -> None:
    saved = store.save(b"MZ\x90\x00", "../../setup.exe")
    assert saved.executable and saved.path.endswith(".blocked") and saved.name == "setup.exe"
    with pytest.raises(FileRefused):
        store.path_for_serving(saved.path, executable=saved.executable)
    doc = store.save(PPTX, "课件.pptx")
    assert store.path_for_serving(doc.path, executable=False).read_bytes() == PPTX
    assert oct(store.path_for_serving(doc.path, executable=False).stat().st_mode)[-3:] == "600"
    with pytest.raises(FileRefused):
        store.path_for_serving("../bot.db", executable=False)
    with pytest.raises(FileProblemError) as big:
        store.save(b"\0" * (MAX_FILE_BYTES + 1), "big.mp4")
    assert big.value.problem is FileProblem.TOO_LARGE


def test_long_connection_frames_carry_media_for_the_intake() -> None:
    """What the channel notes for FileIntake: file first, then an image of a mixed message."""
    mixed = MessageBody.model_validate(
        {
            "msgid": "m1",
            "from": {"userid": "t1"},
            "msgtype": "mixed",
            "mixed": {
                "msg_item": [
                    {"msgtype": "text", "text": {"content": "资源 板书设计 #三年级"}},
                    {"msgtype": "image", "image": {"url": "https://127.0.0.1/i", "aeskey": "k"}},
                ]
            },
        }
    )
    assert mixed.readable_text() == "资源 板书设计 #三年级"
    media = mixed.media()
    assert media is not None and media[0] == "image" and media[1].url == "https://127.0.0.1/i"
    text_only = MessageBody.model_validate(
        {"msgid": "m2", "from": {"userid": "t1"}, "msgtype": "text", "text": {"content": "签到"}}
    )
    assert text_only.media() is None


async def test_a_link_message_is_shared_with_its_title(bot: Bot, intake: FileIntake) -> None:
    """A 自建应用 link message (title + url) needs no download: it becomes 资源 标题 链接."""
    context = {LINK_URL: "https://mp.weixin.qq.com/s/abc", LINK_TITLE: "大单元教学设计的三个关键"}
    message = bot.incoming("t1", "", chat=None, reply_context=context)
    effects = await bot.dispatcher.handle(await intake.prepare(message))
    assert "已收录资源 R1（教学设计）" in replies(effects)
    assert "R1 [教学设计]大单元教学设计的三个关键" in bot.reply("t2", "资源 大单元")
