"""Attachments through the app and group-robot senders: sent once, even across retries."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.app_sender import AppSender
from bot.channels.base import SendError
from bot.channels.console_sender import ConsoleSender
from bot.channels.webhook import WebhookSender
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.ratelimit import webhook_limiter
from bot.core.clock import FakeClock
from bot.core.messages import Attachment, AttachmentKind, Channel, Outgoing, TargetKind
from storage import Storage
from tests.fakes.wecom_api import (
    DEFAULT_AGENT_ID,
    DEFAULT_APP_SECRET,
    FakeWeComAPI,
    Fault,
    webhook_url,
)

LINK = "https://jy.example.cn/reports/TOKEN/files/a2_20261124-141000.xlsx"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _file(tmp_path: Path, name: str, data: bytes, kind: AttachmentKind) -> Attachment:
    path = tmp_path / name
    path.write_bytes(data)
    return Attachment(kind=kind, path=str(path), name=name)


async def test_app_file_retried_after_a_5xx_is_uploaded_and_sent_once(
    make_client: Callable[..., WeComClient], fake_api: FakeWeComAPI, tmp_path: Path
) -> None:
    sender = AppSender(make_client(max_retries=0), DEFAULT_APP_SECRET, DEFAULT_AGENT_ID)
    workbook = _file(
        tmp_path, "东部联盟-教研档案.xlsx", b"PK\x03\x04 workbook", AttachmentKind.FILE
    )
    message = Outgoing(
        channel=Channel.APP,
        target_kind=TargetKind.USER,
        target="lead1",
        text=f"已导出。下载：{LINK}",
        dedup_key="reply:app:m1:1",
        attachment=workbook,
    )
    # The text and the upload go through; the file message itself meets a 500.
    fake_api.fail_next(Fault.http(500, path="/cgi-bin/message/send", after=1))
    with pytest.raises(SendError) as failed:
        await sender.send(message)
    assert failed.value.retryable

    await sender.send(message)  # the outbox's retry

    sent = fake_api.messages_for("lead1")
    assert [m.msgtype for m in sent] == ["text", "file"]
    assert LINK in (sent[0].content or "")
    [upload] = fake_api.uploads
    assert upload.data == b"PK\x03\x04 workbook" and upload.filename == "东部联盟-教研档案.xlsx"
    assert sent[1].payload["file"] == {"media_id": upload.media_id}


async def test_webhook_picture_and_file_each_go_once_across_a_retry(
    make_client: Callable[..., WeComClient],
    fake_api: FakeWeComAPI,
    base_url: str,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    limiter = webhook_limiter(clock)
    sender = WebhookSender(make_client(max_retries=0), limiter)
    chart = _file(tmp_path, "周报.png", PNG, AttachmentKind.IMAGE)
    url = webhook_url(base_url)
    digest = Outgoing(
        channel=Channel.WEBHOOK,
        target_kind=TargetKind.CHAT,
        target=url,
        text="## 周报",
        markdown=True,
        dedup_key="digest:2:part0",
        attachment=chart,
    )
    fake_api.fail_next(Fault.http(502, path="/cgi-bin/webhook/send", after=1))
    with pytest.raises(SendError):
        await sender.send(digest)
    await sender.send(digest)

    kinds = [(m.msgtype, m.content) for m in fake_api.messages]
    assert kinds == [("markdown", "## 周报"), ("image", None)]
    image = fake_api.messages[1].payload["image"]
    assert base64.b64decode(image["base64"]) == PNG
    assert image["md5"] == hashlib.md5(PNG).hexdigest()

    sheet = _file(tmp_path, "档案.xlsx", b"PK\x03\x04 sheet", AttachmentKind.FILE)
    export = digest.model_copy(update={"dedup_key": "x:1", "text": "档案", "attachment": sheet})
    fake_api.fail_next(Fault.http(500, path="/cgi-bin/webhook/send", after=1))
    with pytest.raises(SendError):
        await sender.send(export)
    await sender.send(export)
    [upload] = fake_api.uploads
    assert upload.data == b"PK\x03\x04 sheet"
    assert fake_api.messages[-1].payload == {
        "msgtype": "file",
        "file": {"media_id": upload.media_id},
    }
    assert [m.msgtype for m in fake_api.messages].count("file") == 1


async def test_a_missing_file_still_delivers_the_text_with_its_link(
    make_client: Callable[..., WeComClient], fake_api: FakeWeComAPI, tmp_path: Path
) -> None:
    sender = AppSender(make_client(), DEFAULT_APP_SECRET, DEFAULT_AGENT_ID)
    gone = Attachment(kind=AttachmentKind.FILE, path=str(tmp_path / "gone.xlsx"), name="x.xlsx")
    message = Outgoing(
        channel=Channel.APP,
        target_kind=TargetKind.USER,
        target="lead1",
        text=f"下载：{LINK}",
        attachment=gone,
    )
    await sender.send(message)
    assert [(m.msgtype, m.content) for m in fake_api.messages] == [("text", f"下载：{LINK}")]
    assert fake_api.uploads == []


def test_the_console_names_the_attachment_under_the_text() -> None:
    lines: list[str] = []
    attachment = Attachment(kind=AttachmentKind.FILE, path="/x.xlsx", name="东部联盟-教研档案.xlsx")
    message = Outgoing(
        channel=Channel.CONSOLE,
        target_kind=TargetKind.USER,
        target="lead1",
        text=f"下载：{LINK}",
        attachment=attachment,
    )
    assert ConsoleSender(lines.append).format(message).splitlines() == [
        f"[私信 → lead1] 教研助手: 下载：{LINK}",
        "    [附件] 东部联盟-教研档案.xlsx（/x.xlsx）",
    ]


def test_outbox_rows_queued_before_attachments_existed_still_load(tmp_path: Path) -> None:
    storage = Storage.open(tmp_path / "bot.db")
    try:
        old_payload = (
            '{"channel":"app","target_kind":"user","target":"lead1","text":"你好",'
            '"markdown":false,"mention":[],"reply_context":{},"dedup_key":"old:1"}'
        )
        storage.db.conn.execute(
            "INSERT INTO outbox (channel, target_kind, target, payload, due_at, attempts, "
            "status, created_at, dedup_key) VALUES ('app', 'user', 'lead1', ?, ?, 0, "
            "'pending', ?, 'old:1')",
            (old_payload, "2026-11-24T06:10:00+00:00", "2026-11-24T06:10:00+00:00"),
        )
        [item] = storage.outbox.next_batch(datetime(2026, 11, 25, tzinfo=UTC), 10)
        assert item.message.text == "你好" and item.message.attachment is None
    finally:
        storage.close()
