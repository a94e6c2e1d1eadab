"""What the playground page shows: every message said on it and every message the bot sends
to it, kept in order and pushed to each open page as it happens.

`PlaygroundHub` is the channel's `Sender`: the outbox worker delivers to it like to WeCom.
Groups bound through the terminal console (the demo district's) are local groups too, so the
same hub also serves as the console channel's sender where the playground runs
(`sender_for`). History is kept in memory, bounded, so a page opened later (or reloaded)
shows the conversation so far.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels.base import Sender
from bot.channels.playground.markdown import render_text
from bot.core.clock import Clock
from bot.core.messages import (
    Attachment,
    AttachmentKind,
    Channel,
    ChatType,
    Incoming,
    Outgoing,
    TargetKind,
)

log = logging.getLogger(__name__)

Names = Callable[[str], str]
HISTORY = 2000
# A page that stops reading (a sleeping laptop) must not hold messages without bound.
SUBSCRIBER_BACKLOG = 1000
BOT_NAME = "教研助手"
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class PlaygroundEvent:
    """One message on the page: said by a member (`userid`) or sent by the bot."""

    id: int
    at: datetime
    from_bot: bool
    # Where it appears: a group (`chat`) or the private chat with member `person`.
    chat: str | None
    person: str | None
    text: str
    markdown: bool = False
    mention: tuple[str, ...] = ()
    userid: str | None = None
    attachment: Attachment | None = None


def incoming_from_page(userid: str, text: str, chat: str | None, at: datetime) -> Incoming:
    """What `userid` typed on the page, in group `chat` or privately (None), as the pipeline
    takes it; each gets a msgid of its own."""
    return Incoming(
        channel=Channel.PLAYGROUND,
        msgid=f"playground-{uuid.uuid4().hex}",
        userid=userid,
        text=text,
        chat_type=ChatType.GROUP if chat else ChatType.SINGLE,
        chat_id=chat,
        received_at=at,
    )


def time_label(moment: datetime, zone: ZoneInfo) -> str:
    """`12月11日 周五 17:00`: how the page writes an instant."""
    local = moment.astimezone(zone)
    return f"{local.month}月{local.day}日 周{WEEKDAYS[local.weekday()]} {local:%H:%M}"


class PlaygroundHub:
    """Sender for Channel.PLAYGROUND, and the page's record of the conversation."""

    channel = Channel.PLAYGROUND

    def __init__(
        self, clock: Clock, zone: ZoneInfo, names: Names, *, history: int = HISTORY
    ) -> None:
        self._clock = clock
        self._zone = zone
        self._names = names
        self._ids = itertools.count(1)
        self._events: deque[PlaygroundEvent] = deque(maxlen=history)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    # the channel ----------------------------------------------------------------
    async def send(self, message: Outgoing) -> None:
        group = message.target_kind is TargetKind.CHAT
        self._add(
            PlaygroundEvent(
                id=next(self._ids),
                at=self._clock.now(),
                from_bot=True,
                chat=message.target if group else None,
                person=None if group else message.target,
                text=message.text,
                markdown=message.markdown,
                mention=tuple(message.mention),
                attachment=message.attachment,
            )
        )

    def said(self, incoming: Incoming) -> PlaygroundEvent:
        """Show what a member typed, before the bot answers it."""
        event = PlaygroundEvent(
            id=next(self._ids),
            at=incoming.received_at,
            from_bot=False,
            chat=incoming.chat_id,
            person=None if incoming.chat_id else incoming.userid,
            text=incoming.text,
            userid=incoming.userid,
        )
        self._add(event)
        return event

    def sender_for(self, channel: Channel) -> Sender:
        """This hub delivering another local channel's messages (the console's groups)."""
        return _AliasSender(channel, self)

    # the page ---------------------------------------------------------------------
    def history(self) -> list[dict[str, Any]]:
        return [self.as_json(event) for event in self._events]

    def attachment(self, event_id: int) -> Attachment | None:
        """The file a shown message carries: only those can be opened from the page."""
        for event in self._events:
            if event.id == event_id:
                return event.attachment
        return None

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def publish(self, update: dict[str, Any]) -> None:
        """Push one update (`{"type": ...}`) to every open page."""
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:
                # The page stopped reading (a sleeping laptop): it is told to start afresh
                # (reconnect and reload the history) instead of being fed without bound.
                log.warning("a playground page fell behind; asking it to reload")
                self._subscribers.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait({"type": "resync"})

    def as_json(self, event: PlaygroundEvent) -> dict[str, Any]:
        names = self._names
        body: dict[str, Any] = {
            "id": event.id,
            "at": event.at.isoformat(),
            "time": time_label(event.at, self._zone),
            "from_bot": event.from_bot,
            "chat": event.chat,
            "person": event.person,
            "person_name": names(event.person) if event.person else None,
            "speaker": BOT_NAME if event.from_bot else names(event.userid or ""),
            "userid": event.userid,
            "mention": [
                "所有人" if userid == "@all" else names(userid) for userid in event.mention
            ],
            "html": render_text(event.text, markdown=event.markdown, names=names),
            "attachment": None,
        }
        if event.attachment is not None:
            body["attachment"] = {
                "name": event.attachment.name,
                "image": event.attachment.kind is AttachmentKind.IMAGE,
                "url": f"files/{event.id}",
            }
        return body

    def _add(self, event: PlaygroundEvent) -> None:
        self._events.append(event)
        self.publish({"type": "message", "message": self.as_json(event)})


class _AliasSender:
    def __init__(self, channel: Channel, hub: PlaygroundHub) -> None:
        self.channel = channel
        self._hub = hub

    async def send(self, message: Outgoing) -> None:
        await self._hub.send(message)
