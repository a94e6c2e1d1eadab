"""The message model shared by every channel, the router and the outbox.

Channels turn what WeCom delivers into `Incoming`; handlers answer with `Reply`;
everything that leaves the bot is an `Outgoing` stored in the outbox first.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class ChatType(StrEnum):
    SINGLE = "single"
    GROUP = "group"


class Channel(StrEnum):
    CONSOLE = "console"
    AIBOT_WS = "aibot_ws"
    AIBOT_HTTP = "aibot_http"
    APP = "app"
    WEBHOOK = "webhook"
    # The local web page of `jiaoyan-bot playground` (bot.channels.playground).
    PLAYGROUND = "playground"


class Incoming(BaseModel):
    """One user message as the router sees it, whatever channel brought it."""

    channel: Channel
    msgid: str
    userid: str
    text: str
    chat_type: ChatType = ChatType.SINGLE
    chat_id: str | None = None
    quote: str | None = None
    received_at: datetime
    # Channel-specific data needed to answer in place (req_id, response_url, ...).
    reply_context: dict[str, str] = Field(default_factory=dict)

    @property
    def in_group(self) -> bool:
        return self.chat_type is ChatType.GROUP


class AttachmentKind(StrEnum):
    FILE = "file"
    IMAGE = "image"


class Attachment(BaseModel):
    """A file sent along with a message where the channel can (an export, a digest chart).

    The bytes stay on disk under the data directory (`path` is absolute), so a retry after a
    restart still finds them; the message text always works without it (it carries a link).
    """

    kind: AttachmentKind
    path: str
    name: str


class Reply(BaseModel):
    """What a handler answers. `private` replies go to the sender alone, never the group."""

    text: str
    markdown: bool = False
    private: bool = False
    mention: list[str] = Field(default_factory=list)
    attachment: Attachment | None = None


class TargetKind(StrEnum):
    CHAT = "chat"
    USER = "user"


class Outgoing(BaseModel):
    """A message on its way out, as stored in the outbox."""

    channel: Channel
    target_kind: TargetKind
    target: str
    text: str
    markdown: bool = False
    mention: list[str] = Field(default_factory=list)
    reply_context: dict[str, str] = Field(default_factory=dict)
    dedup_key: str | None = None
    # Sent after the text by channels that can; rows queued before it existed load as None.
    attachment: Attachment | None = None


class Broadcast(BaseModel):
    """A message to every group bound to some alliances (`alliance_ids` None = all groups)."""

    text: str
    alliance_ids: list[int] | None = None
    markdown: bool = False
    mention: list[str] = Field(default_factory=list)
    dedup_key: str | None = None
    attachment: Attachment | None = None


class Direct(BaseModel):
    """A private message to named members (by WeCom userid), e.g. a missing list for a leader."""

    userids: list[str]
    text: str
    markdown: bool = False
    dedup_key: str | None = None
    attachment: Attachment | None = None


Effect = Reply | Broadcast | Direct
