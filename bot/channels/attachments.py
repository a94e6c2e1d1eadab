"""What senders share about attachments: reading the bytes, size limits, remembered uploads.

An attachment is an extra: every message text already says how to get the same thing (a
download link, the digest's numbers). So a file that is gone from disk or too large for the
channel is logged and skipped, and the text still goes.

Uploads are remembered in memory per message (`MediaCache`): when the upload worked but the
send after it failed, the outbox's retry reuses the media_id (valid three days) instead of
uploading again. After a restart the cache is empty and the file is simply uploaded again,
which WeCom treats as a new, independent temporary file — harmless.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

from bot.core.messages import Attachment, AttachmentKind

log = logging.getLogger(__name__)

MIN_MEDIA_BYTES = 6  # WeCom: every uploaded file must be larger than 5 bytes
FILE_MAX_BYTES = 20 * 1024 * 1024  # media/upload and webhook/upload_media, type file
APP_IMAGE_MAX_BYTES = 10 * 1024 * 1024  # media/upload, type image (doc 90253)
WEBHOOK_IMAGE_MAX_BYTES = 2 * 1024 * 1024  # group robot image message, before base64 (99110)


def read_attachment(attachment: Attachment) -> bytes | None:
    """The file's bytes, or None (logged) when it cannot be sent at all."""
    try:
        data = Path(attachment.path).read_bytes()
    except OSError as exc:
        log.warning(
            "attachment %s skipped: cannot read it (%s)", attachment.name, type(exc).__name__
        )
        return None
    if len(data) < MIN_MEDIA_BYTES or len(data) > FILE_MAX_BYTES:
        log.warning(
            "attachment %s skipped: %d bytes is outside 6 B..20 MB", attachment.name, len(data)
        )
        return None
    return data


def media_kind(attachment: Attachment, size: int, image_max: int) -> AttachmentKind:
    """An image too large for the channel's picture message still goes, as a file."""
    if attachment.kind is AttachmentKind.IMAGE and size <= image_max:
        return AttachmentKind.IMAGE
    return AttachmentKind.FILE


class MediaCache:
    """media_ids of uploads whose message has not been fully delivered yet (bounded)."""

    def __init__(self, max_entries: int = 256) -> None:
        self._ids: OrderedDict[str, str] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: str) -> str | None:
        return self._ids.get(key)

    def put(self, key: str, media_id: str) -> None:
        self._ids[key] = media_id
        self._ids.move_to_end(key)
        while len(self._ids) > self._max_entries:
            self._ids.popitem(last=False)

    def forget(self, key: str) -> None:
        self._ids.pop(key, None)
