"""Delivers outbox messages to a group through its group robot (群机器人) webhook.

`Outgoing.target` is the robot's full webhook URL. Text may @ members through
`mentioned_list` (userids or "@all"); markdown cannot @ anyone, so when a markdown message
has mentions a short text message carrying them follows it. Text is split at 2048 bytes,
markdown at 4096, and each robot sends at most 20 messages a minute: above that `send`
raises `RateLimited` and the outbox tries again when the robot's window opens.

An attachment follows the text (doc 99110): a picture of at most 2 MB goes as msgtype image
(base64 of the bytes plus their md5, no upload needed); anything else — a file, or a larger
picture — is uploaded with webhook/upload_media (type file) and sent as msgtype file. A retry
resumes after what already went out and reuses an upload that worked; a permanent refusal of
the attachment is logged and skipped, since the text (with its link) was delivered.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.channels.attachments import (
    WEBHOOK_IMAGE_MAX_BYTES,
    MediaCache,
    media_kind,
    read_attachment,
)
from bot.channels.base import RateLimited, SendError
from bot.channels.wecom.chunks import ChunkProgress, message_chunks, progress_key
from bot.channels.wecom.client import WeComClient, fingerprint
from bot.channels.wecom.errors import WeComError
from bot.channels.wecom.ratelimit import SlidingWindowLimiter
from bot.core.messages import Attachment, AttachmentKind, Channel, Outgoing, TargetKind
from bot.text.split import MARKDOWN_MAX_BYTES, TEXT_MAX_BYTES

log = logging.getLogger(__name__)

WEBHOOK_SEND_PATH = "/cgi-bin/webhook/send"
MENTION_NOTE = "↑ 请查看以上消息"


def webhook_key(url: str, base_url: str) -> str | None:
    """The robot key if `url` is a webhook send URL under `base_url`, else None."""
    try:
        parts = urlsplit(url)
        base = urlsplit(base_url.rstrip("/"))
    except ValueError:
        return None
    if parts.scheme.lower() != base.scheme.lower() or parts.netloc.lower() != base.netloc.lower():
        return None
    if parts.path != base.path + WEBHOOK_SEND_PATH or parts.fragment:
        return None
    keys = parse_qs(parts.query).get("key", [])
    if len(keys) != 1 or not keys[0].strip():
        return None
    return keys[0]


class WebhookSender:
    """The `Sender` for `Channel.WEBHOOK`; `limiter` is shared by all robots (keyed per robot)."""

    channel = Channel.WEBHOOK

    def __init__(self, client: WeComClient, limiter: SlidingWindowLimiter) -> None:
        self._client = client
        self._limiter = limiter
        self._progress = ChunkProgress()
        self._media = MediaCache()

    async def send(self, message: Outgoing) -> None:
        if message.channel is not Channel.WEBHOOK:
            raise SendError(
                f"WebhookSender cannot send {message.channel} messages", retryable=False
            )
        if message.target_kind is not TargetKind.CHAT:
            raise SendError("群机器人只能发到群里，不能私聊成员", retryable=False)
        key = webhook_key(message.target, self._client.base_url)
        if key is None:
            raise SendError(
                "群机器人 Webhook 地址无效：应形如 "
                f"{self._client.base_url}{WEBHOOK_SEND_PATH}?key=…",
                retryable=False,
            )
        payloads = self._payloads(message)
        if not payloads and message.attachment is None:
            raise SendError("消息内容为空，未发送", retryable=False)
        robot = fingerprint(key)
        progress = progress_key(message)
        start = self._progress.delivered(progress)
        for index in range(start, len(payloads)):
            try:
                self._limiter.acquire(robot)
                await self._client.webhook_send(message.target, payloads[index])
            except RateLimited:
                self._progress.record(progress, index)
                raise
            except WeComError as exc:
                self._progress.record(progress, index)
                raise SendError(exc.describe(), retryable=exc.retryable) from exc
        if message.attachment is not None:
            try:
                await self._send_attachment(message, message.attachment, robot, progress)
            except RateLimited:
                self._progress.record(progress, len(payloads))
                raise
            except WeComError as exc:
                if exc.retryable or not payloads:
                    self._progress.record(progress, len(payloads))
                    raise SendError(exc.describe(), retryable=exc.retryable) from exc
                log.warning("webhook attachment skipped, the text went: %s", exc.describe())
        self._progress.finish(progress)
        self._media.forget(progress)
        log.debug("webhook message to robot %s delivered in %d part(s)", robot, len(payloads))

    async def _send_attachment(
        self, message: Outgoing, attachment: Attachment, robot: str, progress: str
    ) -> None:
        data = read_attachment(attachment)
        if data is None:
            return
        if media_kind(attachment, len(data), WEBHOOK_IMAGE_MAX_BYTES) is AttachmentKind.IMAGE:
            payload: dict[str, Any] = {
                "msgtype": "image",
                "image": {
                    "base64": base64.b64encode(data).decode("ascii"),
                    "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                },
            }
        else:
            media_id = self._media.get(progress)
            if media_id is None:
                media_id = await self._client.webhook_upload_file(
                    message.target, attachment.name, data
                )
                self._media.put(progress, media_id)
            payload = {"msgtype": "file", "file": {"media_id": media_id}}
        self._limiter.acquire(robot)
        await self._client.webhook_send(message.target, payload)

    def _payloads(self, message: Outgoing) -> list[dict[str, Any]]:
        mentions = list(dict.fromkeys(m for m in message.mention if m))
        if message.markdown:
            chunks = message_chunks(message.text, MARKDOWN_MAX_BYTES)
            payloads: list[dict[str, Any]] = [
                {"msgtype": "markdown", "markdown": {"content": chunk}} for chunk in chunks
            ]
            if chunks and mentions:
                payloads.append(_text_payload(MENTION_NOTE, mentions))
            return payloads
        chunks = message_chunks(message.text, TEXT_MAX_BYTES)
        # Only the first part @-mentions, so people are notified once.
        return [
            _text_payload(chunk, mentions if index == 0 else [])
            for index, chunk in enumerate(chunks)
        ]


def _text_payload(content: str, mentions: list[str]) -> dict[str, Any]:
    text: dict[str, Any] = {"content": content}
    if mentions:
        text["mentioned_list"] = mentions
    return {"msgtype": "text", "text": text}
