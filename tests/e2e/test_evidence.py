"""Photos and files as evidence of records, over the smart bot's callback and long connection:
real AES on the media, the same checks as for 资源, files kept under the data directory."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import uuid
from datetime import timedelta
from typing import Any

import openpyxl
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.core.clock import FakeClock
from bot.core.settings import Settings
from bot.pipeline.files import files_dir_for
from reports.links import sign
from storage.models import EvidenceKind, Role
from tests.fakes.wecom_api import DEFAULT_WEBHOOK_KEY
from tests.fakes.wecom_crypto import aibot_media_message
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
)

PHOTO = b"\xff\xd8\xff\xe0" + "手写听课笔记".encode() * 300
SECRET = "evidence-dashboard-secret-0123456789"
PUBLIC = "https://jy.example.cn"
REVIEW = "评课 A1 王芳\n优点：朗读指导细致\n不足：小组讨论偏短\n建议：多给学生展示机会"


def ws_encrypt(plain: bytes, key_b64: str) -> bytes:
    """A long-connection download: AES-256-CBC with the message's own key, PKCS#7 to 32."""
    key = base64.b64decode(key_b64)
    pad = 32 - len(plain) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()


async def push_photo(bot: Bot, userid: str, caption: str | None, name: str) -> None:
    """A picture over the long connection: alone, or with a caption (图文混排)."""
    key = base64.b64encode(os.urandom(32)).decode()
    url = bot.fake.add_media(name, ws_encrypt(PHOTO, key))
    image = {"url": url, "aeskey": key}
    body: dict[str, Any] = {
        "msgid": uuid.uuid4().hex,
        "aibotid": bot.fake.ws.bot_id,
        "chattype": "group",
        "chatid": GROUP_WS,
        "from": {"userid": userid},
    }
    if caption is None:
        body.update(msgtype="image", image=image)
    else:
        items = [{"msgtype": "text", "text": {"content": caption}}]
        body.update(
            msgtype="mixed", mixed={"msg_item": [*items, {"msgtype": "image", "image": image}]}
        )
    frame = {"cmd": "aibot_msg_callback", "headers": {"req_id": uuid.uuid4().hex}, "body": body}
    await bot.fake.ws.push_raw(json.dumps(frame, ensure_ascii=False))


async def ws_reply(bot: Bot, count: int) -> str:
    await bot.sink.wait_submitted(count)
    await bot.deliver()
    replies = await bot.fake.ws.wait_sent("aibot_respond_msg", count)
    return str(replies[count - 1].body["stream"]["content"])


def kept_files(settings: Settings) -> list[bytes]:
    root = files_dir_for(settings.db)
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_photo_with_a_review_over_the_callback_is_attached_and_kept(
    start_bot: StartBot, seeded: Seeded, settings: Settings, clock: FakeClock
) -> None:
    bot = await start_bot()
    clock.set(AFTER_ACTIVITY)
    url = bot.fake.add_media("notes", bot.fake.aibot.encrypt_media(PHOTO))
    message = aibot_media_message(
        "image",
        url,
        userid="t2",
        msgid=bot.new_msgid(),
        response_url=bot.fake.response_url("RC-photo"),
        aibotid=AIBOT_ID,
        chatid=GROUP_HTTP,
        caption=f"{BOT_NAME} {REVIEW}",
    )
    assert await bot.post_aibot(message) == (200, "")
    assert await bot.deliver() == 1
    [text] = bot.fake.response_texts()
    assert "已收到李强对 A1（王芳执教）的评课" in text and "已附上这张照片。" in text
    [review] = bot.storage.reviews.of_activity(seeded.activity.id)
    [attached] = bot.storage.evidence.of_record(EvidenceKind.REVIEW, review.id)
    assert attached.file.size == len(PHOTO)
    assert kept_files(settings) == [PHOTO]  # decrypted, under the data directory


async def test_an_executable_with_a_review_is_refused_but_the_review_is_kept(
    start_bot: StartBot, seeded: Seeded, settings: Settings, clock: FakeClock
) -> None:
    bot = await start_bot()
    clock.set(AFTER_ACTIVITY)
    url = bot.fake.add_media("setup", bot.fake.aibot.encrypt_media(b"MZ\x90\x00" * 64))
    message = aibot_media_message(
        "file",
        url,
        userid="t2",
        msgid=bot.new_msgid(),
        response_url=bot.fake.response_url("RC-exe"),
        aibotid=AIBOT_ID,
        filename="听课笔记.exe",
        caption=REVIEW,
    )
    assert await bot.post_aibot(message) == (200, "")
    assert await bot.deliver() == 1
    [text] = bot.fake.response_texts()
    assert "已收到李强对 A1" in text and "附件没有保存：出于安全考虑，不接收可执行文件" in text
    [review] = bot.storage.reviews.of_activity(seeded.activity.id)
    assert bot.storage.evidence.of_record(EvidenceKind.REVIEW, review.id) == []
    assert kept_files(settings) == []


async def test_photo_only_reflection_waits_for_the_text_then_a_bare_photo_follows(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    bot = await start_bot()
    clock.set(AFTER_ACTIVITY)
    await push_photo(bot, "t1", f"{BOT_NAME} 反思 A1", "board")
    first = await ws_reply(bot, 1)
    assert "这篇反思只有 0 字，至少需要 30 字" in first and "附件已先收好" in first
    assert bot.storage.submissions.reflection(seeded.activity.id, seeded.teacher.id) is None

    await bot.fake.ws.push_message(
        userid="t1", text=f"{BOT_NAME} 反思 A1 {REFLECTION}", chatid=GROUP_WS
    )
    second = await ws_reply(bot, 2)
    assert second.startswith("已收到 王芳 对 A1 的反思") and "之前收好的 1 个附件也已附上" in second
    reflection = bot.storage.submissions.reflection(seeded.activity.id, seeded.teacher.id)
    assert reflection is not None
    assert len(bot.storage.evidence.of_record(EvidenceKind.REFLECTION, reflection.id)) == 1

    clock.advance(timedelta(minutes=9))
    await push_photo(bot, "t1", None, "class")
    third = await ws_reply(bot, 3)
    assert third == "已把这张照片附在你 11月24日 A1 的反思上。"
    assert len(bot.storage.evidence.of_record(EvidenceKind.REFLECTION, reflection.id)) == 2

    clock.advance(timedelta(minutes=11))  # too long after the record: a bare photo is not filed
    await push_photo(bot, "t1", None, "later")
    assert "只能看懂文字消息" in await ws_reply(bot, 4)
    assert "later" not in bot.fake.media_requests


async def test_someone_outside_the_activity_cannot_attach_to_it(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    bot = await start_bot()
    clock.set(AFTER_ACTIVITY)
    roster = bot.storage.roster
    west = roster.ensure_alliance("西部联盟", at=clock.now())
    roster.add_member("赵六", at=clock.now(), alliance_id=west.id, userid="w1")
    await push_photo(bot, "w1", f"{BOT_NAME} 反思 A1", "outsider")
    assert "东部联盟" in await ws_reply(bot, 1)
    assert bot.storage.evidence.for_activities([seeded.activity.id]) == []
    assert (
        bot.storage.evidence.latest_record(
            roster.member_by_userid("w1").id,  # type: ignore[union-attr]
            clock.now() - timedelta(days=1),
        )
        is None
    )


async def test_attachments_reach_the_export_and_the_dashboard_behind_signed_links(
    start_bot: StartBot, seeded: Seeded, settings: Settings, fake: FakeWeCom, clock: FakeClock
) -> None:
    with_links = make_settings(
        settings.db, fake, JIAOYAN_DASHBOARD_SECRET=SECRET, JIAOYAN_PUBLIC_URL=PUBLIC
    )
    bot = await start_bot(bot_settings=with_links)
    clock.set(AFTER_ACTIVITY)
    await push_photo(bot, "t1", f"{BOT_NAME} 反思 A1 {REFLECTION}", "board")
    assert "已附上这张照片。" in await ws_reply(bot, 1)

    assert await bot.post_app(bot.app_text("lead1", "导出 本周")) == (200, "")
    assert await bot.deliver() == 1
    [_, file] = [m for m in bot.fake.api.messages if m.target == "lead1"]
    upload = bot.fake.api.upload_of(file.payload["file"]["media_id"])
    assert upload is not None
    sheet = openpyxl.load_workbook(io.BytesIO(upload.data))["附件"]
    [header, row] = [[cell.value for cell in r] for r in sheet.iter_rows()]
    assert header[:3] == ["编号", "记录", "提交人"] and row[:3] == ["A1", "反思", "王芳"]
    link = str(row[-1])
    assert link.startswith(f"{PUBLIC}/reports/") and link.endswith("/evidence/1")

    # The same link, opened: the photo itself, shown (not run) by the browser.
    path = link.removeprefix(PUBLIC)
    async with bot.client.get(path) as response:
        assert response.status == 200 and await response.read() == PHOTO
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    async with bot.client.get(path.replace("evidence/1", "reflections")) as response:
        assert 'href="evidence/1"' in await response.text()
    # Another alliance's link does not open it; a changed token opens nothing.
    roster = bot.storage.roster
    west = roster.ensure_alliance("西部联盟", at=clock.now())
    roster.add_member("钱七", at=clock.now(), role=Role.LEADER, alliance_id=west.id, userid="wl")
    other = sign(SECRET, west.id, "wl", clock.now() + timedelta(hours=1))
    async with bot.client.get(f"/reports/{other}/evidence/1") as response:
        assert response.status == 403 and "不属于本链接对应的联盟" in await response.text()
    async with bot.client.get(path.replace("/reports/", "/reports/x")) as response:
        assert response.status == 403


async def test_a_design_file_for_a_study_round_is_taken_before_the_lesson(
    start_bot: StartBot, seeded: Seeded, settings: Settings
) -> None:
    bot = await start_bot()
    start = "发起活动 明天 14:30 说课《分数的初步认识》 课例:分数的初步认识 执教:王芳"
    assert await bot.post_app(bot.app_text("lead1", start)) == (200, "")
    assert await bot.deliver() >= 1
    assert any("第1轮，执教 王芳" in t for t in bot.fake.app_texts("lead1"))
    design = "教学目标：认识几分之一。".encode() * 40
    url = bot.fake.add_media("design", bot.fake.aibot.encrypt_media(design))
    message = aibot_media_message(
        "file",
        url,
        userid="t1",
        msgid=bot.new_msgid(),
        response_url=bot.fake.response_url("RC-design"),
        aibotid=AIBOT_ID,
        filename="分数的初步认识教学设计.docx",
        caption="说课 A2",
    )
    assert await bot.post_aibot(message) == (200, "")
    assert await bot.deliver() == 1
    assert bot.fake.response_texts() == [
        "已收到王芳对 A2 的说课稿（文件「分数的初步认识教学设计.docx」，第 1 版）。"
    ]
    assert kept_files(settings) == [design]


async def test_the_export_and_the_dashboard_show_a_study_round_by_round(
    start_bot: StartBot, seeded: Seeded, settings: Settings, fake: FakeWeCom, clock: FakeClock
) -> None:
    with_links = make_settings(
        settings.db, fake, JIAOYAN_DASHBOARD_SECRET=SECRET, JIAOYAN_PUBLIC_URL=PUBLIC
    )
    bot = await start_bot(bot_settings=with_links)
    study = "课例:分数的初步认识"
    for text in (
        f"发起活动 明天 14:30 说课《分数的初步认识》 {study} 执教:王芳",
        f"发起活动 后天 14:30 课例研讨《分数的初步认识》 {study} 执教:李强",
    ):
        assert await bot.post_app(bot.app_text("lead1", text)) == (200, "")
    for who, text in (
        ("t1", "说课 A2 目标：认识几分之一。\n导入：分蛋糕。"),
        ("t2", "说课 A3 目标：认识几分之一。\n导入：分月饼，学生动手。"),
    ):
        assert await bot.post_app(bot.app_text(who, text)) == (200, "")
    await bot.deliver()

    token = sign(SECRET, seeded.activity.alliance_id, "lead1", clock.now() + timedelta(hours=1))
    async with bot.client.get(f"/reports/{token}/studies") as response:
        page = await response.text()
    assert response.status == 200 and "分数的初步认识" in page
    assert page.index("第1轮") < page.index("第2轮") and "王芳" in page and "李强" in page
    assert "- 导入：分蛋糕。" in page and "+ 导入：分月饼，学生动手。" in page

    async with bot.client.get(f"/reports/{token}/export.xlsx?p=本学期") as response:
        book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    rows = [[c.value for c in r] for r in book["课例"].iter_rows()]
    assert [r[:3] for r in rows[1:]] == [
        ["分数的初步认识", 1, "A2"],
        ["分数的初步认识", 2, "A3"],
    ]
    assert [r[4] for r in rows[1:]] == ["王芳", "李强"] and [r[-1] for r in rows[1:]] == [1, 1]


async def test_a_notice_pdf_and_a_school_answer_carry_their_files(
    start_bot: StartBot, seeded: Seeded, clock: FakeClock
) -> None:
    bot = await start_bot()
    pdf = b"%PDF-1.7\n" + "期末质量分析会安排".encode() * 50

    async def send_file(userid: str, name: str, caption: str | None) -> str:
        url = bot.fake.add_media(name, bot.fake.aibot.encrypt_media(pdf + name.encode()))
        message = aibot_media_message(
            "file",
            url,
            userid=userid,
            msgid=bot.new_msgid(),
            response_url=bot.fake.response_url(f"RC-{name}"),
            aibotid=AIBOT_ID,
            filename=f"{name}.pdf",
            caption=caption,
        )
        assert await bot.post_aibot(message) == (200, "")
        await bot.deliver()
        return bot.fake.response_texts()[-1]

    notice = await send_file("staff1", "安排", "通知 东部联盟 期末质量分析会安排见附件")
    assert "已发布通知 N1" in notice and "已附上文件「安排.pdf」。" in notice
    [attached] = bot.storage.evidence.of_record(EvidenceKind.NOTICE, 1)
    assert attached.file.name == "安排.pdf"
    # The notice's groups get its file after its text, each the way its channel sends files.
    hook = bot.fake.api.messages_for(DEFAULT_WEBHOOK_KEY)
    assert [m.msgtype for m in hook] == ["text", "text", "file"]
    assert hook[1].payload["text"]["content"] == "【通知 N1 附件】安排.pdf"
    hook_upload = bot.fake.api.upload_of(hook[2].payload["file"]["media_id"])
    assert hook_upload is not None and hook_upload.data == pdf + "安排".encode()
    await asyncio.wait_for(bot.fake.ws.wait_sent("aibot_upload_media_finish"), timeout=10)
    [ws_upload] = bot.fake.ws.uploads
    assert (ws_upload.filename, ws_upload.data) == ("安排.pdf", pdf + "安排".encode())
    [*_, ws_file] = bot.fake.ws.sent("aibot_send_msg")
    assert ws_file.body["file"] == {"media_id": ws_upload.media_id}

    clock.advance(timedelta(minutes=3))
    follow = await send_file("staff1", "座次表", None)
    assert follow == "已把文件「座次表.pdf」附在你的通知 N1 上，已发到 2 个群。"
    # It follows the notice to its groups at once (the first file is not sent again).
    hook = bot.fake.api.messages_for(DEFAULT_WEBHOOK_KEY)
    assert [m.payload["text"]["content"] for m in hook if m.msgtype == "text"][-1] == (
        "【通知 N1 附件】座次表.pdf"
    )
    files = [m for m in hook[3:] if m.msgtype == "file"]
    uploads = [bot.fake.api.upload_of(m.payload["file"]["media_id"]) for m in files]
    assert [u.data for u in uploads if u is not None] == [pdf + "座次表".encode()]
    assert len(bot.storage.evidence.of_record(EvidenceKind.NOTICE, 1)) == 2
    assert bot.storage.resources.in_alliances([seeded.activity.alliance_id]) == []

    assert await bot.post_app(bot.app_text("staff1", "征集 周五 东部联盟 各校质量分析报告")) == (
        200,
        "",
    )
    await bot.deliver()
    answer = await send_file("lead1", "一小报告", "反馈 F1 东部一小质量分析报告见附件")
    assert "已收到东部一小对征集 F1 的反馈" in answer and "已附上文件「一小报告.pdf」。" in answer

    # The alliance's archive lists the notice's and the answer's files beside the others.
    assert await bot.post_app(bot.app_text("lead1", "导出 本周")) == (200, "")
    await bot.deliver()
    [*_, file] = [m for m in bot.fake.api.messages if m.target == "lead1"]
    upload = bot.fake.api.upload_of(file.payload["file"]["media_id"])
    assert upload is not None
    sheet = openpyxl.load_workbook(io.BytesIO(upload.data))["附件"]
    listed = [[cell.value for cell in row][:5] for row in sheet.iter_rows(min_row=2)]
    assert listed == [
        ["N1", "通知", "周敏", None, "安排.pdf"],
        ["N1", "通知", "周敏", None, "座次表.pdf"],
        ["F1", "反馈", "刘洋", "东部一小", "一小报告.pdf"],
    ]
