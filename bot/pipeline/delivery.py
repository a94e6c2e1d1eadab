"""Turning what handlers answer (Reply, Broadcast, Direct) into concrete outgoing messages.

This is where "who can be reached how" lives: a private answer must never land in a group,
a broadcast goes to every bound group by the best way that group can be pushed to. An effect's
attachment travels with each message made from it; the note saying "ask me privately" never
carries one (it would leak what was meant to be private).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.core.messages import (
    Broadcast,
    Channel,
    ChatType,
    Direct,
    Effect,
    Incoming,
    Outgoing,
    Reply,
    TargetKind,
)
from storage.chats import ChatsRepo
from storage.models import ChatBinding

log = logging.getLogger(__name__)

# Channels on one machine (terminal, local web page): they answer privately in themselves.
LOCAL_CHANNELS: frozenset[Channel] = frozenset({Channel.CONSOLE, Channel.PLAYGROUND})
# Channels on which the bot can write to a single user without a prior message there.
DIRECT_CAPABLE: frozenset[Channel] = frozenset({Channel.AIBOT_WS, Channel.APP, *LOCAL_CHANNELS})
# Channels on which the bot can push into a group proactively (without a webhook URL).
GROUP_PUSH_CAPABLE: frozenset[Channel] = frozenset({Channel.AIBOT_WS, Channel.APP, *LOCAL_CHANNELS})

PRIVATE_IN_GROUP_NOTE = (
    "名单等个人信息不在群里公布，请私聊我（直接给我发消息）再发一次同样的指令查看。"
)


def expand_effects(
    incoming: Incoming | None,
    effects: Sequence[Effect],
    chats: ChatsRepo,
    *,
    private_channel: Channel | None,
) -> list[Outgoing]:
    """Resolve handler effects into outbox messages with stable dedup keys.

    `incoming` is the message being answered (None for scheduled jobs); `private_channel` is
    the channel used to write to a person privately when the incoming channel cannot.
    """
    result: list[Outgoing] = []
    for effect in effects:
        if isinstance(effect, Reply):
            result.extend(_reply(incoming, effect, private_channel))
        elif isinstance(effect, Broadcast):
            result.extend(_broadcast(effect, chats))
        elif isinstance(effect, Direct):
            result.extend(_direct(incoming, effect, private_channel))
        else:  # pragma: no cover - guarded by the type checker
            log.warning("ignoring unknown effect type %s", type(effect).__name__)
    return _with_dedup_keys(incoming, result)


def _reply(
    incoming: Incoming | None, reply: Reply, private_channel: Channel | None
) -> list[Outgoing]:
    if incoming is None:
        log.warning("dropping a Reply produced without an incoming message")
        return []
    in_group = incoming.chat_type is ChatType.GROUP and incoming.chat_id is not None
    if not in_group or not reply.private:
        # Answer where the message was written: the group, or the private chat.
        return [
            Outgoing(
                channel=incoming.channel,
                target_kind=TargetKind.CHAT if in_group else TargetKind.USER,
                target=incoming.chat_id if in_group and incoming.chat_id else incoming.userid,
                text=reply.text,
                markdown=reply.markdown,
                mention=list(reply.mention),
                reply_context=dict(incoming.reply_context),
                attachment=reply.attachment,
            )
        ]
    assert incoming.chat_id is not None
    # A private answer to a message written in a group: reach the sender alone.
    channel = incoming.channel if incoming.channel in DIRECT_CAPABLE else private_channel
    if channel is not None:
        return [
            Outgoing(
                channel=channel,
                target_kind=TargetKind.USER,
                target=incoming.userid,
                text=reply.text,
                markdown=reply.markdown,
                attachment=reply.attachment,
            )
        ]
    # No way to write privately: say so in the group, never the private text itself.
    log.info("no private channel for a private reply on %s; sending a note", incoming.channel)
    return [
        Outgoing(
            channel=incoming.channel,
            target_kind=TargetKind.CHAT,
            target=incoming.chat_id,
            text=PRIVATE_IN_GROUP_NOTE,
            mention=[incoming.userid],
            reply_context=dict(incoming.reply_context),
        )
    ]


def _broadcast(broadcast: Broadcast, chats: ChatsRepo) -> list[Outgoing]:
    result: list[Outgoing] = []
    for chat in chats.for_alliances(broadcast.alliance_ids):
        message = _to_chat(chat, broadcast)
        if message is not None:
            result.append(message)
    return result


def _to_chat(chat: ChatBinding, broadcast: Broadcast) -> Outgoing | None:
    key = broadcast.dedup_key
    if chat.webhook_url:
        # Keyed by chat id, not URL: the URL holds the webhook secret and may be rotated.
        return Outgoing(
            channel=Channel.WEBHOOK,
            target_kind=TargetKind.CHAT,
            target=chat.webhook_url,
            text=broadcast.text,
            markdown=broadcast.markdown,
            mention=list(broadcast.mention),
            dedup_key=f"{key}:{Channel.WEBHOOK.value}:{chat.chat_id}" if key else None,
            attachment=broadcast.attachment,
        )
    try:
        channel = Channel(chat.channel)
    except ValueError:
        log.warning("chat %s is bound with unknown channel %r; skipped", chat.chat_id, chat.channel)
        return None
    if channel not in GROUP_PUSH_CAPABLE:
        log.warning(
            "chat %s (alliance %s) is bound via %s, which cannot push; add a webhook URL",
            chat.chat_id,
            chat.alliance_id,
            channel.value,
        )
        return None
    return Outgoing(
        channel=channel,
        target_kind=TargetKind.CHAT,
        target=chat.chat_id,
        text=broadcast.text,
        markdown=broadcast.markdown,
        mention=list(broadcast.mention),
        dedup_key=f"{key}:{channel.value}:{chat.chat_id}" if key else None,
        attachment=broadcast.attachment,
    )


def _direct(
    incoming: Incoming | None, direct: Direct, private_channel: Channel | None
) -> list[Outgoing]:
    channel = _direct_channel(incoming, private_channel)
    if channel is None:
        log.warning(
            "no channel can write privately; %d direct message(s) dropped", len(direct.userids)
        )
        return []
    key = direct.dedup_key
    return [
        Outgoing(
            channel=channel,
            target_kind=TargetKind.USER,
            target=userid,
            text=direct.text,
            markdown=direct.markdown,
            dedup_key=f"{key}:{channel.value}:{userid}" if key else None,
            attachment=direct.attachment,
        )
        for userid in dict.fromkeys(direct.userids)
    ]


def _direct_channel(incoming: Incoming | None, private_channel: Channel | None) -> Channel | None:
    """Console and playground sessions answer in themselves; otherwise the configured
    private channel."""
    if incoming is not None and incoming.channel in LOCAL_CHANNELS:
        return incoming.channel
    if private_channel is not None:
        return private_channel
    if incoming is not None and incoming.channel in DIRECT_CAPABLE:
        return incoming.channel
    return None


def _with_dedup_keys(incoming: Incoming | None, messages: list[Outgoing]) -> list[Outgoing]:
    """Give every answer to an incoming message a key derived from its msgid.

    Processing the same message again (after a crash) then yields the same keys, and the
    outbox skips what it already holds.
    """
    if incoming is None:
        return messages
    keyed: list[Outgoing] = []
    for index, message in enumerate(messages):
        if message.dedup_key is None:
            key = f"reply:{incoming.channel.value}:{incoming.msgid}:{index}"
            message = message.model_copy(update={"dedup_key": key})
        keyed.append(message)
    return keyed
