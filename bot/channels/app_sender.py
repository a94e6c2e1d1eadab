"""Delivers outbox messages through the self-built app (自建应用): members and app group chats.

USER targets go through message/send (a `|`-separated target names several members),
CHAT targets through appchat/send (only chats the app created). Long texts are split at
2048 bytes, which WeCom documents for app text and markdown content alike.

An attachment follows the text: uploaded with media/upload (type file or image) and sent as
msgtype file/image the same way as the text. A retry resumes after what already went out —
the text is not repeated, and an upload that worked is not repeated either. When WeCom refuses
the attachment for good (not retryable), it is logged and skipped: the text, which carries the
link, was delivered.
"""

from __future__ import annotations

import logging

from bot.channels.attachments import (
    APP_IMAGE_MAX_BYTES,
    MediaCache,
    media_kind,
    read_attachment,
)
from bot.channels.base import RateLimited, SendError
from bot.channels.wecom.chunks import ChunkProgress, message_chunks, progress_key
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.errors import WeComError
from bot.channels.wecom.ratelimit import SlidingWindowLimiter
from bot.core.messages import Attachment, Channel, Outgoing, TargetKind
from bot.text.split import TEXT_MAX_BYTES

log = logging.getLogger(__name__)

APP_MAX_BYTES = TEXT_MAX_BYTES


class AppSender:
    """The `Sender` for `Channel.APP`."""

    channel = Channel.APP

    def __init__(
        self,
        client: WeComClient,
        secret: str,
        agent_id: int | str,
        *,
        member_limiter: SlidingWindowLimiter | None = None,
    ) -> None:
        self._client = client
        self._secret = secret
        self._agent_id = agent_id
        self._member_limiter = member_limiter
        self._progress = ChunkProgress()
        self._media = MediaCache()

    async def send(self, message: Outgoing) -> None:
        if message.channel is not Channel.APP:
            raise SendError(f"AppSender cannot send {message.channel} messages", retryable=False)
        chunks = message_chunks(message.text, APP_MAX_BYTES)
        if not chunks and message.attachment is None:
            raise SendError("消息内容为空，未发送", retryable=False)
        key = progress_key(message)
        start = self._progress.delivered(key)
        for index in range(start, len(chunks)):
            try:
                await self._send_chunk(message, chunks[index])
            except RateLimited:
                self._progress.record(key, index)
                raise
            except WeComError as exc:
                self._progress.record(key, index)
                raise SendError(exc.describe(), retryable=exc.retryable) from exc
        if message.attachment is not None:
            try:
                await self._send_attachment(message, message.attachment, key)
            except RateLimited:
                self._progress.record(key, len(chunks))
                raise
            except WeComError as exc:
                if exc.retryable or not chunks:
                    self._progress.record(key, len(chunks))
                    raise SendError(exc.describe(), retryable=exc.retryable) from exc
                log.warning("app attachment skipped, the text went: %s", exc.describe())
        self._progress.finish(key)
        self._media.forget(key)
        log.debug("app message delivered in %d part(s)", len(chunks) - start)

    async def _send_attachment(self, message: Outgoing, attachment: Attachment, key: str) -> None:
        data = read_attachment(attachment)
        if data is None:
            return
        kind = media_kind(attachment, len(data), APP_IMAGE_MAX_BYTES).value
        members = self._members(message) if message.target_kind is TargetKind.USER else []
        media_id = self._media.get(key)
        if media_id is None:
            media_id = await self._client.upload_media(self._secret, kind, attachment.name, data)
            self._media.put(key, media_id)
        if message.target_kind is TargetKind.CHAT:
            await self._client.send_media(self._secret, kind, media_id, chatid=message.target)
            return
        self._acquire(members)
        await self._client.send_media(
            self._secret, kind, media_id, agent_id=self._agent_id, touser=members
        )

    def _members(self, message: Outgoing) -> list[str]:
        members = [part for part in message.target.split("|") if part]
        if not members:
            raise SendError("没有指定接收消息的成员", retryable=False)
        return members

    def _acquire(self, members: list[str]) -> None:
        """Take a slot for every member, or raise `RateLimited` for the outbox to try later."""
        if self._member_limiter is not None:
            self._member_limiter.acquire(*members)

    async def _send_chunk(self, message: Outgoing, content: str) -> None:
        if message.target_kind is TargetKind.CHAT:
            await self._client.appchat_send(
                self._secret, message.target, content, markdown=message.markdown
            )
            return
        members = self._members(message)
        self._acquire(members)
        await self._client.send_message(
            self._secret, self._agent_id, members, content, markdown=message.markdown
        )
