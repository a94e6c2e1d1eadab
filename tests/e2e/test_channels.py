"""A teacher signs in and hands in a reflection over each channel; a notice reaches the groups.

Every message goes the whole way: WeCom's fake encrypts/signs or frames it, the real web app
or long connection receives it, the inbox records it, the router and handlers answer, the
outbox worker delivers through the real sender, and the fake records what a user would see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.app_callback import FILE_HINT
from bot.core.clock import FakeClock
from bot.core.settings import Settings
from bot.pipeline.files import MAX_FILE_BYTES, FileProblem, files_dir_for, problem_text
from storage.models import SigninStatus
from tests.fakes.wecom_api import DEFAULT_CORP_ID, DEFAULT_WEBHOOK_KEY, webhook_url
from tests.fakes.wecom_crypto import WeComSide, aibot_media_message, app_link_xml, app_media_xml
from tests.fakes.world import AIBOT_ID, FakeWeCom

from .conftest import (
    AFTER_ACTIVITY,
    BOT_NAME,
    GROUP_HTTP,
    GROUP_WS,
    REFLECTION,
    Bot,
    Seeded,
    StartBot,
    make_settings,
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
    # A webhook off the API base's origin (here: another port) is refused, nothing bound.
    foreign = webhook_url(bot.fake.api_base.rsplit(":", 1)[0] + ":9", other_key)
    assert await bot.post_app(bot.app_text("admin1", f"绑定 东部联盟 {foreign}")) == (200, "")
    assert await bot.deliver() == 1
    [refusal] = bot.fake.app_texts("admin1")
    assert refusal.startswith(f"群机器人地址必须是企业微信的地址（{bot.fake.api_base}/cgi-bin/")
    assert "没有绑定" in refusal
    assert bot.storage.chats.get(f"webhook:{foreign[-12:]}") is None
    bot.fake.api.messages.clear()

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


# -- files and links shared as resources ------------------------------------------------

ServerFactory = Callable[..., Awaitable[TestServer]]
DESIGN = b"PK\x03\x04" + "第三单元教学设计：以读促写，三课时，附学习单。".encode() * 400


class WeComMediaHost:
    """Where a smart-bot HTTP callback's media `url` points: the bytes AES-encrypted with the
    bot's EncodingAESKey (as WeCom serves them), the name in Content-Disposition."""

    def __init__(self, aibot: WeComSide) -> None:
        self.aibot = aibot
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requested: list[str] = []
        self.base = ""

    async def start(self, aiohttp_server: ServerFactory) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/media/{name}", self.handle)
        server = await aiohttp_server(app, host="127.0.0.1")
        self.base = str(server.make_url("/cgi-bin/media/"))
        self.listed_as = f"127.0.0.1:{server.port}"  # its WECOM_MEDIA_HOSTS entry

    def add(self, name: str, body: bytes, filename: str) -> str:
        self.files[name] = (self.aibot.encrypt_media(body), filename)
        return self.base + name

    async def handle(self, request: web.Request) -> web.Response:
        self.requested.append(request.match_info["name"])
        body, filename = self.files[request.match_info["name"]]
        disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
        return web.Response(body=body, headers={"Content-Disposition": disposition})


def stored_files(settings: Settings) -> list[bytes]:
    root = files_dir_for(settings.db)
    return [path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()]


async def test_teacher_shares_a_file_over_the_smart_bot_http_callback(
    start_bot: StartBot,
    seeded: Seeded,
    settings: Settings,
    fake: FakeWeCom,
    aiohttp_server: ServerFactory,
) -> None:
    host = WeComMediaHost(fake.aibot)
    await host.start(aiohttp_server)
    # As an admin would: the media host on WECOM_MEDIA_HOSTS.
    bot = await start_bot(
        bot_settings=make_settings(settings.db, fake, WECOM_MEDIA_HOSTS=host.listed_as)
    )

    def file_message(url: str, caption: str | None = None) -> dict[str, object]:
        msgid = bot.new_msgid()
        return aibot_media_message(
            "file",
            url,
            userid="t1",
            msgid=msgid,
            aibotid=AIBOT_ID,
            response_url=bot.fake.response_url(f"RC-{msgid}"),
            caption=caption,
        )

    url = host.add("design", DESIGN, "第三单元教学设计.docx")
    shared = file_message(url, caption="资源 第三单元教学设计")
    assert await bot.post_aibot(shared) == (200, "")  # answered before any download
    assert await bot.deliver() == 1
    assert bot.fake.response_texts() == [
        "已收录资源 R1（教学设计），谢谢分享！\n"
        "教研员或联盟负责人推荐后会推送到联盟群。\n"
        "查找资源：资源 关键词"
    ]
    assert stored_files(settings) == [DESIGN]  # decrypted, under the data directory

    listing = bot.aibot_text("t1", "资源")
    assert await bot.post_aibot(listing) == (200, "")
    assert await bot.deliver() == 1
    listed = bot.fake.response_texts()[1].splitlines()
    assert listed[1].startswith("R1 [教学设计]第三单元教学设计（王芳·东部一小 ")
    assert listed[2] == f"  文件：第三单元教学设计.docx（{round(len(DESIGN) / 1024)} KB，已存档）"

    # A lesson video over the limit: a clear refusal, nothing kept.
    video = host.add("video", b"\0" * (MAX_FILE_BYTES + 5 * 1024 * 1024), "秋天的雨课例.mp4")
    assert await bot.post_aibot(file_message(video, caption="资源 秋天的雨课例视频")) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.response_texts()[2] == problem_text(FileProblem.TOO_LARGE)
    assert bot.fake.response_texts()[2].startswith("文件超过 20 MB 上限，没有保存。")

    # A program is refused by name and content, and never stored.
    program = host.add("setup", b"MZ\x90\x00" + b"\0" * 4096, "课件播放器.exe")
    assert await bot.post_aibot(file_message(program)) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.response_texts()[3] == problem_text(FileProblem.EXECUTABLE)

    # A file on a server off WECOM_MEDIA_HOSTS: never requested, and the teacher is told.
    elsewhere = WeComMediaHost(fake.aibot)
    await elsewhere.start(aiohttp_server)
    stray = elsewhere.add("plan", DESIGN, "教学计划.docx")
    assert await bot.post_aibot(file_message(stray, caption="资源 教学计划")) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.response_texts()[4] == problem_text(FileProblem.UNSAFE_URL)
    assert elsewhere.requested == []
    assert stored_files(settings) == [DESIGN]
    assert len(bot.storage.resources.in_alliances([seeded.activity.alliance_id])) == 1


async def test_a_link_shared_to_the_app_is_kept_and_a_file_gets_a_hint(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()

    link = app_link_xml(
        corp_id=DEFAULT_CORP_ID,
        from_user="t1",
        title="大单元教学设计的三个关键",
        description="统编版三年级上册",
        url="https://mp.weixin.qq.com/s/Ab3dE",
        msg_id="4561255354251349001",
        create_time=bot.now_ts(),
    )
    assert await bot.post_app(link) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.app_texts("t1")[0].startswith("已收录资源 R1（教学设计）")
    [resource] = bot.storage.resources.in_alliances([seeded.activity.alliance_id])
    assert (resource.title, resource.url) == (
        "大单元教学设计的三个关键",
        "https://mp.weixin.qq.com/s/Ab3dE",
    )

    file_xml = app_media_xml(
        corp_id=DEFAULT_CORP_ID,
        from_user="t1",
        msgtype="file",
        msg_id="4561255354251349002",
        create_time=bot.now_ts(),
    )
    status, body = await bot.post_app(file_xml)
    assert status == 200
    assert bot.fake.app.read_app_reply(body)["Content"] == FILE_HINT
    assert await bot.deliver() == 0  # answered in the callback itself, nothing queued


async def test_a_review_over_the_smart_bot_and_reading_it_over_the_app(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    """李强 reviews 王芳's lesson in the group (the group sees only the count); 王芳 reads it
    privately through the self-built app."""
    bot = await start_bot()
    clock.set(AFTER_ACTIVITY)
    review = "评课 A1 王芳\n优点：朗读指导细致\n不足：小组讨论偏短\n建议：多给学生展示机会"
    message = bot.aibot_text("t2", f"{BOT_NAME} {review}", chatid=GROUP_HTTP)
    assert await bot.post_aibot(message) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.response_texts() == [
        "已收到李强对 A1（王芳执教）的评课，谢谢！A1 共有 1 条评课。"
    ]
    assert await bot.post_app(bot.app_text("t1", "我的评课")) == (200, "")
    assert await bot.deliver() == 1
    [mine] = bot.fake.app_texts("t1")
    assert "优点：朗读指导细致" in mine and "评课人 李强(东部一小)" in mine
