"""Files and pictures with messages: the 导出 workbook to a leader, the digest chart to groups."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re

import openpyxl

from bot.core.clock import FakeClock
from bot.core.settings import Settings
from tests.fakes.wecom_api import DEFAULT_WEBHOOK_KEY
from tests.fakes.world import FakeWeCom

from .conftest import AFTER_ACTIVITY, BOT_NAME, GROUP_WS, Seeded, StartBot, make_settings

SECRET = "attachments-dashboard-secret-0123456789"
PUBLIC = "https://jy.example.cn"
LINK = re.compile(r"https://jy\.example\.cn/reports/\S+/files/a\d+_\S+\.xlsx")


async def test_export_over_the_app_sends_the_workbook_privately_with_its_link(
    start_bot: StartBot, seeded: Seeded, settings: Settings, fake: FakeWeCom
) -> None:
    with_links = make_settings(
        settings.db, fake, JIAOYAN_DASHBOARD_SECRET=SECRET, JIAOYAN_PUBLIC_URL=PUBLIC
    )
    bot = await start_bot(bot_settings=with_links)
    assert await bot.post_app(bot.app_text("lead1", "导出 本周")) == (200, "")
    assert await bot.deliver() == 1

    to_leader = [m for m in bot.fake.api.messages if m.target == "lead1"]
    assert [m.msgtype for m in to_leader] == ["text", "file"]
    assert LINK.search(to_leader[0].content or "") is not None
    upload = bot.fake.api.upload_of(to_leader[1].payload["file"]["media_id"])
    assert upload is not None and upload.kind == "file"
    assert upload.filename.endswith(".xlsx") and "东部联盟-教研档案" in upload.filename
    book = openpyxl.load_workbook(io.BytesIO(upload.data))
    assert book.sheetnames[0] == "活动" and book["活动"]["B2"].value is not None
    assert await bot.deliver() == 0  # neither the text nor the file goes twice
    assert len(bot.fake.api.uploads) == 1


async def test_weekly_digest_brings_its_chart_to_webhook_and_long_connection_groups(
    start_bot: StartBot, seeded: Seeded, settings: Settings, clock: FakeClock
) -> None:
    bot = await start_bot()
    clock.set(AFTER_ACTIVITY)  # A1 has been held: the digest has rates to draw
    await bot.fake.ws.push_message(userid="lead1", text=f"{BOT_NAME} 周报 现在", chatid=GROUP_WS)
    await bot.sink.wait_submitted(1)
    await bot.deliver()
    await bot.app.scheduler.run_due()  # the alarm may have run it already: done once either way
    await bot.deliver()

    hook = bot.fake.api.messages_for(DEFAULT_WEBHOOK_KEY)
    kinds = [m.msgtype for m in hook]
    assert kinds[0] == "markdown" and kinds[1] == "image" and kinds.count("image") == 1
    image = hook[1].payload["image"]
    png = base64.b64decode(image["base64"])
    assert png.startswith(b"\x89PNG")
    assert hashlib.md5(png).hexdigest() == image["md5"]
    assert bot.storage.data_dir is not None
    charts = list((bot.storage.data_dir / "charts").glob("*.png"))
    assert [c.read_bytes() for c in charts] == [png]

    # The long-connection group gets the same picture, uploaded over the socket.
    await asyncio.wait_for(bot.fake.ws.wait_sent("aibot_upload_media_finish"), timeout=10)
    [upload] = bot.fake.ws.uploads
    assert upload.kind == "image" and upload.data == png
    [picture] = [f for f in bot.fake.ws.sent("aibot_send_msg") if f.body.get("msgtype") == "image"]
    assert picture.body == {
        "chatid": GROUP_WS,
        "msgtype": "image",
        "image": {"media_id": upload.media_id},
    }


async def test_export_over_the_smart_bot_http_callback_still_brings_the_link(
    start_bot: StartBot, seeded: Seeded, settings: Settings, fake: FakeWeCom
) -> None:
    with_links = make_settings(
        settings.db, fake, JIAOYAN_DASHBOARD_SECRET=SECRET, JIAOYAN_PUBLIC_URL=PUBLIC
    )
    bot = await start_bot(bot_settings=with_links)
    status, _ = await bot.post_aibot(bot.aibot_text("lead1", "导出 本周"))
    assert status == 200
    assert await bot.deliver() == 1

    [text] = bot.fake.response_texts()
    assert "已导出「东部联盟」" in text and LINK.search(text) is not None
    assert bot.fake.api.uploads == [] and bot.fake.ws.uploads == []
