"""成长档案 end to end: a teacher's own workbook over the self-built app (text, then the file)
and over the smart bot's HTTP callback (which cannot carry files: the links go instead)."""

from __future__ import annotations

import io
import re

import openpyxl

from bot.core.settings import Settings
from tests.fakes.world import FakeWeCom

from .conftest import Seeded, StartBot, make_settings

SECRET = "archive-dashboard-secret-0123456789"
PUBLIC = "https://jy.example.cn"
LINKS = re.compile(r"https://jy\.example\.cn/reports/\S+/archive/m\d+-\d+_\S+\.(xlsx|html)")


async def test_my_archive_over_the_app_brings_the_workbook_privately(
    start_bot: StartBot, seeded: Seeded, settings: Settings, fake: FakeWeCom
) -> None:
    with_links = make_settings(
        settings.db, fake, JIAOYAN_DASHBOARD_SECRET=SECRET, JIAOYAN_PUBLIC_URL=PUBLIC
    )
    bot = await start_bot(bot_settings=with_links)
    assert await bot.post_app(bot.app_text("t1", "我的档案")) == (200, "")
    assert await bot.deliver() == 1

    to_teacher = [m for m in bot.fake.api.messages if m.target == "t1"]
    assert [m.msgtype for m in to_teacher] == ["text", "file"]
    text = to_teacher[0].content or ""
    assert "的成长档案" in text
    assert [m.group(1) for m in LINKS.finditer(text)] == ["xlsx", "html"]
    upload = bot.fake.api.upload_of(to_teacher[1].payload["file"]["media_id"])
    assert upload is not None and "-成长档案-" in upload.filename
    book = openpyxl.load_workbook(io.BytesIO(upload.data))
    assert book.sheetnames == ["概览", "活动", "反思", "评课", "听课", "资源"]
    assert await bot.deliver() == 0  # neither the text nor the file goes twice


async def test_another_teachers_archive_is_refused_over_the_smart_bot(
    start_bot: StartBot, seeded: Seeded
) -> None:
    bot = await start_bot()
    status, _ = await bot.post_aibot(bot.aibot_text("t1", "档案 李强"))
    assert status == 200
    await bot.deliver()
    [text] = bot.fake.response_texts()
    assert "权限" in text
    assert bot.fake.api.uploads == [] and bot.fake.ws.uploads == []
