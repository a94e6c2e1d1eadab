"""Wire shapes of the WeCom smart-bot long connection (智能机器人长连接, doc path 101463).

Every assumption about the protocol lives in this module, so a correction after trying the
real server touches one file. Checked against the official SDKs (`@wecom/aibot-node-sdk`,
`wecom-aibot-python-sdk`):

- envelope `{"cmd", "headers": {"req_id"}, "body"}` in both directions;
- answers to our requests carry no cmd: `{"headers": {"req_id"}, "errcode", "errmsg"}`;
- subscribe body `{"bot_id", "secret"}`; heartbeat is `{"cmd": "ping", "headers": {"req_id"}}`;
- a reply reuses the req_id of the callback it answers (`aibot_respond_msg`); passive replies
  to user messages accept `stream` (not `markdown`), content up to 20480 bytes;
- a proactive push is `aibot_send_msg` with body `{"chatid", "msgtype": "markdown", ...}`;
  for a single chat the chatid is the user's userid;
- "another connection replaced this one" arrives as `aibot_event_callback` whose
  `body.event.eventtype` is `disconnected_event`.
- files and pictures are pushed as `aibot_send_msg` with `msgtype` file/image and
  `{"media_id"}`, after a three-step upload over the same socket (doc 101463, 上传临时素材):
  `aibot_upload_media_init` {type, filename, total_size, total_chunks, md5} answers
  `body.upload_id`; `aibot_upload_media_chunk` {upload_id, chunk_index (from 0), base64_data}
  per piece of at most 512 KB, at most 100 pieces; `aibot_upload_media_finish` {upload_id}
  answers `body.media_id`.

tests/channels_ws/test_official_sdk.py runs the official Python client (1.0.2) against the
fake server our client is tested with. Where the official clients differed from ours, ours
now follows them:

- req_id is `{cmd}_{milliseconds}_{8 hex digits}` (the SDKs' `generateReqId`); ours was
  `{cmd}_{uuid hex}`. The SDKs tell a subscribe or ping answer from others by that prefix.
- the finish answer of an upload also carries `body.type` (the Node SDK reads it); the fake
  now answers it, and we read only `media_id`.

The Python SDK has no upload: the upload frames were compared with `uploadMedia` of the Node
SDK (1.0.7), which matches ours field for field. It sends up to four chunks at once and
retries a failed chunk twice; we send them one after another (WeCom orders them by
chunk_index, and the fake now accepts them in any order).

Not in any text we could read, taken from field reports instead: errcode 853000 for a bad
bot_id/secret, 846605 for an invalid/expired req_id, 846608 for an expired stream, and the
4096-byte limit for pushed markdown (the webhook robot's documented limit).
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Commands, developer -> WeCom.
CMD_SUBSCRIBE = "aibot_subscribe"
CMD_PING = "ping"
CMD_RESPOND = "aibot_respond_msg"
CMD_SEND = "aibot_send_msg"
CMD_UPLOAD_INIT = "aibot_upload_media_init"
CMD_UPLOAD_CHUNK = "aibot_upload_media_chunk"
CMD_UPLOAD_FINISH = "aibot_upload_media_finish"
# Commands, WeCom -> developer.
CMD_MSG_CALLBACK = "aibot_msg_callback"
CMD_EVENT_CALLBACK = "aibot_event_callback"

EVENT_DISCONNECTED = "disconnected_event"
EVENT_ENTER_CHAT = "enter_chat"

ERRCODE_OK = 0
ERRCODE_BAD_CREDENTIALS = 853000
ERRCODE_INVALID_REQ_ID = 846605
ERRCODE_STREAM_EXPIRED = 846608
# A reply that failed with one of these can still reach the user as a proactive push.
REPLY_GONE_ERRCODES = frozenset({ERRCODE_INVALID_REQ_ID, ERRCODE_STREAM_EXPIRED})
# System busy and frequency limits: trying again later can help. Anything else will not.
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45033})

REPLY_MAX_BYTES = 20480
PUSH_MAX_BYTES = 4096
UPLOAD_CHUNK_BYTES = 512 * 1024
UPLOAD_MAX_CHUNKS = 100


def is_retryable_errcode(errcode: int) -> bool:
    return errcode in RETRYABLE_ERRCODES


def new_req_id(prefix: str) -> str:
    """A request id shaped like the official SDKs': `{cmd}_{milliseconds}_{8 hex}`. It only
    has to be unique among the requests awaiting an answer; nothing reads the time back."""
    return f"{prefix}_{time.time_ns() // 1_000_000}_{secrets.token_hex(4)}"


class FrameHeaders(BaseModel):
    model_config = ConfigDict(extra="allow")

    req_id: str = ""


class InboundFrame(BaseModel):
    """Any frame WeCom sends: a callback (cmd + body) or an answer (errcode, no cmd)."""

    model_config = ConfigDict(extra="allow")

    cmd: str | None = None
    headers: FrameHeaders = Field(default_factory=FrameHeaders)
    body: dict[str, Any] | None = None
    errcode: int | None = None
    errmsg: str | None = None

    @property
    def req_id(self) -> str:
        return self.headers.req_id

    @property
    def result_code(self) -> int:
        """The answer's errcode; a missing one counts as a failure, as in the official SDK."""
        return -1 if self.errcode is None else self.errcode


class FromUser(BaseModel):
    model_config = ConfigDict(extra="ignore")

    userid: str


class TextContent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str = ""


class MediaContent(BaseModel):
    """An image or file: a briefly valid download URL and the per-message base64 AES key
    the download is encrypted with (doc 101463, 多媒体资源解密)."""

    model_config = ConfigDict(extra="ignore")

    url: str = ""
    aeskey: str = ""


class MixedItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    msgtype: str = ""
    text: TextContent | None = None
    image: MediaContent | None = None


class MixedContent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    msg_item: list[MixedItem] = Field(default_factory=list)

    def joined_text(self) -> str | None:
        parts = [item.text.content for item in self.msg_item if item.text and item.text.content]
        return "\n".join(parts) if parts else None


class QuoteContent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    msgtype: str = ""
    text: TextContent | None = None
    mixed: MixedContent | None = None
    voice: TextContent | None = None


def _readable_text(
    text: TextContent | None, mixed: MixedContent | None, voice: TextContent | None
) -> str | None:
    if text is not None:
        return text.content
    if mixed is not None:
        return mixed.joined_text()
    if voice is not None:
        # Voice messages arrive already transcribed.
        return voice.content
    return None


class MessageBody(BaseModel):
    """Body of `aibot_msg_callback`. `chatid` is only present for group chats."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    msgid: str
    aibotid: str = ""
    chatid: str | None = None
    chattype: str = "single"
    sender: FromUser = Field(alias="from")
    msgtype: str = ""
    text: TextContent | None = None
    mixed: MixedContent | None = None
    voice: TextContent | None = None
    quote: QuoteContent | None = None
    image: MediaContent | None = None
    file: MediaContent | None = None

    @property
    def is_group(self) -> bool:
        return self.chattype == "group"

    def readable_text(self) -> str | None:
        """What the user wrote, or None for messages without text (image, file, ...)."""
        return _readable_text(self.text, self.mixed, self.voice)

    def media(self) -> tuple[str, MediaContent] | None:
        """("file" | "image", content) of an attached file or picture, if any."""
        if self.file is not None and self.file.url:
            return "file", self.file
        if self.image is not None and self.image.url:
            return "image", self.image
        if self.mixed is not None:
            for item in self.mixed.msg_item:
                if item.image is not None and item.image.url:
                    return "image", item.image
        return None

    def quote_text(self) -> str | None:
        if self.quote is None:
            return None
        return _readable_text(self.quote.text, self.quote.mixed, self.quote.voice)


class EventDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    eventtype: str = ""


class EventBody(BaseModel):
    """Body of `aibot_event_callback`."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    msgid: str = ""
    chatid: str | None = None
    chattype: str | None = None
    sender: FromUser | None = Field(default=None, alias="from")
    event: EventDetail = Field(default_factory=EventDetail)


def subscribe_frame(req_id: str, bot_id: str, secret: str) -> dict[str, Any]:
    return {
        "cmd": CMD_SUBSCRIBE,
        "headers": {"req_id": req_id},
        "body": {"bot_id": bot_id, "secret": secret},
    }


def ping_frame(req_id: str) -> dict[str, Any]:
    return {"cmd": CMD_PING, "headers": {"req_id": req_id}}


def stream_reply_frame(req_id: str, stream_id: str, content: str) -> dict[str, Any]:
    """A complete (finish=true) stream reply: the only text form a passive reply accepts."""
    return {
        "cmd": CMD_RESPOND,
        "headers": {"req_id": req_id},
        "body": {
            "msgtype": "stream",
            "stream": {"id": stream_id, "finish": True, "content": content},
        },
    }


def markdown_push_frame(req_id: str, chatid: str, content: str) -> dict[str, Any]:
    return {
        "cmd": CMD_SEND,
        "headers": {"req_id": req_id},
        "body": {"chatid": chatid, "msgtype": "markdown", "markdown": {"content": content}},
    }


def upload_init_frame(
    req_id: str, kind: str, filename: str, total_size: int, total_chunks: int, md5: str
) -> dict[str, Any]:
    return {
        "cmd": CMD_UPLOAD_INIT,
        "headers": {"req_id": req_id},
        "body": {
            "type": kind,
            "filename": filename,
            "total_size": total_size,
            "total_chunks": total_chunks,
            "md5": md5,
        },
    }


def upload_chunk_frame(req_id: str, upload_id: str, index: int, data: bytes) -> dict[str, Any]:
    return {
        "cmd": CMD_UPLOAD_CHUNK,
        "headers": {"req_id": req_id},
        "body": {
            "upload_id": upload_id,
            "chunk_index": index,
            "base64_data": base64.b64encode(data).decode("ascii"),
        },
    }


def upload_finish_frame(req_id: str, upload_id: str) -> dict[str, Any]:
    return {
        "cmd": CMD_UPLOAD_FINISH,
        "headers": {"req_id": req_id},
        "body": {"upload_id": upload_id},
    }


def media_push_frame(req_id: str, chatid: str, kind: str, media_id: str) -> dict[str, Any]:
    """A proactive file or picture (kind "file" or "image") already uploaded as media_id."""
    return {
        "cmd": CMD_SEND,
        "headers": {"req_id": req_id},
        "body": {"chatid": chatid, "msgtype": kind, kind: {"media_id": media_id}},
    }
